//! `Session::start()`: the server on a free port with the built page, a ChromeDriver, and a
//! headless Chromium session pointed at it, with helpers that read the page as a person would.

use std::net::TcpListener as StdListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use server::AppState;
use server::page::PageFiles;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A task of the page's own of this many milliseconds or more is a long task, which the page must
/// never run while it waits (the browser's own definition, and PRODUCT.md's).
pub const LONG_TASK_MS: f64 = 50.0;

/// The longest gap between two animation frames a test accepts. A gap also counts time the
/// machine gave to other processes — in the test run two browsers, their servers and the
/// compiler's leftovers share two cores, and gaps of 100 ms were seen with the page idle — so
/// the page's own blocking is checked by its long tasks; this only catches a page that stops
/// drawing (a freeze of 300 ms, say, passed the two clock readings this replaced).
pub const LONGEST_FRAME_GAP_MS: f64 = 250.0;

/// The heartbeat's clock, in the header of every page.
pub const CLOCK: &str = "[data-testid=heartbeat-clock]";

pub struct Session {
    pub address: String,
    pub state: AppState,
    /// The server's database, as `--database` takes it.
    pub database: server::db::Address,
    /// A second instance on the same database, when a test started one ([`Session::beside`]).
    beside: Option<(AppState, oneshot::Sender<()>)>,
    pub browser: Client,
    _driver: Driver,
    shutdown: Option<oneshot::Sender<()>>,
    _folder: TempDir,
}

/// ChromeDriver in a process group of its own, stopped with the Chromium it started when
/// dropped: a test that fails before `close()` leaves no browser running.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // The group's id is ChromeDriver's pid; `kill -- -<pgid>` signals every process in it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn required_path(variable: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("{variable} is not set: run the end-to-end tests with `cargo xtask test`")
        })
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Session {
    /// The server (named `a`) on a SQLite file of its own, and the browser.
    pub async fn start() -> Self {
        Self::start_on(None).await
    }

    /// The server (named `a`) on `database` (`None`: a SQLite file of its own), and the browser.
    pub async fn start_on(database: Option<server::db::Address>) -> Self {
        let dist = required_path("MEANWHILE_E2E_DIST");
        let chromium = required_path("MEANWHILE_E2E_CHROMIUM");
        let chromedriver = required_path("MEANWHILE_E2E_CHROMEDRIVER");
        assert!(
            dist.join("index.html").is_file(),
            "no built page in {}",
            dist.display()
        );

        let folder = tempfile::tempdir().expect("temporary folder");
        let database =
            database.unwrap_or_else(|| server::db::Address::Sqlite(folder.path().join("e2e.db")));
        let (address, state, shutdown) =
            serve(&database, "a", server::Connections::default(), |_| {}).await;

        let port = free_port();
        let driver = Driver(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ChromeDriver starts"),
        );
        let driver_url = format!("http://127.0.0.1:{port}");
        let profile = folder.path().join("chromium-profile");
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,800",
                    // The TLS instance's certificate is made at its start: nobody vouches for it.
                    "--ignore-certificate-errors",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        };
        let started = Instant::now();
        let browser = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&driver_url)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(error) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("no browser session through ChromeDriver: {error}"),
            }
        };
        Session {
            address,
            state,
            database,
            beside: None,
            browser,
            _driver: driver,
            shutdown: Some(shutdown),
            _folder: folder,
        }
    }

    /// Stops the page's server, as a crash or a deploy would: open streams end, new connections
    /// are refused.
    pub fn stop_server(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    pub async fn open(&self, path: &str) {
        self.open_at(&self.address, path).await;
    }

    /// Opens `path` of the server at `address` (another instance's).
    pub async fn open_at(&self, address: &str, path: &str) {
        self.browser
            .goto(&format!("{address}{path}"))
            .await
            .expect("the page opens");
    }

    /// Starts a second instance of the server, named `b`, on this session's database (as a
    /// deployment behind a proxy runs several), changed by `configure`; returns its address.
    pub async fn beside(&mut self, configure: impl FnOnce(&mut AppState)) -> String {
        let (address, state, shutdown) = serve(
            &self.database,
            "b",
            server::Connections::default(),
            configure,
        )
        .await;
        self.beside = Some((state, shutdown));
        address
    }

    /// Starts a second instance, named `b`, on this session's database over TLS (`--tls`:
    /// HTTP/1.1 and HTTP/2 on one port, a certificate made at its start, and a port beside it
    /// speaking only HTTP/1.1 for the Lab's comparison); returns its address.
    pub async fn beside_over_tls(&mut self) -> String {
        let tls = server::tls::server_config(&server::tls::Certificate::MadeAtStart)
            .expect("a TLS configuration");
        let connections = server::Connections {
            tls: Some(tls),
            ..server::Connections::default()
        };
        let http1 = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let http1_port = http1.local_addr().expect("address").port();
        let page = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let page_port = page.local_addr().expect("address").port();
        let (address, state, shutdown) =
            serve_on(page, &self.database, "b", connections.clone(), |state| {
                state.lab_origins = server::lab::Origins {
                    page_port: Some(page_port),
                    http1_port: Some(http1_port),
                };
                state.page = state.page.clone().also_connecting_to(Some(http1_port));
            })
            .await;
        server::serve_http1_beside(http1, &state, connections);
        self.beside = Some((state, shutdown));
        address.replacen("http://", "https://", 1)
    }

    /// Opens `path` and waits until the page has started and shows the server up; returns the
    /// server status as shown.
    pub async fn open_started(&self, path: &str) -> String {
        self.open_started_at(&self.address, path).await
    }

    /// [`Session::open_started`] on the server at `address` (another instance's).
    pub async fn open_started_at(&self, address: &str, path: &str) -> String {
        self.open_at(address, path).await;
        self.wait_for_text(
            "[data-testid=server-status]",
            "Server up",
            Duration::from_secs(20),
        )
        .await
    }

    /// The first element matching `css`, waiting for it to appear, as a person waits for a
    /// control: a room's code may still be on its way when the page is already up.
    pub async fn element(&self, css: &str) -> Element {
        self.browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
    }

    /// The text of the first element matching `css`, waiting for it to appear. An element the
    /// page replaced between finding and reading it (a re-render) is found again.
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..20 {
            let element = self.element(css).await;
            match element.text().await {
                Ok(text) => return text,
                Err(error) if error.is_stale_element_reference() => continue,
                Err(error) => panic!("{css}: {error}"),
            }
        }
        panic!("{css} was replaced every time it was read")
    }

    /// The whole number shown by the element with `data-testid=test_id` (a counter).
    pub async fn number(&self, test_id: &str) -> u64 {
        let text = self.text(&format!("[data-testid={test_id}]")).await;
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{test_id}: {text:?}"))
    }

    /// Waits until the text of `css` contains `wanted`; returns it.
    pub async fn wait_for_text(&self, css: &str, wanted: &str, within: Duration) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(css).await;
            if text.contains(wanted) {
                return text;
            }
            assert!(
                started.elapsed() < within,
                "{css} shows {text:?}, never {wanted:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the middle of the element matching `css`, scrolled to the middle of the window
    /// (as a person would, out from under the inspector drawer at the bottom).
    pub async fn click(&self, css: &str) {
        for _ in 0..20 {
            let element = self.element(css).await;
            let argument = serde_json::to_value(&element).expect("an element reference");
            let scrolled = self
                .browser
                .execute(
                    "arguments[0].scrollIntoView({block: 'center', inline: 'center'})",
                    vec![argument],
                )
                .await;
            // The page may replace the element between finding and clicking it (a re-render):
            // then find it again.
            match scrolled {
                Err(error) if error.is_stale_element_reference() => continue,
                scrolled => scrolled.map(drop).expect("scrolled"),
            }
            match element.click().await {
                Ok(_) => return,
                Err(error) if error.is_stale_element_reference() => continue,
                Err(error) => panic!("click {css}: {error}"),
            }
        }
        panic!("{css} was replaced every time it was clicked")
    }

    /// Replaces the text of the input matching `css` with `value`, as a person typing.
    pub async fn type_into(&self, css: &str, value: &str) {
        let input = self.element(css).await;
        input.clear().await.expect("cleared");
        input.send_keys(value).await.expect("typed");
    }

    /// Chooses the option with `value` in the select matching `css`.
    pub async fn choose(&self, css: &str, value: &str) {
        self.element(css)
            .await
            .select_by_value(value)
            .await
            .expect("chosen");
    }

    /// Waits until `condition` holds, checking every 50 ms; panics with `what` after `within`.
    pub async fn wait_until(
        &self,
        what: &str,
        within: Duration,
        mut condition: impl AsyncFnMut() -> bool,
    ) {
        let started = Instant::now();
        while !condition().await {
            assert!(started.elapsed() < within, "never happened: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads the heartbeat's clock, waits `over`, and checks it shows another time (`what` says
    /// when, for the failure); returns the later reading.
    pub async fn assert_clock_ticks(&self, over: Duration, what: &str) -> String {
        let first = self.text(CLOCK).await;
        tokio::time::sleep(over).await;
        let second = self.text(CLOCK).await;
        assert_ne!(first, second, "{what}");
        second
    }

    /// Watches the page for `over` and checks it did not block (`what` says when, for the
    /// failure): no long task of its own ([`LONG_TASK_MS`]), and frames drawn all along, none
    /// more than [`LONGEST_FRAME_GAP_MS`] after the one before. Two readings of the clock, which
    /// this replaced, pass a freeze shorter than their interval.
    pub async fn assert_frames_flow(&self, over: Duration, what: &str) {
        let watched = self
            .browser
            .execute_async(
                "const [ms, done] = arguments;
                 const gaps = [];
                 const long = [];
                 const observer = new PerformanceObserver(list => {
                     for (const entry of list.getEntries()) long.push(entry.duration);
                 });
                 observer.observe({type: 'longtask'});
                 let last;
                 const start = performance.now();
                 const frame = (now) => {
                     if (last !== undefined) gaps.push(now - last);
                     last = now;
                     if (gaps.length > 0 && now - start >= ms) {
                         observer.disconnect();
                         done({gaps, long});
                     } else {
                         requestAnimationFrame(frame);
                     }
                 };
                 requestAnimationFrame(frame);",
                vec![json!(over.as_millis() as u64)],
            )
            .await
            .expect("frames are watched");
        let numbers = |name: &str| -> Vec<f64> {
            watched[name]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect()
        };
        let (gaps, long) = (numbers("gaps"), numbers("long"));
        assert!(
            long.iter().all(|ms| *ms < LONG_TASK_MS),
            "{what}: the page ran long tasks of {long:?} ms"
        );
        let longest = gaps.iter().copied().fold(0.0, f64::max);
        assert!(
            gaps.len() >= 3,
            "{what}: only {} frames in {over:?}",
            gaps.len()
        );
        assert!(
            longest <= LONGEST_FRAME_GAP_MS,
            "{what}: a gap of {longest:.0} ms between frames ({} frames in {over:?})",
            gaps.len()
        );
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn eval(&self, script: &str) -> Value {
        self.browser
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    /// Runs a Chrome DevTools Protocol command (ChromeDriver's `goog/cdp/execute`), e.g. to take
    /// the browser offline; returns its result.
    pub async fn devtools(&self, command: &str, params: Value) -> Value {
        self.browser
            .issue_cmd(ChromeDriverCommand {
                path: "goog/cdp/execute",
                body: json!({"cmd": command, "params": params}),
            })
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"))
    }

    /// Takes the browser off the network, or back on, as pulling out a cable would.
    pub async fn set_offline(&self, offline: bool) {
        self.devtools("Network.enable", json!({})).await;
        self.devtools(
            "Network.emulateNetworkConditions",
            json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    }

    /// Makes the page see a system set to dark (or light) colours.
    pub async fn prefer_colour_scheme(&self, scheme: &str) {
        self.devtools(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await;
    }

    /// Runs axe-core on the page as it is now (the WCAG 2.1 A and AA rules and axe's best
    /// practices); returns each violation as "rule (impact): help — the elements".
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let axe =
            std::fs::read_to_string(required_path("MEANWHILE_E2E_AXE")).expect("axe-core's script");
        self.browser
            .execute(&format!("{axe}\nreturn null"), vec![])
            .await
            .expect("axe-core loads");
        let found = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})
                   .then(r => done(r.violations.map(v =>
                       `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)))
                   .catch(e => done([`axe-core failed: ${e}`]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// Fails the test with axe-core's findings, if it has any.
    pub async fn assert_accessible(&self, what: &str) {
        let violations = self.accessibility_violations().await;
        assert!(
            violations.is_empty(),
            "{what}: axe-core finds {} problem(s):\n{}",
            violations.len(),
            violations.join("\n")
        );
    }

    /// Severe messages from the browser's console (errors, CSP violations, failed loads).
    pub async fn console_errors(&self) -> Vec<String> {
        self.console(&["SEVERE"]).await
    }

    /// The browser's console messages at `levels` (`SEVERE`, `WARNING`, `INFO`) since it was
    /// last read.
    pub async fn console(&self, levels: &[&str]) -> Vec<String> {
        let entries = self
            .browser
            .issue_cmd(ChromeDriverCommand {
                path: "se/log",
                body: json!({"type": "browser"}),
            })
            .await
            .expect("the browser log");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| levels.iter().any(|level| entry["level"] == *level))
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Saves a screenshot to `target/e2e-screenshots/<name>.png` for a person to look at.
    pub async fn screenshot(&self, name: &str) {
        let png = self.browser.screenshot().await.expect("screenshot");
        let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
        std::fs::create_dir_all(&folder).expect("screenshot folder");
        std::fs::write(folder.join(format!("{name}.png")), png).expect("screenshot written");
    }

    pub async fn close(self) {
        let _ = self.browser.clone().close().await;
    }
}

/// A test's end stops the server's jobs: their work runs on blocking threads, which the test's
/// runtime would otherwise wait for.
impl Drop for Session {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
        if let Some((state, _)) = &self.beside {
            state.shutdown.cancel();
        }
    }
}

/// The server named `name` on `database` with the built page, on a free port, with one job
/// worker (so a test knows what waits and what runs), changed by `configure`: its address, its
/// state, and what stops it.
async fn serve(
    database: &server::db::Address,
    name: &'static str,
    connections: server::Connections,
    configure: impl FnOnce(&mut AppState),
) -> (String, AppState, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    serve_on(listener, database, name, connections, configure).await
}

/// [`serve`] on `listener`.
async fn serve_on(
    listener: tokio::net::TcpListener,
    database: &server::db::Address,
    name: &'static str,
    connections: server::Connections,
    configure: impl FnOnce(&mut AppState),
) -> (String, AppState, oneshot::Sender<()>) {
    let dist = required_path("MEANWHILE_E2E_DIST");
    let db = server::db::connect(database).await.expect("database");
    let mut state = AppState {
        jobs: std::sync::Arc::new(server::tasks::Jobs::new(1)),
        served_by: server::state::ServedBy(axum::http::HeaderValue::from_static(name)),
        ..AppState::new(db, PageFiles::new(dist))
    };
    configure(&mut state);
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let (shutdown, stop) = oneshot::channel::<()>();
    tokio::spawn(server::serve(
        listener,
        state.clone(),
        connections,
        async move {
            let _ = stop.await;
        },
        Duration::from_secs(2),
    ));
    (address, state, shutdown)
}

/// A ChromeDriver command outside the WebDriver standard: `POST /session/{id}/<path>` with a
/// JSON body (`se/log` for the console, `goog/cdp/execute` for DevTools).
#[derive(Debug)]
struct ChromeDriverCommand {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for ChromeDriverCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}
