//! HTTP/1.1 beside HTTP/2: the same run over each, side by side. With `--tls` the page comes
//! over HTTP/2 and the server also listens on a port speaking only HTTP/1.1; the Lab sends the
//! run to that port first, then to its own, and puts what each came to in one table — the queue
//! for one of the browser's six connections is there, then gone.

use leptos::prelude::*;

use crate::frame::now_ms;
use crate::lab::model::{LabModel, Summary};

/// The two runs of a comparison: over HTTP/1.1 (the other port), then over HTTP/2 (the page's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compared {
    pub http1: u32,
    pub http2: u32,
}

/// Where the page stands: what it came over, and where the server speaks only HTTP/1.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ground {
    /// Over HTTP/2, with the server's HTTP/1.1 port at this origin, and how many requests one
    /// HTTP/2 connection carries at once: the comparison can run.
    Both {
        http1_origin: String,
        streams: Option<u32>,
    },
    /// Over HTTP/2, and the server names no HTTP/1.1 port (yet, or at all).
    Http2Only,
    /// Over something else (HTTP/1.1 without `--tls`), or the browser does not say.
    Plain { protocol: Option<String> },
}

#[component]
pub fn ProtocolComparison(
    model: StoredValue<LabModel, LocalStorage>,
    frame: RwSignal<u64>,
    ground: Signal<Ground>,
    compared: RwSignal<Option<Compared>>,
    on_compare: Callback<String>,
) -> impl IntoView {
    let sides = Memo::new(move |_| {
        frame.track();
        let runs = compared.get()?;
        let now = now_ms();
        Some(model.with_value(|m| {
            (
                m.summary_of_run(runs.http1, now),
                m.summary_of_run(runs.http2, now),
            )
        }))
    });
    let explain = move || {
        match ground.get() {
        Ground::Both { http1_origin, streams } => {
            let page_there = format!("{http1_origin}/lab");
            view! {
            <p class="explain">
                "This page came over HTTP/2: every request shares one connection"
                {streams.map(|n| format!(
                    ", which carries up to {n} at once (the server's limit of streams; more wait for one, as over \
                     HTTP/1.1 they wait for a connection)"
                ))}
                ". The server also listens at "
                <code>{http1_origin}</code> " speaking only HTTP/1.1, where the browser opens at most six "
                "connections and the rest of the requests wait for one. Compare sends the requests set above "
                "there first, then here — as GETs, for a POST to another origin first asks leave (a preflight) "
                "and would muddy the comparison. Both runs land in the waterfall one after the other, and the "
                "table puts them side by side. The whole page is served there too: "
                <a href=page_there data-testid="lab-compare-http1-link">"the Lab over HTTP/1.1"</a>
                " (open it once if your browser has to accept the server's certificate for that port)."
            </p>
            }
            .into_any()
        }
        Ground::Http2Only => view! {
            <p class="explain">
                "This page came over HTTP/2; the server names no port speaking only HTTP/1.1 to compare it with."
            </p>
        }
        .into_any(),
        Ground::Plain { protocol } => view! {
            <p class="explain">
                {format!("This page came over {}. ", protocol.as_deref().map_or("HTTP/1.1", shown))}
                "Browsers speak HTTP/2 only over TLS: start the server with " <code>"cargo xtask run -- --tls"</code>
                " and open it at its " <code>"https://"</code>
                " address to run the same requests over HTTP/1.1 and HTTP/2 side by side here."
            </p>
        }
        .into_any(),
    }
    };
    let start = move |_| {
        if let Ground::Both { http1_origin, .. } = ground.get_untracked() {
            on_compare.run(http1_origin);
        }
    };
    view! {
        <section class="lab-compare" aria-labelledby="lab-compare-heading" data-testid="lab-compare">
            <h2 id="lab-compare-heading">"HTTP/1.1 beside HTTP/2"</h2>
            {explain}
            <Show when=move || matches!(ground.get(), Ground::Both { .. })>
                <button type="button" class="secondary" data-testid="lab-compare-start" on:click=start>
                    "Compare HTTP/1.1 and HTTP/2"
                </button>
            </Show>
            <Show when=move || compared.with(Option::is_some)>
                <Sides sides=sides/>
            </Show>
            <p class="compare-verdict" data-testid="lab-compare-verdict" aria-live="polite">
                {move || sides.with(|sides| sides.as_ref().and_then(|(one, two)| verdict(one, two)))}
            </p>
        </section>
    }
}

/// A row of the table: its label, its cells' test id, and what it shows of a run.
type Row = (&'static str, &'static str, fn(&Summary) -> String);

/// The table of the two runs.
#[component]
fn Sides(sides: Memo<Option<(Summary, Summary)>>) -> impl IntoView {
    let rows: [Row; 6] = [
        ("answers came over", "protocol", |s| {
            if s.protocols.is_empty() {
                "—".to_owned()
            } else {
                s.protocols
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }),
        ("answered", "answered", |s| {
            format!("{} of {}", s.ok, s.done() + s.queued + s.in_flight)
        }),
        ("wall time", "wall", |s| {
            ms(Some(s.wall_ms).filter(|_| s.done() > 0))
        }),
        ("median wait for a connection", "wait", |s| {
            ms(s.connection_wait(50.0))
        }),
        ("longest wait for a connection", "longest-wait", |s| {
            ms(s.connection_wait(100.0))
        }),
        ("median latency", "latency", |s| ms(s.percentile(50.0))),
    ];
    let cell = move |value: fn(&Summary) -> String, second: bool| {
        move || {
            sides.with(|sides| {
                sides
                    .as_ref()
                    .map(|(one, two)| value(if second { two } else { one }))
            })
        }
    };
    view! {
        <table class="compare-table" data-testid="lab-compare-table">
            <caption>"The same requests over each protocol"</caption>
            <thead>
                <tr><td></td><th scope="col">"HTTP/1.1"</th><th scope="col">"HTTP/2"</th></tr>
            </thead>
            <tbody>
                {rows
                    .into_iter()
                    .map(|(label, id, value)| view! {
                        <tr>
                            <th scope="row">{label}</th>
                            <td data-testid=format!("compare-http1-{id}")>{cell(value, false)}</td>
                            <td data-testid=format!("compare-http2-{id}")>{cell(value, true)}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// One sentence of what the table shows, once both runs are over (or what went wrong).
pub fn verdict(http1: &Summary, http2: &Summary) -> Option<String> {
    if settled(http1) && http1.ok == 0 && http1.failed > 0 {
        return Some(
            "No request to the HTTP/1.1 port was answered. If your browser has not accepted this \
             server's certificate there yet, open the Lab over HTTP/1.1 (the link above) once, \
             accept it, and compare again."
                .to_owned(),
        );
    }
    if !(settled(http1) && settled(http2)) {
        return None;
    }
    let (one, two) = (http1.connection_wait(50.0)?, http2.connection_wait(50.0)?);
    Some(format!(
        "Over HTTP/1.1 half of the requests waited {one:.0} ms or more for a connection; over \
         HTTP/2, {two:.0} ms: the queue for a connection is there, then gone. The wall time went \
         from {:.0} ms to {:.0} ms.",
        http1.wall_ms, http2.wall_ms
    ))
}

/// Over: every request of the run has ended.
fn settled(summary: &Summary) -> bool {
    summary.done() > 0 && summary.queued + summary.in_flight == 0
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} ms"))
}

/// A protocol as a person names it (`h2` is HTTP/2).
fn shown(protocol: &str) -> &str {
    match protocol {
        "h2" => "HTTP/2",
        "h3" => "HTTP/3",
        "http/1.1" => "HTTP/1.1",
        other => other,
    }
}
