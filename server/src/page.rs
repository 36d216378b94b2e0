//! Serving the built page: hashed assets cached for a year, `index.html` never cached and sent with
//! a Content-Security-Policy that allows exactly its own inline loader script, precompressed
//! `.br`/`.gz` variants when the browser accepts them, `index.html` for every other GET without a
//! file extension so a deep link to a room loads the app, and a 404 for a missing file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Where the built page lives (an `Arc`: cloned with the state), and the server's other port
/// the page may fetch from.
#[derive(Debug, Clone)]
pub struct PageFiles {
    dist: Arc<Path>,
    also_connect: Option<u16>,
}

impl PageFiles {
    pub fn new(dist: impl Into<PathBuf>) -> Self {
        Self {
            dist: Arc::from(dist.into()),
            also_connect: None,
        }
    }

    /// Lets the page fetch from `port` too, over HTTPS on the host it was loaded from (with
    /// `--tls`, the port speaking only HTTP/1.1, where the Lab sends its comparison's echoes).
    pub fn also_connecting_to(self, port: Option<u16>) -> Self {
        Self {
            also_connect: port,
            ..self
        }
    }

    fn index_path(&self) -> PathBuf {
        self.dist.join("index.html")
    }
}

/// The router for everything outside `/api`. Its answers also get the two headers that act on
/// documents only (an API answer is never a document): no other window may script this one, and
/// the page's requests send no referrer.
pub fn router(files: PageFiles) -> Router {
    let assets = ServeDir::new(&*files.dist)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(false)
        .fallback(axum::routing::get(deep_link).with_state(files.clone()));
    let layers = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(CatchPanicLayer::custom(crate::error::panic_response))
        .layer(middleware::from_fn(cache_headers))
        .layer(middleware::from_fn_with_state(files.clone(), not_by_name));
    Router::new()
        .route("/", axum::routing::get(index_show))
        .route("/index.html", axum::routing::get(index_show))
        .with_state(files)
        .fallback_service(assets)
        .layer(layers)
}

/// Longest file name the file system takes (Linux's `NAME_MAX`, in bytes).
const NAME_MAX: usize = 255;

/// Keeps from the file service what it must not answer by name: a segment longer than any file
/// name (the file system would refuse it, and the service answer 500 and log an error any client
/// could cause at will), and the precompressed `.br`/`.gz` variants, which are reached only
/// through `Accept-Encoding`. Both are then a deep link or a missing file, as [`deep_link`] says.
async fn not_by_name(files: State<PageFiles>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let too_long = path.split('/').any(|segment| segment.len() > NAME_MAX);
    let precompressed = path.ends_with(".br") || path.ends_with(".gz");
    if too_long || precompressed {
        let (uri, headers) = (request.uri().clone(), request.headers().clone());
        return deep_link(files, uri, headers).await;
    }
    next.run(request).await
}

/// A path that is no file of the page: the page itself for a deep link (`/lab`, `/mail/inbox/42`),
/// but a plain 404 for what looks like a file (`/app-123_bg.wasm`, `/x.js`): a browser that asks
/// for a script or a module must not be handed HTML.
async fn deep_link(files: State<PageFiles>, uri: Uri, headers: HeaderMap) -> Response {
    if looks_like_a_file(uri.path()) {
        return (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, "no-store")],
            "There is no such file.",
        )
            .into_response();
    }
    index(files, request_host(&uri, &headers)).await
}

/// Whether the last segment of `path` has a file extension (`/a/b.js`, not `/mail/inbox`).
pub fn looks_like_a_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    name.rsplit_once('.')
        .is_some_and(|(stem, extension)| !stem.is_empty() && !extension.is_empty())
}

/// `GET /` and `/index.html`.
async fn index_show(files: State<PageFiles>, uri: Uri, headers: HeaderMap) -> Response {
    index(files, request_host(&uri, &headers)).await
}

/// The host a request was sent to: its URI's (HTTP/2's `:authority`), else its `Host` header's,
/// without the port.
pub fn request_host(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    uri.host().map(str::to_owned).or_else(|| {
        let host = headers.get(header::HOST)?.to_str().ok()?;
        Some(host.parse::<Authority>().ok()?.host().to_owned())
    })
}

/// `index.html`, read on every request (it is small, and `trunk` may rebuild it while the server
/// runs), with the policy that lets its inline loader run and nothing else inline, and lets it
/// fetch from this origin (and from the server's other port on `host`, when there is one).
async fn index(State(files): State<PageFiles>, host: Option<String>) -> Response {
    match tokio::fs::read_to_string(files.index_path()).await {
        Ok(html) => {
            let other = files
                .also_connect
                .zip(host)
                .map(|(port, host)| format!("https://{host}:{port}"));
            let policy = content_security_policy(&html, other.as_deref());
            let mut response = axum::response::Html(html).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            match HeaderValue::from_str(&policy) {
                Ok(value) => {
                    headers.insert(header::CONTENT_SECURITY_POLICY, value);
                }
                Err(_) => tracing::error!("the page's content security policy is not a header"),
            }
            response
        }
        Err(error) => {
            tracing::error!(path = %files.index_path().display(), %error, "the page is not built");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CACHE_CONTROL, "no-store")],
                axum::response::Html(
                    "<!doctype html><title>Meanwhile</title><h1>The page is not built yet</h1>\
                     <p>Run <code>cargo xtask run</code>, which builds it before starting the server.</p>",
                ),
            )
                .into_response()
        }
    }
}

/// The policy for the page: scripts only from this origin plus the inline scripts `html` carries
/// (by hash), WebAssembly compilation allowed, no inline styles, no framing; requests to this
/// origin, and to `also_connect` when given.
pub fn content_security_policy(html: &str, also_connect: Option<&str>) -> String {
    let hashes: String = inline_scripts(html)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    // `blob:` images: a job's picture is fetched with its owner's token and shown from an
    // object URL.
    let connect = also_connect.map_or_else(String::new, |origin| format!(" {origin}"));
    format!(
        "default-src 'self'; script-src 'self'{hashes} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: blob:; connect-src 'self'{connect}; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The text of every `<script>` without a `src` attribute, exactly as the browser hashes it.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<script")?;
            let after_tag = &rest[start..];
            let open_end = after_tag.find('>')?;
            let attributes = &after_tag[..open_end];
            let body_and_rest = &after_tag[open_end + 1..];
            let close = body_and_rest.find("</script>")?;
            let body = &body_and_rest[..close];
            rest = &body_and_rest[close + "</script>".len()..];
            if !attributes.contains(" src=") && !attributes.ends_with('/') {
                return Some(body);
            }
        }
    })
}

/// Hashed assets (`name-<16 hex>.ext`, as trunk names them) never change: cache for a year.
/// Everything else must be revalidated.
async fn cache_headers(request: Request, next: Next) -> Response {
    let immutable = is_hashed_asset(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() && !response.headers().contains_key(header::CACHE_CONTROL) {
        let value = if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    response
}

/// Whether the file name carries a content hash, as in `frontend-3f2a9c0d1e4b5a6c_bg.wasm`:
/// trunk writes a 64-bit hash in hex without its leading zeros, so 16 digits or a few fewer
/// (`base-5cfce744f1d2a99.css`), with at least one decimal digit among them.
pub fn is_hashed_asset(path: &str) -> bool {
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    name.split(['-', '.', '_']).any(|part| {
        (12..=16).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_hexdigit())
            && part.bytes().any(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inline_scripts_are_hashed() {
        let html = r#"<head><script src="/a.js"></script><script type="module">run()</script>
            <link rel="modulepreload" href="/x.js"><script>two</script></head>"#;
        let scripts: Vec<_> = inline_scripts(html).collect();
        assert_eq!(scripts, ["run()", "two"]);
        let policy = content_security_policy(html, None);
        // sha256("run()") and sha256("two"), base64.
        assert_eq!(policy.matches("'sha256-").count(), 2, "{policy}");
        assert!(policy.contains("'wasm-unsafe-eval'"));
        assert!(!policy.contains("unsafe-inline"));
    }

    #[test]
    fn the_page_may_fetch_from_its_own_origin_and_the_one_given() {
        let alone = content_security_policy("", None);
        assert!(alone.contains("connect-src 'self';"), "{alone}");
        let beside = content_security_policy("", Some("https://localhost:3001"));
        assert!(
            beside.contains("connect-src 'self' https://localhost:3001;"),
            "{beside}"
        );
    }

    #[test]
    fn the_host_a_request_was_sent_to_is_its_authoritys_else_its_host_headers() {
        let mut headers = HeaderMap::new();
        let uri: Uri = "/lab".parse().expect("a path");
        assert_eq!(request_host(&uri, &headers), None);
        headers.insert(header::HOST, HeaderValue::from_static("localhost:3000"));
        assert_eq!(request_host(&uri, &headers).as_deref(), Some("localhost"));
        headers.insert(header::HOST, HeaderValue::from_static("[::1]:3000"));
        assert_eq!(request_host(&uri, &headers).as_deref(), Some("[::1]"));
        let http2: Uri = "https://127.0.0.1:3000/lab".parse().expect("a URI");
        assert_eq!(request_host(&http2, &headers).as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn a_path_looks_like_a_file_when_its_last_segment_has_an_extension() {
        for (path, file) in [
            ("/frontend-0123456789abcdef_bg.wasm", true),
            ("/x.js", true),
            ("/rooms/v1.2/style.css", true),
            ("/lab", false),
            ("/mail/inbox/42", false),
            ("/v1.2/lab", false),
            ("/.well-known", false),
            ("/", false),
        ] {
            assert_eq!(looks_like_a_file(path), file, "{path}");
        }
    }

    #[test]
    fn hashed_assets_are_recognised() {
        for (path, hashed) in [
            ("/frontend-3f2a9c0d1e4b5a6c_bg.wasm", true),
            ("/frontend-3f2a9c0d1e4b5a6c.js", true),
            ("/style-0123456789abcdef.css", true),
            ("/index.html", false),
            ("/favicon.svg", false),
            // Trunk drops a hash's leading zeros: 15 digits happen, one name in sixteen.
            ("/base-5cfce744f1d2a99.css", true),
            ("/favicon-5bb0fb64bb3a66ed.svg", true),
            // The rooms' files, named after the shell by the split step.
            ("/frontend-ee62c9efbc076d74-split.js", true),
            ("/frontend-ee62c9efbc076d74-split_lab.wasm", true),
            ("/frontend-ee62c9efbc076d74-chunk_10.wasm", true),
            ("/report-2024.css", false),
            ("/deadbeefcafe.css", false),
            ("/frontend-3f2a9c0d1e4b5a6c5.js", false),
        ] {
            assert_eq!(is_hashed_asset(path), hashed, "{path}");
        }
    }
}
