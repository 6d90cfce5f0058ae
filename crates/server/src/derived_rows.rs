//! Runs a statement answered from copies over the rows of its derived tables
//! (`shardgate_router::OverDerived`, planned in `router/src/derived_rows.rs`): each derived
//! table's rows are read through the proxy (its own plan: one shard, or a scatter merged as
//! any), written into a temporary table on the compute connection that takes its place
//! (typed as MariaDB types a derived table it materializes), the copies of tables the
//! statement names elsewhere are made as usual (`materialize.rs`) and the rewritten statement
//! runs there. Its answer is forwarded with each column's schema and org_table as MariaDB
//! reports them for the client's statement — read from the server's description of that
//! statement, prepared and never run — so no temporary table's name reaches the client.
//!
//! A prepared statement's execution (its values written in) gets the text rows encoded in the
//! binary protocol, unless the answer has a FLOAT / DOUBLE column (its text may show fewer
//! digits than MariaDB's binary value).
//!
//! Declined, for the copies of every table instead (MariaDB's own answer or error): for a
//! prepared statement's execution with FLOAT / DOUBLE columns; when a derived table's rows raised
//! conditions (they would be lost: the statement's warnings are its answer's); when its merge
//! groups and a column is FLOAT or DOUBLE (a sum across shards adds in another order than
//! MariaDB's); when a column
//! is FLOAT or TIMESTAMP (their text is not their value: digits dropped, a time zone's
//! repeated hour), geometry, or strings in a character set other than utf8mb4 or binary; and
//! when any step fails — reading the rows, describing the statement, or writing them (in
//! strict mode: a value the temporary table would change is an error, never a silent change).

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use shardgate_backend::{LocalFiles, PooledConn, QueryHead};
use shardgate_merge::{BinaryRowEncoder, ColumnMeta, ValueKind};
use shardgate_protocol::forward::ForwardError;
use shardgate_protocol::response::Finish;
use shardgate_protocol::tls::ClientStream;
use shardgate_protocol::{CapabilityFlags, ColumnType, PacketConn, ProtocolError, StatusFlags};
use shardgate_router::{OverDerived, Plan, Route};
use shardgate_wire::column_definition::{origin, with_origin};
use shardgate_wire::packets;

use crate::errors::ClientError;
use crate::materialize::{Compute, BATCH_BYTES};
use crate::runtime::Runtime;
use crate::select_rows::RowsOf;
use crate::session::Session;

/// One derived table's rows, read by the proxy.
pub(crate) struct DerivedTable {
    /// How each column's cells are written back.
    forms: Vec<CellForm>,
    /// The columns' names and metadata.
    pub(crate) names: Vec<String>,
    pub(crate) columns: Vec<ColumnMeta>,
    /// Text-protocol rows.
    pub(crate) rows: Vec<Bytes>,
}

/// How a column's text cells are written back as literals the temporary table stores as the
/// same values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CellForm {
    /// Integers, DECIMAL, DOUBLE, YEAR: the text, a number.
    Number,
    /// Dates and times: the text, quoted.
    Quoted,
    /// Strings, blobs, ENUM, SET, JSON, BIT: the bytes in hex, in character set utf8mb4
    /// (`true`) or binary.
    Hex { utf8mb4: bool },
    /// `MYSQL_TYPE_NULL`: every cell is NULL.
    Null,
}

impl CellForm {
    /// The form for a column, `None` when its text is not its value or its character set is
    /// not one the proxy writes back.
    fn of(meta: &ColumnMeta) -> Option<CellForm> {
        use ColumnType::*;
        Some(match meta.column_type {
            // Its text drops digits.
            MYSQL_TYPE_FLOAT => return None,
            t if crate::select_rows::is_numeric(t) => CellForm::Number,
            MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE | MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => CellForm::Quoted,
            MYSQL_TYPE_NULL => CellForm::Null,
            MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_ENUM
            | MYSQL_TYPE_SET
            | MYSQL_TYPE_JSON
            | MYSQL_TYPE_BIT => match meta.charset {
                63 => CellForm::Hex { utf8mb4: false },
                id if shardgate_merge::charset_is(id, &["utf8mb4"]) => {
                    CellForm::Hex { utf8mb4: true }
                }
                _ => return None,
            },
            // FLOAT, TIMESTAMP, geometry, and anything newer.
            _ => return None,
        })
    }

    /// Appends `cell` (`None`: NULL) as a literal; `Err` when its text is not of this form.
    fn write(self, cell: Option<&[u8]>, out: &mut String) -> Result<(), ()> {
        let Some(cell) = cell else {
            out.push_str("NULL");
            return Ok(());
        };
        match self {
            CellForm::Null => out.push_str("NULL"),
            CellForm::Number
                if !cell.is_empty()
                    && cell
                        .iter()
                        .all(|c| c.is_ascii_digit() || b".-+eE".contains(c)) =>
            {
                out.push_str(std::str::from_utf8(cell).map_err(drop)?)
            }
            CellForm::Quoted
                if cell
                    .iter()
                    .all(|c| c.is_ascii_digit() || b"-:. ".contains(c)) =>
            {
                out.push('\'');
                out.push_str(std::str::from_utf8(cell).map_err(drop)?);
                out.push('\'');
            }
            CellForm::Hex { utf8mb4 } => {
                if utf8mb4 {
                    out.push_str("_utf8mb4 ");
                }
                out.push_str("X'");
                for b in cell {
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0xf)]));
                }
                out.push('\'');
            }
            CellForm::Number | CellForm::Quoted => return Err(()),
        }
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Whether the derived table's merge may have added FLOAT / DOUBLE values across shards (a
/// grouped scatter with such a column): MariaDB's sum depends on its row order, and the copies
/// give its own.
fn sums_floats(plan: &Plan, columns: &[ColumnMeta]) -> bool {
    let Route::Scatter(scatter) = &plan.route else {
        return false;
    };
    scatter.merge.aggregate.is_some()
        && columns
            .iter()
            .any(|c| matches!(c.kind(), ValueKind::Float | ValueKind::Double))
}

impl Session {
    /// The rows of `over`'s derived tables, read through the proxy; `None` when the statement
    /// is to be answered from copies of every table instead (see the module's comment).
    pub(crate) async fn read_derived(
        &mut self,
        runtime: &Runtime,
        over: &OverDerived,
    ) -> Option<Vec<DerivedTable>> {
        let mut tables = Vec::with_capacity(over.derived.len());
        for derived in &over.derived {
            let request = RowsOf {
                select: &derived.select,
                purpose: format!("derived table `{}`", derived.alias),
                columns: None,
                wrong_columns: || ClientError::new(1105, b"HY000", "a derived table's rows"),
                over_copies: false,
            };
            let selected = match self.selected_rows(runtime, &request).await {
                Ok(selected) => selected,
                Err(e) => {
                    tracing::debug!(derived = %derived.alias, error = %e.message, "a derived table's rows were not read: from copies");
                    return None;
                }
            };
            if !selected.diagnostics.is_empty() || sums_floats(&derived.plan, &selected.columns) {
                return None;
            }
            let forms: Option<Vec<CellForm>> = selected.columns.iter().map(CellForm::of).collect();
            tables.push(DerivedTable {
                forms: forms?,
                names: selected.names,
                columns: selected.columns,
                rows: selected.rows,
            });
        }
        Some(tables)
    }
}

/// Writes each derived table's rows into its temporary table on `compute`, after reading the
/// column definitions the server describes for the client's statement `text` (before any
/// temporary table shadows a name it reads). For `binary` rows, the answer must have no
/// FLOAT / DOUBLE column: its text (which the proxy encodes) may show fewer digits than the
/// binary protocol.
pub(crate) async fn fill_derived(
    compute: &mut Compute,
    over: &OverDerived,
    tables: Vec<DerivedTable>,
    text: &[u8],
    binary: bool,
) -> Result<Vec<BytesMut>, ClientError> {
    let described = match compute.conn().describe(text).await {
        Ok(Ok(definitions)) => definitions,
        Ok(Err(e)) => return Err(ClientError::from(e)),
        Err(e) => return Err(ClientError::from(&e)),
    };
    if binary {
        let metas: Result<Vec<ColumnMeta>, _> = described
            .iter()
            .map(|d| ColumnMeta::from_definition(d))
            .collect();
        let floats = metas
            .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))?
            .iter()
            .any(|m| matches!(m.kind(), ValueKind::Float | ValueKind::Double));
        if floats {
            return Err(ClientError::new(
                1235,
                b"42000",
                "a FLOAT / DOUBLE column in binary rows",
            ));
        }
    }
    for (derived, table) in over.derived.iter().zip(tables) {
        compute.temporary.push(derived.table.clone());
        // A lookup table's index: at most MariaDB's 32 key parts (its columns are numbers or
        // dates, `subquery_values.rs`, short enough for one key).
        let key: &[String] = match derived.looked_up && table.names.len() <= 32 {
            true => &table.names,
            false => &[],
        };
        compute.run(&derived.create_sql(key)).await?;
        // Strict: a value the table would change (truncate, convert) fails the copy, and the
        // statement is answered from copies of its tables instead.
        let head = format!(
            "SET STATEMENT sql_mode = 'STRICT_ALL_TABLES' FOR INSERT INTO {} VALUES ",
            derived.table
        );
        let mut batch = String::new();
        for row in &table.rows {
            batch.push_str(if batch.is_empty() { &head } else { "," });
            batch.push('(');
            for (i, form) in table.forms.iter().enumerate() {
                if i > 0 {
                    batch.push(',');
                }
                let cell = shardgate_wire::text_row::text_cell(row, i)
                    .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))?;
                form.write(cell, &mut batch).map_err(|()| {
                    ClientError::new(
                        1105,
                        b"HY000",
                        "a derived table's cell is not its type's text",
                    )
                })?;
            }
            batch.push(')');
            if batch.len() >= BATCH_BYTES {
                compute.run(&batch).await?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            compute.run(&batch).await?;
        }
    }
    Ok(described)
}

/// The statement over the derived tables' rows, its answer forwarded with the described
/// origins (run by `run_work!`, as any work).
pub(crate) struct OverDerivedWork<'a> {
    pub sql: &'a [u8],
    /// The client's statement's column definitions, as the server describes them.
    pub described: &'a [BytesMut],
    pub over: &'a OverDerived,
    /// The status flags the client gets (the session's).
    pub status: StatusFlags,
    pub capabilities: CapabilityFlags,
    /// The client takes binary-protocol rows (a prepared statement's execution): the text
    /// rows are encoded.
    pub binary: bool,
}

impl OverDerivedWork<'_> {
    /// Sends the statement on `conn` and writes its answer to `client`: a column that comes
    /// from a temporary table gets the schema and org_table of the described column in its
    /// place.
    pub(crate) async fn run(
        &self,
        conn: &mut PooledConn,
        _local_files: LocalFiles,
        client: &mut PacketConn<ClientStream>,
    ) -> Result<Finish, ForwardError> {
        let backend = |error: ProtocolError, partial| ForwardError::Backend { error, partial };
        let protocol = shardgate_backend::BackendError::into_protocol;
        let head = conn
            .query_rows(self.sql)
            .await
            .map_err(|e| backend(protocol(e), false))?;
        let definitions = match head {
            QueryHead::Columns(definitions) => definitions,
            QueryHead::Done(Finish::Err(e)) => {
                client.queue_packet(&packets::err(e.code, &e.state, &e.message));
                client.flush().await.map_err(ForwardError::Client)?;
                return Ok(Finish::Err(e));
            }
            QueryHead::Done(_) => {
                return Err(backend(
                    ProtocolError::malformed("the statement answered without a result set"),
                    false,
                ))
            }
        };
        let encoder = match self.binary {
            true => {
                let metas: Result<Vec<ColumnMeta>, _> = definitions
                    .iter()
                    .map(|d| ColumnMeta::from_definition(d))
                    .collect();
                match metas {
                    Ok(metas) => Some(BinaryRowEncoder::new(&metas)),
                    Err(e) => {
                        conn.broken = true;
                        return Err(backend(ProtocolError::malformed(e.to_string()), false));
                    }
                }
            }
            false => None,
        };
        let head = definitions.iter().enumerate().map(|(i, definition)| {
            match self.described_origin(definition, i) {
                Some(replaced) => Cow::Owned(replaced),
                None => Cow::Borrowed(&definition[..]),
            }
        });
        client.queue_result_head(head, self.capabilities, self.status);
        let mut partial = false;
        let mut encoded = Vec::new();
        loop {
            match conn.next_row().await {
                Ok(Ok(row)) => {
                    match &encoder {
                        Some(encoder) => {
                            encoded.clear();
                            if let Err(e) = encoder.encode(&row, &mut encoded) {
                                conn.broken = true;
                                client.write_buffer().clear();
                                let error = ProtocolError::malformed(e.to_string());
                                return Err(backend(error, partial));
                            }
                            client.queue_packet(&encoded);
                        }
                        None => client.queue_packet(&row),
                    }
                    if client.write_buffer().len() >= FLUSH_AT {
                        partial = true;
                        client.flush().await.map_err(ForwardError::Client)?;
                    }
                }
                Ok(Err(finish @ Finish::Ok { warnings, .. })) => {
                    let end = packets::result_terminator(self.capabilities, self.status, warnings);
                    client.queue_packet(&end);
                    client.flush().await.map_err(ForwardError::Client)?;
                    return Ok(finish);
                }
                Ok(Err(Finish::Err(e))) => {
                    client.queue_packet(&packets::err(e.code, &e.state, &e.message));
                    client.flush().await.map_err(ForwardError::Client)?;
                    return Ok(Finish::Err(e));
                }
                Ok(Err(Finish::LocalInfile)) => {
                    conn.broken = true;
                    client.write_buffer().clear();
                    return Err(backend(
                        ProtocolError::malformed("unexpected LOCAL INFILE"),
                        partial,
                    ));
                }
                Err(e) => {
                    client.write_buffer().clear();
                    return Err(backend(protocol(e), partial));
                }
            }
        }
    }

    /// Column `i`'s definition with the described origin, when it comes from a temporary
    /// table of a derived table.
    fn described_origin(&self, definition: &[u8], i: usize) -> Option<Vec<u8>> {
        let (_, org_table) = origin(definition)?;
        let temporary = self
            .over
            .derived
            .iter()
            .any(|d| d.table.as_bytes().get(1..d.table.len() - 1) == Some(org_table));
        if !temporary {
            return None;
        }
        let (schema, org_table) = origin(self.described.get(i)?)?;
        with_origin(definition, schema, org_table)
    }
}

/// Client output buffered before a flush.
const FLUSH_AT: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use shardgate_protocol::ColumnFlags;

    fn meta(column_type: ColumnType, charset: u16) -> ColumnMeta {
        ColumnMeta {
            column_type,
            flags: ColumnFlags::empty(),
            charset,
            decimals: 0,
            length: 10,
        }
    }

    fn written(form: CellForm, cell: Option<&[u8]>) -> Option<String> {
        let mut out = String::new();
        form.write(cell, &mut out).ok().map(|()| out)
    }

    #[test]
    fn cells_are_written_back_as_their_values() {
        use ColumnType::*;
        let number = CellForm::of(&meta(MYSQL_TYPE_NEWDECIMAL, 63)).unwrap();
        assert_eq!(written(number, Some(b"-12.50")).unwrap(), "-12.50");
        assert_eq!(written(number, Some(b"1e300")).unwrap(), "1e300");
        assert_eq!(written(number, None).unwrap(), "NULL");
        assert_eq!(written(number, Some(b"1; DROP")), None);
        let date = CellForm::of(&meta(MYSQL_TYPE_DATETIME, 63)).unwrap();
        assert_eq!(
            written(date, Some(b"2024-02-29 10:00:00.5")).unwrap(),
            "'2024-02-29 10:00:00.5'"
        );
        assert_eq!(written(date, Some(b"x'")), None);
        let text = CellForm::of(&meta(MYSQL_TYPE_VAR_STRING, 45)).unwrap();
        assert_eq!(
            written(text, Some("é'".as_bytes())).unwrap(),
            "_utf8mb4 X'C3A927'"
        );
        assert_eq!(written(text, Some(b"")).unwrap(), "_utf8mb4 X''");
        let blob = CellForm::of(&meta(MYSQL_TYPE_BLOB, 63)).unwrap();
        assert_eq!(written(blob, Some(&[0, 255])).unwrap(), "X'00FF'");
    }

    #[test]
    fn columns_whose_text_is_not_their_value_are_declined() {
        use ColumnType::*;
        for (t, charset) in [
            (MYSQL_TYPE_FLOAT, 63),
            (MYSQL_TYPE_TIMESTAMP, 63),
            (MYSQL_TYPE_GEOMETRY, 63),
            // latin1 and utf8mb3 results: the column's own value may not have survived.
            (MYSQL_TYPE_VAR_STRING, 8),
            (MYSQL_TYPE_VAR_STRING, 33),
        ] {
            assert_eq!(CellForm::of(&meta(t, charset)), None, "{t:?} {charset}");
        }
    }
}
