//! The previous statement's warnings and errors, as `SHOW WARNINGS`, `SHOW ERRORS` and
//! `SHOW COUNT(*) WARNINGS | ERRORS` list them. MariaDB keeps them on the connection that ran
//! the statement, which the pool hands to anyone next: right after a statement that raised
//! any, the session reads them there (one `SHOW WARNINGS` on the same connection) and answers
//! the diagnostics statements itself.
//!
//! MariaDB's rule for the list: a statement that raises a condition starts it afresh with
//! its own; one that raises none leaves it as it was, unless it uses a table (then empty).

use bytes::Bytes;
use shardgate_backend::{BackendConn, BackendError, QueryHead};
use shardgate_protocol::response::Finish;
use shardgate_router::DiagnosticsStatement;
use shardgate_wire::packets;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{End, Session, Step};

/// One statement's conditions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Diagnostics {
    /// `SHOW WARNINGS` rows (Level, Code, Message) in the text protocol, as MariaDB wrote them
    /// (in the session's result character set).
    rows: Vec<Bytes>,
    /// How many conditions the statement raised (more than `rows` past `max_error_count`).
    count: u64,
    /// The statement raised conditions the proxy could not read: listing them is refused.
    unknown: bool,
}

impl Diagnostics {
    /// The one error the proxy itself answered a statement with.
    pub fn error(e: &ClientError) -> Self {
        let code = e.code.to_string();
        let row = shardgate_wire::text_row::text_row([
            Some(&b"Error"[..]),
            Some(code.as_bytes()),
            Some(e.message.as_bytes()),
        ]);
        Diagnostics {
            rows: vec![Bytes::from(row)],
            count: 1,
            unknown: false,
        }
    }

    /// Warnings the proxy's merge raised: `kept` (code, message) listed, `count` in all.
    pub fn warnings(kept: &[(u16, String)], count: u64) -> Self {
        Self::conditions("Warning", kept, count)
    }

    /// One note the proxy raised in a server's words.
    pub fn note(code: u16, message: String) -> Self {
        Self::conditions("Note", &[(code, message)], 1)
    }

    fn conditions(level: &str, kept: &[(u16, String)], count: u64) -> Self {
        let rows = kept
            .iter()
            .map(|(code, message)| {
                let code = code.to_string();
                Bytes::from(shardgate_wire::text_row::text_row([
                    Some(level.as_bytes()),
                    Some(code.as_bytes()),
                    Some(message.as_bytes()),
                ]))
            })
            .collect();
        Diagnostics {
            rows,
            count,
            unknown: false,
        }
    }

    /// Conditions raised where the proxy could not read them.
    pub fn unknown(count: u64) -> Self {
        Diagnostics {
            rows: Vec::new(),
            count,
            unknown: true,
        }
    }

    /// Adds the conditions one shard of a statement over several raised.
    pub fn extend(&mut self, other: Diagnostics) {
        self.rows.extend(other.rows);
        self.count += other.count;
        self.unknown |= other.unknown;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0 && !self.unknown
    }

    /// `@@warning_count`: every condition raised.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `@@error_count`.
    pub fn error_count(&self) -> u64 {
        self.error_rows().count() as u64
    }

    pub fn clear(&mut self) {
        *self = Diagnostics::default();
    }

    fn error_rows(&self) -> impl Iterator<Item = &Bytes> {
        self.rows
            .iter()
            .filter(|row| level(row) == Some(&b"Error"[..]))
    }
}

/// The Level column of a `SHOW WARNINGS` row.
fn level(row: &[u8]) -> Option<&[u8]> {
    let (len, used) = shardgate_wire::lenenc::read_lenenc_int(row)?;
    row.get(used..used + usize::try_from(len).ok()?)
}

/// Whether an answer that ended with `finish` raised conditions.
pub(crate) fn raised(finish: &Finish) -> bool {
    match finish {
        Finish::Ok { warnings, .. } => *warnings > 0,
        Finish::Err(_) => true,
        Finish::LocalInfile => false,
    }
}

/// Reads the conditions the statement just run on `conn` raised (`warnings`: the count its
/// answer reported, 0 for an error).
pub(crate) async fn read(
    conn: &mut BackendConn,
    warnings: u16,
) -> Result<Diagnostics, BackendError> {
    let QueryHead::Columns(_) = conn.query_rows(b"SHOW WARNINGS").await? else {
        return Ok(Diagnostics::unknown(u64::from(warnings.max(1))));
    };
    let mut rows = Vec::new();
    while let Ok(row) = conn.next_row().await? {
        rows.push(row);
    }
    let count = u64::from(warnings).max(rows.len() as u64);
    Ok(Diagnostics {
        rows,
        count,
        unknown: false,
    })
}

/// The conditions after a statement that ended with `finish` on `conn`: read from the
/// connection when it raised any. A connection that cannot answer is retired.
pub(crate) async fn after(conn: &mut BackendConn, finish: &Finish) -> Option<Diagnostics> {
    if !raised(finish) {
        return None;
    }
    let warnings = match finish {
        Finish::Ok { warnings, .. } => *warnings,
        _ => 0,
    };
    Some(match read(conn, warnings).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the statement's warnings");
            conn.broken = true;
            Diagnostics::unknown(u64::from(warnings.max(1)))
        }
    })
}

/// The column definitions `sql` answers on `conn` (its rows read and dropped).
async fn read_head(conn: &mut BackendConn, sql: &[u8]) -> Result<QueryHead, BackendError> {
    let head = conn.query_rows(sql).await?;
    if let QueryHead::Columns(_) = &head {
        while conn.next_row().await?.is_ok() {}
    }
    Ok(head)
}

/// `LIMIT [offset,] count` / `LIMIT count OFFSET offset` of a `SHOW WARNINGS | ERRORS`.
fn limit_of(sql: &str) -> (usize, usize) {
    let lower = sql.to_ascii_lowercase();
    let Some(at) = lower.find("limit") else {
        return (0, usize::MAX);
    };
    let numbers: Vec<usize> = lower[at + 5..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect();
    match (numbers.as_slice(), lower[at..].contains("offset")) {
        ([count, offset], true) => (*offset, *count),
        ([offset, count], false) => (*offset, *count),
        ([count], _) => (0, *count),
        _ => (0, usize::MAX),
    }
}

impl Session {
    /// Keeps what the statement that ended with `finish` on `conn` raised.
    /// Also `FOUND_ROWS()` where it is not the rows returned (read on the same connection).
    pub(crate) async fn keep_diagnostics(&mut self, conn: &mut BackendConn, finish: &Finish) {
        // Checked here first: most answers raise nothing and are no SQL_CALC_FOUND_ROWS.
        if raised(finish) {
            if let Some(d) = after(conn, finish).await {
                self.diagnostics = d;
                self.diagnostics_read = true;
            }
        }
        if self.statement_select.read_on_connection() {
            self.read_found_rows(conn, finish).await;
        }
    }

    /// Answers `SHOW WARNINGS | ERRORS [LIMIT …]` and `SHOW COUNT(*) WARNINGS | ERRORS` from
    /// the conditions the session kept: MariaDB's column definitions (from the same statement
    /// run where nothing was raised), the kept rows. It leaves the list as it was.
    pub(crate) async fn show_diagnostics(
        &mut self,
        runtime: &Runtime,
        statement: DiagnosticsStatement,
        sql: &str,
    ) -> Step {
        if self.diagnostics.unknown {
            let e = ClientError::new(
                1235,
                b"42000",
                "the previous statement's warnings were raised where shardgate could not read them (a backend connection failed while reading them)",
            );
            let kept = self.diagnostics.clone();
            self.send_error(e).await?;
            self.diagnostics = kept;
            return Ok(());
        }
        let errors = sql.to_ascii_lowercase().contains("errors");
        let (head_sql, rows): (&[u8], Vec<Bytes>) = match statement {
            DiagnosticsStatement::Count => {
                let n = match errors {
                    true => self.diagnostics.error_rows().count() as u64,
                    false => self.diagnostics.count,
                };
                let n = n.to_string();
                // A `SELECT @@warning_count` to MariaDB: `sql_select_limit = 0` leaves no row.
                let row = Bytes::from(shardgate_wire::text_row::text_row([Some(n.as_bytes())]));
                let rows = match self.state.var_number("sql_select_limit") {
                    Some(0) => Vec::new(),
                    _ => vec![row],
                };
                (sql.as_bytes(), rows)
            }
            DiagnosticsStatement::Warnings | DiagnosticsStatement::Errors => {
                let (offset, count) = limit_of(sql);
                let rows: Vec<Bytes> = match statement {
                    DiagnosticsStatement::Errors => {
                        self.diagnostics.error_rows().cloned().collect()
                    }
                    _ => self.diagnostics.rows.clone(),
                };
                let empty = statement.empty_answer().expect("a list");
                (
                    empty.as_bytes(),
                    rows.into_iter().skip(offset).take(count).collect(),
                )
            }
        };
        let shard = runtime.topology.default_shard;
        let head = match self.lend_conn(runtime, shard).await {
            Ok(mut lent) => {
                let head = read_head(&mut lent.conn, head_sql).await;
                self.give_back_lent(shard, lent);
                head
            }
            Err(e) => Err(e),
        };
        let columns = match head {
            Ok(QueryHead::Columns(columns)) => columns,
            Ok(QueryHead::Done(Finish::Err(e))) => {
                return self.send_error(ClientError::from(e)).await
            }
            Ok(QueryHead::Done(_)) => {
                let e = ClientError::new(1105, b"HY000", "SHOW WARNINGS answered without rows");
                return self.send_error(e).await;
            }
            Err(e) => return self.send_error(ClientError::from(&e)).await,
        };
        let mut out = Vec::with_capacity(columns.len() + rows.len() + 3);
        out.push(packets::column_count(columns.len() as u64));
        out.extend(columns.iter().map(|c| c.to_vec()));
        if !self.flavor.deprecate_eof() {
            out.push(packets::eof(self.status(), 0));
        }
        out.extend(rows.iter().map(|r| r.to_vec()));
        out.push(packets::result_terminator(
            self.capabilities,
            self.status(),
            0,
        ));
        // A statement that answers rows leaves ROW_COUNT() at -1, as on the server.
        self.previous.row_count = -1;
        for packet in &out {
            self.client
                .write_packet(packet)
                .await
                .map_err(End::Client)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_like_mariadb() {
        assert_eq!(limit_of("SHOW WARNINGS"), (0, usize::MAX));
        assert_eq!(limit_of("show warnings limit 2"), (0, 2));
        assert_eq!(limit_of("SHOW WARNINGS LIMIT 1, 5"), (1, 5));
        assert_eq!(limit_of("SHOW ERRORS LIMIT 5 OFFSET 1"), (1, 5));
    }

    #[test]
    fn error_rows_are_told_by_their_level() {
        let e = ClientError::new(1235, b"42000", "no");
        let d = Diagnostics::error(&e);
        assert_eq!(d.error_rows().count(), 1);
        assert_eq!(d.count, 1);
        let warning = Bytes::from(shardgate_wire::text_row::text_row([
            Some(&b"Warning"[..]),
            Some(&b"1365"[..]),
            Some(&b"Division by 0"[..]),
        ]));
        let d = Diagnostics {
            rows: vec![warning],
            count: 1,
            unknown: false,
        };
        assert_eq!(d.error_rows().count(), 0);
    }
}
