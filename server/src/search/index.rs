//! The Search room's index: every named Unicode character, held in memory, and the ranking of a
//! query against it. Built once, off the async runtime's worker threads, when the server starts.
//!
//! Every query is cheap, whatever its words: a name matches a word (which holds no space) when
//! one of the name's space-separated tokens contains it, so the index keeps the distinct tokens
//! (about a tenth of the names' text) in one string, and which names each token is in. The
//! longest word of a query is looked for once in that string, which gives the names that can
//! match at all; each other word (repeated words once) is checked against those names only,
//! which shrink as it goes, and only what is left is ranked.
//!
//! The names come from `unicode_names2` and the blocks from `unicode-blocks`: nothing is
//! downloaded. Names the standard derives from the code point (`CJK UNIFIED IDEOGRAPH-4E00`,
//! `HANGUL SYLLABLE GA`, `TANGUT IDEOGRAPH-17000`, …: over a hundred thousand) are left out of
//! the word search; asking for such a character by its code point or itself still finds it.

use memchr::memmem::Finder;
use protocol::search::CharacterHit;

/// One named character.
#[derive(Debug)]
struct Entry {
    char: char,
    /// Upper case ASCII, as Unicode writes names.
    name: String,
}

/// Every named character whose name is not derived from its code point, by code point.
#[derive(Debug)]
pub struct Index {
    entries: Vec<Entry>,
    /// Every distinct token of the names, each followed by a newline (which no name has).
    tokens: String,
    /// Where each token starts in `tokens`, in order.
    token_starts: Vec<usize>,
    /// The places in `entries` of the names each token is in, in order.
    postings: Vec<Vec<u32>>,
    /// Every distinct part of a token that begins where a word of a name begins (the token
    /// itself, and what follows each `-` in it), in order, with the names it begins a word of: a
    /// query word begins a word of a name when it begins one of these, and those that it begins
    /// are side by side.
    word_starts: Vec<(String, Vec<u32>)>,
}

/// How well a character matches, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// Asked for by its code point, or itself.
    Asked,
    /// The name is the query.
    Exact,
    /// The name starts with the query.
    Prefix,
    /// Every word of the query starts a word of the name.
    WordStarts,
    /// Every word of the query is somewhere in the name.
    Substring,
}

/// All the characters that match a query, best first, and one page of them.
#[derive(Debug)]
pub struct Found {
    pub total: usize,
    pub items: Vec<CharacterHit>,
}

impl Index {
    /// Reads every character's name (about 30 ms in a release build; several times that in a
    /// debug build).
    pub fn build() -> Self {
        let entries: Vec<Entry> = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter_map(|char| {
                let name = unicode_names2::name(char)?.to_string();
                (!is_derived(char, &name)).then_some(Entry { char, name })
            })
            .collect();
        let mut by_token: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
        let mut by_start: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
        for (place, entry) in entries.iter().enumerate() {
            let place = u32::try_from(place).expect("fewer names than u32 counts");
            for token in entry.name.split(' ') {
                note(&mut by_token, token, place);
                note(&mut by_start, token, place);
                for (at, _) in token.match_indices('-') {
                    if at + 1 < token.len() {
                        note(&mut by_start, &token[at + 1..], place);
                    }
                }
            }
        }
        let word_starts = by_start
            .into_iter()
            .map(|(start, names)| (start.to_owned(), names))
            .collect();
        let mut tokens = String::new();
        let mut token_starts = Vec::with_capacity(by_token.len());
        let mut postings = Vec::with_capacity(by_token.len());
        for (token, names) in by_token {
            token_starts.push(tokens.len());
            tokens.push_str(token);
            tokens.push('\n');
            postings.push(names);
        }
        Self {
            entries,
            tokens,
            token_starts,
            postings,
            word_starts,
        }
    }

    /// A bit per name, set where `word` begins a word of the name.
    fn beginning_a_word(&self, word: &str) -> Vec<u64> {
        let mut names = vec![0u64; self.entries.len().div_ceil(64)];
        let first = self
            .word_starts
            .partition_point(|(start, _)| start.as_str() < word);
        for (_, places) in self.word_starts[first..]
            .iter()
            .take_while(|(start, _)| start.starts_with(word))
        {
            for &place in places {
                names[place as usize / 64] |= 1 << (place % 64);
            }
        }
        names
    }

    /// The places of the names one of whose tokens contains `word`, in order: one pass over the
    /// distinct tokens.
    fn names_with(&self, word: &Finder<'_>) -> Vec<u32> {
        // A bit per name: a common word is in most tokens, and their names overlap.
        let mut seen = vec![0u64; self.entries.len().div_ceil(64)];
        let mut token = 0;
        for at in word.find_iter(self.tokens.as_bytes()) {
            if at < self.token_starts.get(token).copied().unwrap_or(0) {
                continue; // a second place in a token already taken
            }
            token = self.token_starts.partition_point(|&start| start <= at);
            for &place in &self.postings[token - 1] {
                seen[place as usize / 64] |= 1 << (place % 64);
            }
        }
        let mut places = Vec::new();
        for (block, &bits) in seen.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                places.push(block as u32 * 64 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        places
    }

    /// How many characters the word search covers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The characters matching `query`, ranked (see [`Rank`]; ties by shorter name, then code
    /// point, so pages are stable), and the page `offset..offset + limit` of them.
    pub fn search(&self, query: &str, offset: usize, limit: usize) -> Found {
        let words: Vec<String> = query
            .split_whitespace()
            .map(|word| word.to_ascii_uppercase())
            .collect();
        let asked = asked_for(query.trim());
        if words.is_empty() {
            return Found {
                total: 0,
                items: Vec::new(),
            };
        }
        let phrase = words.join(" ");
        // Each distinct word once, the longest (the rarest, as a rule) first.
        let mut distinct = words.clone();
        distinct.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        distinct.dedup();
        // One searcher per word, built once for the whole query (`str::find` would build one
        // per name it looks in).
        let finders: Vec<Finder<'_>> = distinct.iter().map(Finder::new).collect();
        let mut candidates = self.names_with(&finders[0]);
        for word in &finders[1..] {
            candidates.retain(|&place| {
                word.find(self.entries[place as usize].name.as_bytes())
                    .is_some()
            });
        }
        // The names where every word begins a word: the others rank as substrings.
        let mut at_starts = self.beginning_a_word(&distinct[0]);
        for word in &distinct[1..] {
            for (all, these) in at_starts.iter_mut().zip(self.beginning_a_word(word)) {
                *all &= these;
            }
        }
        // (rank, name length, code point) orders the results; the entry is found by its place.
        let mut ranked: Vec<(Rank, usize, u32, Option<usize>)> = Vec::new();
        if let Some(char) = asked {
            // Alone in its rank: its name's length never breaks a tie.
            ranked.push((Rank::Asked, 0, u32::from(char), None));
        }
        for place in candidates {
            let (place, entry) = (place as usize, &self.entries[place as usize]);
            if Some(entry.char) == asked {
                continue;
            }
            let rank = if at_starts[place / 64] & (1 << (place % 64)) == 0 {
                Rank::Substring
            } else if entry.name == phrase {
                Rank::Exact
            } else if entry.name.starts_with(&phrase) {
                Rank::Prefix
            } else {
                Rank::WordStarts
            };
            ranked.push((rank, entry.name.len(), u32::from(entry.char), Some(place)));
        }
        let total = ranked.len();
        let end = offset.saturating_add(limit).min(total);
        if offset >= end {
            return Found {
                total,
                items: Vec::new(),
            };
        }
        // Only the first `end` need to be in order.
        let key = |hit: &(Rank, usize, u32, Option<usize>)| (hit.0, hit.1, hit.2);
        if end < total {
            ranked.select_nth_unstable_by_key(end, key);
            ranked.truncate(end);
        }
        ranked.sort_unstable_by_key(key);
        let items = ranked[offset..end]
            .iter()
            .filter_map(|&(rank, _, codepoint, place)| {
                let (char, name) = match place {
                    Some(place) => {
                        let entry = &self.entries[place];
                        (entry.char, entry.name.clone())
                    }
                    None => {
                        let char = char::from_u32(codepoint)?;
                        let name = unicode_names2::name(char).map(|n| n.to_string());
                        (char, name.unwrap_or_default())
                    }
                };
                let matches = if rank == Rank::Asked {
                    Vec::new()
                } else {
                    matched_ranges(&name, &finders)
                };
                Some(hit(char, name, matches))
            })
            .collect();
        Found { total, items }
    }
}

/// Adds the name at `place` to `key`'s, once.
fn note<'a>(map: &mut std::collections::BTreeMap<&'a str, Vec<u32>>, key: &'a str, place: u32) {
    let names = map.entry(key).or_default();
    if names.last() != Some(&place) {
        names.push(place);
    }
}

/// Whether `name` is one the standard derives from the code point: `…-4E00` for U+4E00, and the
/// Hangul syllables, whose names are spelled out from their parts.
fn is_derived(char: char, name: &str) -> bool {
    name.starts_with("HANGUL SYLLABLE ")
        || name
            .rsplit_once('-')
            .is_some_and(|(_, tail)| tail == format!("{:04X}", u32::from(char)))
}

/// The character `query` names by code point (`U+2603`, `u+2603`, `0x2603`) or is (`☃`).
fn asked_for(query: &str) -> Option<char> {
    let mut chars = query.chars();
    if let (Some(char), None) = (chars.next(), chars.next()) {
        return Some(char);
    }
    let hex = ["U+", "u+", "0x", "0X"]
        .iter()
        .find_map(|prefix| query.strip_prefix(prefix))?;
    if hex.is_empty() || hex.len() > 6 {
        return None;
    }
    char::from_u32(u32::from_str_radix(hex, 16).ok()?)
}

/// Where `word` is in `name`: the first place it starts a word of the name, else the first place
/// at all; and whether it starts a word there.
fn find_word(name: &str, word: &Finder<'_>) -> Option<(usize, bool)> {
    let name = name.as_bytes();
    let starts_word = |at: usize| at == 0 || matches!(name[at - 1], b' ' | b'-');
    let mut places = word.find_iter(name);
    let first = places.next()?;
    if starts_word(first) {
        return Some((first, true));
    }
    Some(
        places
            .find(|at| starts_word(*at))
            .map_or((first, false), |at| (at, true)),
    )
}

/// The byte ranges of `name` the words matched, in order, overlapping ones merged.
fn matched_ranges(name: &str, words: &[Finder<'_>]) -> Vec<[usize; 2]> {
    let mut ranges: Vec<[usize; 2]> = words
        .iter()
        .filter_map(|word| find_word(name, word).map(|(at, _)| [at, at + word.needle().len()]))
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<[usize; 2]> = Vec::with_capacity(ranges.len());
    for [start, end] in ranges {
        match merged.last_mut() {
            Some(last) if start <= last[1] => last[1] = last[1].max(end),
            _ => merged.push([start, end]),
        }
    }
    merged
}

fn hit(char: char, name: String, matches: Vec<[usize; 2]>) -> CharacterHit {
    CharacterHit {
        codepoint: format!("U+{:04X}", u32::from(char)),
        char: char.to_string(),
        name,
        block: unicode_blocks::find_unicode_block(char)
            .map_or_else(|| "No block".to_owned(), |block| block.name().to_owned()),
        matches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_are_recognised() {
        assert!(is_derived('\u{4E00}', "CJK UNIFIED IDEOGRAPH-4E00"));
        assert!(is_derived('\u{AC00}', "HANGUL SYLLABLE GA"));
        assert!(!is_derived('\u{2192}', "RIGHTWARDS ARROW"));
        assert!(!is_derived('\u{2014}', "EM DASH"));
    }

    #[test]
    fn a_character_is_asked_for_by_code_point_or_itself() {
        for (query, expected) in [
            ("U+2603", Some('☃')),
            ("u+2603", Some('☃')),
            ("0x2603", Some('☃')),
            ("☃", Some('☃')),
            ("U+1F600", Some('😀')),
            ("U+", None),
            ("U+110000", None),
            ("U+D800", None),
            ("snow", None),
        ] {
            assert_eq!(asked_for(query), expected, "{query}");
        }
    }

    /// How a name ranks when each word is looked for in it: the plain way, which the index
    /// must agree with.
    fn rank_of(name: &str, words: &[Finder<'_>], phrase: &str) -> Option<Rank> {
        let mut all_at_word_starts = true;
        for word in words {
            let (_, at_word_start) = find_word(name, word)?;
            all_at_word_starts &= at_word_start;
        }
        Some(if name == phrase {
            Rank::Exact
        } else if name.starts_with(phrase) {
            Rank::Prefix
        } else if all_at_word_starts {
            Rank::WordStarts
        } else {
            Rank::Substring
        })
    }

    /// The index finds exactly what checking every name against every word finds, in the same
    /// order, for ordinary queries and for the costliest ones the API allows.
    #[test]
    fn the_index_finds_what_a_scan_of_every_name_finds() {
        let index = Index::build();
        for query in [
            "snow",
            "greek small letter alpha",
            "alpha greek",
            "n-m",
            "HYPHEN-MINUS",
            "e e e e e",
            "a b c d e f g h i j k l m n o p q r s t u v w x y z",
            "er er er er",
            "ma w",
            "zzzz",
        ] {
            let words: Vec<String> = query
                .split_whitespace()
                .map(|word| word.to_ascii_uppercase())
                .collect();
            let finders: Vec<Finder<'_>> = words.iter().map(Finder::new).collect();
            let phrase = words.join(" ");
            let mut scanned: Vec<(Rank, usize, u32)> = index
                .entries
                .iter()
                .filter_map(|entry| {
                    let rank = rank_of(&entry.name, &finders, &phrase)?;
                    Some((rank, entry.name.len(), u32::from(entry.char)))
                })
                .collect();
            scanned.sort_unstable();
            let found = index.search(query, 0, usize::MAX);
            assert_eq!(found.total, scanned.len(), "{query}");
            let codepoints: Vec<String> = found
                .items
                .iter()
                .map(|hit| hit.codepoint.clone())
                .collect();
            let expected: Vec<String> = scanned
                .iter()
                .map(|&(_, _, codepoint)| format!("U+{codepoint:04X}"))
                .collect();
            assert_eq!(codepoints, expected, "{query}");
        }
    }

    #[test]
    fn matched_ranges_prefer_word_starts_and_merge() {
        let words = |text: &'static str| -> Vec<Finder<'static>> {
            text.split_whitespace().map(Finder::new).collect()
        };
        assert_eq!(matched_ranges("SNOWMAN", &words("SNOW")), [[0, 4]]);
        // Each word where it first starts a word of the name.
        assert_eq!(
            matched_ranges("SNOWMAN WITHOUT SNOW", &words("SNOW WITH")),
            [[0, 4], [8, 12]]
        );
        assert_eq!(
            matched_ranges("GREEK SMALL LETTER ALPHA", &words("ALPHA GREEK")),
            [[0, 5], [19, 24]]
        );
        assert_eq!(matched_ranges("ABCD", &words("ABC BCD")), [[0, 4]]);
    }
}
