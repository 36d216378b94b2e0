//! `spawn_app()`: the server on a free port with its own database and a small built page. The
//! database is a SQLite file, or, when `MEANWHILE_TEST_POSTGRES` is set, a PostgreSQL database of
//! the test's own.

use std::path::Path;
use std::time::Duration;

use protocol::ErrorBody;
use reqwest::{Response, StatusCode};
use server::page::PageFiles;
use server::{AppState, Connections};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The inline loader script of the fixture page, as trunk would inject it.
pub const LOADER_SCRIPT: &str = "import init from '/frontend-0123456789abcdef.js';await init();";
/// A hashed asset of the fixture page and its precompressed variants' contents.
pub const WASM_NAME: &str = "frontend-0123456789abcdef_bg.wasm";
pub const WASM_PLAIN: &[u8] = b"\0asm plain";
pub const WASM_BROTLI: &[u8] = b"brotli bytes";
pub const WASM_GZIP: &[u8] = b"gzip bytes";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    folder: TempDir,
    /// The database, as `--database` takes it.
    pub database: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], letting the test change the state (e.g. a short request timeout).
pub async fn spawn_app_with(configure: impl FnOnce(&mut AppState)) -> TestApp {
    spawn_app_serving(configure, Connections::default()).await
}

/// Like [`spawn_app_with`], with the connection layer's clocks and cap set by the test.
pub async fn spawn_app_serving(
    configure: impl FnOnce(&mut AppState),
    connections: Connections,
) -> TestApp {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        server::telemetry::init(&filter, server::telemetry::LogFormat::Human);
    }
    let folder = tempfile::tempdir().expect("temporary folder");
    let database = new_database(folder.path()).await;
    spawn_app_on(folder, database, configure, connections).await
}

/// A second server on `first`'s database, as another instance of one deployment would be: it
/// shares the rows, not the memory (its own hub, its own workers).
pub async fn spawn_app_beside(first: &TestApp, configure: impl FnOnce(&mut AppState)) -> TestApp {
    let folder = tempfile::tempdir().expect("temporary folder");
    spawn_app_on(
        folder,
        first.database.clone(),
        configure,
        Connections::default(),
    )
    .await
}

/// The PostgreSQL server the tests run on instead of SQLite files, as an address of a database
/// on it that they may create others from (`cargo xtask test` sets it for its second run).
const POSTGRES: &str = "MEANWHILE_TEST_POSTGRES";

/// A connection to the PostgreSQL server's first database, outside any test's own, for what a
/// test does to the server itself; `None` on SQLite.
pub async fn postgres_admin() -> Option<sqlx::PgConnection> {
    use sqlx::Connection;
    let server = std::env::var(POSTGRES).ok()?;
    Some(
        sqlx::PgConnection::connect(&server)
            .await
            .expect("connects"),
    )
}

/// A new, empty database for one test, as `--database` takes it: a SQLite file in `folder`, or a
/// database of its own on the PostgreSQL server of [`POSTGRES`].
pub async fn new_database(folder: &Path) -> String {
    use sqlx::migrate::MigrateDatabase;
    let Ok(server) = std::env::var(POSTGRES) else {
        return folder.join("data").join("test.db").display().to_string();
    };
    let mut address = url::Url::parse(&server).expect("an address");
    address.set_path(&format!("test_{:016x}", rand::random::<u64>()));
    sqlx::Postgres::create_database(address.as_str())
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES}={server}: no database made: {e}"));
    address.to_string()
}

async fn spawn_app_on(
    folder: TempDir,
    database: String,
    configure: impl FnOnce(&mut AppState),
    connections: Connections,
) -> TestApp {
    let dist = folder.path().join("dist");
    write_fixture_page(&dist);
    let address: server::db::Address = database.parse().expect("a database address");
    let db = server::db::open_for_start(&address)
        .await
        .expect("database opens");
    let mut state = AppState::new(db, PageFiles::new(dist));
    configure(&mut state);

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(
        listener,
        state.clone(),
        connections,
        async move {
            let _ = shutdown_rx.await;
        },
        Duration::from_secs(5),
    ));
    TestApp {
        address,
        client: reqwest::Client::new(),
        state,
        shutdown: Some(shutdown),
        server: Some(server),
        folder,
        database,
    }
}

fn write_fixture_page(dist: &Path) {
    std::fs::create_dir_all(dist).expect("dist folder");
    let index = format!(
        "<!doctype html><html><head><title>Meanwhile</title>\
         <link rel=\"stylesheet\" href=\"/style-0123456789abcdef.css\">\
         <script type=\"module\">{LOADER_SCRIPT}</script></head><body></body></html>"
    );
    std::fs::write(dist.join("index.html"), index).expect("index");
    std::fs::write(dist.join(WASM_NAME), WASM_PLAIN).expect("wasm");
    std::fs::write(dist.join(format!("{WASM_NAME}.br")), WASM_BROTLI).expect("br");
    std::fs::write(dist.join(format!("{WASM_NAME}.gz")), WASM_GZIP).expect("gz");
    std::fs::write(dist.join("style-0123456789abcdef.css"), "body{}").expect("css");
    std::fs::write(dist.join("robots.txt"), "User-agent: *\n").expect("robots");
}

impl TestApp {
    /// The temporary folder holding the page (`dist/`) and the database (`data/`).
    pub fn folder(&self) -> &Path {
        self.folder.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Sends `request_line` and headers exactly as written (no client normalises the path) and
    /// returns the whole answer as text; the connection is closed after it.
    pub async fn raw(&self, request_line: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = self.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host)
            .await
            .expect("connects");
        let request = format!("{request_line}\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("request written");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("answer read");
        String::from_utf8_lossy(&answer).into_owned()
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Stops accepting, waits for the server task to return, and reports how it ended.
    pub async fn shut_down(&mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.server.take() {
            Some(server) => server.await.expect("server task"),
            None => Ok(()),
        }
    }
}

/// A test's end stops the server's background work: a job's work runs on a blocking thread,
/// which the test's runtime would otherwise wait for.
impl Drop for TestApp {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}

/// Asserts `response` has `status` and the error envelope with `code`; returns the message.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> String {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let text = response.text().await.expect("body");
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON body");
    assert_eq!(value["error"]["code"], code, "{text}");
    let body: ErrorBody = serde_json::from_value(value).expect("the error envelope");
    assert!(
        body.error.message.ends_with('.') && body.error.message.len() > 10,
        "a sentence: {text}"
    );
    body.error.message
}

/// The server as a separate process (the real binary) on `database` ([`new_database`]), with its
/// page folder in `folder`, on a port of its own, logging at `log`; what it prints is kept in
/// `output`. Killed when dropped.
pub struct Process {
    pub child: tokio::process::Child,
    pub address: String,
    pub output: std::sync::Arc<std::sync::Mutex<String>>,
}

pub async fn start_process(database: &str, folder: &Path, log: &str) -> Process {
    start_process_with(database, folder, log, &[]).await
}

/// [`start_process`] with more flags.
pub async fn start_process_with(
    database: &str,
    folder: &Path,
    log: &str,
    flags: &[&str],
) -> Process {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_meanwhile"))
        .args(["--addr", "127.0.0.1:0", "--log", log])
        .args(["--database", database])
        .args(flags)
        .arg("--dist")
        .arg(folder.join("dist"))
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("its output");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("a line") {
            if let Some(address) = line.strip_prefix("Meanwhile is serving on ") {
                return address.to_owned();
            }
        }
        panic!("the server ended without serving");
    })
    .await
    .expect("the server says where it serves");
    // Read on, so the server never blocks on a full pipe.
    let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let kept = output.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut kept = kept.lock().expect("not poisoned");
            kept.push_str(&line);
            kept.push('\n');
        }
    });
    Process {
        child,
        address,
        output,
    }
}

/// The value of field `name` (`"id:"`, `"event:"`, `"data:"`, `"retry:"`) in one server-sent
/// event block, empty when the block has none.
pub fn sse_field(block: &str, name: &str) -> String {
    block
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// An open event stream, read one event at a time.
pub struct Events {
    pub response: Response,
    /// Bytes, not text: a chunk may end inside a character, which the next one completes.
    buffer: Vec<u8>,
}

/// One server-sent event: its id, name, data, and the `retry:` hint if it had one.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    pub id: String,
    pub event: String,
    pub data: String,
    pub retry: String,
}

impl Pushed {
    /// Whether this is what a stream begins with: the `retry:` hint (with, on Mail's and Tasks'
    /// streams, the [`protocol::SERVED_BY_EVENT`] naming the instance).
    pub fn is_opening(&self) -> bool {
        !self.retry.is_empty()
    }
}

impl Events {
    pub fn new(response: Response) -> Self {
        Self {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next event (keep-alive comments skipped); `None` if none comes within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Pushed> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.windows(2).position(|pair| pair == b"\n\n") {
                let bytes: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(bytes).expect("an event is UTF-8");
                let pushed = Pushed {
                    id: sse_field(&block, "id:"),
                    event: sse_field(&block, "event:"),
                    data: sse_field(&block, "data:"),
                    retry: sse_field(&block, "retry:"),
                };
                if pushed.event.is_empty() && pushed.retry.is_empty() {
                    continue; // a comment
                }
                return Some(pushed);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .expect("the stream reads")?;
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// The next `count` events that are not the stream's opening (the `retry:` hint, and on
    /// Mail's and Tasks' streams the instance's name with it).
    pub async fn take(&mut self, count: usize) -> Vec<Pushed> {
        let mut events = Vec::new();
        while events.len() < count {
            let pushed = self
                .next(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("only {} of {count} events came", events.len()));
            if !pushed.is_opening() {
                events.push(pushed);
            }
        }
        events
    }
}
