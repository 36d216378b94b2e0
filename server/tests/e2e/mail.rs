//! The Mail room in a real browser: two tabs are two people. A message arrives live in the other
//! tab, opening it sends a read receipt back, markup in a message stays text, a correction asked
//! for is made and seen, and offline the outbox fills and then drains when the network is back.
//! Two tabs of one mailbox share one outbox: what both write offline is delivered once.

use std::time::Duration;

use fantoccini::wd::WindowHandle;
use serde_json::{Value, json};

use crate::browser::Session;

const LIVE: Duration = Duration::from_secs(15);

/// Makes mailbox `name` in the current tab and waits for its stream to be live.
async fn make_mailbox(session: &Session, name: &str) {
    make_mailbox_at(session, &session.address, name).await;
}

/// Makes mailbox `name` in the current tab, opened on the server at `address`, and waits for its
/// stream to be live.
pub(crate) async fn make_mailbox_at(session: &Session, address: &str, name: &str) {
    session.open_started_at(address, "/mail").await;
    session.type_into("[data-testid=mail-new-name]", name).await;
    session.click("[data-testid=mail-create]").await;
    session
        .wait_for_text("[data-testid=mail-me]", name, LIVE)
        .await;
    session
        .wait_for_text("[data-testid=mail-connection]", "live", LIVE)
        .await;
}

/// Waits until the tab's stream is live and its outbox has nothing left to send.
async fn live_and_sent(session: &Session) {
    session
        .wait_for_text("[data-testid=mail-connection]", "live", LIVE)
        .await;
    session
        .wait_for_text("[data-testid=mail-pending]", "0", LIVE)
        .await;
}

pub(crate) async fn write(session: &Session, to: &str, subject: &str, body: &str) {
    session.type_into("[data-testid=mail-to]", to).await;
    session
        .type_into("[data-testid=mail-subject]", subject)
        .await;
    session.type_into("[data-testid=mail-body]", body).await;
    session.click("[data-testid=mail-send]").await;
}

pub(crate) async fn to_tab(session: &Session, tab: &WindowHandle) {
    session
        .browser
        .switch_to_window(tab.clone())
        .await
        .expect("switched tab");
}

async fn count(session: &Session, css: &str) -> u64 {
    session
        .eval(&format!("return document.querySelectorAll('{css}').length"))
        .await
        .as_u64()
        .unwrap_or_default()
}

#[tokio::test]
async fn two_tabs_write_to_each_other_live_with_receipts_and_an_outbox_that_survives_offline() {
    let session = Session::start().await;
    make_mailbox(&session, "ann").await;
    let ann = session.browser.window().await.expect("ann's tab");
    let ben = session
        .browser
        .new_window(true)
        .await
        .expect("a new tab")
        .handle;
    to_tab(&session, &ben).await;
    make_mailbox(&session, "ben").await;

    // Ben writes; markup in a message is text, never run.
    let markup = "<script>window.__ran = 1</script><b>bold?</b> See you at 3.";
    write(&session, "ann", "Hello Ann", markup).await;
    session
        .wait_for_text("[data-testid=mail-sent]", "delivered ✓", LIVE)
        .await;

    // Ann's tab has it, without a reload: in the inbox, the navigation and the title.
    to_tab(&session, &ann).await;
    session
        .wait_for_text("[data-testid=mail-inbox]", "Hello Ann", LIVE)
        .await;
    assert_eq!(session.text("[data-testid=mail-unread]").await, "1 unread");
    assert!(
        session
            .text("[data-testid=nav-unread]")
            .await
            .starts_with('1')
    );
    let title = session.eval("return document.title").await;
    assert_eq!(title, "(1) Meanwhile");
    session
        .click("[data-testid=mail-inbox-item] .subject-button")
        .await;
    let body = session.text("[data-testid=mail-body-text]").await;
    assert_eq!(body, markup);
    assert_eq!(
        session.eval("return window.__ran ?? null").await,
        serde_json::Value::Null
    );
    assert_eq!(
        count(
            &session,
            "[data-testid=mail-inbox] script, [data-testid=mail-inbox] b"
        )
        .await,
        0
    );
    session
        .wait_for_text("[data-testid=mail-unread]", "0 unread", LIVE)
        .await;

    // Ben sees the receipt.
    to_tab(&session, &ben).await;
    session
        .wait_for_text("[data-testid=mail-sent]", "read ✓✓", LIVE)
        .await;

    // Ann asks for a correction; Ben is told and corrects; Ann sees the new text.
    to_tab(&session, &ann).await;
    session.click("[data-testid=mail-ask-correction]").await;
    session
        .type_into("[data-testid=mail-correction-note]", "Which day?")
        .await;
    session.click("[data-testid=mail-ask]").await;
    to_tab(&session, &ben).await;
    session
        .wait_for_text(
            "[data-testid=mail-sent]",
            "correction requested: Which day?",
            LIVE,
        )
        .await;
    session.prefer_colour_scheme("dark").await;
    session
        .assert_accessible("mail, correction requested, dark")
        .await;
    session.prefer_colour_scheme("light").await;
    session
        .assert_accessible("mail, correction requested")
        .await;
    session.click("[data-testid=mail-correct]").await;
    session
        .type_into("[data-testid=mail-correct-body]", "See you at 3 on Friday.")
        .await;
    session.click("[data-testid=mail-send-correction]").await;
    session
        .wait_for_text("[data-testid=mail-sent]", "read ✓✓", LIVE)
        .await;
    to_tab(&session, &ann).await;
    session
        .wait_for_text("[data-testid=mail-inbox]", "corrected ×1", LIVE)
        .await;
    session
        .wait_for_text("[data-testid=mail-inbox]", "See you at 3 on Friday.", LIVE)
        .await;
    to_tab(&session, &ben).await;

    // Answers lost on the way back: with "lose answers" on and the page's dice loaded (lose,
    // lose, lose, keep; no backoff jitter), the message is sent four times and arrives once.
    session
        .eval(
            "const lose = document.querySelector('[data-testid=mail-lose]');
             lose.value = '90';
             lose.dispatchEvent(new Event('input', { bubbles: true }));
             const dice = [0, 0, 0, 0, 0, 0];
             Math.random = () => dice.length ? dice.shift() : 0.99;
             return null",
        )
        .await;
    write(
        &session,
        "ann",
        "Lost answers",
        "sent until an answer comes back",
    )
    .await;
    session
        .wait_for_text(
            "[data-testid=mail-sent]",
            "4 attempts, delivered once",
            LIVE,
        )
        .await;
    // The inspector shows the three attempts whose answers were lost as retried.
    session.click(".inspector-toggle").await;
    let retried = session
        .eval(
            "return [...document.querySelectorAll('.inspector-table tr')]
               .filter(row => row.textContent.includes('/api/messages') && row.textContent.includes('retried'))
               .length",
        )
        .await;
    assert_eq!(retried, 3);
    session.click(".inspector-toggle").await;
    session
        .eval(
            "const lose = document.querySelector('[data-testid=mail-lose]');
             lose.value = '0';
             lose.dispatchEvent(new Event('input', { bubbles: true }));
             return null",
        )
        .await;
    to_tab(&session, &ann).await;
    session
        .wait_for_text("[data-testid=mail-inbox]", "Lost answers", LIVE)
        .await;
    let copies = session
        .eval(
            "return [...document.querySelectorAll('[data-testid=mail-inbox-item]')]
               .filter(item => item.textContent.includes('Lost answers')).length",
        )
        .await;
    assert_eq!(copies, 1, "delivered once");
    to_tab(&session, &ben).await;

    // Offline: written messages wait in the outbox; back online, they leave.
    session.click("[data-testid=mail-offline]").await;
    session
        .wait_for_text("[data-testid=mail-connection]", "offline", LIVE)
        .await;
    write(&session, "ann", "While offline 1", "first").await;
    write(&session, "ann", "While offline 2", "second").await;
    assert_eq!(session.text("[data-testid=mail-pending]").await, "2");
    let outbox = session.text("[data-testid=mail-outbox]").await;
    assert_eq!(outbox.matches("queued").count(), 2, "{outbox}");
    // Kept in the browser at once: a reload or a crash would lose neither.
    let kept = session
        .eval(
            "return Object.keys(localStorage)
               .filter(key => key.startsWith('meanwhile.mail.outbox.ben.'))
               .map(key => localStorage.getItem(key)).join('\\n')",
        )
        .await;
    let kept = kept.as_str().unwrap_or_default();
    assert!(
        kept.contains("While offline 1") && kept.contains("While offline 2"),
        "{kept}"
    );
    session.screenshot("mail-offline").await;
    // A reload keeps the switch on: the queued messages wait (they used to leave at once).
    session.browser.refresh().await.expect("reloaded");
    session
        .wait_for_text("[data-testid=mail-connection]", "offline", LIVE)
        .await;
    assert_eq!(session.text("[data-testid=mail-pending]").await, "2");
    let switch = session
        .eval("return document.querySelector('[data-testid=mail-offline]').checked")
        .await;
    assert_eq!(switch, true, "the switch is still on");
    session.click("[data-testid=mail-offline]").await;
    session
        .wait_for_text("[data-testid=mail-pending]", "0", LIVE)
        .await;
    session
        .wait_for_text("[data-testid=mail-connection]", "live", LIVE)
        .await;

    to_tab(&session, &ann).await;
    session
        .wait_for_text("[data-testid=mail-unread]", "3 unread", LIVE)
        .await;
    assert_eq!(count(&session, "[data-testid=mail-inbox-item]").await, 4);
    session.screenshot("mail").await;
    session.assert_accessible("mail").await;
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    session.close().await;
}

#[tokio::test]
async fn two_tabs_of_one_mailbox_write_offline_and_every_message_arrives_once_and_is_seen_read() {
    let session = Session::start().await;
    let client = reqwest::Client::new();
    let api = |path: &str| format!("{}{path}", session.address);
    let dan: Value = client
        .post(api("/api/mailboxes"))
        .json(&json!({"name": "dan"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("dan's mailbox");
    let dan = dan["token"].as_str().expect("a token").to_owned();

    // The first tab, offline, writes two.
    make_mailbox(&session, "cat").await;
    let first = session.browser.window().await.expect("the first tab");
    session.click("[data-testid=mail-offline]").await;
    session
        .wait_for_text("[data-testid=mail-connection]", "offline", LIVE)
        .await;
    write(&session, "dan", "Tab one, first", "1").await;
    write(&session, "dan", "Tab one, second", "2").await;

    // A second tab of the same mailbox has them too: one outbox. Online, it sends them at once
    // (the first tab cannot); then, offline, it writes two.
    let second = session
        .browser
        .new_window(true)
        .await
        .expect("a new tab")
        .handle;
    to_tab(&session, &second).await;
    session.open_started("/mail").await;
    session.click(".mail-known button").await;
    session
        .wait_for_text("[data-testid=mail-me]", "cat", LIVE)
        .await;
    session
        .wait_for_text("[data-testid=mail-sent]", "Tab one, second", LIVE)
        .await;
    session.click("[data-testid=mail-offline]").await;
    write(&session, "dan", "Tab two, first", "3").await;
    write(&session, "dan", "Tab two, second", "4").await;

    // The first tab, still offline, writes a third: saving it must not lose the second tab's.
    to_tab(&session, &first).await;
    write(&session, "dan", "Tab one, third", "5").await;
    session
        .wait_for_text("[data-testid=mail-outbox]", "Tab two, second", LIVE)
        .await;

    // The second tab reloads (its switch stays on: nothing leaves), goes online and sends what is
    // due; then the first comes back online.
    to_tab(&session, &second).await;
    session.open_started("/mail").await;
    session
        .wait_for_text("[data-testid=mail-connection]", "offline", LIVE)
        .await;
    session.click("[data-testid=mail-offline]").await;
    live_and_sent(&session).await;
    to_tab(&session, &first).await;
    session.click("[data-testid=mail-offline]").await;
    live_and_sent(&session).await;

    // Dan has each once, and reads them all.
    let inbox: Value = client
        .get(api("/api/inbox?limit=200"))
        .bearer_auth(&dan)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("dan's inbox");
    let messages = inbox["messages"].as_array().expect("messages");
    let mut subjects: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["subject"].as_str())
        .collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        [
            "Tab one, first",
            "Tab one, second",
            "Tab one, third",
            "Tab two, first",
            "Tab two, second"
        ],
        "each message delivered once"
    );
    for message in messages {
        let read = client
            .post(api(&format!("/api/messages/{}/read", message["id"])))
            .bearer_auth(&dan)
            .send()
            .await
            .expect("sent");
        assert!(read.status().is_success());
    }

    // Both tabs show the five, once each, read.
    for tab in [&first, &second] {
        to_tab(&session, tab).await;
        session
            .wait_until("five sent, each read ✓✓", LIVE, async || {
                session
                    .eval(
                        "const items = [...document.querySelectorAll('[data-testid=mail-sent-item]')];
                         return items.length === 5
                           && items.every(item => item.textContent.includes('read ✓✓'))",
                    )
                    .await
                    == Value::Bool(true)
            })
            .await;
    }
    session.screenshot("mail-two-tabs").await;
    let errors = session.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    session.close().await;
}

/// A tab whose first load failed stayed without its Sent list until a person reloaded it. Now
/// the load is the session's like any loss: tried again with a backoff until it succeeds.
#[tokio::test]
async fn a_tab_whose_first_load_failed_gets_its_sent_list_without_a_reload() {
    let session = Session::start().await;
    make_mailbox(&session, "ben").await;
    let ann = session
        .browser
        .new_window(true)
        .await
        .expect("a new tab")
        .handle;
    to_tab(&session, &ann).await;
    make_mailbox(&session, "ann").await;
    write(&session, "ben", "Before the reload", "kept on the server").await;
    session
        .wait_for_text("[data-testid=mail-sent]", "delivered ✓", LIVE)
        .await;

    // The Sent list cannot be fetched while the tab loads again.
    session.devtools("Network.enable", json!({})).await;
    session
        .devtools("Network.setBlockedURLs", json!({"urls": ["*/api/outbox*"]}))
        .await;
    session.browser.refresh().await.expect("reloaded");
    session
        .wait_for_text("[data-testid=mail-me]", "ann", LIVE)
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = session.text("[data-testid=mail-sent]").await;
    assert!(!sent.contains("Before the reload"), "not loaded: {sent}");
    let connection = session.text("[data-testid=mail-connection]").await;
    assert!(
        !connection.contains("live"),
        "says it is not live: {connection}"
    );

    // The network lets it through again: the list comes, nobody reloads.
    session
        .devtools("Network.setBlockedURLs", json!({"urls": []}))
        .await;
    session
        .wait_for_text("[data-testid=mail-sent]", "Before the reload", LIVE)
        .await;
    session
        .wait_for_text("[data-testid=mail-connection]", "live", LIVE)
        .await;
    session.close().await;
}
