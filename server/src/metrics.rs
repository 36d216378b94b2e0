//! The server's figures for Prometheus: `GET /metrics` in its text format, through the `metrics`
//! facade (each part of the server records where it works: `metrics::counter!(…)`) and
//! `metrics-exporter-prometheus`'s recorder, installed once per process, rendered by [`scrape`].
//! Not under `/api` and not linked from the page; `--metrics` serves it on another address, or
//! not at all.
//!
//! What is recorded (all names begin `meanwhile_`):
//! - `http_requests_total{method,route,status}`, `http_request_duration_seconds{method,route}`
//!   (to the answer's head: a stream counts until it starts), `http_requests_in_flight{route}`:
//!   the API's requests, by the route they matched ([`track`]);
//! - `streams_open{stream}`: event streams open now (`streams::StreamEnd`);
//! - `jobs_waiting` (read from the database at each scrape), `jobs_running`,
//!   `job_run_seconds{kind,end}` (`tasks::runner`);
//! - `db_begin_wait_seconds`: how long a write waited to begin its transaction — on SQLite, its
//!   turn for the one writer connection (`db::begin`);
//! - `db_writes_waiting`: writes waiting for that turn now (`db::begin`);
//! - `connections_open`, `connections_max` (`connections`).
//!
//! The same recording feeds [`Live`], the gauges as they stand, which the server panel
//! (`crate::panel`) reads a few times a second.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::layers::FanoutBuilder;
use metrics_util::registry::{AtomicStorage, Registry};
use sqlx::AnyPool;

/// Where `/metrics` is served (`--metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsAt {
    /// Beside the API and the page, on `--addr`.
    #[default]
    Here,
    /// On a listener of its own (e.g. an address only the monitoring network reaches).
    Address(SocketAddr),
    /// Nowhere.
    Off,
}

impl FromStr for MetricsAt {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "here" => Ok(Self::Here),
            "off" => Ok(Self::Off),
            address => address.parse().map(Self::Address).map_err(|_| {
                format!("`{text}`: give `here`, `off`, or an address such as 127.0.0.1:9100")
            }),
        }
    }
}

/// The process's recording, installed by the first caller: every figure goes to Prometheus'
/// recorder (rendered by [`scrape`]) and its gauges also to [`Live`] (read by the server panel),
/// fanned out by `metrics-util`, so the two can never disagree.
struct Recording {
    prometheus: PrometheusHandle,
    live: Live,
}

fn recording() -> &'static Recording {
    static RECORDING: OnceLock<Recording> = OnceLock::new();
    RECORDING.get_or_init(|| {
        // Seconds from a millisecond to a minute: an echo may wait 30 s on purpose.
        let buckets = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            60.0,
        ];
        let prometheus = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &buckets)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let recording = Recording {
            prometheus: prometheus.handle(),
            live: Live::default(),
        };
        let both = FanoutBuilder::default()
            .add_recorder(prometheus)
            .add_recorder(recording.live.clone())
            .build();
        // Another recorder is the process's already (a program embedding this server): ours
        // record nothing, and /metrics and the panel say so by being empty.
        if let Err(error) = metrics::set_global_recorder(both) {
            tracing::warn!(%error, "the metrics recorder is not ours; /metrics is empty");
        }
        recording
    })
}

/// The handle `GET /metrics` renders.
pub fn recorder() -> PrometheusHandle {
    recording().prometheus.clone()
}

/// The process's gauges as they stand, for the server panel.
pub fn live() -> &'static Live {
    &recording().live
}

/// Every gauge of the process, readable now: a recorder that keeps gauges (in `metrics-util`'s
/// atomic registry) and ignores counters and histograms, which only Prometheus needs.
#[derive(Clone)]
pub struct Live(Arc<Registry<Key, AtomicStorage>>);

impl Default for Live {
    fn default() -> Self {
        Self(Arc::new(Registry::atomic()))
    }
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

impl Live {
    /// The values of gauge `name` now, one per value of its label `label`, largest first (ties
    /// by name); those at zero left out.
    pub fn by(&self, name: &str, label: &str) -> Vec<(String, f64)> {
        let mut values = Vec::new();
        self.0.visit_gauges(|key, gauge| {
            let value = f64::from_bits(gauge.load(Ordering::Acquire));
            if key.name() == name && value > 0.0 {
                let labelled = key
                    .labels()
                    .find(|l| l.key() == label)
                    .map_or_else(String::new, |l| l.value().to_owned());
                values.push((labelled, value));
            }
        });
        values.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        values
    }

    /// The value of gauge `name` now, all its labels together.
    pub fn total(&self, name: &str) -> f64 {
        let mut total = 0.0;
        self.0.visit_gauges(|key, gauge| {
            if key.name() == name {
                total += f64::from_bits(gauge.load(Ordering::Acquire));
            }
        });
        total
    }
}

impl Recorder for Live {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0
            .get_or_create_gauge(key, |gauge| Gauge::from_arc(gauge.clone()))
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

/// What `GET /metrics` needs: the recorder's handle, and the database (its waiting jobs are
/// counted at each scrape).
#[derive(Debug, Clone)]
pub struct Scrape {
    pub handle: PrometheusHandle,
    pub db: AnyPool,
}

/// `GET /metrics`: every figure in the Prometheus text format.
pub async fn scrape(State(scrape): State<Scrape>) -> Response {
    if let Ok(waiting) = crate::tasks::waiting(&scrape.db).await {
        metrics::gauge!("meanwhile_jobs_waiting").set(waiting as f64);
    }
    scrape.handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        scrape.handle.render(),
    )
        .into_response()
}

/// For `middleware::from_fn` around the API's routes: counts each request by the route it
/// matched (an `/api` path that is none matched `/api/{*rest}`, the catch-all that answers 404)
/// and its status, times it to the answer's head, and keeps the count of those in flight.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = request.method().to_string();
    let in_flight = InFlight::new(metrics::gauge!(
        "meanwhile_http_requests_in_flight",
        "route" => route.clone()
    ));
    let started = Instant::now();
    let response = next.run(request).await;
    drop(in_flight);
    let status = response.status().as_u16().to_string();
    metrics::histogram!(
        "meanwhile_http_request_duration_seconds",
        "method" => method.clone(),
        "route" => route.clone()
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "meanwhile_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => status
    )
    .increment(1);
    response
}

/// One more of a gauge while it lives: a request its client abandoned (its future dropped) is
/// counted out too.
#[derive(Debug)]
pub struct InFlight(metrics::Gauge);

impl InFlight {
    pub fn new(gauge: metrics::Gauge) -> Self {
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_served_here_elsewhere_or_nowhere() {
        assert_eq!("here".parse(), Ok(MetricsAt::Here));
        assert_eq!("off".parse(), Ok(MetricsAt::Off));
        assert_eq!(
            "127.0.0.1:9100".parse(),
            Ok(MetricsAt::Address(([127, 0, 0, 1], 9100).into()))
        );
        assert!("yes".parse::<MetricsAt>().is_err());
    }
}
