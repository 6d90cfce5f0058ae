//! What the binlog's table map does not say about a followed table, read from
//! `information_schema.COLUMNS`: each column's name, how its values are written back
//! (signedness, YEAR, TIMESTAMP, BIT, SET …), whether it is generated, the primary key and
//! the shard key.

use crate::BinlogError;

/// How a column's binlog value becomes a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// An integer of `bytes` bytes (`MEDIUMINT` is 3); the binlog decodes them signed.
    Integer {
        unsigned: bool,
        bytes: u8,
    },
    Float,
    Double,
    Decimal,
    /// Written as its number (the binlog carries its bits big-endian).
    Bit,
    /// Written as its member's number.
    Enum,
    /// Written as its bitmask (the binlog carries it little-endian).
    Set,
    Year,
    Date,
    DateTime,
    /// Seconds since the epoch in the binlog: written as a UTC time (the applying session's
    /// `time_zone` is `+00:00`).
    Timestamp,
    Time,
    /// Character and byte strings, JSON (LONGTEXT in MariaDB), spatial values: written as
    /// `X'…'` hex, read back byte for byte.
    Bytes,
}

impl ColumnKind {
    /// The kind of a column from its `DATA_TYPE` and `COLUMN_TYPE` (lowercase, as
    /// `information_schema` writes them).
    pub fn of(data_type: &str, column_type: &str) -> Self {
        let unsigned = column_type.contains("unsigned");
        let integer = |bytes| ColumnKind::Integer { unsigned, bytes };
        match data_type {
            "tinyint" => integer(1),
            "smallint" => integer(2),
            "mediumint" => integer(3),
            "int" | "integer" => integer(4),
            "bigint" => integer(8),
            "float" => ColumnKind::Float,
            "double" | "real" => ColumnKind::Double,
            "decimal" | "numeric" => ColumnKind::Decimal,
            "bit" => ColumnKind::Bit,
            "enum" => ColumnKind::Enum,
            "set" => ColumnKind::Set,
            "year" => ColumnKind::Year,
            "date" => ColumnKind::Date,
            "datetime" => ColumnKind::DateTime,
            "timestamp" => ColumnKind::Timestamp,
            "time" => ColumnKind::Time,
            _ => ColumnKind::Bytes,
        }
    }
}

/// One column of a followed table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
    /// A generated column takes no value in an INSERT.
    pub generated: bool,
    pub primary_key: bool,
}

/// A followed table as the catch-up writes it: its columns in table order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub database: String,
    pub name: String,
    pub columns: Vec<Column>,
    /// Positions of the primary key's columns.
    pub primary_key: Vec<usize>,
    /// Position of the shard key column.
    pub shard_key: usize,
}

impl Table {
    /// The table from its columns in order; refused without a primary key (a row could not
    /// be named for an idempotent delete) or without its shard key column.
    pub fn new(
        database: &str,
        name: &str,
        columns: Vec<Column>,
        shard_key: &str,
    ) -> Result<Self, BinlogError> {
        let primary_key: Vec<usize> = (columns.iter().enumerate())
            .filter(|(_, c)| c.primary_key)
            .map(|(i, _)| i)
            .collect();
        if primary_key.is_empty() {
            return Err(BinlogError::NoPrimaryKey(name.to_owned()));
        }
        let Some(shard_key) = columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(shard_key))
        else {
            return Err(BinlogError::NoShardKeyColumn {
                table: name.to_owned(),
                column: shard_key.to_owned(),
            });
        };
        Ok(Table {
            database: database.to_owned(),
            name: name.to_owned(),
            columns,
            primary_key,
            shard_key,
        })
    }

    /// The shard key is an integer column (so the ring hashes its decimal text).
    pub fn integer_key(&self) -> bool {
        matches!(
            self.columns[self.shard_key].kind,
            ColumnKind::Integer { .. }
        )
    }

    /// `` `db`.`table` ``.
    pub fn qualified(&self) -> String {
        format!("{}.{}", quoted(&self.database), quoted(&self.name))
    }
}

/// An identifier in backquotes.
pub fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, kind: ColumnKind, primary_key: bool) -> Column {
        Column {
            name: name.into(),
            kind,
            generated: false,
            primary_key,
        }
    }

    #[test]
    fn kinds_follow_information_schema() {
        assert_eq!(
            ColumnKind::of("int", "int(10) unsigned"),
            ColumnKind::Integer {
                unsigned: true,
                bytes: 4
            }
        );
        assert_eq!(
            ColumnKind::of("mediumint", "mediumint(9)"),
            ColumnKind::Integer {
                unsigned: false,
                bytes: 3
            }
        );
        assert_eq!(ColumnKind::of("longtext", "longtext"), ColumnKind::Bytes);
        assert_eq!(
            ColumnKind::of("timestamp", "timestamp(6)"),
            ColumnKind::Timestamp
        );
    }

    #[test]
    fn a_table_needs_a_primary_key_and_its_shard_key() {
        let int = ColumnKind::of("bigint", "bigint(20)");
        let cols = vec![column("id", int, true), column("user_id", int, false)];
        let t = Table::new("app", "orders", cols.clone(), "USER_ID").unwrap();
        assert_eq!((t.primary_key.clone(), t.shard_key), (vec![0], 1));
        assert!(t.integer_key());
        assert_eq!(t.qualified(), "`app`.`orders`");
        assert!(matches!(
            Table::new("app", "orders", cols.clone(), "nope"),
            Err(BinlogError::NoShardKeyColumn { .. })
        ));
        let no_pk = vec![column("id", int, false)];
        assert!(matches!(
            Table::new("app", "t", no_pk, "id"),
            Err(BinlogError::NoPrimaryKey(_))
        ));
    }
}
