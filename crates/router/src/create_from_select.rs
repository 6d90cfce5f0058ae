//! `CREATE [OR REPLACE] TABLE t [options] [IGNORE | REPLACE] [AS] SELECT …` that one shard
//! cannot run alone: a new table of the default shard from a SELECT reading sharded tables, or
//! any new table the config shards or copies (each shard creating it from its own rows would
//! place them by the shards they were read from, not by the new table's key, and would give a
//! reference table a part of the rows). The session creates `t` on the default shard as the
//! SELECT describes its columns (`… <the SELECT> LIMIT 0`: the same columns, types and
//! defaults, no row read) — and, for a table of every shard, on the others as the default
//! shard's `SHOW CREATE TABLE` says — then fills it with `INSERT [IGNORE] | REPLACE INTO t <the
//! SELECT>`, planned as any INSERT … SELECT (on each shard when its rows stay there, by rows
//! otherwise); if that fails, it drops `t` wherever it created it, as MariaDB leaves no table
//! behind a failed CREATE … SELECT.
//!
//! The SELECT's own `LIMIT` gives way to `LIMIT 0` in the create (and limits the fill).
//! Declared columns (`CREATE TABLE t (extra INT DEFAULT 7) SELECT …`) come first in the table,
//! so the fill names the SELECT's columns, read from the default shard once the table exists.
//! `IF NOT EXISTS`: the table is created without it; when it exists already, the answer is
//! MariaDB's note 1050, and no row is written.

use shardgate_config::Topology;
use sqlparser::ast::{CreateTable, Spanned};
use sqlparser::tokenizer::Token;

use crate::rewrite::Offsets;
use crate::shard_key::base_name;
use crate::{RouteError, Syntax};

/// A CREATE TABLE … SELECT the session runs in two statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFromSelect {
    /// The new table, as the statement names it.
    pub table: String,
    /// Creates the table, reading no row.
    pub create: String,
    /// `INSERT INTO`, `INSERT IGNORE INTO` or `REPLACE INTO`: how the fill writes rows with
    /// duplicate keys.
    pub verb: &'static str,
    /// The SELECT, as written (its own LIMIT too).
    pub select: String,
    /// The SELECT without its own LIMIT.
    pub unlimited: String,
    /// The table declares columns of its own: the fill names the SELECT's.
    pub declares_columns: bool,
    /// `IF NOT EXISTS`: a table that exists already gets note 1050 and no row.
    pub if_not_exists: bool,
    /// The config shards or copies the table: it is created on every shard.
    pub everywhere: bool,
    /// `CREATE OR REPLACE`: the other shards replace their table too.
    pub or_replace: bool,
}

impl CreateFromSelect {
    /// The fill: the SELECT's rows into the table, into `columns` when given (named as the
    /// SELECT names them).
    pub fn insert(&self, columns: Option<&[String]>) -> String {
        let columns = columns.map_or_else(String::new, |names| {
            let quoted: Vec<String> = names.iter().map(|n| crate::materialize::quote(n)).collect();
            format!(" ({})", quoted.join(", "))
        });
        format!("{} {}{columns} {}", self.verb, self.table, self.select)
    }

    /// The SELECT reading no row: what names its columns.
    pub fn columns_query(&self) -> String {
        format!("{}\nLIMIT 0", self.unlimited)
    }

    /// Drops the table when filling it failed.
    pub fn drop_table(&self) -> String {
        format!("DROP TABLE IF EXISTS {}", self.table)
    }

    /// The statement creating the table on another shard, from the default shard's `SHOW
    /// CREATE TABLE` (`definition`): named as the statement names it (the definition names it
    /// without its database), replacing an older one with `OR REPLACE`.
    pub fn create_elsewhere(&self, definition: &str) -> Option<String> {
        let rest = definition.strip_prefix("CREATE TABLE ")?;
        // The name is quoted (`` ` `` or, under ANSI_QUOTES, `"`; a quote inside doubled), or
        // ends at a space when `sql_quote_show_create` is off.
        let after_name = match rest.chars().next()? {
            q @ ('`' | '"') => {
                let mut chars = rest.char_indices().skip(1).peekable();
                loop {
                    let (i, c) = chars.next()?;
                    if c != q {
                        continue;
                    }
                    if chars.peek().is_some_and(|&(_, next)| next == q) {
                        chars.next();
                        continue;
                    }
                    break i + 1;
                }
            }
            _ => rest.find(' ')?,
        };
        let replace = if self.or_replace { "OR REPLACE " } else { "" };
        Some(format!(
            "CREATE {replace}TABLE {}{}",
            self.table,
            &rest[after_name..]
        ))
    }
}

impl std::fmt::Display for CreateFromSelect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CREATE TABLE … SELECT across shards in two steps: `{}` on the default shard{}{}, then `{}` (planned as an INSERT … SELECT; the table dropped if it fails)",
            self.create.replace('\n', " "),
            match self.if_not_exists {
                true => " (a table that exists: note 1050, nothing written)",
                false => "",
            },
            if self.everywhere { " and as its SHOW CREATE TABLE says on the others" } else { "" },
            match self.declares_columns {
                true => format!("{} {} (<the SELECT's columns>) {}", self.verb, self.table, self.select),
                false => self.insert(None),
            }
        )
    }
}

/// Refuses what [`request`] cannot run of a CREATE … SELECT into a table the config shards or
/// copies (the shards would each create it from their own rows), or plans it in two steps.
/// `Ok` for every other statement.
pub(crate) fn check(
    ct: &CreateTable,
    sql: &str,
    syntax: Syntax,
    topology: &Topology,
) -> Result<(), RouteError> {
    let Some(table) = base_name(&ct.name) else {
        return Ok(());
    };
    if ct.query.is_none() || ct.temporary || !everywhere(&table, topology) {
        return Ok(());
    }
    Err(match request(ct, sql, syntax, topology) {
        Some(r) => RouteError::CreateFromSelect(Box::new(r)),
        None => RouteError::NotSupported(format!(
            "CREATE TABLE … SELECT into `{table}`, which the config shards or copies, is supported by shardgate only without LIKE, FETCH or a locking clause: each shard would create it from its own rows; CREATE TABLE, then INSERT … SELECT"
        )),
    })
}

fn everywhere(table: &str, topology: &Topology) -> bool {
    topology.table(table).is_some() || topology.is_reference(table)
}

/// The two statements of `ct` (text `sql`), when it creates a table from a SELECT, not
/// `TEMPORARY` (the session's own connection would have to keep it) nor `LIKE`, and the
/// SELECT has no `FETCH` or locking clause.
pub(crate) fn request(
    ct: &CreateTable,
    sql: &str,
    syntax: Syntax,
    topology: &Topology,
) -> Option<CreateFromSelect> {
    let query = ct.query.as_deref()?;
    if ct.temporary || ct.like.is_some() || query.fetch.is_some() || !query.locks.is_empty() {
        return None;
    }
    let table = base_name(&ct.name)?;
    let mut offsets = Offsets::new(sql);
    let start = offsets.at(query.span().start)?;
    let head = &sql[..start];
    let select = sql[start..].trim_end().trim_end_matches(';').trim_end();
    // Its own LIMIT gives way to the one that reads no row.
    let unlimited = match query.limit_clause {
        Some(_) => select[..own_limit(select, syntax)?].trim_end(),
        None => select,
    };
    // `IGNORE` / `REPLACE` between the table and its SELECT: how rows with duplicate keys are
    // written (not `CREATE OR REPLACE`).
    let name_end = offsets.at(ct.name.span().end)?.min(start);
    let tokens = crate::lex::tokenize(&head[name_end..], syntax, false).ok()?;
    let word = |k: &str| {
        tokens.iter().any(
            |t| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k)),
        )
    };
    let verb = match (word("ignore"), word("replace")) {
        (true, _) => "INSERT IGNORE INTO",
        (_, true) => "REPLACE INTO",
        _ => "INSERT INTO",
    };
    let head = match ct.if_not_exists {
        true => without_if_not_exists(&head[..name_end], syntax)? + &head[name_end..],
        false => head.to_owned(),
    };
    Some(CreateFromSelect {
        // On a line of its own: a comment ending the SELECT does not hide it.
        create: format!("{head}{unlimited}\nLIMIT 0"),
        verb,
        select: select.to_owned(),
        unlimited: unlimited.to_owned(),
        declares_columns: !ct.columns.is_empty(),
        if_not_exists: ct.if_not_exists,
        table: ct.name.to_string(),
        everywhere: everywhere(&table, topology),
        or_replace: ct.or_replace,
    })
}

/// Where the SELECT's own LIMIT clause starts: its last `LIMIT` outside parentheses.
fn own_limit(select: &str, syntax: Syntax) -> Option<usize> {
    let tokens = crate::lex::tokenize(select, syntax, false).ok()?;
    let mut offsets = Offsets::new(select);
    let mut depth = 0usize;
    let mut found = None;
    for t in &tokens {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w)
                if depth == 0
                    && w.quote_style.is_none()
                    && w.value.eq_ignore_ascii_case("limit") =>
            {
                found = Some(offsets.at(t.span.start)?);
            }
            _ => {}
        }
    }
    found
}

/// The head of a `CREATE … TABLE IF NOT EXISTS name` (up to the name) without `IF NOT EXISTS`.
fn without_if_not_exists(head: &str, syntax: Syntax) -> Option<String> {
    let tokens: Vec<_> = crate::lex::tokenize(head, syntax, false)
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let keyword = |t: &sqlparser::tokenizer::TokenWithSpan, k: &str| matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let at = tokens
        .windows(3)
        .position(|w| keyword(&w[0], "if") && keyword(&w[1], "not") && keyword(&w[2], "exists"))?;
    let mut offsets = Offsets::new(head);
    let start = offsets.at(tokens[at].span.start)?;
    let end = offsets.at(tokens[at + 2].span.end)?;
    Some(format!("{}{}", &head[..start], head[end..].trim_start()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(sql: &str) -> Option<CreateFromSelect> {
        let topology =
            crate::test_topology::two_shards("[[tables]]\nname = \"users\"\nshard_key = \"id\"\n");
        let stmt = crate::lex::parse_verbatim(sql, Syntax::default())?
            .into_iter()
            .next()?;
        let sqlparser::ast::Statement::CreateTable(ct) = &stmt else {
            return None;
        };
        request(ct, sql, Syntax::default(), &topology)
    }

    #[test]
    fn a_table_from_a_select_across_shards_is_created_then_filled() {
        let r = of("CREATE TABLE report ENGINE=InnoDB AS SELECT name, COUNT(*) n FROM users GROUP BY name;").unwrap();
        assert_eq!(
            r.create,
            "CREATE TABLE report ENGINE=InnoDB AS SELECT name, COUNT(*) n FROM users GROUP BY name\nLIMIT 0"
        );
        assert_eq!(
            r.insert(None),
            "INSERT INTO report SELECT name, COUNT(*) n FROM users GROUP BY name"
        );
        assert_eq!(r.drop_table(), "DROP TABLE IF EXISTS report");
        let r = of(
            "CREATE OR REPLACE TABLE app.`r 2` (PRIMARY KEY (id)) SELECT id FROM users -- all\n",
        )
        .unwrap();
        assert_eq!(
            r.insert(None),
            "INSERT INTO app.`r 2` SELECT id FROM users -- all"
        );
        assert_eq!(
            r.create,
            "CREATE OR REPLACE TABLE app.`r 2` (PRIMARY KEY (id)) SELECT id FROM users -- all\nLIMIT 0"
        );
        for sql in [
            "CREATE TEMPORARY TABLE t AS SELECT id FROM users",
            "CREATE TABLE t (id INT)",
            "CREATE TABLE t LIKE users",
            "CREATE TABLE t AS SELECT id FROM users FOR UPDATE",
        ] {
            assert_eq!(of(sql), None, "{sql}");
        }
    }

    #[test]
    fn its_own_limit_declared_columns_and_if_not_exists_are_run_too() {
        // The create reads no row; the fill keeps the SELECT's LIMIT.
        let r =
            of("CREATE TABLE top5 SELECT id FROM users ORDER BY (SELECT 1 LIMIT 1), id LIMIT 5")
                .unwrap();
        assert_eq!(
            r.create,
            "CREATE TABLE top5 SELECT id FROM users ORDER BY (SELECT 1 LIMIT 1), id\nLIMIT 0"
        );
        assert_eq!(
            r.insert(None),
            "INSERT INTO top5 SELECT id FROM users ORDER BY (SELECT 1 LIMIT 1), id LIMIT 5"
        );
        let r = of("CREATE TABLE t2 SELECT id FROM users LIMIT 2, 3").unwrap();
        assert_eq!(r.create, "CREATE TABLE t2 SELECT id FROM users\nLIMIT 0");
        // Declared columns: the fill names the SELECT's.
        let r = of("CREATE TABLE dc (extra INT DEFAULT 7, PRIMARY KEY (id)) SELECT id, name AS `n``m` FROM users").unwrap();
        assert!(r.declares_columns);
        assert_eq!(
            r.columns_query(),
            "SELECT id, name AS `n``m` FROM users\nLIMIT 0"
        );
        assert_eq!(
            r.insert(Some(&["id".to_owned(), "n`m".to_owned()])),
            "INSERT INTO dc (`id`, `n``m`) SELECT id, name AS `n``m` FROM users"
        );
        // IF NOT EXISTS: created without it.
        let sql = "CREATE TABLE if not EXISTS /* c */ ine AS SELECT id FROM users";
        let r = of(sql).unwrap();
        assert_eq!(
            r.create,
            "CREATE TABLE /* c */ ine AS SELECT id FROM users\nLIMIT 0"
        );
        assert!(r.if_not_exists);
    }

    #[test]
    fn a_table_of_every_shard_is_created_there_as_the_default_shard_defines_it() {
        let r = of("CREATE TABLE users AS SELECT 1 AS id").unwrap();
        assert!(r.everywhere && !r.or_replace);
        assert_eq!(r.insert(None), "INSERT INTO users SELECT 1 AS id");
        assert_eq!(
            r.create_elsewhere("CREATE TABLE `users` (\n  `id` int(1) NOT NULL\n) ENGINE=InnoDB")
                .as_deref(),
            Some("CREATE TABLE users (\n  `id` int(1) NOT NULL\n) ENGINE=InnoDB")
        );
        let r = of("CREATE OR REPLACE TABLE app.`users` SELECT id FROM users").unwrap();
        assert!(r.everywhere && r.or_replace);
        for (shown, created) in [
            (
                "CREATE TABLE `users` (`id` int)",
                "CREATE OR REPLACE TABLE app.`users` (`id` int)",
            ),
            (
                "CREATE TABLE \"users\" (\"id\" int)",
                "CREATE OR REPLACE TABLE app.`users` (\"id\" int)",
            ),
            (
                "CREATE TABLE `a``b (c` (`id` int)",
                "CREATE OR REPLACE TABLE app.`users` (`id` int)",
            ),
            (
                "CREATE TABLE users (id int)",
                "CREATE OR REPLACE TABLE app.`users` (id int)",
            ),
        ] {
            assert_eq!(
                r.create_elsewhere(shown).as_deref(),
                Some(created),
                "{shown}"
            );
        }
        assert_eq!(r.create_elsewhere("CREATE VIEW `users` AS SELECT 1"), None);
        assert_eq!(r.create_elsewhere("CREATE TABLE `users"), None);
        assert!(
            !of("CREATE TABLE report AS SELECT id FROM users")
                .unwrap()
                .everywhere
        );
    }

    #[test]
    fn a_table_of_every_shard_from_a_select_is_never_left_to_the_shards() {
        let topology =
            crate::test_topology::two_shards("[[tables]]\nname = \"users\"\nshard_key = \"id\"\n\n[[tables]]\nname = \"copy\"\nshard_key = \"id\"\n\n[[tables]]\nname = \"flags\"\nreference = true\n");
        let check_of = |sql: &str| {
            let stmt = crate::lex::parse_verbatim(sql, Syntax::default()).unwrap();
            let sqlparser::ast::Statement::CreateTable(ct) = &stmt[0] else {
                panic!("{sql}")
            };
            check(ct, sql, Syntax::default(), &topology)
        };
        for sql in [
            "CREATE TABLE copy SELECT * FROM users",
            "CREATE TABLE copy SELECT 1 AS id",
            "CREATE TABLE flags SELECT * FROM users",
            "CREATE TABLE copy SELECT * FROM flags",
            "CREATE TABLE IF NOT EXISTS copy SELECT * FROM users",
            "CREATE TABLE copy (extra INT) SELECT * FROM users",
            "CREATE TABLE flags SELECT * FROM users LIMIT 3",
        ] {
            assert!(
                matches!(check_of(sql), Err(RouteError::CreateFromSelect(r)) if r.everywhere),
                "{sql}"
            );
        }
        let sql = "CREATE TABLE flags SELECT * FROM users FOR UPDATE";
        assert!(
            matches!(check_of(sql), Err(RouteError::NotSupported(m)) if m.contains("config shards or copies")),
            "{sql}"
        );
        for sql in [
            "CREATE TABLE copy (id INT)",
            "CREATE TABLE report SELECT * FROM users",
            "CREATE TEMPORARY TABLE copy SELECT * FROM users",
        ] {
            assert_eq!(check_of(sql), Ok(()), "{sql}");
        }
    }
}
