//! Table maintenance — `CHECK`, `CHECKSUM`, `OPTIMIZE`, `ANALYZE`, `REPAIR TABLE` — of sharded
//! and reference tables, recognised by their words before the SQL parser (which knows few of
//! them). Every shard holds a part of a sharded table's rows, or a copy of a reference
//! table's, so the statement runs unchanged on every shard and the server combines the
//! reports as one server's (`server/src/maintenance.rs`): MariaDB's `CHECKSUM TABLE` adds its
//! rows' checksums (modulo 2^32), so a sharded table's checksum is its shards' sum and a
//! reference table's one copy's; the other statements report rows (`Table`, `Op`,
//! `Msg_type`, `Msg_text`), shown once each when shards say the same thing. A statement
//! naming only other tables runs where they live, the default shard; one naming both kinds
//! is refused, as DDL is.

use shardgate_config::Topology;
use sqlparser::tokenizer::{Token, Word};

use crate::{Plan, Route, RouteError, StatementKind, Syntax};

/// What a maintenance statement on every shard reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maintenance {
    /// `CHECKSUM TABLE`: one row (`Table`, `Checksum`) per table.
    Checksum,
    /// `CHECK` / `OPTIMIZE` / `ANALYZE` / `REPAIR TABLE`: rows of messages per table.
    Report,
}

/// The plan of a maintenance statement, if `sql` is one: `None` for any other statement
/// (costs a look at its first word).
pub(crate) fn plan_maintenance(
    sql: &str,
    syntax: Syntax,
    topology: &Topology,
) -> Option<Result<Plan, RouteError>> {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()?;
    let kind = match first.to_ascii_lowercase().as_str() {
        "checksum" => Maintenance::Checksum,
        "check" | "optimize" | "analyze" | "repair" => Maintenance::Report,
        _ => return None,
    };
    let tokens = crate::lex::tokenize(sql, syntax, true).ok()?;
    let tokens: Vec<Token> = (tokens.into_iter())
        .map(|t| t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    let tables = maintained_tables(&tokens)?;
    let placed = |t: &String| topology.table(t).is_some() || topology.is_reference(t);
    let (everywhere, elsewhere): (Vec<&String>, Vec<&String>) =
        tables.iter().partition(|t| placed(t));
    let plan = match (everywhere.first(), elsewhere.first()) {
        (None, _) => Ok(Plan::new(
            StatementKind::Ddl,
            Route::Shard(topology.default_shard),
        )),
        (Some(_), None) => Ok(Plan::new(StatementKind::Ddl, Route::Maintenance(kind))),
        (Some(s), Some(u)) => Err(RouteError::NotSupported(format!(
            "{} naming both sharded or reference table `{s}` and table `{u}`, which only the default shard has, is not supported by shardgate; run it per table",
            first.to_ascii_uppercase()
        ))),
    };
    Some(plan)
}

/// The tables (lower-cased, without their database) of `CHECK TABLE t1, db.t2 …`,
/// `OPTIMIZE [NO_WRITE_TO_BINLOG | LOCAL] TABLE …` and the like, in the statement's order;
/// `None` when the words are not those of one such statement.
fn maintained_tables(tokens: &[Token]) -> Option<Vec<String>> {
    let keyword = |t: Option<&Token>, k: &str| matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let mut at = 1;
    if keyword(tokens.get(at), "no_write_to_binlog") || keyword(tokens.get(at), "local") {
        at += 1;
    }
    if !keyword(tokens.get(at), "table") {
        return None;
    }
    at += 1;
    let name = |t: Option<&Token>| match t {
        Some(Token::Word(w)) => Some(w.clone()),
        _ => None,
    };
    let mut tables = Vec::new();
    loop {
        let mut table: Word = name(tokens.get(at))?;
        at += 1;
        if tokens.get(at) == Some(&Token::Period) {
            table = name(tokens.get(at + 1))?;
            at += 2;
        }
        tables.push(table.value.to_ascii_lowercase());
        if tokens.get(at) != Some(&Token::Comma) {
            break;
        }
        at += 1;
    }
    // One statement: options may follow, another statement may not.
    let rest = &tokens[at..];
    let more = (rest.iter())
        .skip_while(|t| **t != Token::SemiColon)
        .any(|t| *t != Token::SemiColon);
    (!more).then_some(tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        crate::test_topology::two_shards(
            "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n[[tables]]\nname = \"flags\"\nreference = true\n",
        )
    }

    fn route(sql: &str) -> Option<Result<Route, String>> {
        plan_maintenance(sql, Syntax::default(), &topology())
            .map(|p| p.map(|p| p.route).map_err(|e| e.to_string()))
    }

    #[test]
    fn maintenance_of_sharded_and_reference_tables_runs_on_every_shard() {
        let everywhere = |k| Some(Ok(Route::Maintenance(k)));
        assert_eq!(
            route("CHECKSUM TABLE users, app.flags EXTENDED"),
            everywhere(Maintenance::Checksum)
        );
        assert_eq!(
            route("optimize no_write_to_binlog table `Users`;"),
            everywhere(Maintenance::Report)
        );
        assert_eq!(
            route("ANALYZE LOCAL TABLE users PERSISTENT FOR ALL"),
            everywhere(Maintenance::Report)
        );
        assert_eq!(
            route("CHECK TABLE users FOR UPGRADE"),
            everywhere(Maintenance::Report)
        );
        assert_eq!(
            route("REPAIR TABLE flags QUICK"),
            everywhere(Maintenance::Report)
        );
        assert_eq!(route("CHECK TABLE admins"), Some(Ok(Route::Shard(0))));
        let mixed = route("CHECK TABLE users, admins").unwrap().unwrap_err();
        assert!(
            mixed.contains("`users`") && mixed.contains("`admins`"),
            "{mixed}"
        );
        for other in [
            "ANALYZE SELECT * FROM users",
            "CHECK VIEW v",
            "CHECKSUM TABLE users; DROP TABLE users",
            "SELECT 1",
        ] {
            assert_eq!(route(other), None, "{other}");
        }
    }
}
