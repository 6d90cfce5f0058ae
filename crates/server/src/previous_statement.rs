//! What the session knows about its previous statement — `ROW_COUNT()`, `FOUND_ROWS()`,
//! `@@warning_count`, `@@error_count`, `@@in_transaction` — kept from the answers it relayed,
//! and written into statements that read them (`router::with_previous_statement`).

use shardgate_backend::BackendConn;
use shardgate_protocol::response::Finish;
use shardgate_router::{PreviousStatement, Syntax};

use crate::session::Session;

/// How a statement sets `FOUND_ROWS()`: not at all, to the rows of its result (a SELECT), or to
/// a count only the connection that ran it knows (`SQL_CALC_FOUND_ROWS`, and `INSERT … SELECT`
/// or `CREATE TABLE … SELECT`, whose SELECT's rows the client never sees).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Select {
    #[default]
    No,
    Plain,
    CountedOnConnection,
}

impl Select {
    /// From the statement's text (after leading spaces and comments), read under `syntax`.
    pub fn of(text: &[u8], syntax: Syntax) -> Self {
        let head = crate::session::after_comments(text);
        let word = |w: &[u8]| {
            head.get(..w.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(w))
        };
        if !(word(b"select") || word(b"with") || word(b"(")) {
            // Only writes that hold the word are parsed.
            let writes_selected = (word(b"insert") || word(b"replace") || word(b"create"))
                && head.windows(6).any(|w| w.eq_ignore_ascii_case(b"select"))
                && std::str::from_utf8(text)
                    .is_ok_and(|sql| shardgate_router::writes_selected_rows(sql, syntax));
            return match writes_selected {
                true => Select::CountedOnConnection,
                false => Select::No,
            };
        }
        // Only where the text has a `_` (a point select often has none).
        const CALC: &[u8] = b"sql_calc_found_rows";
        let calc = memchr::memchr_iter(b'_', text).any(|at| {
            at >= 3
                && text
                    .get(at - 3..at - 3 + CALC.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(CALC))
        });
        match calc {
            true => Select::CountedOnConnection,
            false => Select::Plain,
        }
    }
}

impl Session {
    /// The previous statement's values, for a statement that reads them.
    pub(crate) fn previous_values(&self) -> PreviousStatement {
        PreviousStatement {
            in_transaction: self.pins.txn.is_some(),
            warning_count: self.diagnostics.count(),
            error_count: self.diagnostics.error_count(),
            ..self.previous
        }
    }

    /// Keeps `ROW_COUNT()` and `FOUND_ROWS()` after an answer that ended with `finish`.
    pub(crate) fn note_finish(&mut self, finish: &Finish) {
        match finish {
            Finish::Ok {
                rows: Some(rows), ..
            } => {
                self.previous.row_count = -1;
                if self.statement_select == Select::Plain {
                    self.previous.found_rows = *rows;
                }
            }
            Finish::Ok { affected_rows, .. } => {
                self.previous.row_count = i64::try_from(*affected_rows).unwrap_or(i64::MAX)
            }
            Finish::Err(_) | Finish::LocalInfile => self.previous.row_count = -1,
        }
    }

    /// After a statement that counts `FOUND_ROWS()` on its connection (`conn`): the count
    /// MariaDB kept there.
    pub(crate) async fn read_found_rows(&mut self, conn: &mut BackendConn, finish: &Finish) {
        if self.statement_select != Select::CountedOnConnection
            || !matches!(finish, Finish::Ok { .. })
        {
            return;
        }
        match crate::state::query_text(conn, b"SELECT FOUND_ROWS()").await {
            Ok(n) => self.previous.found_rows = n.parse().unwrap_or_default(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read FOUND_ROWS()");
                conn.broken = true;
            }
        }
        // The statement's own rows must not overwrite it.
        self.statement_select = Select::No;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_are_told_from_their_text() {
        let of = |text: &[u8]| Select::of(text, Syntax::default());
        assert_eq!(of(b"SELECT 1"), Select::Plain);
        assert_eq!(
            of(b" /* x */ with c AS (SELECT 1) SELECT * FROM c"),
            Select::Plain
        );
        assert_eq!(
            of(b"select SQL_CALC_FOUND_ROWS * FROM t LIMIT 1"),
            Select::CountedOnConnection
        );
        assert_eq!(of(b"SHOW TABLES"), Select::No);
        assert_eq!(of(b"INSERT INTO t SELECT 1"), Select::CountedOnConnection);
        assert_eq!(
            of(b"CREATE TABLE t AS SELECT 1"),
            Select::CountedOnConnection
        );
        assert_eq!(of(b"INSERT INTO t VALUES (1)"), Select::No);
        assert_eq!(of(b"CREATE TABLE selected (a INT)"), Select::No);
    }
}
