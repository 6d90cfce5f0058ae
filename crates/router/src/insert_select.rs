//! `INSERT … SELECT` into a table whose rows the proxy must see before they are written: one
//! with lookups (their lookup rows go first) or one whose `auto_increment` column the INSERT
//! leaves to the proxy (its ids come from the sequence); and one that no shard answers alone
//! (its SELECT reads other shards than its rows go to: [`across_shards`]). The planner answers
//! [`RouteError::InsertFromSelect`]; the session runs the SELECT (merged across shards where it
//! must be), bounded like a merge, and plans `INSERT … VALUES` of its rows, which the planner
//! handles as any INSERT (split by shard). Into an unsharded table the rows are written as
//! `INSERT … SELECT <row> UNION ALL VALUES (<row>), …`: still an INSERT … SELECT to MariaDB,
//! which reserves AUTO_INCREMENT ids for it in growing batches (its next id jumps past the rows
//! written) where INSERT … VALUES reserves exactly as many.

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
    /// The rows go in as a SELECT of them (an unsharded table, see the module's comment).
    pub rows_as_select: bool,
}

impl InsertFromSelect {
    /// The INSERT with `rows` (each cell an SQL literal) as its VALUES, or as its SELECT
    /// (`SELECT <first row> UNION ALL VALUES (<row>), …`) when `rows_as_select`.
    pub fn with_rows(&self, rows: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + 16 * rows.len() * self.columns);
        out.extend_from_slice(self.head.trim_end().as_bytes());
        out.extend_from_slice(match self.rows_as_select {
            true => b" SELECT ",
            false => b" VALUES ",
        });
        for (i, row) in rows.iter().enumerate() {
            match (i, self.rows_as_select) {
                (0, _) => {}
                (1, true) => out.extend_from_slice(b" UNION ALL VALUES "),
                _ => out.extend_from_slice(b", "),
            }
            let parenthesized = i > 0 || !self.rows_as_select;
            if parenthesized {
                out.push(b'(');
            }
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(cell);
            }
            if parenthesized {
                out.push(b')');
            }
        }
        out
    }
}

impl std::fmt::Display for InsertFromSelect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "INSERT … SELECT into `{}` by rows: first `{}` (on its one shard, or on every shard it reads, merged in the proxy where it must be; at most merge_max_rows rows), then ",
            self.table, self.select
        )?;
        match self.rows_as_select {
            true => write!(f, "`{}SELECT <row> UNION ALL VALUES …` of its rows on the default shard (an INSERT … SELECT, whose AUTO_INCREMENT ids MariaDB reserves as for one)", self.head),
            false => write!(f, "`{}VALUES …` of its rows, planned as any INSERT (lookup rows first, ids from the sequence, split by shard)", self.head),
        }
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
    let Some(query) = ins.source.as_deref() else {
        return refusal;
    };
    let TableObject::TableName(name) = &ins.table else {
        return refusal;
    };
    let Some(table) = base_name(name) else {
        return refusal;
    };
    // A reference table read from sharded ones: its rows written to every copy.
    let cross_shard = match refusal {
        RouteError::NotSupported(_)
        | RouteError::CrossShard { .. }
        | RouteError::NoShardKey { .. }
        | RouteError::KeySpansShards { .. } => true,
        RouteError::Unsupported { .. } => topology.is_reference(&table),
        _ => false,
    };
    // An unsharded table's ids are MariaDB's own, reserved as for an INSERT … SELECT.
    let rows_as_select = topology.table(&table).is_none() && !topology.is_reference(&table);
    if !cross_shard || matches!(query.body.as_ref(), SetExpr::Values(_)) || ins.on.is_some() {
        return refusal;
    }
    if ins.columns.is_empty() {
        // The session writes in the table's columns and plans it again (`with_column_list`).
        let written = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.clone());
        return RouteError::InsertWithoutColumns {
            table: written.unwrap_or(table),
        };
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
        rows_as_select,
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
        rows_as_select: false,
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
    fn rows_into_an_unsharded_table_go_in_as_a_select() {
        let Err(RouteError::InsertFromSelect(request)) =
            planned("INSERT INTO log (msg, n) SELECT 'copy', id FROM plain WHERE id > 3")
        else {
            panic!()
        };
        assert!(request.rows_as_select);
        let row = |n: &str| vec![b"'copy'".to_vec(), n.as_bytes().to_vec()];
        let text = |rows: &[Vec<Vec<u8>>]| String::from_utf8(request.with_rows(rows)).unwrap();
        assert_eq!(
            text(&[row("4")]),
            "INSERT INTO log (msg, n) SELECT 'copy', 4"
        );
        assert_eq!(
            text(&[row("4"), row("5"), row("6")]),
            "INSERT INTO log (msg, n) SELECT 'copy', 4 UNION ALL VALUES ('copy', 5), ('copy', 6)"
        );
        // Without a column list, or with ON DUPLICATE KEY UPDATE: refused as before.
        for sql in [
            "INSERT INTO log SELECT 'copy', id FROM plain",
            "INSERT INTO log (msg, n) SELECT 'copy', id FROM plain ON DUPLICATE KEY UPDATE n = 1",
        ] {
            assert!(
                !matches!(planned(sql), Err(RouteError::InsertFromSelect(_))),
                "{sql}"
            );
        }
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
