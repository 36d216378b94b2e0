//! The Tasks room's wire types: long-running jobs submitted with `POST /api/jobs`, their state,
//! results, and the events the server pushes on `GET /api/jobs/events`. Jobs belong to an owner:
//! `POST /api/jobs/owners` gives a token ([`JobOwnerCreated`]), and every call about jobs carries
//! it as `Authorization: Bearer <token>`; only the owner sees, cancels or streams its jobs.

use serde::{Deserialize, Serialize};

use crate::lab::OutOfRange;

/// Jobs that may wait for a worker at once; past it, `429` with `Retry-After`.
pub const QUEUE_MAX: usize = 100;
/// Jobs one owner may have waiting or running at once (its share of the queue and the
/// workers); past it, `429` with `Retry-After`, while the rest stays open to others.
pub const QUEUE_PER_OWNER: usize = 10;
/// `primes`: the smallest and largest `limit`.
pub const PRIMES_LIMIT_MIN: u64 = 1_000;
pub const PRIMES_LIMIT_MAX: u64 = 10_000_000_000;
/// `mandelbrot`: the smallest and largest width and height, in pixels.
pub const SIDE_MIN: u32 = 16;
pub const SIDE_MAX: u32 = 2_048;
/// `mandelbrot`: the largest iteration cap.
pub const ITERATIONS_MAX: u32 = 10_000;
/// `mandelbrot`: the widest region, and how far from 0 its centre may be.
pub const SPAN_MAX: f64 = 8.0;
pub const CENTRE_MAX: f64 = 4.0;
/// `hashchain`: the most rounds of SHA-256.
pub const ROUNDS_MAX: u64 = 200_000_000;
/// `hashchain`: the longest seed, in characters.
pub const SEED_MAX: usize = 1_000;
/// `wait`: the longest wait, in seconds.
pub const WAIT_SECONDS_MAX: u32 = 600;
/// A job's `progress` event comes at most this often, in milliseconds.
pub const PROGRESS_INTERVAL_MS: u64 = 250;
/// Jobs `GET /api/jobs` lists, newest first.
pub const LIST_MAX: usize = 100;

/// What to run, and with what: `{"kind":"primes","params":{"limit":100000000}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    content = "params",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum JobSpec {
    /// Count the primes up to `limit`.
    Primes(Primes),
    /// Render a region of the Mandelbrot set as a PNG image.
    Mandelbrot(Mandelbrot),
    /// Apply SHA-256 `rounds` times to `seed`.
    Hashchain(Hashchain),
    /// Do nothing for `seconds`.
    Wait(Wait),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Primes {
    pub limit: u64,
}

/// The region is `span` wide (in the complex plane) around `centre_re + centre_im·i`; its height
/// follows from the picture's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mandelbrot {
    pub width: u32,
    pub height: u32,
    pub max_iterations: u32,
    #[serde(default = "Mandelbrot::default_centre_re")]
    pub centre_re: f64,
    #[serde(default)]
    pub centre_im: f64,
    #[serde(default = "Mandelbrot::default_span")]
    pub span: f64,
}

impl Mandelbrot {
    fn default_centre_re() -> f64 {
        -0.5
    }
    fn default_span() -> f64 {
        3.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hashchain {
    pub seed: String,
    pub rounds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    pub seconds: u32,
}

impl JobSpec {
    /// The `kind`, as the wire names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Primes(_) => "primes",
            Self::Mandelbrot(_) => "mandelbrot",
            Self::Hashchain(_) => "hashchain",
            Self::Wait(_) => "wait",
        }
    }

    /// Checks every parameter against its range; the error names the field and the range.
    pub fn validate(&self) -> Result<(), OutOfRange> {
        match self {
            Self::Primes(p) => whole("params.limit", p.limit, PRIMES_LIMIT_MIN, PRIMES_LIMIT_MAX),
            Self::Mandelbrot(m) => {
                whole(
                    "params.width",
                    m.width.into(),
                    SIDE_MIN.into(),
                    SIDE_MAX.into(),
                )?;
                whole(
                    "params.height",
                    m.height.into(),
                    SIDE_MIN.into(),
                    SIDE_MAX.into(),
                )?;
                whole(
                    "params.max_iterations",
                    m.max_iterations.into(),
                    1,
                    ITERATIONS_MAX.into(),
                )?;
                let centred = |field, value: f64| {
                    if value.is_finite() && value.abs() <= CENTRE_MAX {
                        Ok(())
                    } else {
                        Err(OutOfRange {
                            field,
                            allowed: format!("a number from -{CENTRE_MAX} to {CENTRE_MAX}"),
                        })
                    }
                };
                centred("params.centre_re", m.centre_re)?;
                centred("params.centre_im", m.centre_im)?;
                if m.span.is_finite() && m.span > 0.0 && m.span <= SPAN_MAX {
                    Ok(())
                } else {
                    Err(OutOfRange {
                        field: "params.span",
                        allowed: format!("a number above 0, at most {SPAN_MAX}"),
                    })
                }
            }
            Self::Hashchain(h) => {
                let count = h.seed.chars().count();
                if count > SEED_MAX {
                    return Err(OutOfRange {
                        field: "params.seed",
                        allowed: format!("at most {SEED_MAX} characters"),
                    });
                }
                whole("params.rounds", h.rounds, 1, ROUNDS_MAX)
            }
            Self::Wait(w) => whole(
                "params.seconds",
                w.seconds.into(),
                0,
                WAIT_SECONDS_MAX.into(),
            ),
        }
    }
}

fn whole(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), OutOfRange> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(OutOfRange {
            field,
            allowed: format!("a whole number from {min} to {max}"),
        })
    }
}

/// `POST /api/jobs`: the job, and nothing else (`{"kind": …, "params": …}`; any other field is
/// `422`). Whose it is comes from the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NewJob {
    pub spec: JobSpec,
}

impl NewJob {
    pub fn validate(&self) -> Result<(), OutOfRange> {
        self.spec.validate()
    }
}

/// `201` to `POST /api/jobs/owners`: the token of a new owner of jobs. Shown this once; the
/// server keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOwnerCreated {
    pub token: String,
}

/// `201` to `POST /api/jobs/events/ticket`: a single-use pass for `GET /api/jobs/events`, the
/// same as Mail's.
pub use crate::mail::EventTicket;

/// `202` to `POST /api/jobs` (with `Location: /api/jobs/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAccepted {
    pub id: String,
    pub state: JobState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Succeeded, failed or cancelled: it will not change again.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// `GET /api/jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    #[serde(flatten)]
    pub spec: JobSpec,
    pub state: JobState,
    /// From 0.0 to 1.0.
    pub progress: f64,
    pub created_at_ms: i64,
    /// When it last started (again, after a restart).
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// How many times a worker has started it: more than 1 after a server restart.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<JobResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a job that succeeded found; `GET /api/jobs/{id}/result` gives the same, or the picture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobResult {
    /// `primes`: how many primes there are up to the limit.
    Primes { count: u64 },
    /// `hashchain`: the last hash, in lowercase hex.
    Hashchain { hash: String },
    /// `mandelbrot`: the picture is at `/api/jobs/{id}/result` (`image/png`).
    Mandelbrot {
        width: u32,
        height: u32,
        png_bytes: u64,
    },
    /// `wait`: how long it waited.
    Wait { waited_seconds: u32 },
}

/// `GET /api/jobs`: the owner's newest jobs, newest first (at most [`LIST_MAX`]), and
/// the newest event id of the owner's stream: stream from it, and nothing falls in between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobList {
    pub jobs: Vec<Job>,
    pub last_event_id: i64,
}

/// The query of `GET /api/jobs/events`: a ticket from `POST /api/jobs/events/ticket`. A
/// reconnecting `EventSource` sends `Last-Event-ID` as a header; a new one says where it is here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobEventsQuery {
    pub ticket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_id: Option<i64>,
}

/// A running job's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    pub id: String,
    pub state: JobState,
    pub progress: f64,
    pub started_at_ms: Option<i64>,
    pub attempts: u32,
}

/// Every event an owner's job stream carries; the SSE event name is [`JobEvent::name`], the data
/// the inner value as JSON, the id from the owner's own durable sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum JobEvent {
    /// A job was submitted (by this page or another of the owner's).
    Submitted(Job),
    /// A job started, or went on (at most every [`PROGRESS_INTERVAL_MS`]).
    Progress(JobProgress),
    /// A job succeeded, failed or was cancelled.
    Finished(Job),
}

impl JobEvent {
    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Submitted(_) => "submitted",
            Self::Progress(_) => "progress",
            Self::Finished(_) => "finished",
        }
    }
}
