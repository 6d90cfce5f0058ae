//! `CREATE [OR REPLACE] TABLE t [options] [IGNORE | REPLACE] [AS] SELECT …` whose SELECT reads
//! sharded tables, into a new table of the default shard (one the config does not shard or
//! copy): one server would create `t` from the SELECT's rows, which here live on several
//! shards. The session creates `t` on the default shard as the SELECT describes its columns
//! (`… <the SELECT> LIMIT 0`: the same columns, types and defaults, no row read), then fills it with `INSERT [IGNORE] | REPLACE INTO t <the SELECT>`, which runs
//! by rows as any INSERT … SELECT across shards; if that fails, it drops `t`, as MariaDB leaves
//! no table behind a failed CREATE … SELECT.

use shardgate_config::Topology;
use sqlparser::ast::{CreateTable, Spanned};
use sqlparser::tokenizer::Token;

use crate::rewrite::Offsets;
use crate::shard_key::base_name;
use crate::Syntax;

/// A CREATE TABLE … SELECT the session runs in two statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFromSelect {
    /// The new table, as the statement names it.
    pub table: String,
    /// Creates the table, reading no row.
    pub create: String,
    /// Fills it.
    pub insert: String,
}

impl CreateFromSelect {
    /// Drops the table when filling it failed.
    pub fn drop_table(&self) -> String {
        format!("DROP TABLE IF EXISTS {}", self.table)
    }
}

impl std::fmt::Display for CreateFromSelect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CREATE TABLE … SELECT across shards in two steps: `{}` on the default shard, then `{}` (by rows; the table dropped if it fails)",
            self.create.replace('\n', " "),
            self.insert
        )
    }
}

/// The two statements of `ct` (text `sql`), when it creates a table of the default shard from
/// a SELECT and declares no columns of its own (whose places among the SELECT's MariaDB
/// decides), not `TEMPORARY` (the session's own connection would have to keep it) and not `IF
/// NOT EXISTS` (an existing table would get the rows).
pub(crate) fn request(
    ct: &CreateTable,
    sql: &str,
    syntax: Syntax,
    topology: &Topology,
) -> Option<CreateFromSelect> {
    let query = ct.query.as_deref()?;
    if ct.temporary || ct.if_not_exists || !ct.columns.is_empty() || ct.like.is_some() {
        return None;
    }
    // Its own LIMIT would leave no place for the one that reads no row.
    if query.limit_clause.is_some() || query.fetch.is_some() || !query.locks.is_empty() {
        return None;
    }
    let table = base_name(&ct.name)?;
    if topology.table(&table).is_some() || topology.is_reference(&table) {
        return None;
    }
    let mut offsets = Offsets::new(sql);
    let start = offsets.at(query.span().start)?;
    let head = &sql[..start];
    let select = sql[start..].trim_end().trim_end_matches(';').trim_end();
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
    let name = ct.name.to_string();
    Some(CreateFromSelect {
        // On a line of its own: a comment ending the SELECT does not hide it.
        create: format!("{head}{select}\nLIMIT 0"),
        insert: format!("{verb} {name} {select}"),
        table: name,
    })
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
            r.insert,
            "INSERT INTO report SELECT name, COUNT(*) n FROM users GROUP BY name"
        );
        assert_eq!(r.drop_table(), "DROP TABLE IF EXISTS report");
        let r = of(
            "CREATE OR REPLACE TABLE app.`r 2` (PRIMARY KEY (id)) SELECT id FROM users -- all\n",
        )
        .unwrap();
        assert_eq!(
            r.insert,
            "INSERT INTO app.`r 2` SELECT id FROM users -- all"
        );
        assert_eq!(
            r.create,
            "CREATE OR REPLACE TABLE app.`r 2` (PRIMARY KEY (id)) SELECT id FROM users -- all\nLIMIT 0"
        );
        for sql in [
            "CREATE TEMPORARY TABLE t AS SELECT id FROM users",
            "CREATE TABLE IF NOT EXISTS t AS SELECT id FROM users",
            "CREATE TABLE t (extra INT) AS SELECT id FROM users",
            "CREATE TABLE users AS SELECT 1",
            "CREATE TABLE t (id INT)",
            "CREATE TABLE t AS SELECT id FROM users ORDER BY id LIMIT 5",
        ] {
            assert_eq!(of(sql), None, "{sql}");
        }
    }
}
