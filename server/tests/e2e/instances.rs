//! Two server instances on one database, as a deployment behind one address runs them, and two
//! people, each with a tab on another instance: a message sent through A arrives live on the
//! stream B holds, and each tab's inspector says which instance answered each request and which
//! holds the stream. On PostgreSQL when `cargo xtask test` gives one (`MEANWHILE_TEST_POSTGRES`),
//! as the instances hear each other through it; else on one SQLite file, where B's streams find
//! A's writes by reading their rows again (every half second here).

use std::sync::Arc;
use std::time::Duration;

use server::streams::Hub;

use crate::browser::Session;
use crate::mail::{make_mailbox_at, to_tab, write};

const LIVE: Duration = Duration::from_secs(15);

/// A database of the test's own on the PostgreSQL server the run was given, if any.
async fn postgres_database() -> Option<server::db::Address> {
    use sqlx::migrate::MigrateDatabase;
    let server = std::env::var("MEANWHILE_TEST_POSTGRES").ok()?;
    let mut address = url::Url::parse(&server).expect("an address");
    address.set_path(&format!("e2e_{:016x}", rand::random::<u64>()));
    sqlx::Postgres::create_database(address.as_str())
        .await
        .expect("a database is made");
    Some(server::db::Address::Postgres(address.to_string()))
}

/// The inspector's rows whose path contains `path`, as `[path, server, outcome]`.
async fn inspector_rows(session: &Session, path: &str) -> Vec<[String; 3]> {
    let rows = session
        .eval(&format!(
            "return [...document.querySelectorAll('.inspector-table tbody tr')]
               .map(row => [...row.cells].map(cell => cell.textContent))
               .filter(cells => cells[2].includes('{path}'))
               .map(cells => [cells[2], cells[4], cells[5]])"
        ))
        .await;
    serde_json::from_value(rows).expect("rows of three")
}

#[tokio::test]
async fn a_message_sent_through_one_instance_arrives_live_on_the_stream_another_holds() {
    let database = postgres_database().await;
    let on_postgres = database.is_some();
    let mut session = Session::start_on(database).await;
    let b = session
        .beside(|state| {
            if !on_postgres {
                state.hub = Arc::new(Hub::rescanning_every(Duration::from_millis(500)));
            }
        })
        .await;
    let a = session.address.clone();

    make_mailbox_at(&session, &a, "ann").await;
    let anns_tab = session.browser.window().await.expect("ann's tab");
    let bens_tab = session
        .browser
        .new_window(true)
        .await
        .expect("a new tab")
        .handle;
    to_tab(&session, &bens_tab).await;
    make_mailbox_at(&session, &b, "ben").await;

    // Ann, on A, writes to Ben, whose tab follows B's stream.
    to_tab(&session, &anns_tab).await;
    write(&session, "ben", "Across", "Sent through A").await;
    session
        .wait_for_text("[data-testid=mail-sent]", "delivered ✓", LIVE)
        .await;

    to_tab(&session, &bens_tab).await;
    session
        .wait_for_text("[data-testid=mail-inbox]", "Across", LIVE)
        .await;

    // Ben's inspector: his stream is held by B, the message came pushed on it, and what his tab
    // asked of the server, B answered.
    session.click(".inspector-toggle").await;
    let streams = inspector_rows(&session, "/api/events?").await;
    assert!(
        streams.iter().any(|[_, server, _]| server == "b"),
        "the stream's row names B: {streams:?}"
    );
    let pushed = session
        .eval(
            "return [...document.querySelectorAll('.inspector-table tbody tr.marker')]
               .filter(row => row.cells[2].textContent.includes('Across'))
               .map(row => row.cells[4].textContent)",
        )
        .await;
    assert_eq!(
        pushed,
        serde_json::json!(["b"]),
        "the message is a pushed event in Ben's inspector, brought by B's stream"
    );
    let inbox = inspector_rows(&session, "/api/inbox").await;
    assert!(!inbox.is_empty());
    assert!(
        inbox.iter().all(|[_, server, _]| server == "b"),
        "{inbox:?}"
    );
    session.screenshot("instances-ben-inspector").await;
    session
        .assert_accessible("the inspector with the server column")
        .await;

    // Ann's inspector: A took her message.
    to_tab(&session, &anns_tab).await;
    session.click(".inspector-toggle").await;
    let sends = inspector_rows(&session, "/api/messages").await;
    assert!(
        sends
            .iter()
            .any(|[_, server, outcome]| server == "a" && outcome.contains("applied")),
        "{sends:?}"
    );
    // Its account says the write was in the database, under the id A's log line gives it.
    let account = session
        .eval(
            "return [...document.querySelectorAll('.inspector-table tbody tr')]
               .filter(row => row.cells[2].textContent.includes('/api/messages'))
               .map(row => [row.querySelector('.account').textContent, row.querySelector('.request-id')?.textContent])",
        )
        .await;
    let account: Vec<(String, Option<String>)> = serde_json::from_value(account).expect("rows");
    assert!(
        account.iter().any(|(timing, id)| {
            timing.contains(" ms: ")
                && timing.contains("db ")
                && id.as_ref().is_some_and(|id| id.len() == 36)
        }),
        "{account:?}"
    );
    session.close().await;
}
