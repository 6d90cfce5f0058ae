//! An UPDATE / DELETE with `LIMIT` (and `ORDER BY`) whose rows may lie on several shards.
//! No shard can apply the LIMIT alone, so the proxy first reads the rows the write would change
//! — `SELECT <shard key>, <primary key> FROM t WHERE … ORDER BY …, <primary key> LIMIT …
//! FOR UPDATE`, merged across shards like any scatter (sorted, limited) — and then sends the
//! write without its ORDER BY and LIMIT, narrowed to exactly those rows: `… WHERE (…) AND
//! (<shard key>, <primary key>) IN ((…), …)`, planned as any write (split by shard key). A row
//! is named by its shard key with its primary key: the key fixes its shard, the primary key is
//! unique there. Without ORDER BY, MariaDB changes the first rows its scan meets (undefined;
//! InnoDB's full scan is in primary-key order): the rows are taken in primary-key order; with
//! one, ties are broken by the primary key.
//!
//! Unlike MariaDB's one statement, the SELECT and the write are two: outside a transaction,
//! a row changed between them is changed only if it still matches the WHERE. Inside one, the
//! SELECT locks the rows it read.

use shardgate_config::Topology;
use shardgate_schema::TableColumns;
use sqlparser::ast::{Expr, OrderByExpr, TableFactor, TableWithJoins};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::Token;

use crate::materialize::quote;
use crate::rewrite::Offsets;
use crate::{RouteError, Syntax};

/// The two steps of a limited write across shards (see the module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitedWrite {
    /// `UPDATE` or `DELETE`.
    pub verb: &'static str,
    /// The sharded table written.
    pub table: String,
    /// The locking SELECT of the rows to change.
    pub select: String,
    /// The write as written up to its WHERE / ORDER BY / LIMIT.
    head: String,
    /// Its WHERE condition as written.
    condition: Option<String>,
    /// The columns that name a row: the shard key, then the primary key's others.
    columns: Vec<String>,
}

/// The parts of an UPDATE / DELETE a limited write needs.
pub(crate) struct Clauses<'a> {
    pub verb: &'static str,
    /// What the write does that needs its rows read first, in refusals ("with LIMIT across
    /// shards").
    pub purpose: &'static str,
    pub from: &'a TableWithJoins,
    pub selection: Option<&'a Expr>,
    pub order_by: &'a [OrderByExpr],
    /// `None`: every row the WHERE matches (a shard-key UPDATE, `moving_update.rs`).
    pub limit: Option<&'a Expr>,
}

impl Clauses<'_> {
    /// The refusal of this write, saying `why`.
    pub fn refusal(&self, why: &str) -> RouteError {
        RouteError::NotSupported(format!(
            "{} {}: {why}; add the shard key to the WHERE clause to run it on one shard",
            self.verb, self.purpose
        ))
    }

    /// The sharded table written and its columns in the schema cache: `Err(SchemaNeeded)` when
    /// they are not known yet, `Err(SchemaDisagrees)` when the shards define it differently.
    pub fn table<'t>(
        &self,
        topology: &'t Topology,
    ) -> Result<(&'t shardgate_config::TableRule, TableColumns), RouteError> {
        let TableFactor::Table { name, .. } = &self.from.relation else {
            return Err(self.refusal("not a table"));
        };
        let table = crate::shard_key::base_name(name).ok_or_else(|| self.refusal("not a table"))?;
        let rule = topology
            .table(&table)
            .ok_or_else(|| self.refusal("not a sharded table"))?;
        let status = topology.schema.current();
        match status.agreed(&table) {
            Some(columns) => Ok((rule, columns.clone())),
            // The cache may be older than the shards: the session reads the table again first.
            None if status.disagreement(&table).is_some() => Err(RouteError::SchemaDisagrees {
                tables: vec![table.to_ascii_lowercase()],
                refusal: Box::new(self.refusal("the shards define the table differently")),
            }),
            None => Err(RouteError::SchemaNeeded {
                tables: vec![table.to_ascii_lowercase()],
            }),
        }
    }
}

impl LimitedWrite {
    /// The columns that name a row: the shard key, then the primary key's others.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The write narrowed to `rows` (each a literal per column of the SELECT), or why not.
    /// `rows` must not be empty (no row: nothing to write).
    pub fn with_rows(&self, rows: &[Vec<Vec<u8>>]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(self.head.len() + 32 * rows.len());
        // Each piece of the text ends its line: a `-- comment` or `# comment` it ends with must
        // not swallow what is added after it.
        out.extend_from_slice(self.head.trim_end().as_bytes());
        out.extend_from_slice(b"\nWHERE ");
        if let Some(condition) = &self.condition {
            out.extend_from_slice(b"(");
            out.extend_from_slice(condition.as_bytes());
            out.extend_from_slice(b"\n) AND ");
        }
        let tuple = self.columns.len() > 1;
        let names: Vec<String> = self.columns.iter().map(|c| quote(c)).collect();
        out.extend_from_slice(if tuple { b"(" } else { b"" });
        out.extend_from_slice(names.join(", ").as_bytes());
        out.extend_from_slice(if tuple { b") IN (" } else { b" IN (" });
        for (i, row) in rows.iter().enumerate() {
            if row.len() != self.columns.len() {
                return Err(format!(
                    "a row of {} columns where {} were selected",
                    row.len(),
                    self.columns.len()
                ));
            }
            if row
                .first()
                .is_some_and(|key| key.eq_ignore_ascii_case(b"NULL"))
            {
                // `(NULL, …) IN (…)` is never true: the row would be left unchanged.
                return Err(format!(
                    "a row to change has shard key `{}` NULL",
                    self.columns[0]
                ));
            }
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(if tuple { b"(" } else { b"" });
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(cell);
            }
            out.extend_from_slice(if tuple { b")" } else { b"" });
        }
        out.push(b')');
        Ok(out)
    }
}

impl std::fmt::Display for LimitedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} with LIMIT across shards: first `{}` (on every shard, merged in the proxy; at most merge_max_rows rows), then the {} of those rows by ({}), planned as any {}",
            self.verb,
            self.select,
            self.verb,
            self.columns.join(", "),
            self.verb
        )
    }
}

/// The limited write `clauses` of `sql` as two steps, or why it cannot be: `Err(SchemaNeeded)`
/// when the table's primary key is not known yet.
pub(crate) fn plan(
    sql: &str,
    syntax: Syntax,
    clauses: &Clauses<'_>,
    topology: &Topology,
) -> Result<LimitedWrite, RouteError> {
    let refuse = |why: &str| clauses.refusal(why);
    let TableFactor::Table { name, alias, .. } = &clauses.from.relation else {
        return Err(refuse("not a table"));
    };
    let (rule, columns) = clauses.table(topology)?;
    let key = columns
        .column(&rule.shard_key)
        .map(|c| c.name.clone())
        .ok_or_else(|| refuse("its shard key is not a column of the table"))?;
    let primary: Vec<&str> = columns.primary_key().collect();
    if primary.is_empty() {
        return Err(refuse(
            "the table has no PRIMARY KEY to name the rows it would change by",
        ));
    }
    let others = primary
        .iter()
        .filter(|c| !c.eq_ignore_ascii_case(&key))
        .map(|c| (*c).to_owned());
    let row_columns: Vec<String> = std::iter::once(key.clone()).chain(others).collect();
    let primary_order: Vec<String> = primary.iter().map(|c| quote(c)).collect();
    let primary_order = primary_order.join(", ");

    // Where each clause starts in the text: the keywords the statement parsed into them.
    let not_found = || refuse("shardgate cannot find its clauses in the text");
    let found = ClauseOffsets::of(sql, syntax).ok_or_else(not_found)?;
    if found.condition.is_some() != clauses.selection.is_some()
        || found.order.is_some() == clauses.order_by.is_empty()
        || found.limit.is_some() != clauses.limit.is_some()
    {
        return Err(not_found());
    }
    let end = sql.trim_end().trim_end_matches(';').trim_end().len();
    let (order_keyword, limit_keyword) = (found.order, found.limit);
    let head_end = (found.condition.map(|(keyword, _)| keyword))
        .or(order_keyword)
        .or(limit_keyword)
        .unwrap_or(end);
    let condition = found.condition.map(|(_, at)| {
        sql[at..order_keyword.or(limit_keyword).unwrap_or(end)]
            .trim()
            .to_owned()
    });
    // Which rows a LIMIT takes depends on their order; without one every matching row is
    // read, in any order.
    let order_and_limit = match (order_keyword, limit_keyword) {
        (Some(at), Some(limit)) => format!(
            "\n{}\n, {primary_order}\n{}",
            sql[at..limit].trim_end(),
            &sql[limit..end]
        ),
        (None, Some(limit)) => format!("\nORDER BY {primary_order}\n{}", &sql[limit..end]),
        (_, None) => String::new(),
    };
    let alias = alias
        .as_ref()
        .map(|a| format!(" AS {}", a.name))
        .unwrap_or_default();
    let selected: Vec<String> = row_columns.iter().map(|c| quote(c)).collect();
    // Pieces of the text end their lines (see `with_rows`).
    let select = format!(
        "SELECT {} FROM {name}{alias}{}{order_and_limit}\nFOR UPDATE",
        selected.join(", "),
        condition
            .as_ref()
            .map(|c| format!(" WHERE {c}"))
            .unwrap_or_default(),
    );
    Ok(LimitedWrite {
        verb: clauses.verb,
        table: rule.name.clone(),
        select,
        head: sql[..head_end].to_owned(),
        condition,
        columns: row_columns,
    })
}

/// Where a single-table UPDATE / DELETE's own clauses start: each the first of its keyword
/// outside parentheses (a subquery's are inside), in the text as the server reads it
/// (executable comments resolved).
#[derive(Debug, Default, PartialEq, Eq)]
struct ClauseOffsets {
    /// The `WHERE` keyword and the condition after it.
    condition: Option<(usize, usize)>,
    /// `ORDER BY`.
    order: Option<usize>,
    /// `LIMIT`.
    limit: Option<usize>,
}

impl ClauseOffsets {
    fn of(sql: &str, syntax: Syntax) -> Option<ClauseOffsets> {
        let resolved = crate::lex::resolve_comments(sql, syntax);
        let tokens = crate::lex::tokenize(&resolved, syntax, false).ok()?;
        let mut offsets = Offsets::new(&resolved);
        let mut found = ClauseOffsets::default();
        let mut depth = 0usize;
        let mut solid = (tokens.iter())
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .peekable();
        while let Some(t) = solid.next() {
            let keyword = match &t.token {
                Token::LParen => {
                    depth += 1;
                    continue;
                }
                Token::RParen => {
                    depth = depth.checked_sub(1)?;
                    continue;
                }
                Token::Word(w) if depth == 0 && w.quote_style.is_none() => w.keyword,
                _ => continue,
            };
            let later = found.order.is_some() || found.limit.is_some();
            match keyword {
                Keyword::WHERE if found.condition.is_none() && !later => {
                    let at = offsets.at(t.span.start)?;
                    found.condition = Some((at, offsets.at(t.span.end)?));
                }
                Keyword::ORDER
                    if !later
                        && solid.peek().is_some_and(
                            |n| matches!(&n.token, Token::Word(w) if w.keyword == Keyword::BY),
                        ) =>
                {
                    found.order = Some(offsets.at(t.span.start)?);
                }
                Keyword::LIMIT if found.limit.is_none() => {
                    found.limit = Some(offsets.at(t.span.start)?);
                }
                _ => {}
            }
        }
        // Cut in pieces, the text from the first clause on must read as written: no
        // executable comment there.
        let from_first = (found.condition.map(|(keyword, _)| keyword))
            .or(found.order)
            .or(found.limit)
            .unwrap_or(sql.len());
        (resolved.get(from_first..) == sql.get(from_first..)).then_some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;

    const TABLES: &str = "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n";

    fn topology() -> Topology {
        let t = crate::test_topology::two_shards(TABLES);
        let row = |table: &str, column: &str, ordinal: u64, primary_key: bool| {
            shardgate_schema::ColumnRow {
                table: table.into(),
                column: column.into(),
                ordinal,
                column_type: "int".into(),
                collation: None,
                default: shardgate_schema::ColumnDefault::Null,
                primary_key,
            }
        };
        let ticket = t.schema.begin_load();
        t.schema.install_all(
            ticket,
            shardgate_schema::SchemaStatus {
                schema: shardgate_schema::Schema::from_rows([
                    row("users", "id", 1, true),
                    row("users", "score", 2, false),
                    row("orders", "id", 1, true),
                    row("orders", "user_id", 2, false),
                    row("orders", "amount", 3, false),
                ]),
                ..Default::default()
            },
        );
        t
    }

    fn planned(sql: &str, t: &Topology) -> Result<LimitedWrite, RouteError> {
        let statements = crate::lex::parse(sql, crate::Syntax::default()).unwrap();
        match &statements[0] {
            Statement::Update(u) => plan(
                sql,
                crate::Syntax::default(),
                &Clauses {
                    verb: "UPDATE",
                    purpose: "with LIMIT across shards",
                    from: &u.table,
                    selection: u.selection.as_ref(),
                    order_by: &u.order_by,
                    limit: u.limit.as_ref(),
                },
                t,
            ),
            Statement::Delete(d) => {
                let (sqlparser::ast::FromTable::WithFromKeyword(from)
                | sqlparser::ast::FromTable::WithoutKeyword(from)) = &d.from;
                plan(
                    sql,
                    crate::Syntax::default(),
                    &Clauses {
                        verb: "DELETE",
                        purpose: "with LIMIT across shards",
                        from: &from[0],
                        selection: d.selection.as_ref(),
                        order_by: &d.order_by,
                        limit: d.limit.as_ref(),
                    },
                    t,
                )
            }
            other => panic!("{other}"),
        }
    }

    fn cells(rows: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
        rows.iter()
            .map(|r| r.iter().map(|c| c.as_bytes().to_vec()).collect())
            .collect()
    }

    #[test]
    fn reads_the_rows_first_then_writes_exactly_them() {
        let t = topology();
        let w = planned(
            "UPDATE users SET score = 0 WHERE score IS NULL ORDER BY score DESC LIMIT 10;",
            &t,
        )
        .unwrap();
        assert_eq!(
            w.select,
            "SELECT `id` FROM users WHERE score IS NULL\nORDER BY score DESC\n, `id`\nLIMIT 10\nFOR UPDATE"
        );
        assert_eq!(
            String::from_utf8(w.with_rows(&cells(&[&["3"], &["7"]])).unwrap()).unwrap(),
            "UPDATE users SET score = 0\nWHERE (score IS NULL\n) AND `id` IN (3, 7)"
        );
        // Without ORDER BY: primary-key order; the row is named by shard key and primary key.
        let w = planned("DELETE FROM orders AS o WHERE (o.amount > 5) LIMIT 2", &t).unwrap();
        assert_eq!(
            w.select,
            "SELECT `user_id`, `id` FROM orders AS o WHERE (o.amount > 5)\nORDER BY `id`\nLIMIT 2\nFOR UPDATE"
        );
        assert_eq!(
            String::from_utf8(w.with_rows(&cells(&[&["1", "10"], &["2", "11"]])).unwrap())
                .unwrap(),
            "DELETE FROM orders AS o\nWHERE ((o.amount > 5)\n) AND (`user_id`, `id`) IN ((1, 10), (2, 11))"
        );
        let w = planned("DELETE FROM orders LIMIT 1", &t).unwrap();
        assert_eq!(
            w.select,
            "SELECT `user_id`, `id` FROM orders\nORDER BY `id`\nLIMIT 1\nFOR UPDATE"
        );
        assert!(
            w.with_rows(&cells(&[&["NULL", "1"]])).is_err(),
            "a NULL key"
        );
    }

    /// What the parser reads of `text`: a comment must not have swallowed a clause.
    fn clauses_read(text: &[u8]) -> (bool, bool, bool) {
        let text = std::str::from_utf8(text).unwrap();
        match &crate::lex::parse(text, crate::Syntax::default()).unwrap()[0] {
            Statement::Update(u) => (u.selection.is_some(), false, false),
            Statement::Query(q) => (
                matches!(q.body.as_ref(), sqlparser::ast::SetExpr::Select(s) if s.selection.is_some()),
                q.limit_clause.is_some(),
                !q.locks.is_empty(),
            ),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn comments_that_end_a_line_swallow_nothing_added() {
        let t = topology();
        for sql in [
            "UPDATE users SET score = NULL -- WHERE 1=0\nWHERE score > 1 -- c\nORDER BY score -- d\nLIMIT 2 -- e",
            "UPDATE users SET score = NULL # c\nWHERE score > 1 # c\nLIMIT 2 # e",
        ] {
            let w = planned(sql, &t).unwrap();
            assert_eq!(clauses_read(w.select.as_bytes()), (true, true, true), "{}", w.select);
            let write = w.with_rows(&cells(&[&["3"]])).unwrap();
            assert_eq!(clauses_read(&write), (true, false, false), "{}", String::from_utf8_lossy(&write));
        }
    }

    #[test]
    fn clauses_are_found_by_their_keywords_outside_parentheses() {
        let t = topology();
        // A condition starting with a prefix operator (whose expression's span starts after
        // it), a subquery with its own WHERE / ORDER BY / LIMIT, an executable comment.
        let w = planned(
            "UPDATE orders SET amount = (SELECT 1 FROM users WHERE id = 2 ORDER BY id LIMIT 1) WHERE NOT user_id = 289 AND amount >= '99.5' ORDER BY id LIMIT 3",
            &t,
        )
        .unwrap();
        assert_eq!(
            w.select,
            "SELECT `user_id`, `id` FROM orders WHERE NOT user_id = 289 AND amount >= '99.5'\nORDER BY id\n, `id`\nLIMIT 3\nFOR UPDATE"
        );
        assert_eq!(
            String::from_utf8(w.with_rows(&cells(&[&["1", "10"]])).unwrap()).unwrap(),
            "UPDATE orders SET amount = (SELECT 1 FROM users WHERE id = 2 ORDER BY id LIMIT 1)\nWHERE (NOT user_id = 289 AND amount >= '99.5'\n) AND (`user_id`, `id`) IN ((1, 10))"
        );
        let w = planned("DELETE FROM orders WHERE NOT (amount > 5) LIMIT 2", &t).unwrap();
        assert_eq!(
            w.select,
            "SELECT `user_id`, `id` FROM orders WHERE NOT (amount > 5)\nORDER BY `id`\nLIMIT 2\nFOR UPDATE"
        );
        // A clause inside an executable comment: the pieces would cut the comment apart.
        assert!(matches!(
            planned("DELETE FROM orders WHERE amount > 5 /*!40000 LIMIT 2 */", &t),
            Err(RouteError::NotSupported(m)) if m.contains("cannot find its clauses")
        ));
    }

    #[test]
    fn needs_the_primary_key() {
        let t = crate::test_topology::two_shards(TABLES);
        assert!(matches!(
            planned("DELETE FROM users LIMIT 1", &t),
            Err(RouteError::SchemaNeeded { .. })
        ));
    }
}
