//! What a column holds when an INSERT leaves it out, read from `information_schema.COLUMNS`
//! (`COLUMN_DEFAULT`, `IS_NULLABLE`, `IS_GENERATED`). MariaDB (10.2.7 on) shows a default as
//! SQL text: `NULL`, a quoted string (`'abc'`, quotes doubled), a number (`42`, `-1.5`), or an
//! expression (`current_timestamp()`, `uuid()`); a column without a DEFAULT clause shows no
//! value at all (SQL NULL), or `NULL` when it is nullable; an `AUTO_INCREMENT` one says so in
//! `EXTRA`.

/// The value an INSERT that omits a column gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnDefault {
    /// NULL.
    Null,
    /// A constant, as SQL text that MariaDB reads back as the same value (`'abc'`, `42`).
    Literal(String),
    /// Computed for each row: an expression default (its text).
    Computed(String),
    /// A generated column (its expression): computed from the row's other columns, never
    /// written.
    Generated(String),
    /// A NOT NULL column without a DEFAULT clause: a strict `sql_mode` refuses the row, others
    /// store the type's implicit value.
    Missing,
    /// An `AUTO_INCREMENT` column: the server generates each row's value.
    AutoIncrement,
}

impl ColumnDefault {
    /// From one row of `information_schema.COLUMNS`: `column_default` as the server shows it
    /// (`None` for SQL NULL), whether the column is nullable, whether it is generated, and its
    /// `EXTRA`.
    pub fn from_information_schema(
        column_default: Option<&str>,
        nullable: bool,
        generated: bool,
        extra: Option<&str>,
    ) -> ColumnDefault {
        let text = column_default.map(str::trim);
        let auto_increment =
            extra.is_some_and(|e| e.to_ascii_lowercase().contains("auto_increment"));
        match text {
            _ if auto_increment => ColumnDefault::AutoIncrement,
            _ if generated => ColumnDefault::Generated(text.unwrap_or_default().to_owned()),
            None if nullable => ColumnDefault::Null,
            None => ColumnDefault::Missing,
            Some(t) if t.eq_ignore_ascii_case("NULL") => ColumnDefault::Null,
            Some(t) if is_quoted_string(t) || is_number(t) => ColumnDefault::Literal(t.to_owned()),
            Some(t) => ColumnDefault::Computed(t.to_owned()),
        }
    }
}

/// `'…'` with quotes inside only doubled, and no backslash (whose meaning depends on the
/// session's `NO_BACKSLASH_ESCAPES`).
fn is_quoted_string(text: &str) -> bool {
    let Some(inner) = text
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
    else {
        return false;
    };
    !inner.contains('\\') && inner.split("''").all(|piece| !piece.contains('\''))
}

/// A decimal number: optional sign, digits, optional fraction and exponent.
fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    !(whole.is_empty() && fraction.is_empty()) && digits(whole) && digits(fraction) && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(default: Option<&str>, nullable: bool) -> ColumnDefault {
        ColumnDefault::from_information_schema(default, nullable, false, Some(""))
    }

    #[test]
    fn null_and_missing_defaults() {
        assert_eq!(read(Some("NULL"), true), ColumnDefault::Null);
        assert_eq!(read(None, true), ColumnDefault::Null);
        assert_eq!(read(None, false), ColumnDefault::Missing);
    }

    #[test]
    fn literals_are_kept_as_written() {
        for text in ["'abc'", "''", "'it''s'", "42", "-1.5", "0.5e-3", "7."] {
            assert_eq!(
                read(Some(text), false),
                ColumnDefault::Literal(text.into()),
                "{text}"
            );
        }
    }

    #[test]
    fn expressions_are_computed_and_generated_columns_generated() {
        for text in [
            "current_timestamp()",
            "uuid()",
            "'a' || 'b'",
            "'a\\'b'",
            "'a'b'",
            "1+1",
            "b'101'",
            "-",
            "e5",
        ] {
            assert!(
                matches!(read(Some(text), true), ColumnDefault::Computed(_)),
                "{text}"
            );
        }
        assert_eq!(
            ColumnDefault::from_information_schema(Some("lower(`name`)"), true, true, None),
            ColumnDefault::Generated("lower(`name`)".into())
        );
    }

    #[test]
    fn auto_increment_columns_say_so_in_extra() {
        let read = |extra| ColumnDefault::from_information_schema(None, false, false, extra);
        assert_eq!(read(Some("auto_increment")), ColumnDefault::AutoIncrement);
        assert_eq!(read(Some("")), ColumnDefault::Missing);
        assert_eq!(read(None), ColumnDefault::Missing);
    }
}
