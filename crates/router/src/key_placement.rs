//! Whether a table's rows with shard keys MariaDB calls equal live on one shard: the premise
//! of pinning a read by its key and of every plan that takes rows equal on the key to be
//! co-located (joins and correlations on shard keys, groups and window partitions by them).
//!
//! An integer key always does (`42` and `'042'` hash alike). A string key's values are placed
//! by their fold under the table's `shard_key_collation` (`Collation::fold_key`), which keeps
//! together what that collation calls equal; the column's own collation, read from the schema
//! cache, must call equal no more than that: a column of the same collation family, a `*_bin`
//! one or a byte string. Another column (`latin1_swedish_ci`, `utf8mb4_unicode_520_ci`, a
//! number, a `BINARY(n)` padded with zero bytes) calls equal values the fold tells apart
//! (`'ü'` and `'y'` under `latin1_swedish_ci`), and such a table's key is *loose*: its reads
//! go to every shard and nothing is co-located by it, exact at a scatter's cost.

use shardgate_config::{ShardKeyType, TableRule, Topology};
use shardgate_merge::Collation;
use shardgate_schema::{Column, SchemaStatus};

use sqlparser::ast::Statement;

use crate::RouteError;

/// Whether rows of `rule`'s table with equal keys live on one shard; `None` when the schema
/// cache does not know the table (a string key only: integer keys need no schema).
pub(crate) fn keys_placed_exactly(rule: &TableRule, schema: &SchemaStatus) -> Option<bool> {
    if rule.key_type == ShardKeyType::Integer {
        return Some(true);
    }
    if schema.disagreement(&rule.name).is_some() {
        return Some(false);
    }
    let column = schema.schema.table(&rule.name)?.column(&rule.shard_key);
    Some(column.is_some_and(|c| column_follows(c, rule.key_collation)))
}

/// The same for a table of a statement being planned, reading the schema cache only for
/// string keys. Unknown counts as loose (the caller asked [`columns_needed`] first).
pub(crate) fn keys_exact(rule: &TableRule, topology: &Topology) -> bool {
    rule.key_type == ShardKeyType::Integer
        || keys_placed_exactly(rule, &topology.schema.current()).unwrap_or(false)
}

/// `Err(SchemaNeeded)` naming the string-keyed tables `stmt` reads that the schema cache does
/// not know: whether their keys pin reads and co-locate depends on their columns.
pub(crate) fn columns_needed(stmt: &Statement, topology: &Topology) -> Result<(), RouteError> {
    if !(topology.tables.values()).any(|r| r.key_type == ShardKeyType::String) {
        return Ok(());
    }
    let tables = crate::planner::sharded_relations(stmt, topology);
    let mut string_keyed = tables
        .iter()
        .filter(|t| {
            topology
                .table(t)
                .is_some_and(|r| r.key_type == ShardKeyType::String)
        })
        .peekable();
    if string_keyed.peek().is_none() {
        return Ok(());
    }
    let schema = topology.schema.current();
    let mut missing: Vec<String> = Vec::new();
    for table in string_keyed {
        let rule = topology.table(table).expect("filtered above");
        if keys_placed_exactly(rule, &schema).is_none() && !missing.contains(table) {
            missing.push(table.clone());
        }
    }
    match missing.is_empty() {
        true => Ok(()),
        false => Err(RouteError::SchemaNeeded { tables: missing }),
    }
}

/// The string-keyed tables whose key column the schema cache shows not to follow their key
/// collation, each with why (for the operator: their reads go to every shard).
pub fn loose_keys(topology: &Topology) -> Vec<String> {
    let schema = topology.schema.current();
    let mut loose: Vec<String> = (topology.tables.values())
        .filter(|rule| keys_placed_exactly(rule, &schema) == Some(false))
        .map(|rule| {
            let column = (schema.schema.table(&rule.name))
                .and_then(|t| t.column(&rule.shard_key))
                .map_or("missing".to_string(), |c| {
                    format!("{} {}", c.column_type, c.collation.as_deref().unwrap_or(""))
                });
            format!(
                "`{}`.`{}` ({}) is not compared as its keys are placed ({:?}; set shard_key_collation to the column's)",
                rule.name,
                rule.shard_key,
                column.trim_end(),
                rule.key_collation
            )
        })
        .collect();
    loose.sort();
    loose
}

/// Whether values `column` calls equal fold alike under `key_collation`.
fn column_follows(column: &Column, key_collation: Collation) -> bool {
    let base = column.base_type();
    match base.as_str() {
        // Bytes, no pad: equal values are equal bytes.
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => true,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
            let Some(collation) = column.collation.as_deref() else {
                return false;
            };
            // Other character sets hold what a UTF-8 client sends converted (`?` for what
            // they cannot hold): equal there is not equal in the text the proxy hashes.
            let Some(name) = ["utf8mb4_", "utf8mb3_", "utf8_"]
                .iter()
                .find_map(|charset| collation.strip_prefix(charset))
            else {
                return false;
            };
            match name {
                "bin" | "nopad_bin" => true,
                "general_ci" | "general_nopad_ci" => key_collation == Collation::GeneralCi,
                "unicode_ci" | "unicode_nopad_ci" => key_collation == Collation::UnicodeCi,
                _ => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_topology::{two_shards, with_columns};
    use crate::{plan_sql, Route, Syntax};
    use shardgate_schema::ColumnDefault;

    const TABLES: &str = r#"
[[tables]]
name = "tags"
shard_key = "tag"
shard_key_type = "string"
[[tables]]
name = "notes"
shard_key = "tag"
shard_key_type = "string"
"#;

    /// `tags` and `notes`, string keys on `tag`, with `tag` of `tag_type` and `collation`.
    fn tables(tag_type: &str, collation: Option<&str>) -> Topology {
        let t = two_shards(TABLES);
        let t = with_columns(
            t,
            "tags",
            &[("tag", tag_type, collation), ("n", "int", None)],
        );
        with_columns(
            t,
            "notes",
            &[("tag", tag_type, collation), ("body", "text", None)],
        )
    }

    fn route(sql: &str, topology: &Topology) -> Result<Route, RouteError> {
        plan_sql(sql, topology, Syntax::DEFAULT).map(|p| p.route)
    }

    #[test]
    fn a_key_column_of_another_collation_pins_nothing_and_co_locates_nothing() {
        let point = "SELECT * FROM tags WHERE tag = 'abc'";
        let join = "SELECT * FROM tags t JOIN notes n ON n.tag = t.tag WHERE t.tag = 'abc'";
        let grouped = "SELECT tag, COUNT(*) FROM tags GROUP BY tag";
        let exact = tables("varchar(20)", Some("utf8mb4_general_ci"));
        assert!(matches!(route(point, &exact), Ok(Route::Shard(_))));
        assert!(matches!(route(join, &exact), Ok(Route::Shard(_))));
        let loose = tables("varchar(20)", Some("latin1_swedish_ci"));
        assert!(
            matches!(route(point, &loose), Ok(Route::Scatter(_))),
            "{:?}",
            route(point, &loose)
        );
        // Each shard's `abc` rows may meet rows equal to them on the other.
        assert!(!matches!(
            route(join, &loose),
            Ok(Route::Shard(_) | Route::Scatter(_))
        ));
        let e = format!("{:?}", route(grouped, &loose));
        assert!(e.contains("Scatter") || e.contains("Merge"), "{e}");
    }

    #[test]
    fn a_string_key_of_a_table_the_cache_does_not_know_asks_for_its_columns() {
        let topology = two_shards(TABLES);
        match route("SELECT * FROM tags WHERE tag = 'abc'", &topology) {
            Err(RouteError::SchemaNeeded { tables }) => assert_eq!(tables, ["tags"]),
            other => panic!("{other:?}"),
        }
        // Writes are placed by the fold alone.
        assert!(matches!(
            route("INSERT INTO tags (tag, n) VALUES ('abc', 1)", &topology),
            Ok(Route::Shard(_))
        ));
    }

    fn column(column_type: &str, collation: Option<&str>) -> Column {
        Column {
            name: "k".into(),
            column_type: column_type.into(),
            collation: collation.map(Into::into),
            default: ColumnDefault::Null,
            primary_key: false,
        }
    }

    #[test]
    fn columns_whose_equal_values_fold_alike_place_keys_exactly() {
        let general = Collation::GeneralCi;
        let unicode = Collation::UnicodeCi;
        let follows = |t: &str, c: Option<&str>, k| column_follows(&column(t, c), k);
        assert!(follows("varchar(64)", Some("utf8mb4_general_ci"), general));
        assert!(follows("char(8)", Some("utf8mb3_general_ci"), general));
        assert!(follows("text", Some("utf8mb4_general_nopad_ci"), general));
        assert!(follows("varchar(64)", Some("utf8mb4_bin"), general));
        assert!(follows("varchar(64)", Some("utf8mb4_nopad_bin"), unicode));
        assert!(follows("varbinary(16)", None, general));
        assert!(follows("blob", None, unicode));
        assert!(follows("varchar(64)", Some("utf8mb4_unicode_ci"), unicode));
        // ß = s under general_ci, ß = ss under unicode_ci: neither fold serves the other.
        assert!(!follows("varchar(64)", Some("utf8mb4_unicode_ci"), general));
        assert!(!follows("varchar(64)", Some("utf8mb4_general_ci"), unicode));
        assert!(!follows(
            "varchar(64)",
            Some("utf8mb4_unicode_520_ci"),
            general
        ));
        assert!(!follows("varchar(64)", Some("latin1_swedish_ci"), general));
        assert!(!follows("varchar(64)", Some("latin1_bin"), general));
        assert!(!follows("binary(16)", None, general));
        assert!(!follows("int(11)", None, general));
        assert!(!follows(
            "enum('a','b')",
            Some("utf8mb4_general_ci"),
            general
        ));
    }
}
