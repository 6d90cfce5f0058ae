//! How a session's SQL text is read: the `sql_mode` flags that change the lexer and parser,
//! and the server version that decides which executable comments (`/*!NNNNN … */`) run.

use std::fmt;

/// The `sql_mode` flags that change what a statement's text means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SqlMode(u8);

impl SqlMode {
    /// No flag: MariaDB's default reading.
    pub const NONE: SqlMode = SqlMode(0);
    /// `"…"` quotes a name, not a string.
    pub const ANSI_QUOTES: SqlMode = SqlMode(1);
    /// A backslash in a string is an ordinary character.
    pub const NO_BACKSLASH_ESCAPES: SqlMode = SqlMode(1 << 1);
    /// `||` concatenates strings instead of meaning OR.
    pub const PIPES_AS_CONCAT: SqlMode = SqlMode(1 << 2);
    /// Prefix `NOT` binds tighter than comparisons: `NOT a = b` is `(NOT a) = b`.
    pub const HIGH_NOT_PRECEDENCE: SqlMode = SqlMode(1 << 3);
    /// Spaces may follow a function name; function names become reserved words.
    pub const IGNORE_SPACE: SqlMode = SqlMode(1 << 4);
    /// MariaDB's Oracle compatibility grammar (a different parser altogether).
    pub const ORACLE: SqlMode = SqlMode(1 << 5);
    /// An INSERT's `0` for an auto-increment column is stored as 0 instead of generating an id.
    pub const NO_AUTO_VALUE_ON_ZERO: SqlMode = SqlMode(1 << 6);

    /// The flags of an `@@sql_mode` value (`'ANSI_QUOTES,STRICT_TRANS_TABLES'`); the
    /// combination modes (`ANSI`, `ORACLE`, …) count as the flags they stand for.
    pub fn parse(value: &str) -> SqlMode {
        let mut mode = SqlMode::default();
        for word in value.split(',').map(str::trim) {
            let flags: &[SqlMode] = match word.to_ascii_uppercase().as_str() {
                "ANSI_QUOTES" => &[SqlMode::ANSI_QUOTES],
                "NO_BACKSLASH_ESCAPES" => &[SqlMode::NO_BACKSLASH_ESCAPES],
                "PIPES_AS_CONCAT" => &[SqlMode::PIPES_AS_CONCAT],
                "HIGH_NOT_PRECEDENCE" => &[SqlMode::HIGH_NOT_PRECEDENCE],
                "IGNORE_SPACE" => &[SqlMode::IGNORE_SPACE],
                "NO_AUTO_VALUE_ON_ZERO" => &[SqlMode::NO_AUTO_VALUE_ON_ZERO],
                "ANSI" | "DB2" | "MAXDB" | "MSSQL" | "POSTGRESQL" => &[
                    SqlMode::PIPES_AS_CONCAT,
                    SqlMode::ANSI_QUOTES,
                    SqlMode::IGNORE_SPACE,
                ],
                "ORACLE" => &[
                    SqlMode::PIPES_AS_CONCAT,
                    SqlMode::ANSI_QUOTES,
                    SqlMode::IGNORE_SPACE,
                    SqlMode::ORACLE,
                ],
                _ => &[],
            };
            for flag in flags {
                mode = mode | *flag;
            }
        }
        mode
    }

    pub fn contains(self, flag: SqlMode) -> bool {
        self.0 & flag.0 == flag.0
    }
}

impl std::ops::BitOr for SqlMode {
    type Output = SqlMode;
    fn bitor(self, other: SqlMode) -> SqlMode {
        SqlMode(self.0 | other.0)
    }
}

/// What reading a statement depends on besides its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Syntax {
    pub sql_mode: SqlMode,
    /// The backends' `MYSQL_VERSION_ID` (10.11.6 is 101106): executable comments for a
    /// version above it are comments.
    pub server_version: u32,
}

impl Syntax {
    /// MariaDB 10.11's defaults: no flag that changes reading.
    pub const DEFAULT: Syntax = Syntax {
        sql_mode: SqlMode::NONE,
        server_version: 101100,
    };

    /// The version id of a server version string (`"10.11.19-MariaDB-log"`, or with the
    /// `"5.5.5-"` prefix MariaDB sends in its handshake), if it has one.
    pub fn version_id(version: &str) -> Option<u32> {
        let version = version.strip_prefix("5.5.5-").unwrap_or(version);
        let mut parts = version
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse::<u32>().ok());
        let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
        (minor < 100 && patch < 100).then_some(major * 10_000 + minor * 100 + patch)
    }
}

impl Default for Syntax {
    fn default() -> Self {
        Syntax::DEFAULT
    }
}

impl fmt::Display for SqlMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (SqlMode::ANSI_QUOTES, "ANSI_QUOTES"),
            (SqlMode::NO_BACKSLASH_ESCAPES, "NO_BACKSLASH_ESCAPES"),
            (SqlMode::PIPES_AS_CONCAT, "PIPES_AS_CONCAT"),
            (SqlMode::HIGH_NOT_PRECEDENCE, "HIGH_NOT_PRECEDENCE"),
            (SqlMode::IGNORE_SPACE, "IGNORE_SPACE"),
            (SqlMode::ORACLE, "ORACLE"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect();
        f.write_str(&set.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sql_mode_values() {
        let mode = SqlMode::parse("STRICT_TRANS_TABLES,no_backslash_escapes");
        assert!(mode.contains(SqlMode::NO_BACKSLASH_ESCAPES));
        assert!(!mode.contains(SqlMode::ANSI_QUOTES));
        let ansi = SqlMode::parse("ANSI");
        assert!(ansi.contains(SqlMode::ANSI_QUOTES) && ansi.contains(SqlMode::PIPES_AS_CONCAT));
        assert_eq!(SqlMode::parse(""), SqlMode::default());
        assert_eq!(ansi.to_string(), "ANSI_QUOTES,PIPES_AS_CONCAT,IGNORE_SPACE");
    }

    #[test]
    fn reads_version_ids() {
        assert_eq!(
            Syntax::version_id("10.11.19-MariaDB-0+deb12u1-log"),
            Some(101119)
        );
        assert_eq!(Syntax::version_id("5.5.5-10.6.2-MariaDB"), Some(100602));
        assert_eq!(Syntax::version_id("8.0.36"), Some(80036));
        assert_eq!(Syntax::version_id("garbage"), None);
    }
}
