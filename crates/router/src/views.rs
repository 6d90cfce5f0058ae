//! Views over sharded tables, read as what they are: a statement naming one reads its
//! definition in its place, as a derived table (`FROM v` → `FROM (SELECT …) AS v`), and that
//! text is planned as any other (on one shard when its keys pin one, merged or over copies
//! otherwise). The view itself lives on the default shard, where reading it would show that
//! shard's part of the rows.
//!
//! Which views are over sharded tables, and their definitions, come from
//! `information_schema.VIEWS` ([`bodies_over_sharded`], loaded by the server into
//! `Topology::schema.views`). A statement that names a table the config neither shards nor
//! copies while the views are unknown (after DDL, before the first load) asks for them first
//! ([`RouteError::ViewsNeeded`]); one that names a view over sharded tables is answered by the
//! session running the written text ([`RouteError::ReadsViews`]). Writing through such a view,
//! and stored code naming one, are refused naming the view.

use std::ops::ControlFlow;

use shardgate_config::Topology;
use shardgate_schema::{ViewBodies, ViewsKnown};
use sqlparser::ast::{
    AssignmentTarget, FromTable, ObjectName, Query, Spanned, Statement, TableFactor, TableObject,
    TableWithJoins, Visit, Visitor,
};
use sqlparser::tokenizer::Token;

use crate::rewrite::Offsets;
use crate::shard_key::base_name;
use crate::{RouteError, SqlMode, Syntax};

/// How deep views may name views (MariaDB's own bound on nested views is far above what a
/// schema holds; this one ends a cycle the shards' definitions cannot make).
const MAX_NESTING: usize = 32;

/// The views of `definitions` (name, `VIEW_DEFINITION` as `information_schema.VIEWS` of
/// `database` gives it) whose rows come from sharded tables, directly or through other views;
/// each body with the names qualified by `database` unqualified.
pub fn bodies_over_sharded(
    definitions: &[(String, String)],
    database: &str,
    topology: &Topology,
) -> ViewBodies {
    let syntax = Syntax::DEFAULT;
    let read: Vec<(String, String, Vec<String>)> = definitions
        .iter()
        .map(|(name, definition)| {
            let body = unqualified(definition, database, syntax);
            let names = named_relations(&body, syntax);
            (name.to_ascii_lowercase(), body, names)
        })
        .collect();
    let mut over: Vec<&str> = Vec::new();
    // A view is over sharded tables when it names one, or a view that is.
    loop {
        let before = over.len();
        for (name, _, names) in &read {
            if !over.contains(&name.as_str())
                && names
                    .iter()
                    .any(|n| topology.table(n).is_some() || over.contains(&n.as_str()))
            {
                over.push(name);
            }
        }
        if over.len() == before {
            break;
        }
    }
    let mut bodies = ViewBodies::default();
    for (name, body, _) in read.iter().filter(|(n, ..)| over.contains(&n.as_str())) {
        bodies.insert(name, body);
    }
    bodies
}

/// `definition` without the `` `database`. `` qualifying its names (MariaDB writes every name
/// of a view's definition qualified).
fn unqualified(definition: &str, database: &str, syntax: Syntax) -> String {
    let Ok(tokens) = crate::lex::tokenize(definition, syntax, false) else {
        return definition.to_owned();
    };
    let mut offsets = Offsets::new(definition);
    let mut out = String::with_capacity(definition.len());
    let mut from = 0;
    for pair in tokens.windows(2) {
        if let (Token::Word(w), Token::Period) = (&pair[0].token, &pair[1].token) {
            if w.quote_style.is_some() && w.value == database {
                let (Some(start), Some(end)) =
                    (offsets.at(pair[0].span.start), offsets.at(pair[1].span.end))
                else {
                    return definition.to_owned();
                };
                out.push_str(&definition[from..start]);
                from = end;
            }
        }
    }
    out.push_str(&definition[from..]);
    out
}

/// The tables and views a SELECT's text names (lower-cased); its words when it does not parse.
fn named_relations(body: &str, syntax: Syntax) -> Vec<String> {
    match crate::lex::parse(body, syntax) {
        Ok(statements) => {
            let mut names = Vec::new();
            let _ = sqlparser::ast::visit_relations(&statements, |name| {
                names.extend(base_name(name));
                ControlFlow::<()>::Continue(())
            });
            names
        }
        Err(_) => words(body, syntax),
    }
}

/// The words of a text (lower-cased), quoted ones too.
fn words(text: &str, syntax: Syntax) -> Vec<String> {
    crate::lex::tokenize(text, syntax, false)
        .map(|tokens| {
            (tokens.into_iter())
                .filter_map(|t| match t.token {
                    Token::Word(w) => Some(w.value.to_ascii_lowercase()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a statement may make, change, rename or drop a view (after it, the views are read
/// again): a `CREATE` / `ALTER` / `DROP` naming the word `view`, or any `RENAME`. Read by its
/// words, so that text the parser does not read (`CREATE ALGORITHM=… DEFINER=… VIEW`, as dump
/// tools write it) counts too.
pub fn may_change_views(sql: &str, syntax: Syntax) -> bool {
    let sql = crate::lex::resolve_comments(sql, syntax);
    let sql = sql.as_ref();
    let first = crate::text::first_word(sql);
    ["create", "alter", "drop"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w))
        && crate::text::find_ignore_case(sql, "view").is_some()
        || first.eq_ignore_ascii_case("rename")
}

/// Whether `sql` (comments resolved) can be planned as written: it names no view over sharded
/// tables. Otherwise the text with each such view read as its definition
/// ([`RouteError::ReadsViews`]), the views asked for ([`RouteError::ViewsNeeded`]), or why it
/// cannot be read that way.
pub(crate) fn check(sql: &str, syntax: Syntax, topology: &Topology) -> Result<(), RouteError> {
    let views = &topology.schema.views;
    match views.known() {
        ViewsKnown::None => Ok(()),
        ViewsKnown::Unknown => match crate::lex::parse(sql, syntax) {
            Ok(statements) if !names_other_tables(&statements, topology) => Ok(()),
            _ => Err(RouteError::ViewsNeeded),
        },
        ViewsKnown::Some => {
            let bodies = views.bodies();
            if !bodies.names().any(|name| mentions(sql, name)) {
                return Ok(());
            }
            match expanded(sql, syntax, &bodies, &topology.backend.database)? {
                Some(text) => Err(RouteError::ReadsViews(text)),
                None => Ok(()),
            }
        }
    }
}

/// Whether a statement names a table the config neither shards nor copies (which may be a view).
fn names_other_tables(statements: &Vec<Statement>, topology: &Topology) -> bool {
    sqlparser::ast::visit_relations(statements, |name| match base_name(name) {
        Some(t) if t == "dual" || topology.table(&t).is_some() || topology.is_reference(&t) => {
            ControlFlow::Continue(())
        }
        _ => ControlFlow::Break(()),
    })
    .is_break()
}

/// Whether `name` (lower-case ASCII or not) occurs in `sql`, in any case.
fn mentions(sql: &str, name: &str) -> bool {
    let (sql, name) = (sql.as_bytes(), name.as_bytes());
    name.len() <= sql.len()
        && sql
            .windows(name.len())
            .any(|w| w.eq_ignore_ascii_case(name))
}

/// `sql` with every view over sharded tables it reads written as its definition (nested views
/// too); `None` when it reads none.
fn expanded(
    sql: &str,
    syntax: Syntax,
    bodies: &ViewBodies,
    database: &str,
) -> Result<Option<String>, RouteError> {
    let mut text = sql.to_owned();
    for _ in 0..MAX_NESTING {
        match expand_once(&text, syntax, bodies, database)? {
            Some(next) => text = next,
            None if text == sql => return Ok(None),
            None => return Ok(Some(text)),
        }
    }
    Err(RouteError::NotSupported(format!(
        "views nested more than {MAX_NESTING} deep over sharded tables are not supported by shardgate"
    )))
}

/// One round: the views `sql` names directly, written as their definitions.
fn expand_once(
    sql: &str,
    syntax: Syntax,
    bodies: &ViewBodies,
    database: &str,
) -> Result<Option<String>, RouteError> {
    let view_word = || {
        words(sql, syntax)
            .into_iter()
            .find(|w| bodies.body(w).is_some())
    };
    let statements = match crate::lex::parse(sql, syntax) {
        Ok(statements) => statements,
        // Text the parser does not read goes to the default shard as written: not when it
        // may read such a view there. A tail the parser does not read (`… LOCK IN SHARE
        // MODE`, `… INTO @v` after the FROM) is kept after its head's views.
        Err(_) => {
            let head = crate::text::without_trailing_lock_in_share_mode(sql, syntax)
                .or_else(|| crate::text::without_trailing_into(sql, syntax))
                .filter(|head| sql.get(..head.len()) == Some(*head));
            if let Some(head) = head.filter(|head| crate::lex::parse(head, syntax).is_ok()) {
                let tail = &sql[head.len()..];
                let head = expand_once(head, syntax, bodies, database)?;
                return Ok(head.map(|head| format!("{head}{tail}")));
            }
            return match view_word() {
                Some(view) => Err(refusal(&view, "in a statement shardgate cannot parse")),
                None => Ok(None),
            };
        }
    };
    let mut reads = Reads {
        bodies,
        database,
        ctes: Vec::new(),
        scopes: Vec::new(),
        found: Vec::new(),
    };
    for statement in &statements {
        match statement {
            // A view's definition keeps the names it was written with.
            Statement::CreateView { .. } | Statement::AlterView { .. } => continue,
            Statement::CreateFunction(_)
            | Statement::CreateProcedure { .. }
            | Statement::CreateTrigger(_) => {
                if let Some(view) = view_word() {
                    return Err(refusal(&view, "in a stored program's body"));
                }
                continue;
            }
            _ => {}
        }
        if let Some(view) = written_view(statement, bodies) {
            return Err(refusal(
                &view,
                "as the table a statement writes (write to its tables)",
            ));
        }
        let _ = statement.visit(&mut reads);
    }
    if reads.found.is_empty() {
        return Ok(None);
    }
    let mut offsets = Offsets::new(sql);
    let mut out = String::with_capacity(sql.len() + 256);
    let mut from = 0;
    reads
        .found
        .sort_by_key(|r| (r.name.span().start.line, r.name.span().start.column));
    for read in &reads.found {
        let span = read.name.span();
        let (Some(start), Some(end)) = (offsets.at(span.start), offsets.at(span.end)) else {
            return Err(refusal(
                &read.view,
                "where shardgate cannot place its definition",
            ));
        };
        if start < from {
            continue;
        }
        let body = for_session(bodies.body(&read.view).map_or("", |b| b), syntax);
        out.push_str(&sql[from..start]);
        out.push('(');
        out.push_str(&body);
        out.push(')');
        if !read.aliased {
            out.push_str(" AS ");
            out.push_str(&quoted(&read.written));
        }
        from = end;
    }
    out.push_str(&sql[from..]);
    Ok(Some(out))
}

/// A view name read as a table, to be written as the view's definition.
struct Read {
    name: ObjectName,
    /// Lower-cased.
    view: String,
    /// As written (the derived table's name).
    written: String,
    aliased: bool,
}

/// Finds the table factors naming views over sharded tables (not a CTE of the same name in
/// scope, nor a table of another database).
struct Reads<'b> {
    bodies: &'b ViewBodies,
    /// The backends' database, where the views are.
    database: &'b str,
    /// Names the WITH clauses in scope define.
    ctes: Vec<String>,
    /// How many of `ctes` each query being walked added.
    scopes: Vec<usize>,
    found: Vec<Read>,
}

impl Visitor for Reads<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let before = self.ctes.len();
        if let Some(with) = &query.with {
            (self.ctes).extend(
                with.cte_tables
                    .iter()
                    .map(|c| c.alias.name.value.to_ascii_lowercase()),
            );
        }
        self.scopes.push(self.ctes.len() - before);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        let added = self.scopes.pop().unwrap_or_default();
        self.ctes.truncate(self.ctes.len() - added);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let ours = match name.0.as_slice() {
            [_] => true,
            [database, _] => database
                .as_ident()
                .is_some_and(|d| d.value == self.database),
            _ => false,
        };
        let view = base_name(name).filter(|v| ours && self.bodies.body(v).is_some());
        if let Some(view) = view.filter(|v| !self.ctes.contains(v)) {
            let written = (name.0.last())
                .and_then(|p| p.as_ident())
                .map_or_else(|| view.clone(), |i| i.value.clone());
            self.found.push(Read {
                name: name.clone(),
                view,
                written,
                aliased: alias.is_some(),
            });
        }
        ControlFlow::Continue(())
    }
}

/// The view over sharded tables a statement writes (INSERT / REPLACE into, UPDATE, DELETE
/// from), if any. A multi-table UPDATE / DELETE may read one it does not write: its targets
/// are what it assigns (an unqualified column may be the view's) or deletes from.
fn written_view(statement: &Statement, bodies: &ViewBodies) -> Option<String> {
    let is_view = |name: &ObjectName| base_name(name).filter(|v| bodies.body(v).is_some());
    // The views among the factors, with the name the statement calls each by.
    let views_in = |tables: &[TableWithJoins]| -> Vec<(String, String)> {
        (tables.iter())
            .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
            .filter_map(|f| match f {
                TableFactor::Table { name, alias, .. } => is_view(name).map(|view| {
                    let called = alias
                        .as_ref()
                        .map_or_else(|| view.clone(), |a| a.name.value.to_ascii_lowercase());
                    (view, called)
                }),
                _ => None,
            })
            .collect()
    };
    let called = |views: &[(String, String)], name: &ObjectName| {
        let name = base_name(name)?;
        (views.iter())
            .find(|(_, called)| *called == name)
            .map(|(view, _)| view.clone())
    };
    match statement {
        Statement::Insert(insert) => match &insert.table {
            TableObject::TableName(name) => is_view(name),
            _ => None,
        },
        Statement::Update(update) => {
            let views = views_in(std::slice::from_ref(&update.table));
            let (view, _) = views.first()?;
            if update.table.joins.is_empty() {
                return Some(view.clone());
            }
            let columns = (update.assignments.iter()).flat_map(|a| match &a.target {
                AssignmentTarget::ColumnName(c) => std::slice::from_ref(c),
                AssignmentTarget::Tuple(cs) => cs.as_slice(),
            });
            columns
                .into_iter()
                .find_map(|column| match column.0.as_slice() {
                    [_] => Some(view.clone()),
                    [.., table, _] => {
                        let table = ObjectName(vec![table.clone()]);
                        called(&views, &table)
                    }
                    [] => None,
                })
        }
        Statement::Delete(delete) => {
            let from = match &delete.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t.as_slice(),
            };
            let views = views_in(from);
            match delete.tables.is_empty() {
                // `DELETE FROM t, … [USING …]`: every table of its FROM is written.
                true => views.first().map(|(view, _)| view.clone()),
                false => delete.tables.iter().find_map(|t| called(&views, t)),
            }
        }
        _ => None,
    }
}

/// A view's body as text the session reads: MariaDB writes its strings with backslash
/// escapes, which `NO_BACKSLASH_ESCAPES` reads otherwise.
fn for_session(body: &str, syntax: Syntax) -> String {
    if !syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES) || !body.contains('\\') {
        return body.to_owned();
    }
    let Ok(tokens) = crate::lex::tokenize(body, Syntax::DEFAULT, false) else {
        return body.to_owned();
    };
    let mut out = String::with_capacity(body.len());
    for token in tokens {
        match token.token {
            Token::SingleQuotedString(raw) => {
                let value = crate::lex::unescape_string(&raw, '\'', true);
                out.push('\'');
                out.push_str(&value.replace('\'', "''"));
                out.push('\'');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    out
}

/// `name` as an identifier (backquotes read so in every `sql_mode`).
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Why a view over sharded tables cannot be read where a statement names it.
fn refusal(view: &str, place: &str) -> RouteError {
    RouteError::NotSupported(format!(
        "view `{view}` reads sharded tables, and shardgate reads it as its definition only in a query: naming it {place} is not supported by shardgate"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        crate::test_topology::two_shards(
            "[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n[[tables]]\nname = \"countries\"\nreference = true\n",
        )
    }

    fn definitions() -> Vec<(String, String)> {
        [
            ("big", "select `app`.`orders`.`id` AS `id`,`app`.`orders`.`user_id` AS `user_id` from `app`.`orders` where `app`.`orders`.`amount` > 10"),
            ("nested", "select `big`.`id` AS `id` from `app`.`big`"),
            ("local", "select `app`.`notes`.`id` AS `id` from `app`.`notes`"),
            ("places", "select `app`.`countries`.`code` AS `code` from `app`.`countries`"),
            ("quoted", "select 'it\\'s' AS `q`,`app`.`orders`.`id` AS `id` from `app`.`orders`"),
        ]
        .into_iter()
        .map(|(n, d)| (n.to_owned(), d.to_owned()))
        .collect()
    }

    fn planned_with_views(topology: &Topology) {
        let bodies = bodies_over_sharded(&definitions(), "app", topology);
        let ticket = topology.schema.views.begin_load();
        assert!(topology.schema.views.install(ticket, bodies));
    }

    #[test]
    fn views_over_sharded_tables_directly_or_through_views_are_kept_unqualified() {
        let bodies = bodies_over_sharded(&definitions(), "app", &topology());
        let names: Vec<&str> = bodies.names().collect();
        assert_eq!(names, ["big", "nested", "quoted"]);
        assert_eq!(
            &**bodies.body("BIG").unwrap(),
            "select `orders`.`id` AS `id`,`orders`.`user_id` AS `user_id` from `orders` where `orders`.`amount` > 10"
        );
        assert_eq!(
            &**bodies.body("nested").unwrap(),
            "select `big`.`id` AS `id` from `big`"
        );
    }

    #[test]
    fn a_view_read_in_a_query_is_written_as_a_derived_table() {
        let topology = topology();
        planned_with_views(&topology);
        let text = |sql: &str| match check(sql, Syntax::DEFAULT, &topology) {
            Err(RouteError::ReadsViews(text)) => text,
            other => panic!("{sql}: {other:?}"),
        };
        assert_eq!(
            text("SELECT id FROM big WHERE user_id = 3"),
            "SELECT id FROM (select `orders`.`id` AS `id`,`orders`.`user_id` AS `user_id` from `orders` where `orders`.`amount` > 10) AS `big` WHERE user_id = 3"
        );
        assert_eq!(
            text("SELECT b.id FROM app.Big AS b JOIN countries c ON 1"),
            "SELECT b.id FROM (select `orders`.`id` AS `id`,`orders`.`user_id` AS `user_id` from `orders` where `orders`.`amount` > 10) AS b JOIN countries c ON 1"
        );
        // Nested views, all the way down.
        let nested = text("SELECT COUNT(*) FROM nested");
        assert!(
            nested.contains("FROM (select `big`.`id` AS `id` from (select `orders`.`id`"),
            "{nested}"
        );
        // A CTE of its name hides it only where the CTE is in scope.
        let scoped =
            text("SELECT (WITH big AS (SELECT 2 AS id) SELECT id FROM big), b.id FROM big b");
        assert!(
            scoped.starts_with(
                "SELECT (WITH big AS (SELECT 2 AS id) SELECT id FROM big), b.id FROM (select"
            ),
            "{scoped}"
        );
        // Before a tail the parser does not read.
        assert!(
            text("SELECT id FROM big WHERE user_id = 1 LOCK IN SHARE MODE")
                .ends_with("AS `big` WHERE user_id = 1 LOCK IN SHARE MODE")
        );
        assert!(text("SELECT COUNT(*) FROM big INTO @n").ends_with("AS `big` INTO @n"));
        // Read by a multi-table write that writes another table.
        assert!(
            text("UPDATE orders o JOIN big b ON b.id = o.id SET o.amount = 1")
                .starts_with("UPDATE orders o JOIN (select")
        );
        assert!(text("DELETE o FROM orders o JOIN big b ON b.id = o.id")
            .starts_with("DELETE o FROM orders o JOIN (select"));
        // In a subquery of a write, too.
        assert!(text("DELETE FROM orders WHERE id IN (SELECT id FROM big)")
            .contains("(SELECT id FROM (select"));
        // Strings as the session reads them.
        let nbe = Syntax {
            sql_mode: SqlMode::parse("NO_BACKSLASH_ESCAPES"),
            ..Syntax::DEFAULT
        };
        match check("SELECT q FROM quoted", nbe, &topology) {
            Err(RouteError::ReadsViews(t)) => assert!(t.contains("(select 'it''s' AS `q`"), "{t}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_names_no_such_view_runs_as_written() {
        let topology = topology();
        planned_with_views(&topology);
        for sql in [
            "SELECT id FROM orders WHERE user_id = 1",
            "SELECT id FROM local",
            "SELECT big FROM orders WHERE user_id = 1",
            "WITH big AS (SELECT 1 AS id) SELECT id FROM big",
            "SELECT id FROM other.big",
            "SELECT 'big'",
            "CREATE VIEW again AS SELECT id FROM big",
            "DROP VIEW big",
            "SHOW CREATE VIEW big",
            "DESCRIBE big",
        ] {
            assert_eq!(check(sql, Syntax::DEFAULT, &topology), Ok(()), "{sql}");
        }
    }

    #[test]
    fn writes_through_a_view_and_stored_code_naming_one_are_refused() {
        let topology = topology();
        planned_with_views(&topology);
        for sql in [
            "INSERT INTO big (id, user_id) VALUES (1, 1)",
            "UPDATE big SET id = 2 WHERE user_id = 1",
            "DELETE FROM big WHERE user_id = 1",
            "CREATE PROCEDURE p() SELECT COUNT(*) FROM big",
            "LOAD DATA INFILE '/tmp/rows' INTO TABLE big",
            "UPDATE orders o JOIN big b ON b.id = o.id SET b.user_id = 2",
            "UPDATE orders o JOIN big ON big.id = o.id SET amount = 2",
            "DELETE b FROM orders o JOIN big b ON b.id = o.id",
        ] {
            let e = check(sql, Syntax::DEFAULT, &topology).unwrap_err();
            assert!(
                matches!(&e, RouteError::NotSupported(m) if m.contains("view `big`")),
                "{sql}: {e:?}"
            );
        }
    }

    #[test]
    fn statements_that_may_change_views_are_told_by_their_words() {
        for sql in [
            "CREATE VIEW v AS SELECT 1",
            "create algorithm=undefined definer=`a`@`%` sql security definer view v as select 1",
            "ALTER VIEW v AS SELECT 2",
            "DROP VIEW IF EXISTS v",
            "RENAME TABLE v TO w",
            "CREATE OR REPLACE TABLE reviews (id INT)",
            "/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`a`@`%` */ /*!50001 VIEW v AS SELECT 1 */",
        ] {
            assert!(may_change_views(sql, Syntax::DEFAULT), "{sql}");
        }
        for sql in [
            "CREATE TABLE t (id INT)",
            "SELECT * FROM v",
            "DROP TABLE t",
            "INSERT INTO v VALUES (1)",
        ] {
            assert!(!may_change_views(sql, Syntax::DEFAULT), "{sql}");
        }
    }

    #[test]
    fn unknown_views_are_asked_for_by_statements_naming_other_tables() {
        let topology = topology();
        topology.schema.views.forget();
        assert_eq!(
            check("SELECT * FROM notes", Syntax::DEFAULT, &topology),
            Err(RouteError::ViewsNeeded)
        );
        assert_eq!(
            check(
                "SELECT * FROM orders JOIN countries",
                Syntax::DEFAULT,
                &topology
            ),
            Ok(())
        );
        assert_eq!(check("SELECT 1", Syntax::DEFAULT, &topology), Ok(()));
    }
}
