//! String order like MariaDB's collations: binary, `*_bin` (PAD SPACE), `general_ci`,
//! `unicode_ci` (PAD SPACE and NO PAD), `latin1_swedish_ci`.
//!
//! Every collation but the byte-wise ones reads its strings as UTF-8, the results' character
//! set the merge asks for: a latin1 column's `'Å'` arrives as U+00C5 and weighs what byte
//! 0xC5 weighs in `latin1_swedish_ci`.
//!
//! A column definition does not carry the column's own collation: MariaDB sends the default
//! collation of `character_set_results` (45 = `utf8mb4_general_ci` for a utf8mb4 connection,
//! whatever the column's collation) and sets `BINARY_FLAG` on string columns whose collation is
//! a `*_bin` one. the merge's `ColumnMeta::collation` turns that into a
//! [`Collation`]; a planner that knows the column's collation (the schema) sets it. Other
//! case-insensitive collations (`*_swedish_ci`, `unicode_520_ci`, `uca1400_*`, …) are treated as
//! `general_ci`: they agree on ASCII letters and differ on some accented letters and
//! expansions; [`exact_collation`] tells the merge which ones it reproduces.
//!
//! `general_ci` is MariaDB's `my_unicase_default` weight per character (upper case with accents
//! removed for most Latin letters; every character above U+FFFF weighs U+FFFD), dumped from
//! MariaDB 10.11 with `WEIGHT_STRING` into `collation_data.rs`; `unicode_ci` is UCA 4.0.0
//! (`unicode_ci.rs`). All collations but [`Collation::Binary`] and
//! [`Collation::UnicodeNopadCi`] are PAD SPACE: trailing spaces do not count (`'a' = 'a '`).
//!
//! MariaDB's sort looks at the first `max_sort_length` (1024) bytes of a value's sort key
//! ([`Collation::compare_sort_prefixes`]): the first 1024 bytes of the string itself (whole
//! characters) for the byte-wise and `general_ci` collations, the first 512 weights for
//! `unicode_ci`.

use std::cmp::Ordering;
use std::sync::OnceLock;

use crate::charset::Charset;
use crate::collation_data::{GENERAL_CI_EXCEPTIONS, LATIN1_SWEDISH_CI};
use crate::unicode_ci::{self, CodePointWeights};

/// How two strings of one column compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collation {
    /// The `binary` character set (63): bytes, NO PAD (`VARBINARY`, `BLOB`, numbers).
    Binary,
    /// A `*_bin` collation (`utf8mb4_bin`, `latin1_bin`): bytes (= code points for UTF-8), PAD SPACE.
    PadBinary,
    /// `utf8mb4_general_ci` / `utf8mb3_general_ci` (and every other `_ci` collation of a UTF-8
    /// character set, approximated): per-character weight, PAD SPACE.
    GeneralCi,
    /// `utf8mb4_unicode_ci` / `utf8mb3_unicode_ci`: UCA 4.0.0 weights, PAD SPACE.
    UnicodeCi,
    /// `utf8mb4_unicode_nopad_ci` / `utf8mb3_unicode_nopad_ci`: UCA 4.0.0 weights, NO PAD.
    UnicodeNopadCi,
    /// `latin1_swedish_ci` (and the other latin1 `_ci` collations, approximated), of text
    /// delivered as UTF-8: each character weighs what its latin1 byte weighs.
    Latin1SwedishCi,
}

/// Collation ids the merge compares exactly as MariaDB does.
pub fn exact_collation(id: u16) -> bool {
    // binary; utf8mb4/utf8mb3 general_ci and bin; their nopad_bin variants; utf8mb3/utf8mb4
    // unicode_ci and unicode_nopad_ci; latin1_swedish_ci
    matches!(
        id,
        63 | 45 | 33 | 46 | 83 | 1070 | 1107 | 192 | 224 | 1216 | 1248 | 8
    )
}

/// Weight of the space character, the pad of PAD SPACE collations (but `unicode_ci`'s).
pub(crate) const SPACE: u32 = 0x20;

/// MariaDB's default `max_sort_length`: bytes of a sort key that count.
pub const DEFAULT_SORT_LENGTH: usize = 1024;

impl Collation {
    /// The collation of a collation id, as sent in a column definition.
    pub fn from_id(id: u16) -> Collation {
        match id {
            63 => Collation::Binary,
            // latin1_bin, latin1_general_cs
            47 | 49 => Collation::PadBinary,
            // latin1_german1_ci, latin1_swedish_ci, latin1_danish_ci, latin1_german2_ci,
            // latin1_general_ci, latin1_spanish_ci, latin1_swedish_nopad_ci
            5 | 8 | 15 | 31 | 48 | 94 | 1032 => Collation::Latin1SwedishCi,
            // utf8mb3_bin, utf8mb4_bin
            83 | 46 => Collation::PadBinary,
            // utf8mb3_nopad_bin, utf8mb4_nopad_bin, latin1_nopad_bin
            1107 | 1070 | 1071 => Collation::Binary,
            // utf8mb3_unicode_ci, utf8mb4_unicode_ci
            192 | 224 => Collation::UnicodeCi,
            // utf8mb3_unicode_nopad_ci, utf8mb4_unicode_nopad_ci
            1216 | 1248 => Collation::UnicodeNopadCi,
            _ => Collation::GeneralCi,
        }
    }

    /// Compares two strings of this collation.
    pub fn compare(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            Collation::Binary => a.cmp(b),
            _ if a == b => Ordering::Equal,
            Collation::PadBinary => pad_compare(bytes(a), bytes(b), SPACE),
            Collation::Latin1SwedishCi => pad_compare(latin1(a), latin1(b), SPACE),
            Collation::GeneralCi => pad_compare(general_ci(a), general_ci(b), SPACE),
            Collation::UnicodeCi => {
                pad_compare(UnicodeCi::new(a), UnicodeCi::new(b), unicode_ci::SPACE)
            }
            Collation::UnicodeNopadCi => UnicodeCi::new(a).cmp(UnicodeCi::new(b)),
        }
    }

    /// Compares two strings as MariaDB's sort does: by the first `sort_length` bytes
    /// (`max_sort_length`, [`DEFAULT_SORT_LENGTH`] unless the session set another) of their
    /// sort keys (module documentation).
    pub fn compare_sort_prefixes(self, a: &[u8], b: &[u8], sort_length: usize) -> Ordering {
        let weights = sort_length / 2;
        match self {
            Collation::UnicodeCi => pad_compare(
                UnicodeCi::new(a).take(weights),
                UnicodeCi::new(b).take(weights),
                unicode_ci::SPACE,
            ),
            Collation::UnicodeNopadCi => {
                (UnicodeCi::new(a).take(weights)).cmp(UnicodeCi::new(b).take(weights))
            }
            // One byte per character in MariaDB's latin1 sort key, two or three in ours.
            Collation::Latin1SwedishCi => pad_compare(
                latin1(a).take(sort_length),
                latin1(b).take(sort_length),
                SPACE,
            ),
            _ => self.compare(
                self.sort_prefix(a, sort_length),
                self.sort_prefix(b, sort_length),
            ),
        }
    }

    /// Appends a key to `out` such that two strings compare equal exactly when their keys
    /// are equal (the trailing pad removed, weights instead of characters).
    pub fn key(self, s: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        match self {
            Collation::Binary => out.extend_from_slice(s),
            Collation::PadBinary => {
                out.extend_from_slice(s);
                trim_pad(out, start, 1, SPACE);
            }
            // A weight above 0xFFFF marks a byte that is not UTF-8: three bytes each.
            Collation::GeneralCi => push_weights(general_ci(s), 3, Some(SPACE), out),
            Collation::Latin1SwedishCi => push_weights(latin1(s), 3, Some(SPACE), out),
            Collation::UnicodeCi | Collation::UnicodeNopadCi => {
                push_weights(UnicodeCi::new(s), 3, self.pad(), out)
            }
        }
    }

    /// The part of a string a byte-wise or `general_ci` sort key holds: at most
    /// `sort_length` bytes, whole characters for UTF-8.
    fn sort_prefix(self, s: &[u8], sort_length: usize) -> &[u8] {
        if s.len() <= sort_length {
            return s;
        }
        let whole_characters = std::str::from_utf8(s).is_ok();
        let mut cut = sort_length;
        while whole_characters && cut > 0 && (s[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        &s[..cut]
    }

    /// `true` for the PAD SPACE collations.
    pub fn pads(self) -> bool {
        self.pad().is_some()
    }

    /// The weight strings are padded with, for PAD SPACE collations.
    fn pad(self) -> Option<u32> {
        match self {
            Collation::Binary | Collation::UnicodeNopadCi => None,
            Collation::UnicodeCi => Some(unicode_ci::SPACE),
            _ => Some(SPACE),
        }
    }
}

/// Appends `weights`, `width` bytes each, without the trailing `pad` weights.
fn push_weights(
    weights: impl Iterator<Item = u32>,
    width: usize,
    pad: Option<u32>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    for w in weights {
        out.extend_from_slice(&w.to_be_bytes()[4 - width..]);
    }
    if let Some(pad) = pad {
        trim_pad(out, start, width, pad);
    }
}

/// Drops the trailing `pad` weights (`width` bytes each) of the key written from `start`.
fn trim_pad(out: &mut Vec<u8>, start: usize, width: usize, pad: u32) {
    let pad = &pad.to_be_bytes()[4 - width..];
    while out.len() >= start + width && &out[out.len() - width..] == pad {
        out.truncate(out.len() - width);
    }
}

/// Compares two weight sequences, the shorter padded with `pad`.
fn pad_compare(
    mut a: impl Iterator<Item = u32>,
    mut b: impl Iterator<Item = u32>,
    pad: u32,
) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
            }
            (Some(x), None) => return rest_against_pad(x, a, pad),
            (None, Some(y)) => return rest_against_pad(y, b, pad).reverse(),
            (None, None) => return Ordering::Equal,
        }
    }
}

fn rest_against_pad(first: u32, rest: impl Iterator<Item = u32>, pad: u32) -> Ordering {
    std::iter::once(first)
        .chain(rest)
        .find(|&w| w != pad)
        .map_or(Ordering::Equal, |w| w.cmp(&pad))
}

/// `general_ci` weight of a code point (or of a byte that is not UTF-8, see [`CodePoints`]).
fn general_ci_weight(cp: u32) -> u32 {
    if cp < 0x80 {
        return if (0x61..=0x7A).contains(&cp) {
            cp - 32
        } else {
            cp
        };
    }
    if cp >= NOT_UTF8 {
        return 0x10000 + (cp - NOT_UTF8);
    }
    if cp > 0xFFFF {
        return 0xFFFD;
    }
    match GENERAL_CI_EXCEPTIONS.binary_search_by_key(&(cp as u16), |&(c, _)| c) {
        Ok(i) => u32::from(GENERAL_CI_EXCEPTIONS[i].1),
        Err(_) => cp,
    }
}

/// The weights of a `*_bin` string: its bytes.
fn bytes(s: &[u8]) -> impl Iterator<Item = u32> + '_ {
    s.iter().map(|&b| u32::from(b))
}

/// The weights of a `latin1_swedish_ci` string given as UTF-8.
fn latin1(s: &[u8]) -> impl Iterator<Item = u32> + '_ {
    CodePoints { s }.map(latin1_swedish_ci_weight)
}

/// `latin1_swedish_ci` weight of a code point: its latin1 byte's. A character latin1 lacks
/// (which a latin1 column cannot hold) or a byte that is not UTF-8 weighs above them all.
fn latin1_swedish_ci_weight(cp: u32) -> u32 {
    if cp < 0x80 {
        return u32::from(LATIN1_SWEDISH_CI[cp as usize]);
    }
    // latin1's upper half by code point, with its bytes' weights.
    static UPPER: OnceLock<Vec<(u32, u8)>> = OnceLock::new();
    let upper = UPPER.get_or_init(|| {
        let Charset::SingleByte(latin1) = Charset::named("latin1") else {
            unreachable!("latin1 is a set of single_byte_charsets.txt")
        };
        let mut upper: Vec<(u32, u8)> = (0x80..=0xFFu8)
            .filter_map(|b| {
                Some((
                    u32::from(latin1.char(b)?),
                    LATIN1_SWEDISH_CI[usize::from(b)],
                ))
            })
            .collect();
        upper.sort_unstable();
        upper
    });
    match upper.binary_search_by_key(&cp, |&(c, _)| c) {
        Ok(i) => u32::from(upper[i].1),
        Err(_) => 0x100 + cp,
    }
}

/// The weights of a `general_ci` string: one per character.
pub(crate) fn general_ci(s: &[u8]) -> impl Iterator<Item = u32> + '_ {
    CodePoints { s }.map(general_ci_weight)
}

/// The weights of a `unicode_ci` string: each character's, one after another.
pub(crate) struct UnicodeCi<'a> {
    code_points: CodePoints<'a>,
    /// The weights of the current code point not yet given (expansions).
    pending: &'static [u16],
    /// The second implicit weight of the current code point.
    second: Option<u16>,
}

impl<'a> UnicodeCi<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        UnicodeCi {
            code_points: CodePoints { s },
            pending: &[],
            second: None,
        }
    }
}

impl Iterator for UnicodeCi<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            if let Some((&w, rest)) = self.pending.split_first() {
                self.pending = rest;
                return Some(u32::from(w));
            }
            if let Some(w) = self.second.take() {
                return Some(u32::from(w));
            }
            let cp = self.code_points.next()?;
            if cp >= NOT_UTF8 {
                return Some(0x10000 + (cp - NOT_UTF8));
            }
            match unicode_ci::weights(cp) {
                CodePointWeights::Listed(weights) => self.pending = weights,
                CodePointWeights::Implicit([first, second]) => {
                    self.second = Some(second);
                    return Some(u32::from(first));
                }
            }
        }
    }
}

/// Where [`CodePoints`] puts a byte that does not start a valid UTF-8 sequence: `NOT_UTF8 +
/// byte`, above every code point. Its weight is `0x10000 + byte`, above every character's
/// (MariaDB compares the rest bytewise then; shards never send invalid UTF-8 in a UTF-8 column).
const NOT_UTF8: u32 = 0x110000;

/// The code points of a UTF-8 string.
struct CodePoints<'a> {
    s: &'a [u8],
}

impl Iterator for CodePoints<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (&b0, rest) = self.s.split_first()?;
        if b0 < 0x80 {
            self.s = rest;
            return Some(u32::from(b0));
        }
        let len = match b0 {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        if len > 0 && self.s.len() >= len {
            if let Ok(st) = std::str::from_utf8(&self.s[..len]) {
                if let Some(c) = st.chars().next() {
                    self.s = &self.s[len..];
                    return Some(c as u32);
                }
            }
        }
        self.s = rest;
        Some(NOT_UTF8 + u32::from(b0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn key(c: Collation, s: &str) -> Vec<u8> {
        let mut k = Vec::new();
        c.key(s.as_bytes(), &mut k);
        k
    }

    #[test]
    fn general_ci_folds_case_and_accents() {
        let g = Collation::GeneralCi;
        assert_eq!(g.compare(b"abc", b"ABC"), Equal);
        assert_eq!(g.compare("résumé".as_bytes(), b"RESUME"), Equal);
        assert_eq!(g.compare("ß".as_bytes(), b"s"), Equal);
        assert_eq!(g.compare("ß".as_bytes(), b"ss"), Less);
        assert_eq!(g.compare(b"a", b"B"), Less);
        assert_eq!(g.compare(b"Z", b"a"), Greater);
        // Letters weigh as upper case: '_' (0x5F) sorts after 'a' (weight 0x41).
        assert_eq!(g.compare(b"_", b"a"), Greater);
    }

    #[test]
    fn pad_space_ignores_trailing_spaces_only() {
        for c in [
            Collation::GeneralCi,
            Collation::UnicodeCi,
            Collation::PadBinary,
            Collation::Latin1SwedishCi,
        ] {
            assert_eq!(c.compare(b"a", b"a  "), Equal, "{c:?}");
            assert_eq!(
                c.compare(b"a\t", b"a"),
                Less,
                "{c:?}: tab sorts below the pad"
            );
            assert_eq!(c.compare(b"a b", b"a"), Greater, "{c:?}");
            assert_eq!(key(c, "a  "), key(c, "a"));
        }
        for c in [Collation::Binary, Collation::UnicodeNopadCi] {
            assert_eq!(c.compare(b"a", b"a "), Less, "{c:?}");
            assert_ne!(key(c, "a "), key(c, "a"), "{c:?}");
        }
    }

    #[test]
    fn unicode_ci_expands_and_ignores() {
        let u = Collation::UnicodeCi;
        assert_eq!(u.compare("ß".as_bytes(), b"ss"), Equal);
        assert_eq!(u.compare("ß".as_bytes(), b"s"), Greater);
        assert_eq!(u.compare("Å".as_bytes(), b"a"), Equal);
        assert_eq!(
            u.compare(b"_", b"a"),
            Less,
            "punctuation sorts before letters"
        );
        assert_eq!(u.compare(b"a\0b", b"ab"), Equal, "NUL is ignorable");
        assert_eq!(u.compare("😀".as_bytes(), "😁".as_bytes()), Equal);
        assert_eq!(key(u, "STRASSE  "), key(u, "straße"));
        // The pad is the space's weight (0x0209): a tab (0x0201) sorts below it.
        assert_eq!(u.compare(b"a\t", b"a"), Less);
        assert_eq!(
            u.compare("a\u{A0}".as_bytes(), b"a"),
            Equal,
            "NBSP weighs as a space"
        );
    }

    #[test]
    fn sort_prefixes_are_what_mariadb_sorts_by() {
        // utf8 and byte-wise collations: the first 1024 bytes, whole characters.
        let same = "é".repeat(100) + &"a".repeat(600);
        let (x, y) = (
            same.clone() + "b" + &"z".repeat(300),
            same + "a" + &"z".repeat(300),
        );
        assert_eq!(
            Collation::GeneralCi.compare_sort_prefixes(
                x.as_bytes(),
                y.as_bytes(),
                DEFAULT_SORT_LENGTH
            ),
            Greater
        );
        let same = "a".to_owned() + &"é".repeat(511);
        let (x, y) = (same.clone() + "ñ", same + "é");
        assert_eq!(
            Collation::GeneralCi.compare_sort_prefixes(
                x.as_bytes(),
                y.as_bytes(),
                DEFAULT_SORT_LENGTH
            ),
            Equal
        );
        // unicode_ci: the first 512 weights, even within an expansion.
        let same = "a".repeat(511);
        let (x, y) = (same.clone() + "b", same.clone() + "a");
        assert_eq!(
            Collation::UnicodeCi.compare_sort_prefixes(
                x.as_bytes(),
                y.as_bytes(),
                DEFAULT_SORT_LENGTH
            ),
            Greater
        );
        let (x, y) = (same.clone() + "ßb", same + "ßa");
        assert_eq!(
            Collation::UnicodeCi.compare_sort_prefixes(
                x.as_bytes(),
                y.as_bytes(),
                DEFAULT_SORT_LENGTH
            ),
            Equal
        );
    }

    #[test]
    fn a_session_s_max_sort_length_cuts_the_prefix() {
        let (x, y) = ("x".repeat(70) + "b", "x".repeat(70) + "a");
        for c in [
            Collation::GeneralCi,
            Collation::PadBinary,
            Collation::UnicodeCi,
        ] {
            assert_eq!(
                c.compare_sort_prefixes(x.as_bytes(), y.as_bytes(), 64),
                Equal
            );
            assert_eq!(
                c.compare_sort_prefixes(x.as_bytes(), y.as_bytes(), 1024),
                Greater
            );
        }
    }

    #[test]
    fn supplementary_characters_all_weigh_the_same_in_general_ci() {
        let g = Collation::GeneralCi;
        assert_eq!(g.compare("😀".as_bytes(), "😁".as_bytes()), Equal);
        assert_eq!(
            Collation::PadBinary.compare("😀".as_bytes(), "😁".as_bytes()),
            Less
        );
    }

    #[test]
    fn latin1_swedish_puts_aring_after_z() {
        let l = Collation::Latin1SwedishCi;
        let compare = |a: &str, b: &str| l.compare(a.as_bytes(), b.as_bytes());
        assert_eq!(compare("Å", "Z"), Greater);
        assert_eq!(compare("å", "Å"), Equal);
        assert_eq!(compare("é", "E"), Equal);
        // latin1's 0x80 is the euro sign, which weighs 0x80: below 'Å' (0x5D), above 'z'.
        assert_eq!(compare("€", "Z"), Greater);
        assert_eq!(compare("€", "\u{A0}"), Less);
        assert_eq!(key(l, "Åb "), key(l, "åB"));
        // No latin1 character: above every one.
        assert_eq!(compare("ÿ", "\u{100}"), Less);
    }

    #[test]
    fn ids_map_to_collations() {
        assert_eq!(Collation::from_id(63), Collation::Binary);
        assert_eq!(Collation::from_id(45), Collation::GeneralCi);
        assert_eq!(Collation::from_id(224), Collation::UnicodeCi);
        assert_eq!(Collation::from_id(192), Collation::UnicodeCi);
        assert_eq!(Collation::from_id(1248), Collation::UnicodeNopadCi);
        assert_eq!(Collation::from_id(246), Collation::GeneralCi);
        assert!(exact_collation(224) && exact_collation(1216) && !exact_collation(246));
        assert_eq!(Collation::from_id(33), Collation::GeneralCi);
        assert_eq!(Collation::from_id(46), Collation::PadBinary);
        assert_eq!(Collation::from_id(8), Collation::Latin1SwedishCi);
    }

    #[test]
    fn invalid_utf8_sorts_after_characters_and_does_not_panic() {
        let g = Collation::GeneralCi;
        assert_eq!(g.compare(b"a\xFF", "a\u{FFFF}".as_bytes()), Greater);
        assert_eq!(g.compare(b"\xE2\x82", b"\xE2\x82"), Equal);
        assert_eq!(g.compare(b"\xF0", b"z"), Greater);
    }
}
