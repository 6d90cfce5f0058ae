//! The schema model: tables by lower-cased name, each with its columns in table order.

use std::collections::BTreeMap;

use crate::ColumnDefault;

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// As the table defines it (MariaDB compares column names case-insensitively).
    pub name: String,
    /// `information_schema.COLUMNS.COLUMN_TYPE`, e.g. `varchar(20)`, `int(11) unsigned`.
    pub column_type: String,
    /// The collation of a string column; `None` for other types.
    pub collation: Option<String>,
    /// What an INSERT that leaves the column out gives it.
    pub default: ColumnDefault,
    /// It is a column of the table's PRIMARY KEY.
    pub primary_key: bool,
}

impl Column {
    /// The type's name, lower-cased, without its length or attributes: `int` of
    /// `int(11) unsigned`, `decimal` of `decimal(12,2)`.
    pub fn base_type(&self) -> String {
        (self.column_type.split(['(', ' ']).next())
            .unwrap_or_default()
            .to_ascii_lowercase()
    }
}

/// A table's columns in their order in the table (`SELECT *`'s order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableColumns {
    pub columns: Vec<Column>,
}

impl TableColumns {
    /// The 0-based position of the column `name` (case-insensitive).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The column `name` (case-insensitive).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.position(name).map(|i| &self.columns[i])
    }

    /// The columns of the PRIMARY KEY, in table order (none: the table has none).
    pub fn primary_key(&self) -> impl Iterator<Item = &str> {
        self.columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

/// One row of `information_schema.COLUMNS`, as the loader reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRow {
    pub table: String,
    pub column: String,
    pub ordinal: u64,
    pub column_type: String,
    pub collation: Option<String>,
    pub default: ColumnDefault,
    /// `COLUMN_KEY = 'PRI'`.
    pub primary_key: bool,
}

/// The tables of one database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    tables: BTreeMap<String, TableColumns>,
}

impl Schema {
    /// Builds the tables from `information_schema.COLUMNS` rows in any order.
    pub fn from_rows(rows: impl IntoIterator<Item = ColumnRow>) -> Schema {
        let mut rows: Vec<ColumnRow> = rows.into_iter().collect();
        rows.sort_by(|a, b| {
            (a.table.to_ascii_lowercase(), a.ordinal)
                .cmp(&(b.table.to_ascii_lowercase(), b.ordinal))
        });
        let mut tables: BTreeMap<String, TableColumns> = BTreeMap::new();
        for row in rows {
            tables
                .entry(row.table.to_ascii_lowercase())
                .or_default()
                .columns
                .push(Column {
                    name: row.column,
                    column_type: row.column_type,
                    collation: row.collation,
                    default: row.default,
                    primary_key: row.primary_key,
                });
        }
        Schema { tables }
    }

    /// The table `name` as written in SQL (case-insensitive).
    pub fn table(&self, name: &str) -> Option<&TableColumns> {
        self.tables.get(&name.to_ascii_lowercase())
    }

    /// Tables by lower-cased name, in name order.
    pub fn tables(&self) -> impl Iterator<Item = (&str, &TableColumns)> {
        self.tables.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Sets (or replaces) one table.
    pub fn insert(&mut self, name: &str, table: TableColumns) {
        self.tables.insert(name.to_ascii_lowercase(), table);
    }

    /// Forgets one table; `true` when it was known.
    pub fn remove(&mut self, name: &str) -> bool {
        self.tables.remove(&name.to_ascii_lowercase()).is_some()
    }

    /// Keeps only the tables `keep` says yes to (the sharded and reference ones).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.tables.retain(|name, _| keep(name));
    }

    pub fn len(&self) -> usize {
        self.tables.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

#[cfg(test)]
pub(crate) fn row(table: &str, column: &str, ordinal: u64, ty: &str) -> ColumnRow {
    ColumnRow {
        table: table.into(),
        column: column.into(),
        ordinal,
        column_type: ty.into(),
        collation: ty
            .starts_with("varchar")
            .then(|| "utf8mb4_general_ci".to_owned()),
        default: ColumnDefault::Null,
        primary_key: column == "id",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_in_ordinal_order_whatever_the_row_order() {
        let schema = Schema::from_rows([
            row("Users", "name", 2, "varchar(20)"),
            row("orders", "id", 1, "int(11)"),
            row("users", "id", 1, "bigint(20)"),
        ]);
        let users = schema.table("USERS").unwrap();
        assert_eq!(users.names().collect::<Vec<_>>(), ["id", "name"]);
        assert_eq!(users.position("NAME"), Some(1));
        assert_eq!(users.position("missing"), None);
        assert_eq!(
            users.column("name").unwrap().collation.as_deref(),
            Some("utf8mb4_general_ci")
        );
        assert_eq!(users.column("id").unwrap().collation, None);
        assert_eq!(users.primary_key().collect::<Vec<_>>(), ["id"]);
        assert_eq!(schema.len(), 2);
        assert_eq!(
            schema.tables().map(|(n, _)| n).collect::<Vec<_>>(),
            ["orders", "users"]
        );
    }

    #[test]
    fn tables_can_be_replaced_removed_and_filtered() {
        let mut schema = Schema::from_rows([row("a", "x", 1, "int"), row("b", "y", 1, "int")]);
        assert!(schema.remove("A"));
        assert!(!schema.remove("a"));
        schema.insert("C", TableColumns::default());
        schema.retain(|n| n != "b");
        assert_eq!(schema.tables().map(|(n, _)| n).collect::<Vec<_>>(), ["c"]);
    }
}
