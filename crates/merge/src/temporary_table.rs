//! How MariaDB describes a grouped result it reads back from an internal temporary table.
//!
//! A statement MariaDB cannot group in the order it reads rows (a join through a join
//! buffer, a group column without an index) is grouped in a temporary table, and so is one
//! sorted by an aggregate after grouping; the client then gets the temporary table's fields,
//! not the select list's items: a column loses its key flags, a nullable group column gains
//! `GROUP_FLAG` (the bit of `NUM_FLAG`), `COUNT` / `SUM` / `BIT_*` lose `BINARY_FLAG`, and
//! `MIN` / `MAX` are described as a copy of their column. Whether the plan does so is read
//! from MariaDB's `EXPLAIN` of the statement ([`TemporaryTable::from_explain`]).

use mysql_common::constants::ColumnFlags;

use crate::ColumnMeta;

/// `GROUP_FLAG`: MariaDB's internal flag, sent on a nullable column a temporary table groups
/// by; the same bit as `NUM_FLAG`.
const GROUP_FLAG: ColumnFlags = ColumnFlags::NUM_FLAG;

/// Flags of a table's keys, which a temporary table's copy of a column does not have.
fn key_flags() -> ColumnFlags {
    ColumnFlags::PRI_KEY_FLAG
        | ColumnFlags::UNIQUE_KEY_FLAG
        | ColumnFlags::MULTIPLE_KEY_FLAG
        | ColumnFlags::PART_KEY_FLAG
        | ColumnFlags::AUTO_INCREMENT_FLAG
}

/// What of a grouped result passes through a temporary table in MariaDB's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemporaryTable {
    /// The grouping itself is done in the table (its nullable group columns are flagged).
    pub groups: bool,
    /// The aggregates' values are the table's fields (grouped there, or sorted after).
    pub holds_aggregates: bool,
}

/// One row of MariaDB's tabular `EXPLAIN`: the columns that say how a table is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainRow {
    /// `id`: the SELECT it belongs to (1: the statement's own).
    pub id: Option<u64>,
    /// `type`: the access method (`index`: a full scan in an index's order).
    pub access: String,
    /// `Extra`: `Using temporary`, `Using index for group-by`, …
    pub extra: String,
}

impl TemporaryTable {
    /// Reads MariaDB's plan of a grouping statement: `None` when no temporary table holds its
    /// result. `distinct_aggregates`: an aggregate of `DISTINCT` values or a `GROUP_CONCAT`,
    /// which MariaDB groups in sorted order (never in a temporary table); `sorted_after`: the
    /// groups are sorted by something MariaDB computes only after grouping (an aggregate),
    /// through a temporary table of the groups.
    pub fn from_explain(
        rows: &[ExplainRow],
        distinct_aggregates: bool,
        sorted_after: bool,
    ) -> Option<TemporaryTable> {
        let own: Vec<&ExplainRow> = rows.iter().filter(|r| r.id == Some(1)).collect();
        if !own.iter().any(|r| r.extra.contains("Using temporary")) {
            return None;
        }
        // Rows read in an index's order (a full index scan, or loose index scan) are grouped
        // as they come: a temporary table there only sorts the groups.
        let in_index_order = own
            .first()
            .is_some_and(|r| r.access == "index" || r.extra.contains("Using index for group-by"));
        let groups = !distinct_aggregates && !in_index_order;
        Some(TemporaryTable {
            groups,
            holds_aggregates: groups || sorted_after,
        })
    }

    /// A column of the result (a group column when `grouped`) as the table describes it.
    pub fn column(&self, meta: &ColumnMeta, grouped: bool) -> ColumnMeta {
        let mut held = *meta;
        held.flags.remove(key_flags());
        if grouped && self.groups && !held.flags.contains(ColumnFlags::NOT_NULL_FLAG) {
            held.flags.insert(GROUP_FLAG);
        }
        held
    }

    /// A `COUNT`, `SUM` or `BIT_*` value (`computed`, as the select list's item describes it)
    /// as the table describes it: its numeric field has no `BINARY_FLAG`.
    pub fn counted(&self, computed: &ColumnMeta) -> ColumnMeta {
        let mut held = *computed;
        if self.holds_aggregates {
            held.flags.remove(ColumnFlags::BINARY_FLAG);
        }
        held
    }

    /// `MIN` / `MAX` of `column` as the table describes it: a copy of the column's field,
    /// nullable, without keys; `None` when the table does not hold the aggregates.
    pub fn extreme(&self, column: &ColumnMeta) -> Option<ColumnMeta> {
        if !self.holds_aggregates {
            return None;
        }
        let mut held = *column;
        held.flags.remove(key_flags() | ColumnFlags::NOT_NULL_FLAG);
        Some(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;

    fn row(access: &str, extra: &str) -> ExplainRow {
        ExplainRow {
            id: Some(1),
            access: access.into(),
            extra: extra.into(),
        }
    }

    /// The plans of MariaDB 10.11's `EXPLAIN` for grouped joins (a BNL join, a ref join
    /// grouped by an indexed column and sorted by an aggregate, `GROUP_CONCAT`).
    #[test]
    fn the_plan_says_what_the_temporary_table_holds() {
        let bnl = [
            row("ALL", "Using temporary; Using filesort"),
            row("ALL", "Using where; Using join buffer (flat, BNL join)"),
        ];
        assert_eq!(
            TemporaryTable::from_explain(&bnl, false, false),
            Some(TemporaryTable {
                groups: true,
                holds_aggregates: true
            })
        );
        // GROUP_CONCAT: grouped in sorted order; the temporary table holds the joined rows.
        assert_eq!(
            TemporaryTable::from_explain(&bnl, true, false),
            Some(TemporaryTable {
                groups: false,
                holds_aggregates: false
            })
        );
        assert_eq!(
            TemporaryTable::from_explain(&bnl, true, true),
            Some(TemporaryTable {
                groups: false,
                holds_aggregates: true
            })
        );
        let index_order = [
            row("index", "Using where; Using temporary; Using filesort"),
            row("ref", ""),
        ];
        assert_eq!(
            TemporaryTable::from_explain(&index_order, false, true),
            Some(TemporaryTable {
                groups: false,
                holds_aggregates: true
            })
        );
        let no_table = [row("index", "Using index"), row("ref", "Using index")];
        assert_eq!(TemporaryTable::from_explain(&no_table, false, false), None);
        // A subquery's own temporary table is not the statement's.
        let subquery = [
            row("ALL", ""),
            ExplainRow {
                id: Some(2),
                ..row("ALL", "Using temporary")
            },
        ];
        assert_eq!(TemporaryTable::from_explain(&subquery, false, false), None);
    }

    /// Definitions MariaDB 10.11 sent through a temporary table, from the items' ones.
    #[test]
    fn held_columns_are_described_as_mariadb_describes_them() {
        let table = TemporaryTable {
            groups: true,
            holds_aggregates: true,
        };
        let id = ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG).with_flags(
            ColumnFlags::NOT_NULL_FLAG
                | ColumnFlags::PRI_KEY_FLAG
                | ColumnFlags::PART_KEY_FLAG
                | ColumnFlags::NO_DEFAULT_VALUE_FLAG,
        );
        let name = ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING)
            .with_flags(ColumnFlags::MULTIPLE_KEY_FLAG | ColumnFlags::PART_KEY_FLAG);
        let not_null = ColumnFlags::NOT_NULL_FLAG | ColumnFlags::NO_DEFAULT_VALUE_FLAG;
        assert_eq!(table.column(&id, true).flags, not_null);
        assert_eq!(table.column(&id, false).flags, not_null);
        assert_eq!(table.column(&name, true).flags, ColumnFlags::NUM_FLAG);
        assert_eq!(table.column(&name, false).flags, ColumnFlags::empty());
        let sorted_only = TemporaryTable {
            groups: false,
            ..table
        };
        assert_eq!(sorted_only.column(&name, true).flags, ColumnFlags::empty());
        let count = crate::count_meta();
        assert_eq!(table.counted(&count).flags, ColumnFlags::NOT_NULL_FLAG);
        assert_eq!(
            table.extreme(&id).map(|m| m.flags),
            Some(ColumnFlags::NO_DEFAULT_VALUE_FLAG)
        );
        let items = TemporaryTable {
            groups: false,
            holds_aggregates: false,
        };
        assert_eq!(items.counted(&count), count);
        assert_eq!(items.extreme(&id), None);
    }
}
