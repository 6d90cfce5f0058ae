//! One clock for a statement that runs on several shards. MariaDB reads `NOW()`,
//! `CURRENT_TIMESTAMP`, `CURDATE()`, `UNIX_TIMESTAMP()` (and `DEFAULT` / `ON UPDATE
//! CURRENT_TIMESTAMP` columns) once per statement: every row has the same value. Each shard
//! reads its own at its own start, microseconds apart (`SELECT DISTINCT NOW(6) FROM t` gave a
//! row per shard; a broadcast `UPDATE … SET at = NOW(6)`, or a write to every copy of a
//! reference table, stored values that differ). So the parts run under `SET STATEMENT
//! timestamp = <the proxy's clock at the statement's start> FOR …` — unless the session set
//! `timestamp` itself, which every connection it uses has already. `SYSDATE()` stays each
//! server's own, as on one server it is each call's.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::session::Session;

impl Session {
    /// The setting that gives every part of a statement on several shards one time (`None`
    /// when the session pins the time itself).
    pub(crate) fn statement_clock(&self) -> Option<String> {
        if self.state.var_text("timestamp").is_some() {
            return None;
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        Some(format!(
            "timestamp = {}.{:06}",
            now.as_secs(),
            now.subsec_micros()
        ))
    }
}

/// The bytes of `sql` under `setting` (`SET STATEMENT setting FOR sql`), in whatever character
/// set the statement is in (the prefix is ASCII).
pub(crate) fn under_setting_bytes(sql: &[u8], setting: &str) -> Vec<u8> {
    [b"SET STATEMENT ", setting.as_bytes(), b" FOR ", sql].concat()
}

/// `sql` under `settings` (`SET STATEMENT a = 1, b = 2 FOR sql`); `sql` without any.
pub(crate) fn under_settings(sql: &str, settings: &[&str]) -> String {
    match settings {
        [] => sql.to_owned(),
        settings => format!("SET STATEMENT {} FOR {sql}", settings.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_prefix_the_statement() {
        assert_eq!(under_settings("SELECT 1", &[]), "SELECT 1");
        assert_eq!(
            under_settings(
                "SELECT NOW()",
                &["timestamp = 1.000000", "sql_select_limit = 5"]
            ),
            "SET STATEMENT timestamp = 1.000000, sql_select_limit = 5 FOR SELECT NOW()"
        );
    }
}
