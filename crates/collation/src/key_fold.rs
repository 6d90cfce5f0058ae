//! The folded form of a string shard key: the bytes the ring hashes it as.
//!
//! Rows whose shard keys MariaDB calls equal must live on one shard, so a string key hashes
//! as a form that every value its collation calls equal shares: the string's weights without
//! the trailing pad (spaces), each written as the lower-case ASCII character that weighs it
//! when there is one, else as `0xFF` and the weight's three low bytes (never UTF-8, so no
//! two weight strings fold alike). Printable ASCII text folds to itself in lower case without
//! trailing spaces, the form string keys hashed as before collations were read, so such keys
//! keep their shards; `'Café'`, `'CAFE'` and `'cafe'` fold alike under `general_ci`, `'ß'`
//! and `'ss'` under `unicode_ci`. A NO PAD collation folds as its PAD SPACE twin: `'a '` and
//! `'a'` then share a shard without being equal, which is harmless (a fold may be coarser
//! than its collation, never finer).

use std::sync::LazyLock;

use crate::collation::{general_ci, UnicodeCi, SPACE};
use crate::unicode_ci::{self, CodePointWeights};
use crate::Collation;

/// Marks a weight written as its bytes.
const WEIGHT: u8 = 0xFF;

impl Collation {
    /// Appends the folded form of `s` (module docs) to `out`. Byte-wise collations fold as
    /// their [`Collation::key`].
    pub fn fold_key(self, s: &[u8], out: &mut Vec<u8>) {
        match self {
            Collation::GeneralCi => push_folded(general_ci(s), SPACE, general_ci_ascii, out),
            Collation::UnicodeCi | Collation::UnicodeNopadCi => {
                push_folded(UnicodeCi::new(s), unicode_ci::SPACE, unicode_ci_ascii, out)
            }
            other => other.key(s, out),
        }
    }

    /// Whether `s` folds as its own bytes with ASCII letters in lower case and trailing
    /// spaces removed, which a caller may compute without [`Collation::fold_key`]: true of
    /// printable ASCII under `general_ci` and `unicode_ci`.
    pub fn folds_as_lower_ascii(self, s: &[u8]) -> bool {
        matches!(
            self,
            Collation::GeneralCi | Collation::UnicodeCi | Collation::UnicodeNopadCi
        ) && s.iter().all(|b| (0x20..0x7F).contains(b))
    }
}

/// Writes `weights` folded, without the trailing `pad` weights.
fn push_folded(
    weights: impl Iterator<Item = u32>,
    pad: u32,
    ascii: impl Fn(u32) -> Option<u8>,
    out: &mut Vec<u8>,
) {
    let mut end = out.len();
    for w in weights {
        match ascii(w) {
            Some(c) => out.push(c),
            None => {
                let [_, a, b, c] = w.to_be_bytes();
                out.extend_from_slice(&[WEIGHT, a, b, c]);
            }
        }
        if w != pad {
            end = out.len();
        }
    }
    out.truncate(end);
}

/// The ASCII character a `general_ci` weight stands for: weights below 0x80 are ASCII
/// characters (letters upper case).
fn general_ci_ascii(w: u32) -> Option<u8> {
    u8::try_from(w)
        .ok()
        .filter(u8::is_ascii)
        .map(|c| c.to_ascii_lowercase())
}

/// The ASCII character (lower case) a `unicode_ci` weight stands for, if one weighs it alone.
fn unicode_ci_ascii(w: u32) -> Option<u8> {
    static ASCII: LazyLock<Vec<(u32, u8)>> = LazyLock::new(|| {
        let mut table: Vec<(u32, u8)> = Vec::new();
        for c in 0u8..0x80 {
            if let CodePointWeights::Listed(&[w]) = unicode_ci::weights(u32::from(c)) {
                let w = u32::from(w);
                if !table.iter().any(|&(x, _)| x == w) {
                    table.push((w, c.to_ascii_lowercase()));
                }
            }
        }
        table.sort_unstable();
        table
    });
    ASCII
        .binary_search_by_key(&w, |&(x, _)| x)
        .ok()
        .map(|i| ASCII[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FOLDING: [Collation; 2] = [Collation::GeneralCi, Collation::UnicodeCi];

    fn fold(c: Collation, s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        c.fold_key(s.as_bytes(), &mut out);
        out
    }

    #[test]
    fn printable_ascii_folds_to_itself_in_lower_case_without_trailing_spaces() {
        let printable: String = (0x20u8..0x7F).map(char::from).collect();
        for c in FOLDING {
            let s = format!("{printable}x  ");
            assert!(c.folds_as_lower_ascii(s.as_bytes()));
            assert_eq!(
                fold(c, &s),
                format!("{printable}x").to_ascii_lowercase().into_bytes()
            );
            assert_eq!(fold(c, "   "), b"");
        }
    }

    #[test]
    fn accents_case_and_expansions_fold_as_each_collation_compares_them() {
        let g = Collation::GeneralCi;
        assert_eq!(fold(g, "Café"), fold(g, "CAFE"));
        assert_eq!(fold(g, "Café"), b"cafe");
        assert_eq!(fold(g, "ß"), fold(g, "s"));
        assert_ne!(fold(g, "ß"), fold(g, "ss"));
        assert_eq!(fold(g, "😀"), fold(g, "😃"));
        let u = Collation::UnicodeCi;
        assert_eq!(fold(u, "Straße"), b"strasse");
        assert_eq!(fold(u, "ÉTÉ"), b"ete");
        assert_ne!(fold(u, "ß"), fold(u, "s"));
        // An ignorable control character weighs nothing.
        assert_eq!(fold(u, "a\u{1}b"), b"ab");
        assert_ne!(fold(u, "日本"), fold(u, "本日"));
    }

    #[test]
    fn invalid_utf8_folds_byte_by_byte() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        Collation::GeneralCi.fold_key(b"\xE9t\xE9", &mut a);
        Collation::GeneralCi.fold_key(b"\xE8t\xE8", &mut b);
        assert_ne!(a, b);
    }

    proptest! {
        /// Strings the collation calls equal fold alike (the fold is never finer).
        #[test]
        fn equal_strings_fold_alike(
            a in "[aAeEéÉèsSß  \u{1}😀日-]{0,6}",
            b in "[aAeEéÉèsSß  \u{1}😀日-]{0,6}",
        ) {
            for c in FOLDING {
                if c.compare(a.as_bytes(), b.as_bytes()).is_eq() {
                    prop_assert_eq!(fold(c, &a), fold(c, &b), "{:?}: {:?} = {:?}", c, a, b);
                }
            }
        }

        /// Under unicode_ci and general_ci, strings that fold alike are equal: the fold
        /// spreads keys as finely as the collation allows.
        #[test]
        fn strings_folding_alike_are_equal(
            a in "[aAeEéÉèsSß  😀日-]{0,6}",
            b in "[aAeEéÉèsSß  😀日-]{0,6}",
        ) {
            for c in FOLDING {
                if fold(c, &a) == fold(c, &b) {
                    prop_assert!(c.compare(a.as_bytes(), b.as_bytes()).is_eq(), "{:?}: {:?} vs {:?}", c, a, b);
                }
            }
        }
    }
}
