//! `INSERT` / `REPLACE … RETURNING` whose rows the planner split by shard (`Route::Split`):
//! each shard's part answers the rows it wrote, and the proxy answers them as one result set
//! in the order of the statement's VALUES, as MariaDB does (an ORM pairs the returned ids with
//! the objects it inserted by that order). The parts run as any split write (all commit or
//! none, `fan_out.rs`); the rows are put back in order by the shard of each VALUES row
//! (`router::insert_row_shards`). Only when every VALUES row answered one row: where a part
//! answered fewer (`INSERT IGNORE` skipping a duplicate), which rows are missing cannot be
//! told, and the statement is taken back everywhere (1235). A `DELETE … RETURNING` on
//! several shards (without ORDER BY or LIMIT: the planner refuses those) answers each shard's
//! rows one shard after the other, as a scatter's SELECT without ORDER BY.

use bytes::{Bytes, BytesMut};
use shardgate_backend::{BackendError, QueryHead};
use shardgate_protocol::response::Finish;
use shardgate_ring::ShardId;

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::session::{Session, Step};
use crate::set_operation::Evaluated;

/// A part's returned rows: their column definitions and rows (text protocol).
pub(crate) type Returned = (Vec<BytesMut>, Vec<Bytes>);

/// How the returned rows of a write on several shards go back in order.
pub(crate) struct Returning {
    /// For each VALUES row of an INSERT, the index of the part (shard) it went to; `None`
    /// for a DELETE, whose rows have no order but each shard's (as a scatter's).
    row_parts: Option<Vec<usize>>,
    /// The answer is a prepared statement's execution's (binary rows).
    pub(crate) binary: bool,
}

impl Returning {
    /// The order of the rows of an INSERT split into `parts` (each shard's, ascending), from
    /// the shard of each of its rows; `None` when they do not match.
    pub(crate) fn new(row_shards: &[ShardId], parts: &[ShardId], binary: bool) -> Option<Self> {
        let row_parts = (row_shards.iter())
            .map(|shard| parts.iter().position(|p| p == shard))
            .collect::<Option<Vec<usize>>>()?;
        Some(Returning {
            row_parts: Some(row_parts),
            binary,
        })
    }

    /// A DELETE's rows: each shard's, one shard after the other.
    pub(crate) fn concatenated(binary: bool) -> Self {
        Returning {
            row_parts: None,
            binary,
        }
    }

    /// The parts' rows in the order of the VALUES; 1235 when a part answered another number
    /// of rows than it was given.
    pub(crate) fn in_order(
        &self,
        returned: Vec<Option<Returned>>,
    ) -> Result<Evaluated, ClientError> {
        let Some(row_parts) = &self.row_parts else {
            return concatenated(returned);
        };
        let mut heads = None;
        let mut parts = Vec::with_capacity(returned.len());
        for (i, part) in returned.into_iter().enumerate() {
            let given = row_parts.iter().filter(|&&p| p == i).count();
            match part {
                Some((part_heads, rows)) if rows.len() == given => {
                    heads.get_or_insert(part_heads);
                    parts.push(rows.into_iter());
                }
                _ => return Err(rows_unmatched()),
            }
        }
        let rows: Vec<Bytes> = (row_parts.iter())
            .map(|&p| parts[p].next())
            .collect::<Option<_>>()
            .ok_or_else(rows_unmatched)?;
        Ok(Evaluated {
            heads: heads.unwrap_or_default(),
            metas: Vec::new(),
            found: rows.len() as u64,
            rows,
        })
    }
}

/// Every part's rows, one part after the other.
fn concatenated(returned: Vec<Option<Returned>>) -> Result<Evaluated, ClientError> {
    let mut heads = None;
    let mut rows = Vec::new();
    for part in returned {
        let Some((part_heads, part_rows)) = part else {
            return Err(ClientError::new(
                1105,
                b"HY000",
                "a shard answered a write with RETURNING without rows",
            ));
        };
        heads.get_or_insert(part_heads);
        rows.extend(part_rows);
    }
    Ok(Evaluated {
        heads: heads.unwrap_or_default(),
        metas: Vec::new(),
        found: rows.len() as u64,
        rows,
    })
}

/// 1235 for returned rows the proxy cannot pair with the VALUES rows.
fn rows_unmatched() -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        "RETURNING in an INSERT split across shards where a row returned no row (INSERT IGNORE skipping a duplicate) is not supported by shardgate: which of a shard's rows are missing cannot be told, so the statement was taken back on every shard; insert the rows of one shard per statement",
    )
}

/// Runs `sql` on `conn` and reads its answer: the returned rows when it has a result set.
pub(crate) async fn read_returned(
    conn: &mut shardgate_backend::BackendConn,
    sql: &[u8],
) -> Result<(Finish, Option<Returned>), BackendError> {
    let heads = match conn.query_rows(sql).await? {
        QueryHead::Done(finish) => return Ok((finish, None)),
        QueryHead::Columns(heads) => heads,
    };
    let mut rows = Vec::new();
    loop {
        match conn.next_row().await? {
            Ok(row) => rows.push(row),
            Err(finish) => return Ok((finish, Some((heads, rows)))),
        }
    }
}

impl Session {
    /// Answers the returned rows of a split write, in order (`Returning::in_order`), that
    /// every shard committed (or whose parts stand in the client's transaction).
    pub(crate) async fn write_rows_returned(
        &mut self,
        mut result: Evaluated,
        binary: bool,
        warnings: u16,
        conditions: Diagnostics,
    ) -> Step {
        if binary {
            result.metas = match self.plain_metas(&result.heads) {
                Ok(metas) => metas,
                Err(e) => return self.send_error(e).await,
            };
        }
        Box::pin(self.write_result(result, (warnings, conditions), binary)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(rows: &[&str]) -> Option<Returned> {
        let rows = rows.iter().map(|r| Bytes::from(r.to_string())).collect();
        Some((vec![BytesMut::from("def")], rows))
    }

    #[test]
    fn rows_come_back_in_the_order_of_the_values() {
        // Rows 0 and 2 went to shard 3, row 1 to shard 1: parts [1, 3].
        let returning = Returning::new(&[3, 1, 3], &[1, 3], false).unwrap();
        let result = returning
            .in_order(vec![part(&["b"]), part(&["a", "c"])])
            .unwrap();
        assert_eq!(result.rows, ["a", "b", "c"]);
        assert_eq!(result.found, 3);
        // A part that answered fewer rows than it was given: which is missing is unknown.
        let e = returning
            .in_order(vec![part(&["b"]), part(&["a"])])
            .err()
            .unwrap();
        assert_eq!(e.code, 1235);
        assert!(returning.in_order(vec![part(&["b"]), None]).is_err());
        // A shard no part goes to.
        assert!(Returning::new(&[2], &[1, 3], false).is_none());
    }
}
