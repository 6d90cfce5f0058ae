//! What the session knows about its previous statement — `ROW_COUNT()`, `FOUND_ROWS()`,
//! `@@warning_count`, `@@error_count`, `@@in_transaction` — kept from the answers it relayed,
//! and written into statements that read them (`router::with_previous_statement`).

use shardgate_backend::BackendConn;
use shardgate_protocol::response::Finish;
use shardgate_router::PreviousStatement;

use crate::session::Session;

/// Whether a statement is a SELECT, and whether it asks for `SQL_CALC_FOUND_ROWS` (whose
/// count only the connection that ran it knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Select {
    #[default]
    No,
    Plain,
    CalcFoundRows,
}

impl Select {
    /// From the statement's text (after leading spaces and comments).
    pub fn of(text: &[u8]) -> Self {
        let head = crate::session::after_comments(text);
        let word = |w: &[u8]| {
            head.get(..w.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(w))
        };
        if !(word(b"select") || word(b"with") || word(b"(")) {
            return Select::No;
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
            true => Select::CalcFoundRows,
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

    /// After a `SQL_CALC_FOUND_ROWS` SELECT on `conn`: the count MariaDB kept there.
    pub(crate) async fn read_found_rows(&mut self, conn: &mut BackendConn, finish: &Finish) {
        if self.statement_select != Select::CalcFoundRows || !matches!(finish, Finish::Ok { .. }) {
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
        assert_eq!(Select::of(b"SELECT 1"), Select::Plain);
        assert_eq!(
            Select::of(b" /* x */ with c AS (SELECT 1) SELECT * FROM c"),
            Select::Plain
        );
        assert_eq!(
            Select::of(b"select SQL_CALC_FOUND_ROWS * FROM t LIMIT 1"),
            Select::CalcFoundRows
        );
        assert_eq!(Select::of(b"SHOW TABLES"), Select::No);
        assert_eq!(Select::of(b"INSERT INTO t SELECT 1"), Select::No);
    }
}
