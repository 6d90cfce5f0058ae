//! Canonical key bytes: the exact bytes a shard-key value hashes as.
//!
//! Integers hash as their decimal ASCII text (`42` → `b"42"`). For an integer shard key a
//! string is first converted like MySQL compares a string with a BIGINT column, but strictly:
//! surrounding ASCII whitespace, an optional sign and decimal digits (`' 042 '` is 42);
//! anything else is [`RingError::NotAnInteger`]. For a string shard key, strings hash as
//! their folded form under the key's collation (`Collation::fold_key`): values MariaDB calls
//! equal (`'Café'`, `'cafe '`) land on one shard. So `42` and `'42'` always land on the same
//! shard.

use xxhash_rust::xxh3::xxh3_64;

use crate::{Collation, KeyKind, KeyValue, RingError};

/// Longest decimal text of an `i128`: a sign and 39 digits.
const MAX_LEN: usize = 40;

/// `"00010203…99"`: the two ASCII digits of every number below 100.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// The decimal text of an integer, formatted on the stack.
#[derive(Clone, Copy)]
pub struct IntText {
    buf: [u8; MAX_LEN],
    start: u8,
}

impl IntText {
    /// Formats `value` in decimal, with a leading `-` when negative.
    #[inline]
    pub fn new(value: i128) -> Self {
        const TEN19: u128 = 10_000_000_000_000_000_000;
        let mut buf = [0u8; MAX_LEN];
        let mut pos = MAX_LEN;
        let mut rest = value.unsigned_abs();
        // Peel 19-digit chunks with u128 arithmetic only while the value is beyond u64.
        while rest > u128::from(u64::MAX) {
            let mut chunk = (rest % TEN19) as u64;
            rest /= TEN19;
            for _ in 0..19 {
                pos -= 1;
                buf[pos] = b'0' + (chunk % 10) as u8;
                chunk /= 10;
            }
        }
        // Two digits per division, as `itoa` does.
        let mut small = rest as u64;
        while small >= 100 {
            let pair = (small % 100) as usize * 2;
            small /= 100;
            pos -= 2;
            buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if small >= 10 {
            let pair = small as usize * 2;
            pos -= 2;
            buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            pos -= 1;
            buf[pos] = b'0' + small as u8;
        }
        if value < 0 {
            pos -= 1;
            buf[pos] = b'-';
        }
        IntText {
            buf,
            start: pos as u8,
        }
    }

    /// The decimal text.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start as usize..]
    }
}

impl std::fmt::Debug for IntText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Always ASCII digits and an optional sign.
        f.write_str(std::str::from_utf8(self.as_bytes()).unwrap_or("?"))
    }
}

/// Converts a string shard-key value to an integer, strictly: ASCII whitespace around an
/// optional `+`/`-` and at least one decimal digit (leading zeros allowed). Empty text,
/// other characters (`'4x'`, `'1.5'`) and values beyond `i128` are
/// [`RingError::NotAnInteger`].
#[inline]
pub fn parse_integer(text: &[u8]) -> Result<i128, RingError> {
    let not_an_integer = || RingError::NotAnInteger(String::from_utf8_lossy(text).into_owned());
    let trimmed = text.trim_ascii();
    let (negative, digits) = match trimmed.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(not_an_integer());
    }
    let magnitude = if digits.len() <= 19 {
        // At most 19 digits always fit in a u64: stay off 128-bit arithmetic.
        let small = digits
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
        u128::from(small)
    } else {
        digits
            .iter()
            .try_fold(0u128, |acc, d| {
                acc.checked_mul(10)?.checked_add(u128::from(d - b'0'))
            })
            .ok_or_else(not_an_integer)?
    };
    if negative {
        0i128
            .checked_sub_unsigned(magnitude)
            .ok_or_else(not_an_integer)
    } else {
        i128::try_from(magnitude).map_err(|_| not_an_integer())
    }
}

/// The xxh3 64-bit hash of a key's canonical bytes (see the module docs).
#[inline]
pub fn hash_key(key: &KeyValue<'_>, kind: KeyKind) -> Result<u64, RingError> {
    Ok(match (*key, kind) {
        (KeyValue::Int(v), _) => xxh3_64(IntText::new(v).as_bytes()),
        (KeyValue::Str(s), KeyKind::Integer) => xxh3_64(IntText::new(parse_integer(s)?).as_bytes()),
        (KeyValue::Str(s), KeyKind::String(collation)) => hash_string_key(s, collation),
    })
}

/// A string key hashes as its folded form: printable ASCII (the common key) without
/// trailing spaces and with letters in lower case, folded here without allocating; other
/// text by the collation's weights.
fn hash_string_key(s: &[u8], collation: Collation) -> u64 {
    if !collation.folds_as_lower_ascii(s) {
        let mut folded = Vec::with_capacity(s.len() + 8);
        collation.fold_key(s, &mut folded);
        return xxh3_64(&folded);
    }
    let end = s.iter().rposition(|&b| b != b' ').map_or(0, |p| p + 1);
    let s = &s[..end];
    if !s.iter().any(u8::is_ascii_uppercase) {
        return xxh3_64(s);
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for chunk in s.chunks(64) {
        let mut folded = [0u8; 64];
        for (f, b) in folded.iter_mut().zip(chunk) {
            *f = b.to_ascii_lowercase();
        }
        hasher.update(&folded[..chunk.len()]);
    }
    hasher.digest()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: i128) -> String {
        String::from_utf8(IntText::new(v).as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn string_keys_hash_as_collations_compare_them() {
        let general = KeyKind::String(Collation::GeneralCi);
        let h = |s: &str| hash_key(&KeyValue::Str(s.as_bytes()), general).unwrap();
        assert_eq!(h("Alice@X.com"), h("alice@x.com"));
        assert_eq!(h("a  "), h("a"));
        assert_ne!(h("a\t"), h("a"));
        assert_ne!(h(" a"), h("a"));
        let long = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".repeat(7);
        assert_eq!(h(&long), h(&long.to_lowercase()));
        assert_eq!(h("ÉTÉ"), h("été"));
        assert_eq!(h("Café "), h("CAFE"));
        // Printable ASCII hashes as its folded form, whichever path computes it.
        let mut folded = Vec::new();
        Collation::GeneralCi.fold_key("Café".as_bytes(), &mut folded);
        assert_eq!(h("Café"), xxh3_64(&folded));
        assert_eq!(h("cafe"), xxh3_64(b"cafe"));
        let unicode = KeyKind::String(Collation::UnicodeCi);
        let u = |s: &str| hash_key(&KeyValue::Str(s.as_bytes()), unicode).unwrap();
        assert_eq!(u("Straße"), u("STRASSE"));
        assert_eq!(u("Alice@X.com "), h("alice@x.com"));
    }

    #[test]
    fn formats_like_display() {
        for v in [
            0,
            1,
            -1,
            9,
            10,
            42,
            -42,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(u64::MAX),
            i128::from(u64::MAX) + 1,
            10_000_000_000_000_000_000,
            i128::MAX,
            i128::MIN,
            i128::MIN + 1,
        ] {
            assert_eq!(text(v), v.to_string());
        }
    }

    #[test]
    fn parses_strictly() {
        assert_eq!(parse_integer(b"42"), Ok(42));
        assert_eq!(parse_integer(b"042"), Ok(42));
        assert_eq!(parse_integer(b" \t042 \n"), Ok(42));
        assert_eq!(parse_integer(b"+7"), Ok(7));
        assert_eq!(parse_integer(b"-0"), Ok(0));
        assert_eq!(parse_integer(b"-17"), Ok(-17));
        assert_eq!(
            parse_integer(i128::MAX.to_string().as_bytes()),
            Ok(i128::MAX)
        );
        assert_eq!(
            parse_integer(i128::MIN.to_string().as_bytes()),
            Ok(i128::MIN)
        );
        assert_eq!(
            parse_integer(b"0000000000000000000000000000000000000000042"),
            Ok(42)
        );
        for bad in [
            &b""[..],
            b"   ",
            b"-",
            b"+",
            b"4x",
            b"1.5",
            b"1e3",
            b"0x10",
            b"- 4",
            b"4 2",
            b"--4",
            b"170141183460469231731687303715884105728",
            b"-170141183460469231731687303715884105729",
            b"99999999999999999999999999999999999999999",
        ] {
            assert_eq!(
                parse_integer(bad),
                Err(RingError::NotAnInteger(
                    String::from_utf8_lossy(bad).into_owned()
                )),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn integer_and_its_text_hash_alike() {
        let int = hash_key(&KeyValue::Int(42), KeyKind::Integer).unwrap();
        assert_eq!(int, xxh3_64(b"42"));
        assert_eq!(hash_key(&KeyValue::Str(b"42"), KeyKind::Integer), Ok(int));
        assert_eq!(
            hash_key(&KeyValue::Str(b" 042 "), KeyKind::Integer),
            Ok(int)
        );
        assert_eq!(
            hash_key(&KeyValue::Str(b"42"), KeyKind::String(Collation::GeneralCi)),
            Ok(int)
        );
        assert_eq!(
            hash_key(&KeyValue::Int(42), KeyKind::String(Collation::GeneralCi)),
            Ok(int)
        );
        // A string key hashes its bytes as they are.
        assert_ne!(
            hash_key(
                &KeyValue::Str(b"042"),
                KeyKind::String(Collation::GeneralCi)
            ),
            Ok(int)
        );
        assert!(hash_key(&KeyValue::Str(b"4x"), KeyKind::Integer).is_err());
        assert!(hash_key(&KeyValue::Str(b"4x"), KeyKind::String(Collation::GeneralCi)).is_ok());
    }
}
