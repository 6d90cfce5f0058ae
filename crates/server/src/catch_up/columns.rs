//! A followed table's columns, read from the source's `information_schema` (the binlog's
//! table map lacks their names, signedness and which are generated or the primary key).

use shardgate_backend::BackendConn;
use shardgate_binlog::{Column, ColumnKind, Table};

use super::sql::{rows, string_literal};
use super::CatchUpError;

/// `database`.`table` as it is defined on the source now.
pub(super) async fn read_table(
    conn: &mut BackendConn,
    source: &str,
    database: &str,
    table: &str,
    shard_key: &str,
) -> Result<Table, CatchUpError> {
    let sql = format!(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, EXTRA, COLUMN_KEY FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
        string_literal(database),
        string_literal(table)
    );
    let failed = |error: String| CatchUpError::Table {
        source_shard: source.to_owned(),
        table: table.to_owned(),
        error,
    };
    let found = rows(conn, &sql, 5)
        .await?
        .map_err(|e| failed(e.to_string()))?;
    if found.is_empty() {
        return Err(failed("no such table on the source".into()));
    }
    let columns = (found.into_iter())
        .map(|row| {
            let cell = |i: usize| row[i].clone().unwrap_or_default().to_ascii_lowercase();
            Column {
                name: row[0].clone().unwrap_or_default(),
                kind: ColumnKind::of(&cell(1), &cell(2)),
                generated: cell(3).contains("generated"),
                primary_key: cell(4) == "pri",
            }
        })
        .collect();
    Table::new(database, table, columns, shard_key).map_err(|e| failed(e.to_string()))
}
