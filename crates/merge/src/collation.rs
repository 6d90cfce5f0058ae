//! String order like MariaDB's collations: binary, `*_bin` (PAD SPACE), `general_ci`, `latin1_swedish_ci`.
//!
//! A column definition does not carry the column's own collation: MariaDB sends the default
//! collation of `character_set_results` (45 = `utf8mb4_general_ci` for a utf8mb4 connection,
//! whatever the column's collation) and sets `BINARY_FLAG` on string columns whose collation is
//! a `*_bin` one. [`ColumnMeta::collation`](crate::ColumnMeta::collation) turns that into a
//! [`Collation`]. Other case-insensitive collations (`utf8mb4_unicode_ci`, `*_swedish_ci`,
//! `uca1400_*`, …) are treated as `general_ci`: they agree on ASCII letters and differ on some
//! accented letters and expansions (`ß` = `s` in `general_ci`, `ß` = `ss` in `unicode_ci`).
//!
//! `general_ci` is MariaDB's `my_unicase_default` weight per character (upper case with accents
//! removed for most Latin letters; every character above U+FFFF weighs U+FFFD), dumped from
//! MariaDB 10.11 with `WEIGHT_STRING` into `collation_data.rs`. All collations but
//! [`Collation::Binary`] are PAD SPACE: trailing spaces do not count (`'a' = 'a '`).

use std::cmp::Ordering;

use crate::collation_data::{GENERAL_CI_EXCEPTIONS, LATIN1_SWEDISH_CI};

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
    /// `latin1_swedish_ci` (and the other latin1 `_ci` collations, approximated), on latin1 bytes.
    Latin1SwedishCi,
}

/// Collation ids the merge compares exactly as MariaDB does.
pub fn exact_collation(id: u16) -> bool {
    // binary; utf8mb4/utf8mb3 general_ci and bin; their nopad_bin variants
    matches!(id, 63 | 45 | 33 | 46 | 83 | 1070 | 1107)
}

/// Whether bytes delivered in character set `id` (a column definition's) are UTF-8 (or binary).
pub fn utf8_or_binary(id: u16) -> bool {
    id == 63 || charset_is(id, &["utf8mb4", "utf8mb3", "utf8"])
}

/// Whether collation `id` belongs to one of the character sets `names`.
pub fn charset_is(id: u16, names: &[&str]) -> bool {
    let c = mysql_common::collations::Collation::resolve(
        mysql_common::collations::CollationId::from(id),
    );
    names.contains(&c.charset())
}

/// Weight of the space character, the pad of PAD SPACE collations.
const SPACE: u32 = 0x20;

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
            _ => Collation::GeneralCi,
        }
    }

    /// Compares two strings of this collation.
    pub fn compare(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            Collation::Binary => a.cmp(b),
            Collation::PadBinary => pad_compare(
                a.iter().map(|&c| u32::from(c)),
                b.iter().map(|&c| u32::from(c)),
            ),
            Collation::Latin1SwedishCi => pad_compare(
                a.iter().map(|&c| u32::from(LATIN1_SWEDISH_CI[c as usize])),
                b.iter().map(|&c| u32::from(LATIN1_SWEDISH_CI[c as usize])),
            ),
            Collation::GeneralCi => {
                if a == b {
                    return Ordering::Equal;
                }
                pad_compare(Utf8Weights::new(a), Utf8Weights::new(b))
            }
        }
    }

    /// Appends a key to `out` such that two strings compare equal exactly when their keys
    /// are equal (the trailing pad removed, weights instead of characters).
    pub fn key(self, s: &[u8], out: &mut Vec<u8>) {
        match self {
            Collation::Binary => out.extend_from_slice(s),
            Collation::PadBinary => out.extend_from_slice(trim_spaces(s)),
            Collation::Latin1SwedishCi => {
                let start = out.len();
                out.extend(s.iter().map(|&c| LATIN1_SWEDISH_CI[c as usize]));
                while out.len() > start && out[out.len() - 1] == SPACE as u8 {
                    out.pop();
                }
            }
            Collation::GeneralCi => {
                let start = out.len();
                let mut end = start;
                for w in Utf8Weights::new(s) {
                    out.extend_from_slice(&w.to_be_bytes()[1..]);
                    if w != SPACE {
                        end = out.len();
                    }
                }
                out.truncate(end);
            }
        }
    }

    /// `true` for the PAD SPACE collations.
    pub fn pads(self) -> bool {
        self != Collation::Binary
    }
}

fn trim_spaces(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
    &s[..end]
}

/// Compares two weight sequences, the shorter padded with spaces.
fn pad_compare(mut a: impl Iterator<Item = u32>, mut b: impl Iterator<Item = u32>) -> Ordering {
    loop {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
            }
            (Some(x), None) => return rest_against_pad(x, a),
            (None, Some(y)) => return rest_against_pad(y, b).reverse(),
            (None, None) => return Ordering::Equal,
        }
    }
}

fn rest_against_pad(first: u32, rest: impl Iterator<Item = u32>) -> Ordering {
    std::iter::once(first)
        .chain(rest)
        .find(|&w| w != SPACE)
        .map_or(Ordering::Equal, |w| w.cmp(&SPACE))
}

/// `general_ci` weight of a code point.
fn general_ci_weight(cp: u32) -> u32 {
    if cp < 0x80 {
        return if (0x61..=0x7A).contains(&cp) {
            cp - 32
        } else {
            cp
        };
    }
    if cp > 0xFFFF {
        return 0xFFFD;
    }
    match GENERAL_CI_EXCEPTIONS.binary_search_by_key(&(cp as u16), |&(c, _)| c) {
        Ok(i) => u32::from(GENERAL_CI_EXCEPTIONS[i].1),
        Err(_) => cp,
    }
}

/// The `general_ci` weights of a UTF-8 string. A byte that does not start a valid sequence
/// weighs `0x10000 + byte`, above every character (MariaDB compares the rest bytewise then;
/// shards never send invalid UTF-8 in a UTF-8 column).
struct Utf8Weights<'a> {
    s: &'a [u8],
}

impl<'a> Utf8Weights<'a> {
    fn new(s: &'a [u8]) -> Self {
        Utf8Weights { s }
    }
}

impl Iterator for Utf8Weights<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (&b0, rest) = self.s.split_first()?;
        if b0 < 0x80 {
            self.s = rest;
            return Some(general_ci_weight(u32::from(b0)));
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
                    return Some(general_ci_weight(c as u32));
                }
            }
        }
        self.s = rest;
        Some(0x10000 + u32::from(b0))
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
        assert_eq!(Collation::Binary.compare(b"a", b"a "), Less);
        assert_ne!(key(Collation::Binary, "a "), key(Collation::Binary, "a"));
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
        assert_eq!(l.compare(b"\xC5", b"Z"), Greater); // Å
        assert_eq!(l.compare(b"\xE5", b"\xC5"), Equal); // å = Å
        assert_eq!(l.compare(b"\xE9", b"E"), Equal); // é = E
    }

    #[test]
    fn ids_map_to_collations() {
        assert_eq!(Collation::from_id(63), Collation::Binary);
        assert_eq!(Collation::from_id(45), Collation::GeneralCi);
        assert_eq!(Collation::from_id(224), Collation::GeneralCi);
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
