//! `INSERT … SELECT` into a table whose rows the proxy must see before they are written: one
//! with lookups (their lookup rows go first) or one whose `auto_increment` column the INSERT
//! leaves to the proxy (its ids come from the sequence); and one that no shard answers alone
//! (its SELECT reads other shards than its rows go to: [`across_shards`]). The planner answers
//! [`RouteError::InsertFromSelect`]; the session runs the SELECT (merged across shards where it
//! must be), bounded like a merge, and plans `INSERT … VALUES` of its rows, which the planner
//! handles as any INSERT (split by shard).

use shardgate_config::Topology;
use sqlparser::ast::{Insert, SetExpr, Spanned, TableObject};

use crate::rewrite::Offsets;
use crate::shard_key::base_name;
use crate::RouteError;

/// An INSERT … SELECT to run as INSERT … VALUES of its SELECT's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertFromSelect {
    /// The table written, as the config names it.
    pub table: String,
    /// The INSERT up to its SELECT, as written: `INSERT [IGNORE] INTO t (a, b) `.
    pub head: String,
    /// The SELECT, as written.
    pub select: String,
    /// How many columns the INSERT lists (each row of the SELECT must have as many).
    pub columns: usize,
}

impl InsertFromSelect {
    /// The INSERT with `rows` (each cell an SQL literal) as its VALUES.
    pub fn with_rows(&self, rows: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + 16 * rows.len() * self.columns);
        out.extend_from_slice(self.head.trim_end().as_bytes());
        out.extend_from_slice(b" VALUES ");
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            out.push(b'(');
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(cell);
            }
            out.push(b')');
        }
        out
    }
}

impl std::fmt::Display for InsertFromSelect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "INSERT … SELECT into `{}` by rows: first `{}` (on its one shard, or on every shard it reads, merged in the proxy where it must be; at most merge_max_rows rows), then `{}VALUES …` of its rows, planned as any INSERT (lookup rows first, ids from the sequence, split by shard)",
            self.table, self.select, self.head
        )
    }
}

/// `refusal` of an INSERT … SELECT into a table of the config that no one shard answers, or
/// the request to run it by rows when it lists its columns (without `ON DUPLICATE KEY
/// UPDATE`, whose expressions may read the SELECT's tables).
pub(crate) fn across_shards(
    ins: &Insert,
    sql: &str,
    topology: &Topology,
    refusal: RouteError,
) -> RouteError {
    let cross_shard = matches!(
        refusal,
        RouteError::NotSupported(_)
            | RouteError::CrossShard { .. }
            | RouteError::NoShardKey { .. }
            | RouteError::KeySpansShards { .. }
    );
    let Some(query) = ins.source.as_deref() else {
        return refusal;
    };
    let TableObject::TableName(name) = &ins.table else {
        return refusal;
    };
    // Not an unsharded table: MariaDB's INSERT … SELECT reserves AUTO_INCREMENT ids in
    // growing batches (its next id jumps past the rows written), which INSERT … VALUES of the
    // rows would not reproduce (found by the fuzz tester).
    let Some(table) =
        base_name(name).filter(|n| topology.table(n).is_some() || topology.is_reference(n))
    else {
        return refusal;
    };
    if !cross_shard
        || matches!(query.body.as_ref(), SetExpr::Values(_))
        || ins.columns.is_empty()
        || ins.on.is_some()
    {
        return refusal;
    }
    let mut offsets = Offsets::new(sql);
    let Some(start) = offsets.at(query.span().start) else {
        return refusal;
    };
    let select = sql[start..].trim_end().trim_end_matches(';').trim_end();
    RouteError::InsertFromSelect(Box::new(InsertFromSelect {
        table: topology.table(&table).map_or(table, |r| r.name.clone()),
        head: sql[..start].to_owned(),
        select: select.to_owned(),
        columns: ins.columns.len(),
    }))
}

/// Answers [`RouteError::InsertFromSelect`] for an INSERT … SELECT the proxy must run by rows.
pub(crate) fn check(ins: &Insert, sql: &str, topology: &Topology) -> Result<(), RouteError> {
    let Some(query) = ins.source.as_deref() else {
        return Ok(());
    };
    if matches!(query.body.as_ref(), SetExpr::Values(_)) {
        return Ok(());
    }
    let TableObject::TableName(name) = &ins.table else {
        return Ok(());
    };
    let Some(rule) = base_name(name).and_then(|n| topology.table(&n)) else {
        return Ok(());
    };
    let columns: Vec<String> = ins.columns.iter().filter_map(base_name).collect();
    let leaves_ids = rule.auto_increment.as_ref().is_some_and(|ai| {
        columns.is_empty() || !columns.iter().any(|c| c.eq_ignore_ascii_case(&ai.column))
    });
    if rule.lookups.is_empty() && !leaves_ids {
        return Ok(());
    }
    let why = if rule.lookups.is_empty() {
        "its ids come from the proxy's sequence"
    } else {
        "its lookup rows are written first"
    };
    let refuse = |what: &str| {
        RouteError::NotSupported(format!(
            "INSERT … SELECT into `{}` ({why}, so the proxy inserts the SELECT's rows as VALUES): {what}",
            rule.name
        ))
    };
    if columns.is_empty() {
        return Err(refuse("list the columns it writes"));
    }
    if ins.on.is_some() {
        return Err(refuse(
            "ON DUPLICATE KEY UPDATE is not supported with it; insert the rows with VALUES",
        ));
    }
    let mut offsets = Offsets::new(sql);
    let start = offsets
        .at(query.span().start)
        .ok_or_else(|| refuse("shardgate cannot find its SELECT in the text"))?;
    let select = sql[start..].trim_end().trim_end_matches(';').trim_end();
    Err(RouteError::InsertFromSelect(Box::new(InsertFromSelect {
        table: rule.name.clone(),
        head: sql[..start].to_owned(),
        select: select.to_owned(),
        columns: columns.len(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Syntax;

    fn topology() -> Topology {
        crate::test_topology::two_shards(
            r#"
[[tables]]
name = "users"
shard_key = "id"
lookups = [{ column = "email", unique = true }]
[[tables]]
name = "notes"
shard_key = "id"
auto_increment = { column = "id", sequence = "notes_seq" }
[[tables]]
name = "plain"
shard_key = "id"
"#,
        )
    }

    fn planned(sql: &str) -> Result<crate::Plan, RouteError> {
        crate::plan_sql(sql, &topology(), Syntax::DEFAULT)
    }

    #[test]
    fn inserts_from_a_select_run_by_rows() {
        let Err(RouteError::InsertFromSelect(request)) = planned(
            "INSERT IGNORE INTO users (id, email) SELECT id, email FROM plain WHERE id > 3;",
        ) else {
            panic!()
        };
        assert_eq!(request.head, "INSERT IGNORE INTO users (id, email) ");
        assert_eq!(request.select, "SELECT id, email FROM plain WHERE id > 3");
        assert_eq!(request.columns, 2);
        assert!(request
            .to_string()
            .contains("first `SELECT id, email FROM plain WHERE id > 3`"));
        let rows = vec![
            vec![b"1".to_vec(), b"'a'".to_vec()],
            vec![b"2".to_vec(), b"NULL".to_vec()],
        ];
        assert_eq!(
            String::from_utf8(request.with_rows(&rows)).unwrap(),
            "INSERT IGNORE INTO users (id, email) VALUES (1, 'a'), (2, NULL)"
        );
        assert!(matches!(
            planned("INSERT INTO notes (body) SELECT email FROM plain"),
            Err(RouteError::InsertFromSelect(_))
        ));
    }

    #[test]
    fn others_are_planned_as_before_or_refused_with_the_reason() {
        // Ids given: pushed down or refused by the planner as before.
        assert!(!matches!(
            planned("INSERT INTO notes (id, body) SELECT id, email FROM plain WHERE id = 1"),
            Err(RouteError::InsertFromSelect(_))
        ));
        assert!(!matches!(
            planned("INSERT INTO plain (id) SELECT id FROM plain WHERE id = 1"),
            Err(RouteError::InsertFromSelect(_))
        ));
        for sql in [
            "INSERT INTO users SELECT * FROM plain",
            "INSERT INTO users (id, email) SELECT id, email FROM plain ON DUPLICATE KEY UPDATE email = 'x'",
        ] {
            assert!(
                matches!(planned(sql), Err(RouteError::NotSupported(_))),
                "{sql}"
            );
        }
    }
}
