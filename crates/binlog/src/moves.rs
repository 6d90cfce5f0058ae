//! Which row changes of a followed table reach a new owner, and the statements that apply
//! them there idempotently: a row is written whole (`REPLACE`, so applying it twice, or over
//! the row the copy wrote, leaves the source's row) and deleted by its primary key.

use std::sync::Arc;

use mysql_common::binlog::value::BinlogValue;
use mysql_common::value::Value;
use shardgate_ring::{KeyKind, KeyValue, Sharder};

use crate::literal::write_literal;
use crate::table::{quoted, ColumnKind, Table};
use crate::BinlogError;

/// A row's values in column order, as the binlog holds them (the full image).
pub type Row = Vec<BinlogValue<'static>>;

/// The new owner of a shard-key value: `Some(shard name)` when the key moves away from the
/// source, `None` when it stays.
pub type NewOwner = Arc<dyn Fn(&KeyValue<'_>) -> Option<String> + Send + Sync>;

/// The new owner of each key of `kind` under `sharder` over shards `names`, for keys leaving
/// `source`.
pub fn new_owner_by(
    sharder: Arc<Sharder>,
    names: Vec<String>,
    source: String,
    kind: KeyKind,
) -> NewOwner {
    Arc::new(move |key| {
        // A key the sharder refuses (not an integer for an integer key) has no owner to move to.
        let owner = names.get(sharder.shard_for(key, kind).ok()?)?;
        (*owner != source).then(|| owner.clone())
    })
}

/// One row change of a followed table.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange {
    Insert(Row),
    Update { before: Row, after: Row },
    Delete(Row),
}

/// A statement for one target shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetStatement {
    pub target: String,
    pub sql: String,
}

/// The statements that bring `change` to the new owners of its keys: none when neither
/// image's key moves. An update whose key changes owner deletes the row where its old key
/// went and writes it where its new key goes.
pub fn statements_for(
    table: &Table,
    change: &RowChange,
    new_owner: &NewOwner,
) -> Result<Vec<TargetStatement>, BinlogError> {
    (writes(table, change, new_owner)?.into_iter())
        .map(|(target, write)| match write {
            Write::Replace(row) => replace(table, row, target),
            Write::Delete(row) => delete(table, row, target),
        })
        .collect()
}

/// What one row change does on a target: write a row whole, or delete the row of a primary key.
#[derive(Debug, PartialEq)]
enum Write<'r> {
    Replace(&'r Row),
    Delete(&'r Row),
}

/// The writes of `change`, by target, in order.
fn writes<'r>(
    table: &Table,
    change: &'r RowChange,
    new_owner: &NewOwner,
) -> Result<Vec<(String, Write<'r>)>, BinlogError> {
    let owner = |row: &Row| -> Result<Option<String>, BinlogError> {
        check_width(table, row)?;
        Ok(key_of(table, row).and_then(|key| new_owner(&key)))
    };
    let mut out = Vec::new();
    match change {
        RowChange::Insert(row) => {
            if let Some(target) = owner(row)? {
                out.push((target, Write::Replace(row)));
            }
        }
        RowChange::Delete(row) => {
            if let Some(target) = owner(row)? {
                out.push((target, Write::Delete(row)));
            }
        }
        RowChange::Update { before, after } => {
            let (was, now) = (owner(before)?, owner(after)?);
            if let Some(was) = was {
                let same_row = primary_key(table, before)? == primary_key(table, after)?;
                if now.as_ref() != Some(&was) || !same_row {
                    out.push((was, Write::Delete(before)));
                }
            }
            if let Some(now) = now {
                out.push((now, Write::Replace(after)));
            }
        }
    }
    Ok(out)
}

fn check_width(table: &Table, row: &Row) -> Result<(), BinlogError> {
    match row.len() == table.columns.len() {
        true => Ok(()),
        false => Err(BinlogError::ColumnsChanged {
            table: table.name.clone(),
            binlog: row.len(),
            schema: table.columns.len(),
        }),
    }
}

/// The row's shard-key value; `None` for NULL (a NULL key is never moved).
fn key_of<'r>(table: &Table, row: &'r Row) -> Option<KeyValue<'r>> {
    let kind = table.columns[table.shard_key].kind;
    match (&row[table.shard_key], kind) {
        (
            BinlogValue::Value(Value::Int(v)),
            ColumnKind::Integer {
                unsigned: true,
                bytes,
            },
        ) => {
            let bits = 8 * u32::from(bytes);
            let mask = if bits == 64 {
                u64::MAX
            } else {
                (1 << bits) - 1
            };
            Some(KeyValue::Int(i128::from(*v as u64 & mask)))
        }
        (BinlogValue::Value(Value::Int(v)), _) => Some(KeyValue::Int(i128::from(*v))),
        (BinlogValue::Value(Value::UInt(v)), _) => Some(KeyValue::Int(i128::from(*v))),
        (BinlogValue::Value(Value::Bytes(b)), _) => Some(KeyValue::Str(b)),
        _ => None,
    }
}

fn literal(table: &Table, row: &Row, i: usize) -> Result<String, BinlogError> {
    let mut out = String::new();
    write_literal(&row[i], table.columns[i].kind, &mut out)?;
    Ok(out)
}

fn primary_key(table: &Table, row: &Row) -> Result<Vec<String>, BinlogError> {
    (table.primary_key.iter())
        .map(|&i| literal(table, row, i))
        .collect()
}

fn replace(table: &Table, row: &Row, target: String) -> Result<TargetStatement, BinlogError> {
    let (mut names, mut values) = (Vec::new(), Vec::new());
    for (i, column) in table.columns.iter().enumerate() {
        if !column.generated {
            names.push(quoted(&column.name));
            values.push(literal(table, row, i)?);
        }
    }
    let sql = format!(
        "REPLACE INTO {} ({}) VALUES ({})",
        table.qualified(),
        names.join(", "),
        values.join(", ")
    );
    Ok(TargetStatement { target, sql })
}

fn delete(table: &Table, row: &Row, target: String) -> Result<TargetStatement, BinlogError> {
    let key = primary_key(table, row)?;
    let conditions: Vec<String> = (table.primary_key.iter().zip(key))
        .map(|(&i, value)| format!("{} = {value}", quoted(&table.columns[i].name)))
        .collect();
    let sql = format!(
        "DELETE FROM {} WHERE {}",
        table.qualified(),
        conditions.join(" AND ")
    );
    Ok(TargetStatement { target, sql })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Column;
    use proptest::prelude::*;
    use shardgate_ring::RangeMap;
    use std::collections::BTreeMap;

    /// `orders(id PK, user_id shard key, note)`; user ids from 100 move to `s2`.
    fn orders() -> (Table, NewOwner) {
        let int = ColumnKind::Integer {
            unsigned: false,
            bytes: 8,
        };
        let column = |name: &str, kind, primary_key| Column {
            name: name.into(),
            kind,
            generated: false,
            primary_key,
        };
        let columns = vec![
            column("id", int, true),
            column("user_id", int, false),
            column("note", ColumnKind::Bytes, false),
            Column {
                generated: true,
                ..column("note_length", int, false)
            },
        ];
        let table = Table::new("app", "orders", columns, "user_id").unwrap();
        let owner: NewOwner = Arc::new(|key: &KeyValue<'_>| match key.to_integer() {
            Ok(k) if k >= 100 => Some("s2".to_owned()),
            _ => None,
        });
        (table, owner)
    }

    fn row(id: i64, user: i64, note: &str) -> Row {
        vec![
            BinlogValue::Value(Value::Int(id)),
            BinlogValue::Value(Value::Int(user)),
            BinlogValue::Value(Value::Bytes(note.into())),
            BinlogValue::Value(Value::Int(note.len() as i64)),
        ]
    }

    fn sqls(change: RowChange) -> Vec<String> {
        let (table, owner) = orders();
        (statements_for(&table, &change, &owner).unwrap().into_iter())
            .map(|s| format!("{}: {}", s.target, s.sql))
            .collect()
    }

    #[test]
    fn moving_inserts_and_deletes_reach_the_new_owner() {
        assert_eq!(
            sqls(RowChange::Insert(row(1, 150, "a"))),
            ["s2: REPLACE INTO `app`.`orders` (`id`, `user_id`, `note`) VALUES (1, 150, X'61')"]
        );
        assert_eq!(
            sqls(RowChange::Delete(row(1, 150, "a"))),
            ["s2: DELETE FROM `app`.`orders` WHERE `id` = 1"]
        );
    }

    #[test]
    fn a_change_of_a_staying_key_goes_nowhere() {
        assert!(sqls(RowChange::Insert(row(1, 5, "a"))).is_empty());
        assert!(sqls(RowChange::Delete(row(1, 5, "a"))).is_empty());
        let update = RowChange::Update {
            before: row(1, 5, "a"),
            after: row(1, 6, "b"),
        };
        assert!(sqls(update).is_empty());
    }

    #[test]
    fn updates_follow_the_key_in_and_out_of_the_moving_keys() {
        let update = |b, a| RowChange::Update {
            before: b,
            after: a,
        };
        // Stays moving: written over.
        assert_eq!(
            sqls(update(row(1, 150, "a"), row(1, 150, "b"))),
            ["s2: REPLACE INTO `app`.`orders` (`id`, `user_id`, `note`) VALUES (1, 150, X'62')"]
        );
        // Into the moving keys: written on the new owner.
        assert_eq!(
            sqls(update(row(1, 5, "a"), row(1, 150, "a"))),
            ["s2: REPLACE INTO `app`.`orders` (`id`, `user_id`, `note`) VALUES (1, 150, X'61')"]
        );
        // Out of them: deleted there.
        assert_eq!(
            sqls(update(row(1, 150, "a"), row(1, 5, "a"))),
            ["s2: DELETE FROM `app`.`orders` WHERE `id` = 1"]
        );
        // Its primary key changes: the old row goes.
        assert_eq!(
            sqls(update(row(1, 150, "a"), row(2, 150, "a"))),
            [
                "s2: DELETE FROM `app`.`orders` WHERE `id` = 1",
                "s2: REPLACE INTO `app`.`orders` (`id`, `user_id`, `note`) VALUES (2, 150, X'61')"
            ]
        );
    }

    /// One change of a random history of `orders` on the source: (id, user_id, note).
    #[derive(Debug, Clone)]
    enum Step {
        Insert(i64, i64, u8),
        Update(i64, i64, i64, u8),
        Delete(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        // Few ids and keys on both sides of 100, so rows collide, move in and out.
        let (id, user) = (0i64..6, prop_oneof![0i64..4, 98i64..103, 150i64..152]);
        prop_oneof![
            (id.clone(), user.clone(), any::<u8>()).prop_map(|(i, u, n)| Step::Insert(i, u, n)),
            (id.clone(), id.clone(), user, any::<u8>())
                .prop_map(|(i, j, u, n)| Step::Update(i, j, u, n)),
            id.prop_map(Step::Delete),
        ]
    }

    proptest! {
        /// Whatever the source's history, the target ends with exactly the source's rows whose
        /// key moves, and applying every change a second time changes nothing.
        #[test]
        fn the_target_follows_the_moving_rows(steps in proptest::collection::vec(step(), 0..40)) {
            let (table, owner) = orders();
            let mut source: BTreeMap<i64, (i64, u8)> = BTreeMap::new();
            let mut changes = Vec::new();
            for step in steps {
                let r = |id: i64, (user, note): (i64, u8)| row(id, user, &note.to_string());
                match step {
                    Step::Insert(id, user, note) if !source.contains_key(&id) => {
                        source.insert(id, (user, note));
                        changes.push(RowChange::Insert(r(id, (user, note))));
                    }
                    Step::Update(id, new_id, user, note)
                        if source.contains_key(&id) && (id == new_id || !source.contains_key(&new_id)) =>
                    {
                        let before = source.remove(&id).unwrap();
                        source.insert(new_id, (user, note));
                        changes.push(RowChange::Update { before: r(id, before), after: r(new_id, (user, note)) });
                    }
                    Step::Delete(id) if source.contains_key(&id) => {
                        let before = source.remove(&id).unwrap();
                        changes.push(RowChange::Delete(r(id, before)));
                    }
                    _ => {}
                }
            }
            let expected: BTreeMap<i64, Row> = (source.iter())
                .filter(|(_, (user, _))| *user >= 100)
                .map(|(id, (user, note))| (*id, row(*id, *user, &note.to_string())))
                .collect();
            let mut target: BTreeMap<i64, Row> = BTreeMap::new();
            for _ in 0..2 {
                for change in &changes {
                    for (to, write) in writes(&table, change, &owner).unwrap() {
                        prop_assert_eq!(to, "s2");
                        let id = |row: &Row| match row[0] {
                            BinlogValue::Value(Value::Int(id)) => id,
                            _ => unreachable!("ids are integers"),
                        };
                        match write {
                            Write::Replace(row) => target.insert(id(row), row.clone()),
                            Write::Delete(row) => target.remove(&id(row)),
                        };
                    }
                }
                prop_assert_eq!(&target, &expected);
            }
        }
    }

    #[test]
    fn a_row_of_another_width_is_refused() {
        let (table, owner) = orders();
        let mut short = row(1, 150, "a");
        short.pop();
        let err = statements_for(&table, &RowChange::Insert(short), &owner).unwrap_err();
        assert!(matches!(
            err,
            BinlogError::ColumnsChanged {
                binlog: 3,
                schema: 4,
                ..
            }
        ));
    }

    #[test]
    fn owners_come_from_the_new_sharder() {
        let ranges = RangeMap::new(vec![
            shardgate_ring::KeyRange {
                start: None,
                end: Some(100),
                shard: 0,
            },
            shardgate_ring::KeyRange {
                start: Some(100),
                end: None,
                shard: 1,
            },
        ])
        .unwrap();
        let owner = new_owner_by(
            Arc::new(Sharder::Range(ranges)),
            vec!["s0".into(), "s2".into()],
            "s0".into(),
            KeyKind::Integer,
        );
        assert_eq!(owner(&KeyValue::Int(99)), None);
        assert_eq!(owner(&KeyValue::Int(100)), Some("s2".into()));
        assert_eq!(owner(&KeyValue::Str(b"x")), None);
    }
}
