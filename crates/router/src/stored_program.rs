//! Stored functions, procedures and triggers made through the proxy live on every shard: a
//! query over a sharded table calls a function on each shard it runs on, and a trigger of a
//! sharded table fires on the shard of the row. `CREATE` / `ALTER` / `DROP FUNCTION |
//! PROCEDURE | TRIGGER` run on the default shard first (a statement MariaDB refuses there
//! changes nothing anywhere and comes back as its own error), then on each other shard in turn
//! (`Route::StoredProgram`); a `DROP` without `IF EXISTS` gets it on the other shards, so a
//! program made on the default shard alone (before, directly, or by a text holding more
//! statements after the definition, which stays on the default shard whole) is dropped there
//! alone.
//!
//! A program whose body would see one shard's rows where one server sees all is refused (1235
//! naming the table): a function or procedure naming a sharded table (a function runs on each
//! shard, a `CALL` on the default shard), a trigger of a sharded or reference table whose body
//! reads or writes tables (only one reading nothing but the row — `SET NEW.c = …` — runs on a
//! shard as on one server), and an event (run by the default shard's scheduler) naming a
//! sharded table. Bodies are read by their tokens, so a column or variable spelled as a
//! sharded table is refused too.

use shardgate_config::Topology;
use sqlparser::tokenizer::{Token, TokenWithSpan, Word};

use crate::rewrite::Offsets;
use crate::{Plan, Route, RouteError, StatementKind, Syntax};

/// The kinds of stored programs a statement may create, alter or drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Program {
    Function,
    Procedure,
    Trigger,
    Event,
}

impl Program {
    fn of(word: &Word) -> Option<Program> {
        if word.quote_style.is_some() {
            return None;
        }
        match word.value.to_ascii_lowercase().as_str() {
            "function" => Some(Program::Function),
            "procedure" => Some(Program::Procedure),
            "trigger" => Some(Program::Trigger),
            "event" => Some(Program::Event),
            _ => None,
        }
    }
}

/// Words ending the search for a program's kind in a `CREATE`: another object is created.
const OTHER_OBJECTS: &[&str] = &[
    "table",
    "view",
    "index",
    "database",
    "schema",
    "user",
    "role",
    "sequence",
    "server",
    "tablespace",
    "package",
    "temporary",
    "unique",
    "fulltext",
    "spatial",
];

/// Words of a body that reads or writes tables (or a sequence).
const TABLE_ACCESS: &[&str] = &[
    "select", "insert", "update", "delete", "replace", "call", "from", "join", "table", "load",
    "handler", "prepare", "execute", "nextval", "lastval", "setval", "value",
];

/// The plan of `sql` when it creates, alters or drops a stored function, procedure or trigger
/// (or creates an event naming a sharded table); `None` for any other statement.
pub(crate) fn plan(
    sql: &str,
    syntax: Syntax,
    topology: &Topology,
) -> Option<Result<Plan, RouteError>> {
    let tokens: Vec<TokenWithSpan> = crate::lex::tokenize(sql, syntax, true)
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .collect();
    let word = |i: usize| match tokens.get(i).map(|t| &t.token) {
        Some(Token::Word(w)) => Some(w),
        _ => None,
    };
    let keyword = |i: usize, k: &str| {
        word(i).is_some_and(|w| w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
    };
    let verb = word(0)?.value.to_ascii_lowercase();
    if !matches!(verb.as_str(), "create" | "alter" | "drop") {
        return None;
    }
    let (program, at) = match verb.as_str() {
        "drop" | "alter" => (Program::of(word(1)?)?, 1),
        "create" => (1..tokens.len()).find_map(|i| {
            let w = word(i)?;
            if w.quote_style.is_none()
                && OTHER_OBJECTS
                    .iter()
                    .any(|k| w.value.eq_ignore_ascii_case(k))
            {
                return Some(None);
            }
            Program::of(w).map(|p| Some((p, i)))
        })??,
        _ => return None,
    };
    let sharded_word = |from: usize, skip: Option<&str>| {
        tokens[from..].iter().find_map(|t| match &t.token {
            Token::Word(w)
                if skip.is_none_or(|s| !w.value.eq_ignore_ascii_case(s))
                    && topology.table(&w.value).is_some() =>
            {
                topology.table(&w.value).map(|r| r.name.clone())
            }
            _ => None,
        })
    };
    // The text would go to every shard whole, and what follows the definition would run
    // there too: such a text stays on the default shard, as one piece (`split.rs`).
    if !one_statement(&tokens) {
        return None;
    }
    let everywhere = Plan::new(StatementKind::Ddl, Route::StoredProgram { elsewhere: None });
    if verb == "drop" {
        if keyword(at + 1, "if") {
            return Some(Ok(everywhere));
        }
        // The other shards drop it if they have it.
        let end = tokens[at].span.end;
        let cut = Offsets::new(sql).at(end)?;
        let elsewhere = format!("{} IF EXISTS{}", &sql[..cut], &sql[cut..]);
        let route = Route::StoredProgram {
            elsewhere: Some(elsewhere),
        };
        return Some(Ok(Plan::new(StatementKind::Ddl, route)));
    }
    let refused = |what: String| Some(Err(RouteError::NotSupported(what)));
    match program {
        Program::Function => match sharded_word(at + 1, None) {
            Some(table) => refused(format!(
                "a stored function naming sharded table `{table}` is not supported by shardgate: called on a shard, it would read that shard's rows only"
            )),
            None => Some(Ok(everywhere)),
        },
        Program::Procedure => match sharded_word(at + 1, None) {
            Some(table) => refused(format!(
                "a stored procedure naming sharded table `{table}` is not supported by shardgate: CALL runs it on the default shard, which holds part of the table's rows"
            )),
            None => Some(Ok(everywhere)),
        },
        Program::Event => sharded_word(at + 1, None).and_then(|table| {
            refused(format!(
                "an event naming sharded table `{table}` is not supported by shardgate: the default shard's scheduler would run it over that shard's rows only"
            ))
        }),
        Program::Trigger if verb == "alter" => None,
        Program::Trigger => {
            // `… ON [db.]table FOR EACH ROW [FOLLOWS | PRECEDES other] body`
            let on = (at + 1..tokens.len()).find(|&i| keyword(i, "on"))?;
            let mut i = on + 1;
            while matches!(tokens.get(i + 1).map(|t| &t.token), Some(Token::Period)) {
                i += 2;
            }
            let table = word(i)?.value.clone();
            let row = (i + 1..tokens.len()).find(|&j| keyword(j, "row"))?;
            let mut body = row + 1;
            if keyword(body, "follows") || keyword(body, "precedes") {
                body += 2;
            }
            let lives_everywhere =
                topology.table(&table).is_some() || topology.is_reference(&table);
            if !lives_everywhere {
                return sharded_word(body, None).and_then(|read| {
                    refused(format!(
                        "a trigger of unsharded table `{table}` naming sharded table `{read}` is not supported by shardgate: it runs on the default shard, which holds part of that table's rows"
                    ))
                });
            }
            let access = tokens[body..].iter().any(|t| {
                matches!(&t.token, Token::Word(w) if w.quote_style.is_none()
                    && TABLE_ACCESS.iter().any(|k| w.value.eq_ignore_ascii_case(k)))
            });
            match access {
                true => refused(format!(
                    "a trigger of `{table}` whose body reads or writes tables is not supported by shardgate: the table lives on every shard, where the trigger would see and write that shard's rows only (a body setting NEW's columns from the row is)"
                )),
                false => Some(Ok(everywhere)),
            }
        }
    }
}

/// Whether `tokens` hold one statement: no `;` outside a `BEGIN … END` (or `CASE … END`) block
/// is followed by more text.
fn one_statement(tokens: &[TokenWithSpan]) -> bool {
    let is = |t: Option<&TokenWithSpan>, k: &str| matches!(t.map(|t| &t.token), Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k));
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1);
        if is(Some(t), "begin") || is(Some(t), "case") {
            depth += 1;
        } else if is(Some(t), "end")
            && !["if", "loop", "while", "repeat", "for"]
                .iter()
                .any(|k| is(next, k))
        {
            depth = depth.saturating_sub(1);
        } else if t.token == Token::SemiColon
            && depth == 0
            && tokens[i + 1..].iter().any(|t| t.token != Token::SemiColon)
        {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        crate::test_topology::two_shards(
            "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n\n[[tables]]\nname = \"countries\"\nreference = true\n",
        )
    }

    fn planned(sql: &str) -> Option<Result<Route, String>> {
        plan(sql, Syntax::default(), &topology())
            .map(|p| p.map(|p| p.route).map_err(|e| e.to_string()))
    }

    fn everywhere() -> Option<Result<Route, String>> {
        Some(Ok(Route::StoredProgram { elsewhere: None }))
    }

    #[test]
    fn functions_procedures_and_safe_triggers_go_to_every_shard() {
        for sql in [
            "CREATE FUNCTION f(x INT) RETURNS INT DETERMINISTIC RETURN x + 1",
            "CREATE OR REPLACE DEFINER=`root`@`localhost` FUNCTION f(x INT) RETURNS INT BEGIN DECLARE y INT; SET y = x * 2; RETURN y; END",
            "CREATE DEFINER = CURRENT_USER AGGREGATE FUNCTION IF NOT EXISTS agg(x INT) RETURNS INT BEGIN DECLARE s INT DEFAULT 0; DECLARE CONTINUE HANDLER FOR NOT FOUND RETURN s; LOOP FETCH GROUP NEXT ROW; SET s = s + x; END LOOP; END",
            "CREATE PROCEDURE p() SELECT COUNT(*) FROM notes",
            "create trigger t before insert on users for each row set new.name = upper(new.name)",
            "CREATE TRIGGER t BEFORE UPDATE ON app.users FOR EACH ROW FOLLOWS other SET NEW.updated_at = NOW()",
            "CREATE TRIGGER t BEFORE INSERT ON countries FOR EACH ROW BEGIN IF NEW.code = '' THEN SIGNAL SQLSTATE '45000'; END IF; END",
            "ALTER FUNCTION f COMMENT 'x'",
            "ALTER PROCEDURE p SQL SECURITY INVOKER",
            "DROP FUNCTION IF EXISTS f",
            "DROP TRIGGER IF EXISTS app.t",
        ] {
            assert_eq!(planned(sql), everywhere(), "{sql}");
        }
    }

    #[test]
    fn a_drop_without_if_exists_gets_it_on_the_other_shards() {
        for (sql, elsewhere) in [
            ("DROP FUNCTION f", "DROP FUNCTION IF EXISTS f"),
            ("drop procedure `p 1`;", "drop procedure IF EXISTS `p 1`;"),
            ("DROP TRIGGER app.t", "DROP TRIGGER IF EXISTS app.t"),
        ] {
            assert_eq!(
                planned(sql),
                Some(Ok(Route::StoredProgram {
                    elsewhere: Some(elsewhere.into())
                })),
                "{sql}"
            );
        }
    }

    #[test]
    fn bodies_that_would_see_one_shard_s_rows_are_refused() {
        for (sql, says) in [
            ("CREATE FUNCTION g() RETURNS INT RETURN (SELECT COUNT(*) FROM users)", "stored function naming sharded table `users`"),
            ("CREATE PROCEDURE p() BEGIN DELETE FROM `users` WHERE id = 1; END", "stored procedure naming sharded table `users`"),
            ("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM users WHERE id = 0", "event naming sharded table `users`"),
            ("CREATE TRIGGER t AFTER INSERT ON users FOR EACH ROW INSERT INTO audit VALUES (NEW.id)", "trigger of `users` whose body reads or writes tables"),
            ("CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW SET NEW.id = NEXTVAL(s)", "trigger of `users`"),
            ("CREATE TRIGGER t BEFORE INSERT ON countries FOR EACH ROW SET NEW.n = (SELECT 1)", "trigger of `countries`"),
            ("CREATE TRIGGER t AFTER INSERT ON audit FOR EACH ROW UPDATE users SET n = n + 1 WHERE id = NEW.user_id", "trigger of unsharded table `audit` naming sharded table `users`"),
        ] {
            match planned(sql) {
                Some(Err(e)) => assert!(e.contains(says), "{sql}: {e}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_definition_followed_by_other_statements_stays_on_the_default_shard() {
        for sql in [
            "CREATE FUNCTION f() RETURNS INT RETURN 1; INSERT INTO users VALUES (1)",
            "CREATE PROCEDURE p() BEGIN SELECT 1; END; DELETE FROM users",
            "DROP FUNCTION f; DELETE FROM users",
        ] {
            assert_eq!(planned(sql), None, "{sql}");
        }
        for sql in [
            "CREATE PROCEDURE p() BEGIN DECLARE x INT; CASE x WHEN 1 THEN SELECT 1; END CASE; IF x THEN SELECT 2; END IF; SET x = CASE WHEN x THEN 1 END; END;",
            "CREATE FUNCTION f() RETURNS INT RETURN 1;;",
        ] {
            assert_eq!(planned(sql), everywhere(), "{sql}");
        }
    }

    #[test]
    fn other_statements_are_left_to_the_planner() {
        for sql in [
            "CREATE TABLE function_log (id INT)",
            "CREATE VIEW v AS SELECT 1 AS function",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DELETE FROM audit",
            "CREATE TRIGGER t AFTER INSERT ON audit FOR EACH ROW INSERT INTO log VALUES (1)",
            "ALTER TRIGGER t",
            "DROP TABLE f",
            "SELECT 1",
        ] {
            assert_eq!(planned(sql), None, "{sql}");
        }
    }
}
