//! Who this tab is. The mailboxes made in this browser are remembered in localStorage (with
//! their tokens, so any tab can pick one); the one a tab is using lives in sessionStorage, so two
//! tabs can be two people writing to each other.

use serde::{Deserialize, Serialize};
use web_sys::Storage;

const KNOWN: &str = "meanwhile.mail.mailboxes";
const CURRENT: &str = "meanwhile.mail.current";

/// A mailbox this browser holds the token of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub address: String,
    pub token: String,
}

fn local() -> Option<Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn session() -> Option<Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The mailboxes made in this browser, oldest first.
pub fn known() -> Vec<Identity> {
    local()
        .and_then(|storage| storage.get_item(KNOWN).ok().flatten())
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// Remembers a new mailbox for every tab of this browser.
pub fn remember(identity: &Identity) {
    let mut all = known();
    all.retain(|known| known.address != identity.address);
    all.push(identity.clone());
    if let (Some(storage), Ok(json)) = (local(), serde_json::to_string(&all)) {
        let _ = storage.set_item(KNOWN, &json);
    }
}

/// Forgets a mailbox whose token no longer opens it (a new database on the server).
pub fn forget(address: &str) {
    let mut all = known();
    all.retain(|known| known.address != address);
    if let (Some(storage), Ok(json)) = (local(), serde_json::to_string(&all)) {
        let _ = storage.set_item(KNOWN, &json);
    }
}

/// The mailbox this tab uses, if it chose one.
pub fn current() -> Option<Identity> {
    let address = session()?.get_item(CURRENT).ok().flatten()?;
    known().into_iter().find(|known| known.address == address)
}

/// Makes `address` this tab's mailbox (or none).
pub fn choose(address: Option<&str>) {
    if let Some(storage) = session() {
        let _ = match address {
            Some(address) => storage.set_item(CURRENT, address),
            None => storage.remove_item(CURRENT),
        };
    }
}
