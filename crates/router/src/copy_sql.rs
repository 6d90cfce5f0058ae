//! The SQL a materialized table's copy is made with (see `materialize.rs`): how each column's
//! values are read from a shard and written back bit for bit, and the temporary table's
//! definition. Checked on MariaDB 10.11: the text of `DOUBLE`, `DECIMAL`, integers and
//! temporal types reads back as the same value; `FLOAT`'s text does not (`16777216` prints as
//! `16777200`), so it travels as the `DOUBLE` it widens to exactly; strings, blobs, `ENUM` /
//! `SET`, JSON and geometry travel as the bytes of their column (`HEX`, written as `X'…'`, so
//! no character set conversion touches them); `BIT` as its number; `TIMESTAMP` as its epoch
//! (its text depends on the session's time zone, ambiguous in a DST fold).

use std::fmt::Write as _;

/// How one column's values are read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The value's text (integers, DECIMAL, DOUBLE, DATE, DATETIME, TIME, YEAR).
    Text,
    /// The column's bytes, as hex digits.
    Hex,
    /// A BIT column's number.
    Bit,
    /// A FLOAT read as the DOUBLE it converts to exactly.
    Float,
    /// A TIMESTAMP's seconds since the epoch (with its fraction).
    Epoch,
}

impl Transport {
    /// The transport for `information_schema.COLUMNS.DATA_TYPE`.
    pub fn of(data_type: &str) -> Transport {
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
            | "numeric" | "double" | "real" | "date" | "datetime" | "time" | "year" => {
                Transport::Text
            }
            "float" => Transport::Float,
            "bit" => Transport::Bit,
            "timestamp" => Transport::Epoch,
            // Strings, binary strings, blobs, ENUM, SET, JSON, geometry, INET6, UUID, and
            // anything newer: their bytes.
            _ => Transport::Hex,
        }
    }

    /// What a shard is asked for, for column `name` (quoted).
    pub fn read_expr(self, name: &str) -> String {
        match self {
            Transport::Text => name.to_owned(),
            Transport::Hex => format!("HEX({name})"),
            Transport::Bit => format!("{name} + 0"),
            Transport::Float => format!("CAST({name} AS DOUBLE)"),
            Transport::Epoch => format!("UNIX_TIMESTAMP({name})"),
        }
    }

    /// Appends the literal for a value read with [`Transport::read_expr`] (`None`: NULL).
    /// The text forms read are digits, signs, points, exponents, dashes and colons: anything
    /// else is refused rather than written into SQL.
    pub fn write_literal(self, value: Option<&[u8]>, out: &mut String) -> Result<(), String> {
        let Some(value) = value else {
            out.push_str("NULL");
            return Ok(());
        };
        let text = std::str::from_utf8(value).map_err(|_| "a value that is not text".to_owned())?;
        let plain = |allowed: &dyn Fn(char) -> bool| {
            if text.chars().all(allowed) {
                Ok(())
            } else {
                Err(format!(
                    "an unexpected value text `{}`",
                    text.escape_debug()
                ))
            }
        };
        match self {
            Transport::Hex => {
                plain(&|c| c.is_ascii_hexdigit())?;
                out.push_str("X'");
                out.push_str(text);
                out.push('\'');
            }
            Transport::Text | Transport::Float => {
                plain(&|c| c.is_ascii_alphanumeric() || "+-.: ".contains(c))?;
                out.push('\'');
                out.push_str(text);
                out.push('\'');
            }
            Transport::Bit => {
                plain(&|c| c.is_ascii_digit())?;
                out.push_str(text);
            }
            Transport::Epoch => {
                plain(&|c| c.is_ascii_digit() || c == '.')?;
                // 0 is the zero TIMESTAMP, which FROM_UNIXTIME does not give.
                if text
                    .trim_start_matches('0')
                    .trim_start_matches('.')
                    .trim_matches('0')
                    .is_empty()
                {
                    out.push('0');
                } else {
                    let _ = write!(out, "FROM_UNIXTIME({text})");
                }
            }
        }
        Ok(())
    }
}

/// A temporary table's definition from `SHOW CREATE TABLE`'s text of the base table: the
/// same columns, keys, options and engine, named `name` (quoted). The engine stays the
/// table's: MariaDB plans over the copy as over the table (an Aria copy of a one-row table
/// is a constant one, and MariaDB 10.11 answers `general_ci_key = bin_column` over it
/// wrongly). `None` when the text is not a `CREATE TABLE`.
pub fn temporary_definition(show_create: &str, name: &str) -> Option<String> {
    let rest = show_create.strip_prefix("CREATE TABLE ")?;
    let after_name = skip_identifier(rest)?;
    Some(format!("CREATE TEMPORARY TABLE {name}{after_name}"))
}

/// The text after a leading identifier (quoted with ` or ", or bare).
fn skip_identifier(text: &str) -> Option<&str> {
    let quote = text.chars().next()?;
    if quote == '`' || quote == '"' {
        let mut chars = text.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                if chars.peek().map(|(_, n)| *n) == Some(quote) {
                    chars.next();
                    continue;
                }
                return Some(&text[i + 1..]);
            }
        }
        return None;
    }
    let end = text.find(|c: char| c.is_whitespace() || c == '(')?;
    Some(&text[end..])
}

/// A string literal for SQL (quotes doubled; backslashes doubled unless the session reads them
/// literally).
pub fn string_literal(value: &str, no_backslash_escapes: bool) -> String {
    let mut escaped = value.replace('\'', "''");
    if !no_backslash_escapes {
        escaped = escaped.replace('\\', "\\\\");
    }
    format!("'{escaped}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(t: Transport, v: Option<&str>) -> Result<String, String> {
        let mut out = String::new();
        t.write_literal(v.map(str::as_bytes), &mut out)
            .map(|()| out)
    }

    #[test]
    fn types_pick_their_transport() {
        assert_eq!(Transport::of("varchar"), Transport::Hex);
        assert_eq!(Transport::of("LONGBLOB"), Transport::Hex);
        assert_eq!(Transport::of("point"), Transport::Hex);
        assert_eq!(Transport::of("enum"), Transport::Hex);
        assert_eq!(Transport::of("decimal"), Transport::Text);
        assert_eq!(Transport::of("double"), Transport::Text);
        assert_eq!(Transport::of("float"), Transport::Float);
        assert_eq!(Transport::of("bit"), Transport::Bit);
        assert_eq!(Transport::of("timestamp"), Transport::Epoch);
        assert_eq!(Transport::of("datetime"), Transport::Text);
    }

    #[test]
    fn values_are_written_as_literals_of_their_transport() {
        assert_eq!(written(Transport::Hex, Some("00FF")).unwrap(), "X'00FF'");
        assert_eq!(written(Transport::Hex, Some("")).unwrap(), "X''");
        assert_eq!(
            written(Transport::Text, Some("-1.5e-7")).unwrap(),
            "'-1.5e-7'"
        );
        assert_eq!(
            written(Transport::Text, Some("2024-01-02 03:04:05.123456")).unwrap(),
            "'2024-01-02 03:04:05.123456'"
        );
        assert_eq!(written(Transport::Bit, Some("5")).unwrap(), "5");
        assert_eq!(
            written(Transport::Epoch, Some("1700000000.250000")).unwrap(),
            "FROM_UNIXTIME(1700000000.250000)"
        );
        assert_eq!(written(Transport::Epoch, Some("0.000000")).unwrap(), "0");
        assert_eq!(written(Transport::Epoch, Some("0")).unwrap(), "0");
        assert_eq!(written(Transport::Text, None).unwrap(), "NULL");
    }

    #[test]
    fn unexpected_text_is_refused_not_written() {
        assert!(written(Transport::Text, Some("1'; DROP TABLE t")).is_err());
        assert!(written(Transport::Hex, Some("0G")).is_err());
        assert!(written(Transport::Bit, Some("1.5")).is_err());
    }

    #[test]
    fn the_definition_becomes_a_temporary_table_of_the_given_name() {
        let shown = "CREATE TABLE `t``x` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
        assert_eq!(
            temporary_definition(shown, "`app`.`t``x`").unwrap(),
            "CREATE TEMPORARY TABLE `app`.`t``x` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        );
        assert!(temporary_definition("CREATE TABLE \"t\" (a int)", "`t`")
            .unwrap()
            .ends_with("`t` (a int)"));
        assert_eq!(
            temporary_definition("CREATE VIEW v AS SELECT 1", "`v`"),
            None
        );
    }

    #[test]
    fn string_literals_escape_quotes_and_backslashes() {
        assert_eq!(string_literal("O'Br\\n", false), "'O''Br\\\\n'");
        assert_eq!(string_literal("O'Br\\n", true), "'O''Br\\n'");
    }
}
