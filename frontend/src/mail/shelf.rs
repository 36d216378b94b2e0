//! The outbox as this browser keeps it: one localStorage key per message
//! (`meanwhile.mail.outbox.<mailbox>.<idempotency key>`), written only when that message changed.
//! Two tabs of one mailbox therefore never overwrite each other's messages (one key for the whole
//! outbox would keep only the last tab's save), and the `storage` event — which the browser fires
//! in every other tab of the origin — tells each tab what the others wrote: a message written in
//! one tab is in the other's outbox at once, and a message one tab is sending is not sent by the
//! other. The `Idempotency-Key` makes a send that both tabs start anyway deliver once.

use std::collections::HashMap;

use web_sys::Storage;

use super::outbox::{Outbox, Outgoing};

fn local() -> Option<Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Where the messages of `address` are kept: this prefix and the message's key.
fn prefix(address: &str) -> String {
    format!("meanwhile.mail.outbox.{address}.")
}

/// What another tab did to one message of this outbox.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Written or changed: the message as it is now.
    Put(Outgoing),
    /// Removed (delivered long ago, or discarded).
    Removed(String),
}

/// One mailbox's messages as stored, and what this tab last wrote or read of each.
#[derive(Debug, Default)]
pub struct Shelf {
    address: String,
    /// Storage key → the JSON this tab last wrote or read there.
    known: HashMap<String, String>,
}

impl Shelf {
    /// Reads the outbox of `address`. An attempt that was on its way when its tab went away is
    /// queued again: its answer never came, so it is sent again with the same key.
    pub fn open(address: &str) -> (Self, Outbox) {
        let mut shelf = Self {
            address: address.to_owned(),
            known: HashMap::new(),
        };
        let mut outbox = Outbox::default();
        let Some(storage) = local() else {
            return (shelf, outbox);
        };
        let prefix = prefix(address);
        let length = storage.length().unwrap_or(0);
        for index in 0..length {
            let Some(key) = storage.key(index).ok().flatten() else {
                continue;
            };
            if !key.starts_with(&prefix) {
                continue;
            }
            let Some(json) = storage.get_item(&key).ok().flatten() else {
                continue;
            };
            if let Ok(item) = serde_json::from_str::<Outgoing>(&json) {
                outbox.put(item);
            }
            shelf.known.insert(key, json);
        }
        // An outbox kept by an older version of the page, under one key: taken over.
        let older = format!("meanwhile.mail.outbox.{address}");
        if let Some(json) = storage.get_item(&older).ok().flatten() {
            for item in Outbox::from_json(&json).items {
                outbox.put(item);
            }
            shelf.save(&outbox);
            let _ = storage.remove_item(&older);
        }
        outbox.resume();
        (shelf, outbox)
    }

    /// Writes each message of `outbox` that changed since this tab last wrote or read it, and
    /// removes those this tab knew and the outbox no longer has.
    pub fn save(&mut self, outbox: &Outbox) {
        let Some(storage) = local() else {
            return;
        };
        let prefix = prefix(&self.address);
        let mut present = Vec::with_capacity(outbox.items.len());
        for item in &outbox.items {
            let key = format!("{prefix}{}", item.key);
            let Ok(json) = serde_json::to_string(item) else {
                continue;
            };
            if self.known.get(&key) != Some(&json) && storage.set_item(&key, &json).is_ok() {
                self.known.insert(key.clone(), json);
            }
            present.push(key);
        }
        self.known.retain(|key, _| {
            let kept = present.contains(key);
            if !kept {
                let _ = storage.remove_item(key);
            }
            kept
        });
    }

    /// What a `storage` event for `key` (now holding `value`) changed in this outbox, if it is
    /// one of its messages.
    pub fn changed(&mut self, key: &str, value: Option<String>) -> Option<Change> {
        let message_key = key.strip_prefix(&prefix(&self.address))?;
        match value {
            Some(json) => {
                let item = serde_json::from_str::<Outgoing>(&json).ok()?;
                self.known.insert(key.to_owned(), json);
                Some(Change::Put(item))
            }
            None => {
                self.known.remove(key);
                Some(Change::Removed(message_key.to_owned()))
            }
        }
    }
}
