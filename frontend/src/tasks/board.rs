//! The page's model of the owner's jobs, newest first, fed either way the page can learn of
//! them: pushed events (each applied once, in the order of their ids) or a polled list (the
//! server's whole answer, compared with what was there). Both say which jobs just finished, so
//! the page can tell the person wherever they are, and both end in the same state.

use protocol::jobs::{Job, JobEvent, JobList, JobProgress, JobState};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Board {
    /// Newest first.
    jobs: Vec<Job>,
    /// The id of the last event applied: an event at or below it is a repeat (a reconnect).
    last_event_id: i64,
}

impl Board {
    /// The board as a list from the server shows it; stream from [`Board::last_event_id`].
    pub fn from_list(list: JobList) -> Self {
        Self {
            jobs: list.jobs,
            last_event_id: list.last_event_id,
        }
    }

    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|job| job.id == id)
    }

    pub fn last_event_id(&self) -> i64 {
        self.last_event_id
    }

    /// Jobs queued or running.
    pub fn unfinished(&self) -> usize {
        self.jobs
            .iter()
            .filter(|job| !job.state.is_finished())
            .count()
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.jobs
            .iter()
            .filter(|job| job.state == JobState::Running)
            .count()
    }

    /// Applies the pushed event `id`; returns the job when this event finished it. An event
    /// already applied (a replay after a reconnect) changes nothing.
    pub fn apply(&mut self, id: i64, event: JobEvent) -> Option<Job> {
        if id <= self.last_event_id {
            return None;
        }
        self.last_event_id = id;
        match event {
            JobEvent::Submitted(job) => {
                if self.job(&job.id).is_none() {
                    self.jobs.insert(0, job);
                }
                None
            }
            JobEvent::Progress(progress) => {
                self.progress(&progress);
                None
            }
            JobEvent::Finished(job) => self.put(job),
        }
    }

    /// A job as the page learnt it outside the stream (its own submission, a cancel's answer,
    /// one poll of it); returns it when this finished it.
    pub fn put(&mut self, job: Job) -> Option<Job> {
        match self.jobs.iter_mut().find(|known| known.id == job.id) {
            Some(known) if known.state.is_finished() => None,
            Some(known) => {
                let finished = job.state.is_finished();
                *known = job.clone();
                finished.then_some(job)
            }
            None => {
                let finished = job.state.is_finished();
                let at = self
                    .jobs
                    .iter()
                    .position(|known| known.created_at_ms < job.created_at_ms)
                    .unwrap_or(self.jobs.len());
                self.jobs.insert(at, job.clone());
                finished.then_some(job)
            }
        }
    }

    /// Takes a polled list as the truth; returns the jobs it shows finished that were not
    /// before.
    pub fn sync(&mut self, list: JobList) -> Vec<Job> {
        let finished = list
            .jobs
            .iter()
            .filter(|job| job.state.is_finished())
            .filter(|job| {
                self.job(&job.id)
                    .is_some_and(|known| !known.state.is_finished())
            })
            .cloned()
            .collect();
        self.jobs = list.jobs;
        self.last_event_id = self.last_event_id.max(list.last_event_id);
        finished
    }

    fn progress(&mut self, progress: &JobProgress) {
        let Some(job) = self.jobs.iter_mut().find(|job| job.id == progress.id) else {
            return;
        };
        // A job that finished stays finished; a run that started again (after a restart)
        // starts its progress again.
        if job.state.is_finished() {
            return;
        }
        job.state = progress.state;
        job.progress = progress.progress;
        job.started_at_ms = progress.started_at_ms;
        job.attempts = progress.attempts;
    }
}

/// How far along a job is, for its card: the time it has run, and an estimate of what is left
/// from its progress so far (none until there is some progress to go by).
pub fn timing(job: &Job, now_ms: f64) -> (Option<f64>, Option<f64>) {
    let Some(started) = job.started_at_ms else {
        return (None, None);
    };
    let end = job
        .finished_at_ms
        .map_or(now_ms, |finished| finished as f64);
    let elapsed = (end - started as f64).max(0.0);
    let left = (job.state == JobState::Running && job.progress > 0.0)
        .then(|| elapsed * (1.0 - job.progress) / job.progress);
    (Some(elapsed), left)
}
