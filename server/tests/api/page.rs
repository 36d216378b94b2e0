//! The built page: caching, precompression, the SPA fallback and the security headers.

use csp::sha256_base64;
use reqwest::StatusCode;

use crate::helpers::{LOADER_SCRIPT, WASM_BROTLI, WASM_GZIP, WASM_NAME, WASM_PLAIN, spawn_app};

#[tokio::test]
async fn the_page_is_served_uncached_with_a_policy_allowing_only_its_loader() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(
        headers["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/html")
    );
    let policy = headers["content-security-policy"].to_str().expect("text");
    assert!(
        policy.contains(&format!("'sha256-{}'", sha256_base64(LOADER_SCRIPT))),
        "{policy}"
    );
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"),
        "{policy}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cross-origin-opener-policy"], "same-origin");
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("<title>Meanwhile</title>")
    );
}

#[tokio::test]
async fn deep_links_to_rooms_answer_the_page() {
    let app = spawn_app().await;
    for path in [
        "/lab",
        "/search?q=snow",
        "/mail/inbox/42",
        "/index.html",
        "/apiary",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        assert!(
            response
                .text()
                .await
                .expect("body")
                .contains("<title>Meanwhile</title>"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url(&format!("/{WASM_NAME}")))
        .header("accept-encoding", "identity")
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.headers()["content-type"], "application/wasm");
    assert_eq!(response.bytes().await.expect("body").as_ref(), WASM_PLAIN);
}

#[tokio::test]
async fn a_hash_trunk_wrote_without_its_leading_zero_is_a_hash_too() {
    let app = spawn_app().await;
    let name = "base-5cfce744f1d2a99.css";
    std::fs::write(app.folder().join("dist").join(name), "body{}").expect("written");

    let response = app.get(&format!("/{name}")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn precompressed_variants_are_served_to_browsers_that_accept_them() {
    let app = spawn_app().await;
    for (accept, encoding, body) in [
        ("br, gzip", Some("br"), WASM_BROTLI),
        ("gzip", Some("gzip"), WASM_GZIP),
        ("identity", None, WASM_PLAIN),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/{WASM_NAME}")))
            .header("accept-encoding", accept)
            .send()
            .await
            .expect("sent");
        assert_eq!(
            response
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().expect("text")),
            encoding,
            "{accept}"
        );
        assert_eq!(response.headers()["content-type"], "application/wasm");
        assert_eq!(
            response.bytes().await.expect("body").as_ref(),
            body,
            "{accept}"
        );
    }
}

#[tokio::test]
async fn unhashed_files_must_be_revalidated() {
    let app = spawn_app().await;

    let response = app.get("/robots.txt").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn api_answers_carry_the_security_headers_that_apply_to_json() {
    let app = spawn_app().await;

    for path in ["/api/health", "/api/lab/echo?seq=1", "/api/nothing/here"] {
        let response = app.get(path).await;

        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
        // Document-only headers stay on the page's answers.
        assert!(!headers.contains_key("referrer-policy"), "{path}");
        assert!(
            !headers.contains_key("cross-origin-opener-policy"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_missing_file_is_404_while_a_deep_link_without_an_extension_is_the_page() {
    let app = spawn_app().await;
    for path in [
        "/frontend-ffffffffffffffff_bg.wasm",
        "/x.js",
        "/lab/missing.png",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let text = response.text().await.expect("body");
        assert!(!text.contains("<title>Meanwhile</title>"), "{path}: {text}");
    }
}

#[tokio::test]
async fn precompressed_variants_and_other_names_for_a_file_are_not_files() {
    let app = spawn_app().await;
    // Only the file's own name serves it; its variants come only through Accept-Encoding.
    for path in [
        format!("/{WASM_NAME}.br"),
        format!("/{WASM_NAME}.gz"),
        format!("/{WASM_NAME}.html"),
        "/index.html.js".to_owned(),
        "/index.html.gz".to_owned(),
        "/robots.txt.br".to_owned(),
    ] {
        for accept in ["identity", "br, gzip", ""] {
            let response = app
                .client
                .get(app.url(&path))
                .header("accept-encoding", accept)
                .send()
                .await
                .expect("sent");
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{path} ({accept:?})"
            );
        }
    }
}

#[tokio::test]
async fn a_path_segment_longer_than_a_file_name_is_a_deep_link_or_a_404_never_a_500() {
    let app = spawn_app().await;
    let long = "a".repeat(256);
    let page = app.get(&format!("/{long}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .expect("body")
            .contains("<title>Meanwhile</title>")
    );
    for path in [
        format!("/{long}.js"),
        format!("/{long}/x.css"),
        format!("/lab/{}.wasm", "b".repeat(300)),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// Raw request lines, sent byte for byte: an HTTP client would normalise `..` and `%2e%2e` away
/// before sending, and the server would never see the attack.
#[tokio::test]
async fn paths_cannot_escape_the_page_folder() {
    let app = spawn_app().await;
    // A file beside `dist/` that must never be served.
    let secret = "top secret beside the page";
    std::fs::write(app.folder().join("secret.txt"), secret).expect("written");
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..\\secret.txt",
        "/..%5csecret.txt",
        "//../secret.txt",
        "/./../secret.txt",
        "/assets/../../secret.txt",
        "/%252e%252e/secret.txt",
        "/../data/test.db",
    ] {
        let answer = app.raw(&format!("GET {target} HTTP/1.1")).await;
        let status_line = answer.lines().next().unwrap_or_default().to_owned();
        assert!(
            !answer.contains(secret) && !answer.contains("SQLite format"),
            "{target}: {status_line}"
        );
        assert!(
            status_line.starts_with("HTTP/1.1 4") || status_line.starts_with("HTTP/1.1 200"),
            "{target}: {status_line}"
        );
    }
    // The same probe reaches a file that is there: the raw requests are read as sent.
    let answer = app.raw("GET /robots.txt HTTP/1.1").await;
    assert!(answer.contains("User-agent"), "{answer}");
}

/// SHA-256 in base64, as a Content-Security-Policy hash source spells it.
mod csp {
    pub fn sha256_base64(text: &str) -> String {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()))
    }
}
