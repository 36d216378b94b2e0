//! `Server-Timing` on every API answer: the server's own account of where a request's time went,
//! which the browser shows beside its own phases (and the page's inspector beside each request).
//!
//! [`server_timing`] (a `from_fn` layer around the API) gives each request an account, a
//! task-local [`Spent`], and writes it into the answer's header when the answer's head is ready:
//! `db-wait` (waiting to begin a write's transaction: on SQLite, its turn for the one writer),
//! `db` (a write's transaction, from its beginning to its commit), `wait` (waiting on purpose:
//! the echo's delay), `handler` (the rest) and `total`, in milliseconds to a tenth; a handler
//! may add a metric of its own (the Lab's `fault`, named in words). Work spawned
//! for a request ([`crate::streams::detached`]) carries the account along ([`current`],
//! [`within`]). A stream's account ends with its head.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static SPENT: Spent;
}

/// The header (named once: naming it by a string parses the name on every answer).
pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// Where a request's time went, so far.
#[derive(Debug, Clone, Default)]
pub struct Spent(Arc<Mutex<Parts>>);

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Parts {
    db_wait: Duration,
    db: Duration,
    wait: Duration,
}

/// What a span of a request's time was spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Waiting to begin a write's transaction.
    DbWait,
    /// In a write's transaction.
    Db,
    /// Waiting on purpose.
    Wait,
}

/// Adds `spent` to `part` of the current request's account (nothing outside a request).
pub fn add(part: Part, spent: Duration) {
    let _ = SPENT.try_with(|account| {
        let mut parts = account.0.lock().unwrap_or_else(|e| e.into_inner());
        match part {
            Part::DbWait => parts.db_wait += spent,
            Part::Db => parts.db += spent,
            Part::Wait => parts.wait += spent,
        }
    });
}

/// The current request's account, to carry into work spawned for it.
pub fn current() -> Option<Spent> {
    SPENT.try_with(Clone::clone).ok()
}

/// Runs `work` with `account` as its request's account (when there is one).
pub async fn within<F: Future>(account: Option<Spent>, work: F) -> F::Output {
    match account {
        Some(account) => SPENT.scope(account, work).await,
        None => work.await,
    }
}

/// For `middleware::from_fn` around the API: the request's account, written into its answer's
/// `Server-Timing`.
pub async fn server_timing(request: Request, next: Next) -> Response {
    let account = Spent::default();
    let started = Instant::now();
    let mut response = SPENT.scope(account.clone(), next.run(request)).await;
    let parts = *account.0.lock().unwrap_or_else(|e| e.into_inner());
    if let Ok(value) = HeaderValue::try_from(header(parts, started.elapsed())) {
        // Beside what the handler may have said in it (the Lab's faults).
        response.headers_mut().append(SERVER_TIMING, value);
    }
    response
}

/// The header's value: each part, the handler's share (what the parts leave of the total), and
/// the total, in milliseconds to a tenth.
fn header(parts: Parts, total: Duration) -> String {
    let handler = total
        .saturating_sub(parts.db_wait)
        .saturating_sub(parts.db)
        .saturating_sub(parts.wait);
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    format!(
        "db-wait;dur={};desc=\"waiting for the database writer\", \
         db;dur={};desc=\"in the database\", \
         wait;dur={};desc=\"waiting on purpose\", \
         handler;dur={};desc=\"in the handler\", total;dur={}",
        ms(parts.db_wait),
        ms(parts.db),
        ms(parts.wait),
        ms(handler),
        ms(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_has_what_the_parts_leave_of_the_total() {
        let parts = Parts {
            db_wait: Duration::from_micros(1_250),
            db: Duration::from_micros(3_040),
            wait: Duration::from_millis(300),
        };
        assert_eq!(
            header(parts, Duration::from_micros(305_500)),
            "db-wait;dur=1.2;desc=\"waiting for the database writer\", \
             db;dur=3.0;desc=\"in the database\", \
             wait;dur=300.0;desc=\"waiting on purpose\", \
             handler;dur=1.2;desc=\"in the handler\", total;dur=305.5"
        );
    }

    #[tokio::test]
    async fn work_spawned_for_a_request_adds_to_its_account() {
        let account = Spent::default();
        SPENT
            .scope(account.clone(), async {
                add(Part::Wait, Duration::from_millis(5));
                let carried = current();
                tokio::spawn(within(carried, async {
                    add(Part::Db, Duration::from_millis(7));
                }))
                .await
                .expect("ran");
            })
            .await;
        add(Part::Db, Duration::from_secs(1)); // outside any request: nowhere
        let parts = *account.0.lock().expect("not poisoned");
        assert_eq!(parts.wait, Duration::from_millis(5));
        assert_eq!(parts.db, Duration::from_millis(7));
    }
}
