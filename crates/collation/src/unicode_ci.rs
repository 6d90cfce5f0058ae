//! `utf8mb4_unicode_ci` weights: UCA 4.0.0 primary weights as MariaDB 10.11 gives them.
//!
//! A string's weights are its code points' weights one after another (MariaDB's default UCA
//! table has no contractions): most code points one weight, some several (`ß` = `s s`),
//! ignorable ones none, every character above U+FFFF `0xFFFD`. The BMP weights that are not
//! UCA's implicit ones are listed in `data/unicode_ci_weights.txt` (dumped from MariaDB by
//! `data/dump_unicode_ci.py`; `merge/tests/mariadb_agrees.rs` checks every code point against a live
//! server) and read into a table on first use.

use std::sync::LazyLock;

/// Weight of the space character, the pad of the PAD SPACE variant.
pub(crate) const SPACE: u32 = 0x0209;

/// Weight of every code point above the BMP.
const SUPPLEMENTARY: u16 = 0xFFFD;

/// Marks a code point that takes UCA's implicit weights.
const IMPLICIT: u32 = u32::MAX;

/// The weights of the BMP: `slots[cp]` is `offset << 8 | count` into `weights`, or
/// [`IMPLICIT`].
struct Table {
    slots: Vec<u32>,
    weights: Vec<u16>,
}

static TABLE: LazyLock<Table> =
    LazyLock::new(|| Table::parse(include_str!("../data/unicode_ci_weights.txt")));

impl Table {
    /// Reads the listing (format in the file's header). The file is part of the source and
    /// checked by tests: a malformed line is a build defect, hence the panics.
    fn parse(text: &str) -> Table {
        let mut table = Table {
            slots: vec![IMPLICIT; 0x10000],
            weights: Vec::new(),
        };
        let hex = |s: &str| u32::from_str_radix(s, 16).expect("unicode_ci_weights.txt: hex");
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut fields = line.split_whitespace();
            let code = fields.next().expect("unicode_ci_weights.txt: code point");
            let rest: Vec<&str> = fields.collect();
            match code.split_once('-') {
                Some((from, to)) => {
                    let start = rest.first().map(|w| hex(w.trim_end_matches('+')));
                    for (i, cp) in (hex(from)..=hex(to)).enumerate() {
                        match start {
                            Some(w) => table.put(cp, &[w + i as u32]),
                            None => table.put(cp, &[]),
                        }
                    }
                }
                None => {
                    let weights: Vec<u32> = rest.iter().map(|w| hex(w)).collect();
                    table.put(hex(code), &weights);
                }
            }
        }
        table
    }

    fn put(&mut self, cp: u32, weights: &[u32]) {
        let offset = self.weights.len() as u32;
        self.weights.extend(weights.iter().map(|&w| w as u16));
        self.slots[cp as usize] = offset << 8 | weights.len() as u32;
    }
}

/// The weights of one code point: listed ones, or the two implicit ones.
pub(crate) enum CodePointWeights {
    Listed(&'static [u16]),
    Implicit([u16; 2]),
}

/// The weights of code point `cp` (any value up to U+10FFFF).
pub(crate) fn weights(cp: u32) -> CodePointWeights {
    if cp > 0xFFFF {
        return CodePointWeights::Listed(std::slice::from_ref(&SUPPLEMENTARY));
    }
    let table = &*TABLE;
    match table.slots[cp as usize] {
        IMPLICIT => CodePointWeights::Implicit(implicit(cp)),
        slot => {
            let offset = (slot >> 8) as usize;
            CodePointWeights::Listed(&table.weights[offset..offset + (slot & 0xFF) as usize])
        }
    }
}

/// UCA's implicit weights of an unlisted code point: a base by block, then the low bits.
fn implicit(cp: u32) -> [u16; 2] {
    const CJK_COMPATIBILITY_UNIFIED: [u32; 12] = [
        0xFA0E, 0xFA0F, 0xFA11, 0xFA13, 0xFA14, 0xFA1F, 0xFA21, 0xFA23, 0xFA24, 0xFA27, 0xFA28,
        0xFA29,
    ];
    let base = if (0x4E00..=0x9FA5).contains(&cp) || CJK_COMPATIBILITY_UNIFIED.contains(&cp) {
        0xFB40
    } else if (0x3400..=0x4DB5).contains(&cp) {
        0xFB80
    } else {
        0xFBC0
    };
    [(base + (cp >> 15)) as u16, ((cp & 0x7FFF) | 0x8000) as u16]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(cp: u32) -> Vec<u16> {
        match weights(cp) {
            CodePointWeights::Listed(w) => w.to_vec(),
            CodePointWeights::Implicit(w) => w.to_vec(),
        }
    }

    #[test]
    fn letters_fold_case_and_accents() {
        assert_eq!(of('a' as u32), vec![0x0E33]);
        assert_eq!(of('A' as u32), vec![0x0E33]);
        assert_eq!(of('Å' as u32), vec![0x0E33]);
        assert_eq!(of(' ' as u32), vec![SPACE as u16]);
    }

    #[test]
    fn expansions_ignorables_and_implicit_weights() {
        assert_eq!(of('ß' as u32), vec![0x0FEA, 0x0FEA]);
        assert_eq!(of(0), Vec::<u16>::new());
        assert_eq!(of(0x4E00), vec![0xFB40, 0xCE00]);
        assert_eq!(of(0x3400), vec![0xFB80, 0xB400]);
        assert_eq!(of(0x1F600), vec![0xFFFD]);
    }
}
