//! Which table an unqualified column belongs to, as MariaDB resolves it: the one table of the
//! query block that has a column of that name (else the enclosing block's, and so on). Read
//! from the schema cache, so that `o_orderkey = l_orderkey` over `orders, lineitem` is seen
//! as the equality of two shard keys it is.
//!
//! Never a guess: a name two tables of the block have (MariaDB refuses it as ambiguous), or
//! one that a table whose columns are unknown (an unsharded table, a derived table, a table
//! the cache lacks or whose shards disagree) might have, has no owner here, and the caller
//! treats the condition as no equality of keys. A name found in exactly one table of the
//! block belongs to it whatever the unknown tables hold: had one of them the name too,
//! MariaDB would refuse the statement as ambiguous.

use shardgate_config::Topology;
use shardgate_schema::SchemaStatus;

/// What is known of the columns of one table reference of a query block.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Columns<'a> {
    /// A base table, by its lower-cased name: its columns are the schema cache's.
    Table(&'a str),
    /// A derived table or CTE, of which only these columns are known (its shard-key columns).
    Some(&'a [(String, usize)]),
}

/// The owner of a name in one query block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The table reference at this position (in the slice given).
    Table(usize),
    /// No table of the block has it: the name is the enclosing block's.
    Absent,
    /// Ambiguous, or not knowable.
    Unknown,
}

/// Resolves `column` among the table references of one query block. Tables the schema cache
/// should hold (sharded and reference ones) but lacks are added to `missing`, for the caller
/// to have them read.
pub(crate) fn owner(
    column: &str,
    scope: &[Columns<'_>],
    topology: &Topology,
    schema: &SchemaStatus,
    missing: &mut Vec<String>,
) -> Owner {
    let mut found = None;
    let mut unknown = false;
    for (i, columns) in scope.iter().enumerate() {
        let has = match columns {
            Columns::Some(known) => known
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(column))
                .then_some(true),
            Columns::Table("dual") => Some(false),
            Columns::Table(table) => match schema.agreed(table) {
                Some(t) => Some(t.position(column).is_some()),
                None => {
                    let cached = topology.table(table).is_some() || topology.is_reference(table);
                    if cached
                        && schema.disagreement(table).is_none()
                        && !missing.iter().any(|m| m == table)
                    {
                        missing.push((*table).to_owned());
                    }
                    None
                }
            },
        };
        match has {
            Some(true) if found.is_some() => return Owner::Unknown,
            Some(true) => found = Some(i),
            Some(false) => {}
            None => unknown = true,
        }
    }
    match (found, unknown) {
        (Some(i), _) => Owner::Table(i),
        (None, true) => Owner::Unknown,
        (None, false) => Owner::Absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardgate_schema::{ColumnDefault, ColumnRow, Schema};

    fn topology() -> Topology {
        let text = include_str!("../tests/golden/topology.toml");
        shardgate_config::parse(text, "topology.toml").expect("golden topology")
    }

    fn schema() -> SchemaStatus {
        let row = |t: &str, c: &str, n: u64| ColumnRow {
            table: t.into(),
            column: c.into(),
            ordinal: n,
            column_type: "int".into(),
            collation: None,
            default: ColumnDefault::Null,
            primary_key: c == "id",
        };
        SchemaStatus {
            schema: Schema::from_rows([
                row("users", "id", 1),
                row("users", "name", 2),
                row("orders", "id", 1),
                row("orders", "user_id", 2),
            ]),
            ..SchemaStatus::default()
        }
    }

    fn resolve(column: &str, scope: &[Columns<'_>]) -> (Owner, Vec<String>) {
        let mut missing = Vec::new();
        let owner = owner(column, scope, &topology(), &schema(), &mut missing);
        (owner, missing)
    }

    #[test]
    fn a_name_one_table_has_is_that_tables() {
        let scope = [Columns::Table("users"), Columns::Table("orders")];
        assert_eq!(resolve("user_id", &scope).0, Owner::Table(1));
        assert_eq!(resolve("NAME", &scope).0, Owner::Table(0));
        // Both have `id`: MariaDB refuses it as ambiguous.
        assert_eq!(resolve("id", &scope).0, Owner::Unknown);
        assert_eq!(resolve("total", &scope).0, Owner::Absent);
    }

    #[test]
    fn tables_of_unknown_columns_leave_only_what_a_known_table_has() {
        // An unsharded table's columns are not cached: `total` may be its.
        let scope = [Columns::Table("users"), Columns::Table("audit")];
        assert_eq!(resolve("total", &scope), (Owner::Unknown, vec![]));
        assert_eq!(resolve("name", &scope).0, Owner::Table(0));
        // A sharded table the cache lacks is asked for.
        let scope = [Columns::Table("users"), Columns::Table("events")];
        assert_eq!(
            resolve("total", &scope),
            (Owner::Unknown, vec!["events".to_owned()])
        );
        // A derived table shows the columns it is known to have.
        let keys = [("k".to_owned(), 0)];
        let scope = [Columns::Table("users"), Columns::Some(&keys)];
        assert_eq!(resolve("k", &scope).0, Owner::Table(1));
        assert_eq!(resolve("x", &scope).0, Owner::Unknown);
        assert_eq!(resolve("x", &[Columns::Table("dual")]).0, Owner::Absent);
    }
}
