//! The Search room's wire types: `GET /api/search`, a typeahead over every named Unicode
//! character.

use serde::{Deserialize, Serialize};

use crate::lab::{DELAY_MS_MAX, OutOfRange};

/// Longest query, in characters.
pub const QUERY_MAX_CHARS: usize = 100;
/// Most results one page may hold.
pub const LIMIT_MAX: i64 = 100;
/// Results per page when the query does not say.
pub const LIMIT_DEFAULT: i64 = 20;

/// The query of `GET /api/search?q=&limit=&offset=&delay_ms=`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to find in the characters' names (any order, any case), a code point (`U+2603`,
    /// `0x2603`) or a character (`☃`). Empty: no results.
    pub q: String,
    /// Results per page, `1..=LIMIT_MAX` (default [`LIMIT_DEFAULT`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// Results to skip, `0..` (default 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Milliseconds the server waits before answering, `0..=DELAY_MS_MAX`: to make races happen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u32>,
}

/// A [`SearchQuery`] whose values are in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSearch {
    pub q: String,
    pub limit: usize,
    pub offset: usize,
    pub delay_ms: u32,
}

impl SearchQuery {
    /// What each field allows, in words a person reads in an error message.
    pub fn allowed(field: &str) -> Option<String> {
        Some(match field {
            "q" => format!("at most {QUERY_MAX_CHARS} characters"),
            "limit" => format!("a whole number from 1 to {LIMIT_MAX}"),
            "offset" => "a whole number from 0".to_owned(),
            "delay_ms" => format!("a whole number of milliseconds from 0 to {DELAY_MS_MAX}"),
            _ => return None,
        })
    }

    /// Checks every field against its range; the first one out of range is named.
    pub fn validate(self) -> Result<ValidSearch, OutOfRange> {
        let out_of_range = |field: &'static str| OutOfRange {
            field,
            allowed: Self::allowed(field).unwrap_or_default(),
        };
        if self.q.chars().count() > QUERY_MAX_CHARS {
            return Err(out_of_range("q"));
        }
        let limit = self.limit.unwrap_or(LIMIT_DEFAULT);
        let limit = usize::try_from(limit)
            .ok()
            .filter(|_| (1..=LIMIT_MAX).contains(&limit))
            .ok_or_else(|| out_of_range("limit"))?;
        let offset =
            usize::try_from(self.offset.unwrap_or(0)).map_err(|_| out_of_range("offset"))?;
        let delay_ms = self.delay_ms.unwrap_or(0);
        if delay_ms > DELAY_MS_MAX {
            return Err(out_of_range("delay_ms"));
        }
        Ok(ValidSearch {
            q: self.q,
            limit,
            offset,
            delay_ms,
        })
    }
}

/// Body of a successful `GET /api/search` (200).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The query as the server read it.
    pub query: String,
    /// How many characters match in all (the page holds at most `limit` of them).
    pub total: usize,
    /// The server's time to search, in microseconds.
    pub took_us: u64,
    pub items: Vec<CharacterHit>,
}

/// One character that matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharacterHit {
    /// `U+2603`.
    pub codepoint: String,
    /// The character itself, `☃`.
    pub char: String,
    /// Its Unicode name, `SNOWMAN`.
    pub name: String,
    /// Its Unicode block, `Miscellaneous Symbols`.
    pub block: String,
    /// Byte ranges `[start, end)` of `name` that matched the query, in order, for highlighting.
    pub matches: Vec<[usize; 2]>,
}
