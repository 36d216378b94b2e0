//! The Lab's wire types: `GET|POST /api/lab/echo`, `GET /api/lab/stats` and the server-sent
//! countdown `GET /api/lab/ticks`.

use serde::{Deserialize, Serialize};

/// Allowed `delay_ms`: how long the server waits before answering.
pub const DELAY_MS_MAX: u32 = 30_000;
/// Allowed `jitter_ms`: the actual delay is uniform in `delay_ms ± jitter_ms`, never below 0.
pub const JITTER_MS_MAX: u32 = 10_000;
/// Allowed `bytes`: how many padding characters the answer carries.
pub const PADDING_BYTES_MAX: u32 = 262_144;

/// Allowed `fail_first`: attempts of each request that fail before one succeeds.
pub const FAIL_FIRST_MAX: u32 = 10;

/// What a failing echo does, each as a real server or network does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// `503 injected_failure`: "not now", worth retrying.
    #[default]
    Unavailable,
    /// `429 too_many_requests` with `Retry-After: 1`: come back in a second.
    TooMany,
    /// `500 internal`: the server is broken; retrying will not help.
    Internal,
    /// The connection is reset (a TCP RST): no answer, an I/O error.
    Reset,
    /// The answer's head and the first part of its body, then the connection closes: a body
    /// shorter than its `Content-Length`.
    Cut,
    /// The whole answer, slowly: in [`DRIP_PARTS`] parts, one every [`DRIP_EVERY_MS`].
    Drip,
    /// No answer at all, until the client gives up (or the server's own request deadline,
    /// `408`).
    Silent,
}

impl Fault {
    pub const ALL: [Self; 7] = [
        Self::Unavailable,
        Self::TooMany,
        Self::Internal,
        Self::Reset,
        Self::Cut,
        Self::Drip,
        Self::Silent,
    ];

    /// Its name on the wire (`fault=too_many`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::TooMany => "too_many",
            Self::Internal => "internal",
            Self::Reset => "reset",
            Self::Cut => "cut",
            Self::Drip => "drip",
            Self::Silent => "silent",
        }
    }
}

/// A dripped answer comes in this many parts…
pub const DRIP_PARTS: usize = 10;
/// …one every this many milliseconds.
pub const DRIP_EVERY_MS: u64 = 100;

/// What the Lab asks of one echo: the query of `GET /api/lab/echo`, or the body of
/// `POST /api/lab/echo`. Every field is optional on the wire and defaults to 0 / none.
///
/// A request fails when it is one of the first `fail_first` attempts of its request, or when
/// `fail_rate` draws it; it then fails as `fault` says. Attempts are counted per request: by its
/// `Idempotency-Key` header, else by `run` and `seq`. With a `seed`, what `fail_rate` draws
/// depends only on the seed, `seq` and the attempt: the same run twice fails the same requests.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EchoRequest {
    /// Milliseconds to wait before answering, `0..=DELAY_MS_MAX`.
    pub delay_ms: u32,
    /// Milliseconds of random spread around `delay_ms`, `0..=JITTER_MS_MAX`.
    pub jitter_ms: u32,
    /// Chance the request fails, `0.0..=1.0`.
    pub fail_rate: f64,
    /// Padding characters in the answer, `0..=PADDING_BYTES_MAX`.
    pub bytes: u32,
    /// The client's own number for this request, echoed back unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The client's own number for the run this request belongs to, echoed back unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<u64>,
    /// How a failing request fails.
    #[serde(skip_serializing_if = "is_default_fault")]
    pub fault: Fault,
    /// The first attempts of each request that fail, whatever `fail_rate` draws,
    /// `0..=FAIL_FIRST_MAX`.
    #[serde(skip_serializing_if = "is_zero")]
    pub fail_first: u32,
    /// Makes what `fail_rate` draws repeatable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn is_default_fault(fault: &Fault) -> bool {
    *fault == Fault::default()
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The names of [`EchoRequest`]'s fields, as they appear in a query string or body.
pub const ECHO_FIELDS: [&str; 9] = [
    "delay_ms",
    "jitter_ms",
    "fail_rate",
    "bytes",
    "seq",
    "run",
    "fault",
    "fail_first",
    "seed",
];

/// A value outside its allowed range: which field, and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfRange {
    pub field: &'static str,
    pub allowed: String,
}

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` must be {}.", self.field, self.allowed)
    }
}

impl EchoRequest {
    /// What each field allows, in words a person reads in an error message.
    pub fn allowed(field: &str) -> Option<String> {
        Some(match field {
            "delay_ms" => format!("a whole number of milliseconds from 0 to {DELAY_MS_MAX}"),
            "jitter_ms" => format!("a whole number of milliseconds from 0 to {JITTER_MS_MAX}"),
            "fail_rate" => "a number from 0.0 to 1.0".to_owned(),
            "bytes" => format!("a whole number from 0 to {PADDING_BYTES_MAX}"),
            "seq" | "run" | "seed" => format!("a whole number from 0 to {}", u64::MAX),
            "fault" => format!("one of {}", Fault::ALL.map(Fault::key).join(", ")),
            "fail_first" => format!("a whole number from 0 to {FAIL_FIRST_MAX}"),
            _ => return None,
        })
    }

    /// Checks every field against its range; the first one out of range is named.
    pub fn validate(&self) -> Result<(), OutOfRange> {
        let out_of_range = |field: &'static str| OutOfRange {
            field,
            allowed: Self::allowed(field).unwrap_or_default(),
        };
        if self.delay_ms > DELAY_MS_MAX {
            return Err(out_of_range("delay_ms"));
        }
        if self.jitter_ms > JITTER_MS_MAX {
            return Err(out_of_range("jitter_ms"));
        }
        if !(0.0..=1.0).contains(&self.fail_rate) {
            return Err(out_of_range("fail_rate"));
        }
        if self.bytes > PADDING_BYTES_MAX {
            return Err(out_of_range("bytes"));
        }
        if self.fail_first > FAIL_FIRST_MAX {
            return Err(out_of_range("fail_first"));
        }
        Ok(())
    }
}

/// Body of a successful echo (200).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoResponse {
    /// The request's `seq`, unchanged (absent when the request had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// How long the server actually waited, after jitter, in milliseconds.
    pub delay_ms: u64,
    /// When the server received the request, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// When the server answered, in milliseconds since the Unix epoch.
    pub responded_at_ms: u64,
    /// `bytes` characters of padding, to make the answer as large as asked.
    pub padding: String,
}

/// Body of `GET /api/lab/stats`: what the echo endpoint has done since the server started. Each
/// instance counts its own: with several behind one address, the answer is the one that served it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LabStats {
    /// The instance that counted (its `X-Served-By`).
    #[serde(default)]
    pub instance: String,
    /// Echoes answered with 200.
    pub served: u64,
    /// Echoes answered with `503 injected_failure`.
    pub failed_injected: u64,
    /// Echoes whose client went away (cancelled the fetch) before the answer was ready.
    pub abandoned: u64,
    /// Echoes waiting right now.
    pub in_flight: u64,
}

/// Body of `GET /api/lab/origins`: the other addresses of this server the Lab can send its
/// echoes to. With `--tls` the page comes over HTTP/2 and the server also listens on a port of its
/// own speaking only HTTP/1.1, so the Lab can run the same experiment over both protocols.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LabOrigins {
    /// The port, on the page's own host and scheme, where the server speaks only HTTP/1.1; none
    /// without `--tls`.
    #[serde(default)]
    pub http1_port: Option<u16>,
    /// With `--tls`, how many requests one HTTP/2 connection may carry at once (its
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`): more wait for a stream, as over HTTP/1.1 they wait for
    /// a connection.
    #[serde(default)]
    pub http2_streams: Option<u32>,
}

/// Most events one countdown of `GET /api/lab/ticks` sends.
pub const TICKS_COUNT_MAX: u32 = 100;
/// Allowed `interval_ms` of `GET /api/lab/ticks`, from this…
pub const TICK_INTERVAL_MS_MIN: u32 = 10;
/// …to this.
pub const TICK_INTERVAL_MS_MAX: u32 = 5_000;

/// The query of `GET /api/lab/ticks`: a server-sent countdown of `count` `tick` events, one every
/// `interval_ms`. Each event's id is its number, so a client that reconnects with
/// `Last-Event-ID` resumes after the last one it saw; once all are sent, a reconnect is answered
/// `204 No Content` (an `EventSource` then stops).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicksRequest {
    /// How many events, `1..=TICKS_COUNT_MAX`.
    pub count: u32,
    /// Milliseconds between events, `TICK_INTERVAL_MS_MIN..=TICK_INTERVAL_MS_MAX`.
    pub interval_ms: u32,
}

impl TicksRequest {
    /// What each field allows, in words a person reads in an error message.
    pub fn allowed(field: &str) -> Option<String> {
        Some(match field {
            "count" => format!("a whole number from 1 to {TICKS_COUNT_MAX}"),
            "interval_ms" => format!(
                "a whole number of milliseconds from {TICK_INTERVAL_MS_MIN} to {TICK_INTERVAL_MS_MAX}"
            ),
            _ => return None,
        })
    }

    /// Checks every field against its range; the first one out of range is named.
    pub fn validate(&self) -> Result<(), OutOfRange> {
        let out_of_range = |field: &'static str| OutOfRange {
            field,
            allowed: Self::allowed(field).unwrap_or_default(),
        };
        if !(1..=TICKS_COUNT_MAX).contains(&self.count) {
            return Err(out_of_range("count"));
        }
        if !(TICK_INTERVAL_MS_MIN..=TICK_INTERVAL_MS_MAX).contains(&self.interval_ms) {
            return Err(out_of_range("interval_ms"));
        }
        Ok(())
    }
}

/// The data of each `tick` event of `GET /api/lab/ticks` (the event's id is `n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    /// This event's number, from 1.
    pub n: u32,
    /// How many are still to come.
    pub remaining: u32,
}
