//! The Search room (`/search`): a typeahead over every named Unicode character, with the
//! stale-response race made visible. The page ([`page`]), its knobs ([`settings`]), its result
//! list ([`results`]) and the next page ([`more`]), and
//! apart from them, so tests can feed it keystrokes and answers in any order, the typeahead's
//! decisions ([`typeahead`]: debounce, strategy, slow early requests).

pub mod more;
pub mod page;
pub mod results;
pub mod settings;
pub mod typeahead;

pub use page::Search;
