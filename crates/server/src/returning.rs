//! `INSERT` / `REPLACE … RETURNING` whose rows the planner split by shard (`Route::Split`):
//! each shard's part answers the rows it wrote, and the proxy answers them as one result set
//! in the order of the statement's VALUES, as MariaDB does (an ORM pairs the returned ids with
//! the objects it inserted by that order). The parts run as any split write (all commit or
//! none, `fan_out.rs`); the rows are put back in order by the shard of each VALUES row
//! (`router::insert_row_shards`). Only when every VALUES row answered one row: where a part
//! answered fewer (`INSERT IGNORE` skipping a duplicate), which rows are missing cannot be
//! told, and the statement is taken back everywhere (1235). A `DELETE … RETURNING` on
//! several shards (without ORDER BY or LIMIT: the planner refuses those) answers each shard's
//! rows one shard after the other, as a scatter's SELECT without ORDER BY; a write to every
//! copy of a reference table one copy's rows, which every copy must have returned.

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
    order: Order,
    /// The answer is a prepared statement's execution's (binary rows).
    pub(crate) binary: bool,
}

/// Which of the parts' rows the client gets, in which order.
enum Order {
    /// An INSERT's: for each VALUES row, the index of the part (shard) it went to.
    Values(Vec<usize>),
    /// A DELETE's, which have no order but each shard's (as a scatter's): one shard's after
    /// the other's.
    ShardAfterShard,
    /// A write to every copy of a reference table: one copy's, the same as every other's.
    OneCopy,
}

impl Returning {
    /// The order of the rows of an INSERT split into `parts` (each shard's, ascending), from
    /// the shard of each of its rows; `None` when they do not match.
    pub(crate) fn new(row_shards: &[ShardId], parts: &[ShardId], binary: bool) -> Option<Self> {
        let row_parts = (row_shards.iter())
            .map(|shard| parts.iter().position(|p| p == shard))
            .collect::<Option<Vec<usize>>>()?;
        Some(Returning {
            order: Order::Values(row_parts),
            binary,
        })
    }

    /// A DELETE's rows: each shard's, one shard after the other.
    pub(crate) fn concatenated(binary: bool) -> Self {
        Returning {
            order: Order::ShardAfterShard,
            binary,
        }
    }

    /// A reference table's rows: one copy's (a copy that returned others fails the write).
    pub(crate) fn one_copy(binary: bool) -> Self {
        Returning {
            order: Order::OneCopy,
            binary,
        }
    }

    /// The parts' rows in the order of the VALUES; 1235 when a part answered another number
    /// of rows than it was given.
    pub(crate) fn in_order(
        &self,
        returned: Vec<Option<Returned>>,
    ) -> Result<Evaluated, ClientError> {
        let row_parts = match &self.order {
            Order::Values(row_parts) => row_parts,
            Order::ShardAfterShard => return concatenated(returned),
            Order::OneCopy => return one_copy(returned),
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
        Ok(answer(heads, rows))
    }
}

/// A part's returned rows, if it returned any.
fn returned_rows(part: &Option<Returned>) -> Option<&Vec<Bytes>> {
    part.as_ref().map(|(_, rows)| rows)
}

/// The rows answered under the parts' column definitions (`heads`, the first part's).
fn answer(heads: Option<Vec<BytesMut>>, rows: Vec<Bytes>) -> Evaluated {
    Evaluated {
        heads: heads.unwrap_or_default(),
        metas: Vec::new(),
        found: rows.len() as u64,
        rows,
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
    Ok(answer(heads, rows))
}

/// The first copy's rows, when every copy returned the same.
fn one_copy(returned: Vec<Option<Returned>>) -> Result<Evaluated, ClientError> {
    let first = returned.first().and_then(returned_rows);
    let same = first.is_some() && returned.iter().all(|part| returned_rows(part) == first);
    if !same {
        return Err(ClientError::new(
            1105,
            b"HY000",
            "the copies of the reference table returned different rows for this write (their rows differ); it was undone on every shard: compare and repair the copies",
        ));
    }
    concatenated(returned.into_iter().take(1).collect())
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
        // Copies: one copy's rows, when every copy returned them.
        let copies = Returning::one_copy(false);
        let result = copies
            .in_order(vec![part(&["a", "b"]), part(&["a", "b"])])
            .unwrap();
        assert_eq!(result.rows, ["a", "b"]);
        assert_eq!(
            copies
                .in_order(vec![part(&["a"]), part(&["b"])])
                .err()
                .unwrap()
                .code,
            1105
        );
    }
}
