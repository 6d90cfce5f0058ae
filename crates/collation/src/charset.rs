//! Text in a client's character set read as the characters MariaDB reads: a string shard key
//! is placed by its characters, so `'Café'` from a latin1 client and from a UTF-8 client must
//! fold alike, and the planner must read a latin1 client's statement as latin1.
//!
//! The single-byte character sets whose ASCII half is ASCII are read by tables dumped from
//! MariaDB 10.11 (`data/single_byte_charsets.txt`: what `CONVERT(… USING utf8mb4)` makes of
//! each byte, checked against a live server in `tests/charsets_agree.rs`). Other sets
//! (multi-byte ones such as `sjis` or `gbk`, `swe7`) are [`Charset::Unknown`]: the proxy
//! cannot read their text beyond ASCII.

use std::borrow::Cow;
use std::sync::OnceLock;

/// How a client's text reads as characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `utf8mb4`, `utf8mb3` and `binary` (whose bytes a string column reads as its own).
    Utf8,
    /// A single-byte character set: its bytes 0x80–0xFF as characters (`None`: a byte
    /// MariaDB converts to `?`).
    SingleByte(&'static SingleByte),
    /// A set the proxy reads only the ASCII of (`sjis`, `gbk`, `swe7`, a name it does not
    /// know): each other character reads as U+FFFD, its bytes found by `Sequences` so that a
    /// trail byte 0x5C (`sjis` `'表'` is 0x95 0x5C) is not read as a backslash.
    Unread(Sequences),
}

/// How many bytes each character of a multi-byte set takes, by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequences {
    /// One byte each.
    Single,
    /// `sjis`, `cp932`: two bytes after 0x81–0x9F and 0xE0–0xFC, one otherwise.
    ShiftJis,
    /// `gbk`, `big5`, `euckr`, `gb2312`: two bytes after 0x81–0xFE.
    DoubleByte,
    /// `ujis`, `eucjpms`: three bytes after 0x8F, two after 0x8E and 0xA1–0xFE.
    EucJp,
}

impl Sequences {
    /// The length of the character starting with `lead`.
    fn len(self, lead: u8) -> usize {
        match (self, lead) {
            (_, 0..=0x7F) | (Sequences::Single, _) => 1,
            (Sequences::ShiftJis, 0x81..=0x9F | 0xE0..=0xFC) => 2,
            (Sequences::ShiftJis, _) => 1,
            (Sequences::DoubleByte, 0x81..=0xFE) => 2,
            (Sequences::DoubleByte, _) => 1,
            (Sequences::EucJp, 0x8F) => 3,
            (Sequences::EucJp, 0x8E | 0xA1..=0xFE) => 2,
            (Sequences::EucJp, _) => 1,
        }
    }
}

/// A single-byte character set's upper half.
#[derive(Debug, PartialEq, Eq)]
pub struct SingleByte {
    pub name: &'static str,
    /// Its default collation (`latin1_swedish_ci`, `cp1251_general_ci`).
    pub default_collation: &'static str,
    high: [Option<char>; 128],
}

/// The single-byte sets of `data/single_byte_charsets.txt`, read once.
fn single_byte_sets() -> &'static [SingleByte] {
    static SETS: OnceLock<Vec<SingleByte>> = OnceLock::new();
    SETS.get_or_init(|| {
        include_str!("../data/single_byte_charsets.txt")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let mut fields = line.split('\t');
                let (Some(name), Some(default_collation), Some(points)) =
                    (fields.next(), fields.next(), fields.next())
                else {
                    panic!("name, default collation, code points: {line}");
                };
                let mut high = [None; 128];
                for (slot, point) in high.iter_mut().zip(points.split(' ')) {
                    *slot = u32::from_str_radix(point, 16).ok().and_then(char::from_u32);
                }
                SingleByte {
                    name,
                    default_collation,
                    high,
                }
            })
            .collect()
    })
}

impl Charset {
    /// The character set MariaDB calls `name` (`latin1`, `'utf8mb4'`, `UTF8`).
    pub fn named(name: &str) -> Charset {
        let name = name
            .trim()
            .trim_matches(|c| c == '\'' || c == '"' || c == '`');
        let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if is(&["utf8mb4", "utf8mb3", "utf8", "binary"]) {
            return Charset::Utf8;
        }
        if let Some(set) =
            (single_byte_sets().iter()).find(|set| set.name.eq_ignore_ascii_case(name))
        {
            return Charset::SingleByte(set);
        }
        Charset::Unread(if is(&["sjis", "cp932"]) {
            Sequences::ShiftJis
        } else if is(&["gbk", "big5", "euckr", "gb2312"]) {
            Sequences::DoubleByte
        } else if is(&["ujis", "eucjpms"]) {
            Sequences::EucJp
        } else {
            Sequences::Single
        })
    }

    /// The single-byte character sets the proxy reads, by MariaDB's names.
    pub fn single_byte_names() -> impl Iterator<Item = &'static str> {
        single_byte_sets().iter().map(|set| set.name)
    }

    /// `bytes` read as characters; `None` when they are not text in this character set, or
    /// not ASCII in one the proxy does not read.
    pub fn read(self, bytes: &[u8]) -> Option<Cow<'_, str>> {
        match self {
            Charset::Utf8 => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            _ if bytes.is_ascii() => std::str::from_utf8(bytes).ok().map(Cow::Borrowed),
            Charset::SingleByte(set) => bytes.iter().map(|&b| set.char(b)).collect(),
            Charset::Unread(_) => None,
        }
    }

    /// `bytes` read as characters, each character that `read` cannot read (a byte sequence
    /// that is not text in this character set) read as U+FFFD, which places no shard key.
    pub fn read_lossy(self, bytes: &[u8]) -> Cow<'_, str> {
        match self {
            Charset::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(bytes),
            },
            _ if bytes.is_ascii() => {
                Cow::Borrowed(std::str::from_utf8(bytes).expect("ASCII is UTF-8"))
            }
            Charset::SingleByte(set) => Cow::Owned(
                (bytes.iter())
                    .map(|&b| set.char(b).unwrap_or('\u{FFFD}'))
                    .collect(),
            ),
            Charset::Unread(sequences) => {
                let mut text = String::with_capacity(bytes.len());
                let mut at = 0;
                while let Some(&lead) = bytes.get(at) {
                    let len = sequences.len(lead);
                    text.push(if len == 1 && lead.is_ascii() {
                        char::from(lead)
                    } else {
                        '\u{FFFD}'
                    });
                    at += len;
                }
                Cow::Owned(text)
            }
        }
    }
}

impl SingleByte {
    /// The character of `byte`; `None` for a byte MariaDB converts to `?`.
    pub(crate) fn char(&self, byte: u8) -> Option<char> {
        match byte {
            0..=0x7F => Some(char::from(byte)),
            _ => self.high[usize::from(byte - 0x80)],
        }
    }

    /// `text` in this character set's bytes; `None` when it has a character the set lacks.
    pub fn encode(&self, text: &str) -> Option<Vec<u8>> {
        text.chars()
            .map(|c| match u8::try_from(c) {
                Ok(b) if b.is_ascii() => Some(b),
                _ => (self.high.iter().position(|&h| h == Some(c))).map(|i| 0x80 + i as u8),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_as_mariadb_reads_them() {
        assert_eq!(Charset::named("UTF8MB4"), Charset::Utf8);
        assert_eq!(Charset::named("'utf8'"), Charset::Utf8);
        assert_eq!(Charset::named("binary"), Charset::Utf8);
        assert!(matches!(Charset::named("Latin1"), Charset::SingleByte(s) if s.name == "latin1"));
        assert_eq!(Charset::named("sjis"), Charset::Unread(Sequences::ShiftJis));
        assert_eq!(Charset::named("swe7"), Charset::Unread(Sequences::Single));
        assert_eq!(
            Charset::named("no such set"),
            Charset::Unread(Sequences::Single)
        );
    }

    #[test]
    fn single_byte_text_reads_as_its_characters() {
        let latin1 = Charset::named("latin1");
        assert_eq!(latin1.read(b"Caf\xe9").as_deref(), Some("Café"));
        // Bytes that happen to be UTF-8 are still latin1 characters.
        assert_eq!(latin1.read(b"\xc3\xa9").as_deref(), Some("Ã©"));
        assert_eq!(latin1.read(b"\x80").as_deref(), Some("€"));
        assert_eq!(
            Charset::named("cp1251").read(b"\xcc\xee").as_deref(),
            Some("Мо")
        );
        // MariaDB's cp1250 has no character at 0x81.
        assert_eq!(Charset::named("cp1250").read(b"\x81"), None);
        assert!(matches!(
            latin1.read(b"plain"),
            Some(Cow::Borrowed("plain"))
        ));
        assert_eq!(Charset::named("sjis").read(b"\x95\x5c"), None);
        let Charset::SingleByte(latin1) = latin1 else {
            panic!()
        };
        assert_eq!(latin1.encode("Café €"), Some(b"Caf\xe9 \x80".to_vec()));
        assert_eq!(latin1.encode("Мо"), None);
        assert_eq!(latin1.default_collation, "latin1_swedish_ci");
    }

    #[test]
    fn what_cannot_be_read_is_replaced() {
        assert_eq!(Charset::Utf8.read_lossy(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(Charset::named("cp1250").read_lossy(b"a\x81"), "a\u{FFFD}");
        // One U+FFFD per character; sjis's trail byte 0x5C is no backslash, its
        // half-width katakana (0xB1) are one byte.
        let sjis = Charset::named("sjis");
        assert_eq!(sjis.read_lossy(b"'\x95\x5c' \xb1'"), "'\u{FFFD}' \u{FFFD}'");
        assert_eq!(
            Charset::named("ujis").read_lossy(b"\x8f\xa1\xa1\x8e\xb1a"),
            "\u{FFFD}\u{FFFD}a"
        );
        assert_eq!(
            Charset::named("swe7").read_lossy(b"a\xc3\xa9"),
            "a\u{FFFD}\u{FFFD}"
        );
        assert!(matches!(
            Charset::named("latin1").read_lossy(b"x = 1"),
            Cow::Borrowed("x = 1")
        ));
    }
}
