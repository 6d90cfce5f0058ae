//! A prepared statement's text with its bound parameters written in as SQL literals: what a
//! statement that must be rewritten or merged by the proxy (one over several shards) runs as.

use crate::stmt::ParamValue;

/// Byte offsets of the `?` placeholders of `sql`: outside strings, quoted names and comments
/// (but inside `/*! … */` executable comments, which MariaDB reads as SQL).
pub fn placeholders(sql: &[u8], no_backslash_escapes: bool) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < sql.len() {
        match sql[i] {
            b'?' => {
                found.push(i);
                i += 1;
            }
            quote @ (b'\'' | b'"' | b'`') => i = skip_quoted(sql, i, quote, no_backslash_escapes),
            b'#' => i = skip_line(sql, i),
            b'-' if sql.get(i + 1) == Some(&b'-')
                && sql.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = skip_line(sql, i)
            }
            b'/' if sql.get(i + 1) == Some(&b'*') => {
                let executable = matches!(sql.get(i + 2), Some(b'!' | b'M'));
                if executable {
                    i += 2; // its content is SQL; `*/` is skipped as ordinary text
                } else {
                    i = find(sql, i + 2, b"*/").map_or(sql.len(), |end| end + 2);
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// The offset just past the quoted string or name opening at `start`.
fn skip_quoted(sql: &[u8], start: usize, quote: u8, no_backslash_escapes: bool) -> usize {
    let mut i = start + 1;
    while i < sql.len() {
        let c = sql[i];
        if c == b'\\' && quote != b'`' && !no_backslash_escapes {
            i += 2;
        } else if c == quote {
            // A doubled quote is one quote character inside.
            if sql.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    sql.len()
}

fn skip_line(sql: &[u8], start: usize) -> usize {
    find(sql, start, b"\n").map_or(sql.len(), |end| end + 1)
}

fn find(sql: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    sql.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// `sql` with the placeholder at each of `offsets` replaced by the literal of the same index.
pub fn interpolate(sql: &[u8], offsets: &[usize], literals: &[Vec<u8>]) -> Vec<u8> {
    let extra: usize = literals.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(sql.len() + extra);
    let mut from = 0;
    for (&at, literal) in offsets.iter().zip(literals) {
        out.extend_from_slice(&sql[from..at]);
        out.extend_from_slice(literal);
        from = at + 1;
    }
    out.extend_from_slice(&sql[from..]);
    out
}

/// A bound parameter as an SQL literal that MariaDB reads back as the same value.
/// `column_type` is the parameter's wire type (`MYSQL_TYPE_*`); `legacy_charset`, the client's
/// character set when it is not UTF-8, in which a string parameter's bytes are text.
pub fn literal(
    value: &ParamValue,
    column_type: u8,
    no_backslash_escapes: bool,
    legacy_charset: Option<&str>,
) -> Vec<u8> {
    const DECIMAL: u8 = 0;
    const NEWDECIMAL: u8 = 246;
    // MariaDB reads a BLOB-typed parameter as a binary string, others in the client's set.
    let legacy_charset = legacy_charset.filter(|_| !is_blob_type(column_type));
    match value {
        ParamValue::Null => b"NULL".to_vec(),
        ParamValue::Int(v) => v.to_string().into_bytes(),
        // Decimals come as their text: written as a number they keep their exact value.
        ParamValue::Bytes(b)
            if matches!(column_type, DECIMAL | NEWDECIMAL) && is_decimal_text(b) =>
        {
            b.clone()
        }
        ParamValue::Bytes(b) => match (std::str::from_utf8(b), legacy_charset) {
            (Ok(text), None) => quoted(text, no_backslash_escapes),
            (Ok(text), Some(_)) if text.is_ascii() => quoted(text, no_backslash_escapes),
            // Text in the client's character set, written in ASCII: the proxy reads the
            // statement as its characters, and MariaDB reads it as the client's string.
            (_, charset) => {
                let introducer = charset.map(|c| format!("_{c} "));
                let introducer = introducer.as_deref().unwrap_or_default();
                let mut out = Vec::with_capacity(introducer.len() + 3 + 2 * b.len());
                out.extend_from_slice(introducer.as_bytes());
                out.extend_from_slice(b"X'");
                for byte in b {
                    out.extend_from_slice(format!("{byte:02X}").as_bytes());
                }
                out.push(b'\'');
                out
            }
        },
        // Floats, doubles, dates and times, as mysql_common writes them (quoted where needed).
        ParamValue::Other(sql) => sql.clone().into_bytes(),
    }
}

/// Whether a parameter's wire type is one of the BLOB types (`TINY_BLOB` … `BLOB`).
pub fn is_blob_type(column_type: u8) -> bool {
    (249..=252).contains(&column_type)
}

/// A text-protocol cell (`None`: NULL) as an SQL literal that MariaDB reads back as the same
/// value: a `numeric` column's number as written, anything else a string of the same bytes.
pub fn cell_literal(cell: Option<&[u8]>, numeric: bool, no_backslash_escapes: bool) -> Vec<u8> {
    match cell {
        None => b"NULL".to_vec(),
        Some(b) if numeric && is_number_text(b) => b.to_vec(),
        Some(b) => literal(
            &ParamValue::Bytes(b.to_vec()),
            MYSQL_TYPE_VAR_STRING,
            no_backslash_escapes,
            None,
        ),
    }
}

/// The wire type of a string parameter (`MYSQL_TYPE_VAR_STRING`).
const MYSQL_TYPE_VAR_STRING: u8 = 253;

/// A decimal or a float as MariaDB writes it: sign, digits, a point, an exponent.
fn is_number_text(b: &[u8]) -> bool {
    let (mantissa, exponent) = match b.iter().position(|&c| c == b'e' || c == b'E') {
        Some(at) => (&b[..at], Some(&b[at + 1..])),
        None => (b, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e
            .strip_prefix(b"-")
            .or_else(|| e.strip_prefix(b"+"))
            .unwrap_or(e);
        !e.is_empty() && e.iter().all(u8::is_ascii_digit)
    });
    is_decimal_text(mantissa) && exponent_ok
}

fn is_decimal_text(b: &[u8]) -> bool {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let mut dots = 0;
    !digits.is_empty()
        && digits.iter().all(|&c| {
            dots += usize::from(c == b'.');
            c.is_ascii_digit() || c == b'.'
        })
        && dots <= 1
        && digits.iter().any(u8::is_ascii_digit)
}

/// A string literal: quotes doubled, and (unless NO_BACKSLASH_ESCAPES) backslashes and the
/// characters MariaDB's own escaping covers written as escapes.
fn quoted(text: &str, no_backslash_escapes: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'\'');
    for &b in text.as_bytes() {
        match b {
            b'\'' => out.extend_from_slice(b"''"),
            b'\\' if !no_backslash_escapes => out.extend_from_slice(b"\\\\"),
            0 if !no_backslash_escapes => out.extend_from_slice(b"\\0"),
            0x1A if !no_backslash_escapes => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sql: &str, values: &[ParamValue]) -> String {
        let offsets = placeholders(sql.as_bytes(), false);
        let literals: Vec<Vec<u8>> = values
            .iter()
            .map(|v| literal(v, 253, false, None))
            .collect();
        String::from_utf8(interpolate(sql.as_bytes(), &offsets, &literals)).unwrap()
    }

    #[test]
    fn placeholders_outside_strings_names_and_comments() {
        let sql = "SELECT '?', \"a\\\"?\", `?``?`, ? /* ? */ -- ?\n, ? # ?\n FROM t WHERE x = ?";
        assert_eq!(
            run(
                sql,
                &[ParamValue::Int(1), ParamValue::Int(2), ParamValue::Int(3)]
            ),
            "SELECT '?', \"a\\\"?\", `?``?`, 1 /* ? */ -- ?\n, 2 # ?\n FROM t WHERE x = 3"
        );
    }

    #[test]
    fn executable_comments_hold_placeholders() {
        assert_eq!(placeholders(b"SELECT /*!50000 ? */ 1", false), vec![16]);
    }

    #[test]
    fn cells_become_literals_of_the_same_value() {
        let cell =
            |c: Option<&[u8]>, numeric| String::from_utf8(cell_literal(c, numeric, false)).unwrap();
        assert_eq!(cell(None, false), "NULL");
        assert_eq!(cell(Some(b"-12.50"), true), "-12.50");
        assert_eq!(cell(Some(b"1.5e-7"), true), "1.5e-7");
        assert_eq!(cell(Some(b"42"), false), "'42'");
        assert_eq!(cell(Some(b"1; DROP"), true), "'1; DROP'");
        assert_eq!(cell(Some(b"it's \\"), false), "'it''s \\\\'");
        assert_eq!(cell(Some(b"\xff\x00"), false), "X'FF00'");
        assert_eq!(cell_literal(Some(b"a\\b"), false, true), b"'a\\b'");
    }

    #[test]
    fn strings_are_escaped_for_the_sql_mode() {
        let value = ParamValue::Bytes(b"it's a \\ \0".to_vec());
        assert_eq!(
            literal(&value, 253, false, None),
            b"'it''s a \\\\ \\0'".to_vec()
        );
        assert_eq!(
            literal(&value, 253, true, None),
            b"'it''s a \\ \0'".to_vec()
        );
        assert_eq!(
            literal(&ParamValue::Bytes(vec![0xFF, 0x00]), 252, false, None),
            b"X'FF00'".to_vec()
        );
    }

    #[test]
    fn strings_of_a_legacy_character_set_keep_it() {
        let cafe = ParamValue::Bytes(b"Caf\xe9".to_vec());
        assert_eq!(
            literal(&cafe, 253, false, Some("latin1")),
            b"_latin1 X'436166E9'".to_vec()
        );
        // Bytes that happen to be UTF-8 are still latin1 text.
        let bytes = ParamValue::Bytes(b"\xc3\xa9".to_vec());
        assert_eq!(
            literal(&bytes, 254, false, Some("latin1")),
            b"_latin1 X'C3A9'".to_vec()
        );
        assert_eq!(literal(&bytes, 254, false, None), "'é'".as_bytes().to_vec());
        // ASCII reads alike in any; a BLOB parameter is a binary string.
        let ascii = ParamValue::Bytes(b"plain".to_vec());
        assert_eq!(
            literal(&ascii, 253, false, Some("latin1")),
            b"'plain'".to_vec()
        );
        assert_eq!(
            literal(&cafe, 252, false, Some("latin1")),
            b"X'436166E9'".to_vec()
        );
    }

    #[test]
    fn decimals_stay_numbers_and_other_text_is_quoted() {
        assert_eq!(
            literal(&ParamValue::Bytes(b"-12.50".to_vec()), 246, false, None),
            b"-12.50".to_vec()
        );
        assert_eq!(
            literal(&ParamValue::Bytes(b"1; DROP".to_vec()), 246, false, None),
            b"'1; DROP'".to_vec()
        );
        assert_eq!(literal(&ParamValue::Null, 6, false, None), b"NULL".to_vec());
    }
}
