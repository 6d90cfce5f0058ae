//! What the session knows about its previous statement — `ROW_COUNT()`, `FOUND_ROWS()`,
//! `@@warning_count`, `@@error_count`, `@@in_transaction` — kept from the answers it relayed,
//! and written into statements that read them (`router::with_previous_statement`).

use shardgate_backend::BackendConn;
use shardgate_protocol::response::Finish;
use shardgate_router::{PreviousStatement, SelectKind};

use crate::session::Session;

/// Why the session does not know `FOUND_ROWS()` of its previous statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoundRowsUnknown {
    /// Reading it back would have replaced the client's optimizer trace.
    OptimizerTrace,
    /// A write whose own SELECTs set it (`SelectKind::InWrite`) ran other than on one
    /// connection: in steps (its subqueries first) or on several shards.
    InWrite,
    /// A SELECT failed as it ran (`FAILED_AS_IT_RAN`): MariaDB counts what its execution had
    /// reached (the rows sent, a subquery's row), which no answer tells.
    FailedSelect,
}

/// Errors a SELECT raises while it runs, evaluating rows; MariaDB's `FOUND_ROWS()` is then what
/// the execution had counted (a constant subquery's `1242` leaves 1, a correlated one's 0).
/// Errors before it runs (syntax, unknown names, privileges) leave it as it was.
const FAILED_AS_IT_RAN: &[u16] = &[
    1242, 1264, 1292, 1317, 1365, 1366, 1411, 1525, 1690, 1969, 3024,
];

impl FoundRowsUnknown {
    fn message(self) -> &'static str {
        match self {
            FoundRowsUnknown::OptimizerTrace => "FOUND_ROWS() after that statement is not known to shardgate while optimizer_trace is enabled (reading it back would replace the trace): run the SELECT again with optimizer_trace off",
            FoundRowsUnknown::InWrite => "FOUND_ROWS() after that statement is not known to shardgate: MariaDB counts the rows of a write's own SELECTs (INSERT … SELECT, subqueries, joined tables), and shardgate ran it in steps or on several shards; run the SELECT whose rows you need again",
            FoundRowsUnknown::FailedSelect => "FOUND_ROWS() after a SELECT that failed as it ran is not known to shardgate (MariaDB counts what its execution had reached); run the SELECT whose rows you need again",
        }
    }
}

impl Session {
    /// The previous statement's values, for a statement that reads them.
    pub(crate) fn previous_values(&self) -> PreviousStatement {
        PreviousStatement {
            in_transaction: self.pins.txn().is_some(),
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
                // A paged SELECT whose count was not read back on its connection (the proxy
                // answered it): its rows are the best count there is.
                if matches!(self.statement_select, SelectKind::Plain | SelectKind::Paged) {
                    self.set_found_rows(*rows);
                }
            }
            Finish::Ok { affected_rows, .. } => {
                self.previous.row_count = i64::try_from(*affected_rows).unwrap_or(i64::MAX);
                // A SELECT answered by an OK is a `SELECT … INTO`: its affected rows are the
                // rows it selected, which MariaDB's FOUND_ROWS() counts too.
                if self.statement_select == SelectKind::Plain {
                    self.set_found_rows(*affected_rows);
                }
            }
            Finish::Err(e) => self.note_error(e.code),
            Finish::LocalInfile => self.previous.row_count = -1,
        }
    }

    /// Keeps `ROW_COUNT()` and `FOUND_ROWS()` after the statement failed with error `code`.
    pub(crate) fn note_error(&mut self, code: u16) {
        self.previous.row_count = -1;
        match self.statement_select {
            SelectKind::No | SelectKind::InWrite => {}
            // `SELECT … INTO` assigned its first row, then found a second.
            SelectKind::Plain if code == 1172 => self.set_found_rows(1),
            _ if FAILED_AS_IT_RAN.contains(&code) => {
                self.found_rows_unknown = Some(FoundRowsUnknown::FailedSelect);
            }
            _ => {}
        }
    }

    /// `FOUND_ROWS()` is now `rows`, known.
    pub(crate) fn set_found_rows(&mut self, rows: u64) {
        self.previous.found_rows = rows;
        self.found_rows_unknown = None;
    }

    /// The session's `optimizer_trace` has `enabled=on`.
    pub(crate) fn traces_optimizer(&self) -> bool {
        self.state
            .var_string("optimizer_trace")
            .is_some_and(|v| v.to_ascii_lowercase().contains("enabled=on"))
    }

    /// A text that reads `FOUND_ROWS()` while the session does not know it (see
    /// `FoundRowsUnknown`): refused rather than answered wrong.
    pub(crate) fn found_rows_refused(&self, text: &[u8]) -> Option<crate::errors::ClientError> {
        let why = self.found_rows_unknown?;
        memchr::memmem::find(&text.to_ascii_lowercase(), b"found_rows")?;
        Some(crate::errors::ClientError::new(
            1235,
            b"42000",
            why.message(),
        ))
    }

    /// After a statement whose `FOUND_ROWS()` is not its rows (`SelectKind::read_on_connection`),
    /// run on `conn`: the count MariaDB kept there.
    pub(crate) async fn read_found_rows(&mut self, conn: &mut BackendConn, finish: &Finish) {
        if !self.statement_select.read_on_connection() || !matches!(finish, Finish::Ok { .. }) {
            return;
        }
        if self.traces_optimizer() {
            // Reading it would put the proxy's query in INFORMATION_SCHEMA.OPTIMIZER_TRACE in
            // place of the statement the client traced: it stays unknown (`FOUND_ROWS()` is
            // refused until a SELECT sets it again).
            self.found_rows_unknown = Some(FoundRowsUnknown::OptimizerTrace);
            self.statement_select = SelectKind::No;
            return;
        }
        match crate::state::query_text(conn, b"SELECT FOUND_ROWS() LIMIT 1").await {
            Ok(n) => self.set_found_rows(n.parse().unwrap_or_default()),
            Err(e) => {
                tracing::warn!(error = %e, "could not read FOUND_ROWS()");
                conn.broken = true;
            }
        }
        // The statement's own rows must not overwrite it.
        self.statement_select = SelectKind::No;
    }
}
