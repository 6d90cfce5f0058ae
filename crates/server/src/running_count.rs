//! `@r := @r + 1` in a SELECT across shards whose rows come in the order MariaDB evaluates
//! them (`AssigningSelect::ordered`): the proxy numbers the rows itself, from the variable's
//! value before the statement (asked of the default shard), as MariaDB would count them one
//! row after the other, and leaves the variable at the last row's count.

use bytes::Bytes;
use shardgate_merge::{ColumnMeta, ValueKind};
use shardgate_router::Assigned;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::Session;

/// A running count's start, as MariaDB's `@r + step` computes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// An integer: the count goes on from it.
    Integer(i64),
    /// NULL: every row's count is NULL, of the type the statement's column has.
    Null,
}

impl Session {
    /// The values the variables of `counts` hold before the statement, in their order.
    pub(crate) async fn count_starts(
        &self,
        runtime: &Runtime,
        counts: &[&Assigned],
    ) -> Result<Vec<Start>, ClientError> {
        let refused = |why: String| {
            ClientError::new(
                1235,
                b"42000",
                format!("a running count ({why}) in a SELECT across shards is not supported by shardgate"),
            )
        };
        let names: Vec<&str> = counts.iter().map(|a| a.name.as_str()).collect();
        let sql = format!("SELECT {}", names.join(", "));
        let pool = runtime.primary_of(self.pass_through.as_ref(), runtime.topology.default_shard);
        let mut conn = pool
            .get(self.flavor)
            .await
            .map_err(|e| ClientError::from(&e))?;
        self.state
            .sync(&mut conn)
            .await
            .map_err(|e| ClientError::from(&e))?;
        let unread = || ClientError::new(1105, b"HY000", "the variables could not be read");
        let (heads, rows) = match crate::state::result_rows(&mut conn, sql.as_bytes()).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => return Err(ClientError::from(&e)),
        };
        let row = rows.last().ok_or_else(unread)?;
        let mut starts = Vec::with_capacity(counts.len());
        for (i, (head, name)) in heads.iter().zip(&names).enumerate() {
            let meta = ColumnMeta::from_definition(head)
                .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))?;
            let cell = shardgate_wire::text_row::text_cell(row, i)
                .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))?;
            starts.push(match cell {
                None => Start::Null,
                Some(text) if matches!(meta.kind(), ValueKind::Int | ValueKind::UInt) => {
                    let value = std::str::from_utf8(text).ok().and_then(|t| t.parse().ok());
                    Start::Integer(value.ok_or_else(|| {
                        refused(format!("{name} holds an integer beyond BIGINT's range"))
                    })?)
                }
                Some(_) => {
                    return Err(refused(format!(
                        "{name} holds a value that is not an integer, whose sums MariaDB computes as DECIMAL or DOUBLE"
                    )))
                }
            });
        }
        Ok(starts)
    }
}

/// Numbers `rows` (text rows of `width` cells, in the answer's order) in the columns of
/// `counts`, each from its `starts`; the counts' last values (`None`: NULL). A count beyond
/// BIGINT's range is MariaDB's error 1690.
pub(crate) fn number_rows(
    rows: &mut [Bytes],
    width: usize,
    counts: &[&Assigned],
    starts: &[Start],
) -> Result<Vec<Option<i64>>, ClientError> {
    let malformed =
        |e: shardgate_wire::MalformedCell| ClientError::new(1105, b"HY000", e.to_string());
    let mut values: Vec<Option<i64>> = (starts.iter())
        .map(|s| match s {
            Start::Integer(n) => Some(*n),
            Start::Null => None,
        })
        .collect();
    for row in rows.iter_mut() {
        let mut pos = 0;
        let mut cells: Vec<Option<Vec<u8>>> = Vec::with_capacity(width);
        for column in 0..width {
            let range =
                shardgate_wire::text_row::read_cell(row, &mut pos, column).map_err(malformed)?;
            cells.push(range.map(|(start, end)| row[start..end].to_vec()));
        }
        for (count, value) in counts.iter().zip(values.iter_mut()) {
            let step = count.step.unwrap_or(0);
            *value = match *value {
                Some(v) => Some(v.checked_add(step).ok_or_else(|| {
                    ClientError::new(
                        1690,
                        b"22003",
                        format!("BIGINT value is out of range in '{} + {step}'", count.name),
                    )
                })?),
                None => None,
            };
            if let Some(cell) = cells.get_mut(count.column) {
                *cell = value.map(|v| v.to_string().into_bytes());
            }
        }
        *row = Bytes::from(shardgate_wire::text_row::text_row(
            cells.iter().map(Option::as_deref),
        ));
    }
    Ok(values)
}

/// The statement that leaves `name` at a count's last `value`, typed as the statement's
/// column `meta` (a NULL count is NULL of that type).
pub(crate) fn count_literal(value: Option<i64>, meta: &ColumnMeta) -> String {
    match (value, meta.kind()) {
        (Some(v), _) => v.to_string(),
        (None, ValueKind::Int | ValueKind::UInt) => "CAST(NULL AS SIGNED)".to_owned(),
        (None, ValueKind::Decimal) => "CAST(NULL AS DECIMAL)".to_owned(),
        (None, _) => "CAST(NULL AS DOUBLE)".to_owned(),
    }
}
