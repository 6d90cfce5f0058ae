//! The plan of a statement sent to several shards and merged into the answer one server gives.
//!
//! The executor runs `sql` on every shard in `shards`, then pushes the shard rows through:
//! k-way merge by `merge_keys` (or concatenation when empty) → aggregate or window → having →
//! distinct → sort → offset/limit → the first `visible` columns.

use shardgate_merge::{Aggregate, Expr, SortKey, WindowFunction};
use shardgate_ring::ShardId;

/// A SELECT scattered to several shards.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPlan {
    /// The shards to query, ascending: all, or those the WHERE clause prunes to.
    pub shards: Vec<ShardId>,
    /// The statement every shard runs (with ORDER BY, LIMIT, hidden and partial-aggregate
    /// columns as the merge needs them). Correct on any shard; see `shard_sql`.
    pub sql: String,
    /// When not empty, one per shard of `shards` (same order): `sql` with the WHERE clause's
    /// IN lists and ORs of shard-key values cut down to the ones that shard owns.
    pub shard_sql: Vec<String>,
    /// With `shard_sql`: the tables an outer join NULL-extends, by the lower-cased names the
    /// column definitions give them. One server reading the whole key list declares their
    /// columns nullable, where a shard sent one key may read such a table as a constant one.
    pub null_extended: Vec<String>,
    pub merge: MergeSpec,
    /// One per shard column: where its strings come from, so the merge compares them by the
    /// right collation (MariaDB reports none for `MAX(col)`).
    pub origins: Vec<ColumnOrigin>,
    /// The shards read a derived table: their column definitions name it (and its column as
    /// the origin), not the tables beneath; `origins` alone tell where strings come from.
    pub over_derived: bool,
    /// With a `*` the plan expanded from the schema cache: what the shards must send.
    pub star_check: Option<StarCheck>,
    /// A locking read (`FOR UPDATE`, `LOCK IN SHARE MODE`): every shard's statement locks the
    /// rows it reads, inside the session's transaction on each shard when it has one.
    pub locking: bool,
}

/// The shape a plan that expanded `*` from the schema cache expects of every shard's answer;
/// another shape means the cache is stale and the answer is refused, not merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StarCheck {
    /// How many columns each shard sends (visible and hidden).
    pub width: usize,
    /// `(column position, name)` of each column a `*` stands for.
    pub columns: Vec<(usize, String)>,
    /// The tables the `*`s are over (lower-cased): forgotten by the cache when the check fails.
    pub tables: Vec<String>,
}

impl StarCheck {
    /// `None` when shard column names `names` fit; otherwise what differs.
    pub fn mismatch<'n>(&self, names: impl ExactSizeIterator<Item = &'n str>) -> Option<String> {
        let names: Vec<&str> = names.collect();
        if names.len() != self.width {
            return Some(format!(
                "a shard sent {} columns where the cached schema gives {}",
                names.len(),
                self.width
            ));
        }
        self.columns.iter().find_map(|(at, expected)| {
            let got = names[*at];
            (!got.eq_ignore_ascii_case(expected)).then(|| {
                format!(
                    "column {} is `{got}` on a shard, `{expected}` in the cached schema",
                    at + 1
                )
            })
        })
    }
}

/// Where a shard column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnOrigin {
    /// Constants only: the connection's collation.
    Constant,
    /// A table's column, or MIN/MAX of one: that column's collation.
    Column { table: String, column: String },
    /// An expression over these columns and constants (no COLLATE, CAST or introducer): the
    /// columns' collation, when they share one.
    Derived(Vec<(String, String)>),
    /// Some other expression: the proxy does not know its collation.
    Expression,
}

/// How the shards' result sets become one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MergeSpec {
    /// Every shard's rows arrive sorted by these keys (over shard columns); empty: any order.
    pub merge_keys: Vec<SortKey>,
    /// Grouping and aggregates over the merged rows.
    pub aggregate: Option<AggregateSpec>,
    /// Window functions over the merged rows (which arrive sorted by its partition and
    /// order), computed before the final sort.
    pub window: Option<WindowSpec>,
    /// HAVING: rows kept after aggregation, over the aggregate's output columns.
    pub having: Option<Expr>,
    /// DISTINCT over the first `visible` columns; the rows arrive sorted by them.
    pub distinct: bool,
    /// A final sort, when the answer's order is not the order rows arrive in.
    pub sort: Vec<SortKey>,
    pub offset: u64,
    pub limit: Option<u64>,
    /// The client sees the first `visible` columns; the rest only help the merge.
    pub visible: usize,
}

impl ScatterPlan {
    /// The statement the `i`-th shard of `shards` runs.
    pub fn sql_for(&self, i: usize) -> &str {
        self.shard_sql.get(i).unwrap_or(&self.sql)
    }
}

/// One window's functions, computed by the merge (`merge::Window`): the shards compute them
/// over their own rows, which describes the columns; the merge replaces their values.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    /// `PARTITION BY` (shard columns).
    pub partition_by: Vec<usize>,
    /// The window's `ORDER BY` (shard columns): rows equal in it are peers.
    pub order_by: Vec<SortKey>,
    /// Per window function: the shard column whose value it replaces.
    pub functions: Vec<(usize, WindowFunction)>,
}

impl MergeSpec {
    /// Whether the shards' rows, one shard after another, are the answer: nothing to merge.
    pub fn concatenates(&self) -> bool {
        self.merge_keys.is_empty()
            && self.aggregate.is_none()
            && self.window.is_none()
            && self.having.is_none()
            && !self.distinct
            && self.sort.is_empty()
            && self.offset == 0
            && self.limit.is_none()
    }

    /// Whether every shard's answer is bounded by the statement's `LIMIT`: a scatter that
    /// merges rows as they are (sorted, de-duplicated) sends the shards `LIMIT offset + count`
    /// (`scatter/plain.rs`, `scatter/distinct.rs`); one that groups or filters after them
    /// does not.
    pub fn shards_limited(&self) -> bool {
        self.limit.is_some()
            && self.aggregate.is_none()
            && self.window.is_none()
            && self.having.is_none()
    }
}

/// GROUP BY and aggregates over the merged shard rows.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateSpec {
    /// Group columns (shard columns); the merged rows arrive sorted by them. Empty: one group.
    pub group_by: Vec<usize>,
    /// One per output column, in order: how it is computed from the shard columns.
    pub outputs: Vec<Aggregate>,
    /// The name the client sees for each output column (the expression as written, or its alias).
    pub names: Vec<String>,
    /// Outputs replaced, right after the aggregate, by an expression over the outputs (a
    /// select item or ORDER BY term computing with aggregates, `SUM(a) / COUNT(*)`). The
    /// output itself passes the shards' value of the same expression through: its column
    /// definition is MariaDB's.
    pub computed: Vec<(usize, Expr)>,
    /// `WITH ROLLUP`: a super-aggregate row after the last group of each prefix of
    /// `group_by` (`OrderedAggregate::with_rollup`).
    pub rollup: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_check_compares_count_and_names() {
        let check = StarCheck {
            width: 3,
            columns: vec![(0, "id".into()), (1, "name".into())],
            tables: vec!["t".into()],
        };
        assert_eq!(check.mismatch(["ID", "name", "x"].into_iter()), None);
        assert!(check
            .mismatch(["id", "name"].into_iter())
            .unwrap()
            .contains("sent 2 columns"));
        assert!(check
            .mismatch(["name", "id", "x"].into_iter())
            .unwrap()
            .contains("column 1 is `name`"));
    }
}
