//! Shards whose copies of a table differ: a scatter over such a table would merge rows of
//! different shapes, so the planner refuses `SELECT *` over it and `SHOW SHARDGATE SCHEMA`
//! names it.

use crate::{Schema, TableColumns};

/// One table that `shard` defines differently from the shard the cache was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// Lower-cased table name.
    pub table: String,
    pub shard: String,
    /// What differs, for people.
    pub what: String,
}

/// The tables `other` (read from `shard`) defines differently from `reference` (read from
/// `reference_shard`), among the tables `reference` holds.
pub fn disagreements(
    reference: &Schema,
    reference_shard: &str,
    other: &Schema,
    shard: &str,
) -> Vec<Disagreement> {
    let mut found = Vec::new();
    for (name, mine) in reference.tables() {
        let what = match other.table(name) {
            None => Some(format!("missing on shard {shard}")),
            Some(theirs) => difference(mine, theirs, reference_shard, shard),
        };
        if let Some(what) = what {
            found.push(Disagreement {
                table: name.to_owned(),
                shard: shard.to_owned(),
                what,
            });
        }
    }
    found
}

fn difference(a: &TableColumns, b: &TableColumns, a_shard: &str, b_shard: &str) -> Option<String> {
    let names = |t: &TableColumns| t.names().collect::<Vec<_>>().join(", ");
    let same_names = a.len() == b.len()
        && a.names()
            .zip(b.names())
            .all(|(x, y)| x.eq_ignore_ascii_case(y));
    if !same_names {
        return Some(format!(
            "columns ({}) on shard {a_shard}, ({}) on shard {b_shard}",
            names(a),
            names(b)
        ));
    }
    a.columns.iter().zip(&b.columns).find_map(|(x, y)| {
        if x.column_type != y.column_type {
            Some(format!(
                "column `{}` is {} on shard {a_shard}, {} on shard {b_shard}",
                x.name, x.column_type, y.column_type
            ))
        } else if x.collation != y.collation {
            Some(format!(
                "column `{}` has collation {} on shard {a_shard}, {} on shard {b_shard}",
                x.name,
                x.collation.as_deref().unwrap_or("none"),
                y.collation.as_deref().unwrap_or("none")
            ))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::row;

    #[test]
    fn equal_schemas_agree() {
        let a = Schema::from_rows([row("t", "id", 1, "int"), row("t", "v", 2, "varchar(5)")]);
        assert!(disagreements(&a, "s0", &a.clone(), "s1").is_empty());
    }

    #[test]
    fn missing_tables_other_columns_types_and_collations_are_named() {
        let a = Schema::from_rows([
            row("t", "id", 1, "int"),
            row("t", "v", 2, "varchar(5)"),
            row("u", "id", 1, "int"),
            row("w", "id", 1, "int"),
            row("z", "v", 1, "varchar(5)"),
        ]);
        let mut z = row("z", "v", 1, "varchar(5)");
        z.collation = Some("utf8mb4_bin".into());
        let b = Schema::from_rows([
            row("t", "v", 1, "varchar(5)"),
            row("t", "id", 2, "int"),
            row("w", "id", 1, "bigint"),
            z,
        ]);
        let found = disagreements(&a, "s0", &b, "s1");
        let whats: Vec<(&str, &str)> = found
            .iter()
            .map(|d| (d.table.as_str(), d.what.as_str()))
            .collect();
        assert_eq!(
            whats,
            [
                ("t", "columns (id, v) on shard s0, (v, id) on shard s1"),
                ("u", "missing on shard s1"),
                ("w", "column `id` is int on shard s0, bigint on shard s1"),
                (
                    "z",
                    "column `v` has collation utf8mb4_general_ci on shard s0, utf8mb4_bin on shard s1"
                ),
            ]
        );
    }
}
