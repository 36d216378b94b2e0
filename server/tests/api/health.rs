//! `GET /api/health`.

use reqwest::StatusCode;

use crate::helpers::{assert_error, spawn_app};

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
async fn health_is_503_with_the_envelope_when_the_database_stops_answering() {
    let app = spawn_app().await;
    app.state.db.close().await;

    let response = app.get("/api/health").await;

    let message = assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(message.contains("database"), "{message}");
}

#[tokio::test]
async fn every_start_is_recorded_in_the_database_and_sqlite_is_in_wal_mode() {
    let app = spawn_app().await;
    let starts = || async {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM server_starts WHERE version = $1")
                .bind(env!("CARGO_PKG_VERSION"))
                .fetch_one(&app.state.db)
                .await
                .expect("reads");
        count
    };
    assert_eq!(
        starts().await,
        1,
        "spawning the app started the server once"
    );

    // A second start on the same database: recorded too, nothing before it lost.
    let address: server::db::Address = app.database.parse().expect("an address");
    let again = server::db::open_for_start(&address)
        .await
        .expect("opens again");
    assert_eq!(starts().await, 2);
    if let server::db::Address::Sqlite(_) = address {
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&again)
            .await
            .expect("reads");
        assert_eq!(mode, "wal");
    }
}
