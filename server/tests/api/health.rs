//! `GET /api/health`.

use crate::helpers::spawn_app;

#[tokio::test]
async fn health_reports_ok_with_version_and_database() {
    let app = spawn_app().await;

    let response = app.get("/api/health").await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "JSON"
    );
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "database": "ok"})
    );
}

#[tokio::test]
async fn health_shows_a_database_that_stopped_answering() {
    let app = spawn_app().await;
    app.state.db.close().await;

    let body: serde_json::Value = app.get("/api/health").await.json().await.expect("JSON");

    assert_eq!(body["status"], "degraded");
    assert_eq!(body["database"], "unavailable");
}

#[tokio::test]
async fn every_start_is_recorded_in_the_database() {
    let app = spawn_app().await;

    server::db::record_start(&app.state.db, "9.9.9")
        .await
        .expect("writes");

    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM server_starts WHERE version = ?")
        .bind("9.9.9")
        .fetch_one(&app.state.db)
        .await
        .expect("reads");
    assert_eq!(count, 1);
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&app.state.db)
        .await
        .expect("reads");
    assert_eq!(mode, "wal");
}
