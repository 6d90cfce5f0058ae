//! Statements about the proxy's own client sessions (`KILL`, `SHOW [FULL] PROCESSLIST`) and
//! the servers' administration (account management), recognised by their first words before
//! the SQL parser, which knows few of them.
//!
//! One rule for administration: account management (users, roles, grants, passwords of other
//! accounts, `FLUSH PRIVILEGES`) and `SET GLOBAL` run on every shard's primary, for admin
//! users only (`Route::EveryPrimary`); `SET PASSWORD` without `FOR`, which would change the
//! backend account itself, is refused for everyone. `SET ROLE` is a session setting (the
//! server lets only sessions logged in as the servers' own accounts run it).

use sqlparser::tokenizer::Token;

use crate::{Plan, Route, RouteError, SessionVar, StatementKind, Syntax};

/// `KILL [HARD | SOFT] [CONNECTION | QUERY] target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    /// `KILL QUERY`: only the statement the session runs; the session goes on.
    pub query_only: bool,
    pub target: KillTarget,
}

/// Whose session a `KILL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillTarget {
    /// A connection id as the proxy gave it (handshake, `CONNECTION_ID()`, `SHOW PROCESSLIST`).
    Id(u64),
    /// `CONNECTION_ID()`: the session that runs the KILL.
    Own,
    /// Any other expression, which MariaDB evaluates (`KILL (@id)`, `KILL 1 + 1`): its value
    /// is the id.
    Expression(String),
}

/// The name `SET ROLE` is kept under among the session's settings (no system variable has it).
pub const ROLE_SETTING: &str = "role";

/// The privilege MariaDB names when an account without it runs account management.
const CREATE_USER: &str = "CREATE USER";

/// The plan of an administrative statement, if `sql` (comments resolved) is one. Costs a
/// look at the first word for any other statement.
pub(crate) fn plan_administrative(sql: &str, syntax: Syntax) -> Option<Result<Plan, RouteError>> {
    let mut words = Words(sql);
    let first = words.next()?;
    let is = |word: Option<&str>, what: &str| word.is_some_and(|w| w.eq_ignore_ascii_case(what));
    let account = |privilege: &'static str| {
        Ok(Plan::new(
            StatementKind::Ddl,
            Route::EveryPrimary { privilege },
        ))
    };
    let first_is = |what: &str| first.eq_ignore_ascii_case(what);
    if first_is("kill") {
        let plan = parse_kill(sql, syntax);
        return Some(plan.map(|kill| Plan::new(StatementKind::Session, Route::Kill(kill))));
    }
    if first_is("show") {
        let mut next = words.next();
        let full = is(next, "full");
        if full {
            next = words.next();
        }
        return (is(next, "processlist") && words.rest_is_empty())
            .then(|| Ok(Plan::new(StatementKind::Read, Route::ProcessList { full })));
    }
    if first_is("create") {
        let mut next = words.next();
        if is(next, "or") && is(words.next(), "replace") {
            next = words.next();
        }
        return (is(next, "user") || is(next, "role")).then(|| account(CREATE_USER));
    }
    if first_is("drop") {
        let next = words.next();
        return (is(next, "user") || is(next, "role")).then(|| account(CREATE_USER));
    }
    if first_is("alter") || first_is("rename") {
        return is(words.next(), "user").then(|| account(CREATE_USER));
    }
    if first_is("grant") || first_is("revoke") {
        return Some(account("GRANT OPTION"));
    }
    if first_is("flush") {
        let mut next = words.next();
        if is(next, "no_write_to_binlog") || is(next, "local") {
            next = words.next();
        }
        return is(next, "privileges").then(|| account("RELOAD"));
    }
    if !first_is("set") {
        return None;
    }
    let next = words.next();
    if is(next, "password") {
        // `SET PASSWORD FOR account = …` manages an account; without FOR it would change the
        // password of the backend account every connection logs in with.
        return Some(if is(words.next(), "for") {
            account(CREATE_USER)
        } else {
            Err(RouteError::NotSupported(
                "SET PASSWORD without FOR through shardgate is not supported: it would change the password of shardgate's own backend account; client passwords are set in [[users]] of shardgate's configuration".into(),
            ))
        });
    }
    if is(next, "default") {
        return is(words.next(), "role").then(|| account(CREATE_USER));
    }
    if is(next, "role") {
        let var = SessionVar {
            name: ROLE_SETTING.into(),
            sql: sql.to_owned(),
            computed: false,
        };
        return Some(Ok(Plan::new(
            StatementKind::Session,
            Route::Set {
                vars: vec![var],
                autocommit: None,
                globals: false,
            },
        )));
    }
    // `SET GLOBAL x = …` is planned from the parsed SET; this form the parser does not know.
    (is(next, "global") && is(words.next(), "transaction")).then(|| {
        Ok(Plan::new(
            StatementKind::Session,
            Route::EveryPrimary { privilege: "SUPER" },
        ))
    })
}

/// Whether the text names `information_schema.PROCESSLIST` (the server's threads, not the
/// proxy's sessions). Costs a scan for the word in any other text.
pub(crate) fn names_server_processlist(sql: &str, syntax: Syntax) -> bool {
    if crate::text::find_ignore_case(sql, "processlist").is_none() {
        return false;
    }
    let Ok(tokens) = crate::lex::tokenize(sql, syntax, true) else {
        return false;
    };
    let tokens: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let word_is =
        |t: &Token, what: &str| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case(what));
    tokens.windows(3).any(|w| {
        word_is(w[0], "information_schema")
            && *w[1] == Token::Period
            && word_is(w[2], "processlist")
    })
}

/// Reads `KILL [HARD | SOFT] [CONNECTION | QUERY] <number | CONNECTION_ID()>` as MariaDB does.
fn parse_kill(sql: &str, syntax: Syntax) -> Result<Kill, RouteError> {
    let unsupported = |what: &str| RouteError::NotSupported(what.to_owned());
    let tokens = crate::lex::tokenize(sql, syntax, true)
        .map_err(|e| RouteError::Syntax(format!("cannot read KILL: {e}")))?;
    let mut tokens = tokens
        .into_iter()
        .map(|t| t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .peekable();
    let word_is = |t: Option<&Token>, what: &str| matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(what));
    tokens.next(); // KILL
    if word_is(tokens.peek(), "hard") || word_is(tokens.peek(), "soft") {
        tokens.next();
    }
    let mut query_only = false;
    if word_is(tokens.peek(), "connection") {
        tokens.next();
    } else if word_is(tokens.peek(), "query") {
        tokens.next();
        query_only = true;
        if word_is(tokens.peek(), "id") {
            return Err(unsupported(
                "KILL QUERY ID through shardgate is not supported: query ids are each server's own; use KILL QUERY <connection id>",
            ));
        }
    }
    if word_is(tokens.peek(), "user") {
        return Err(unsupported(
            "KILL USER through shardgate is not supported: kill the user's connections by id (SHOW PROCESSLIST lists them)",
        ));
    }
    let mut rest: Vec<Token> = tokens.collect();
    while rest.last() == Some(&Token::SemiColon) {
        rest.pop();
    }
    let is_own = |t: &[Token]| matches!(t, [Token::Word(w), Token::LParen, Token::RParen] if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("connection_id"));
    let target = match rest.as_slice() {
        [] => return Err(RouteError::Syntax("KILL needs a connection id".into())),
        [Token::Number(n, _)] if n.parse::<u64>().is_ok() => {
            KillTarget::Id(n.parse().expect("checked"))
        }
        [Token::SingleQuotedString(s)] if s.trim().parse::<u64>().is_ok() => {
            KillTarget::Id(s.trim().parse().expect("checked"))
        }
        own if is_own(own) => KillTarget::Own,
        several if several.contains(&Token::SemiColon) => {
            return Err(RouteError::Syntax("KILL takes one expression".into()))
        }
        expression => KillTarget::Expression(expression.iter().map(|t| format!("{t} ")).collect()),
    };
    Ok(Kill { query_only, target })
}

/// The leading words of a statement, skipping white space and comments; stops at the first
/// character that is neither.
pub(crate) struct Words<'a>(pub(crate) &'a str);

impl<'a> Words<'a> {
    /// Moves past white space and comments.
    fn skip_blanks(&mut self) {
        loop {
            let rest = self.0.trim_start();
            self.0 = if let Some(comment) = rest.strip_prefix("/*") {
                comment.find("*/").map_or("", |end| &comment[end + 2..])
            } else if rest.starts_with('#') || rest.starts_with("-- ") {
                rest.find('\n').map_or("", |end| &rest[end..])
            } else {
                self.0 = rest;
                return;
            };
        }
    }

    /// Whether nothing but white space, comments and `;` follow.
    pub(crate) fn rest_is_empty(&mut self) -> bool {
        self.skip_blanks();
        self.0
            .trim_end_matches([';', ' ', '\t', '\r', '\n'])
            .is_empty()
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.skip_blanks();
        let end = self
            .0
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(self.0.len());
        if end == 0 {
            return None;
        }
        let (word, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(sql: &str) -> Option<Result<Plan, RouteError>> {
        plan_administrative(sql, Syntax::DEFAULT)
    }

    fn route(sql: &str) -> Route {
        plan(sql)
            .unwrap_or_else(|| panic!("{sql}: not administrative"))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .route
    }

    fn kill(query_only: bool, target: KillTarget) -> Route {
        Route::Kill(Kill { query_only, target })
    }

    #[test]
    fn reads_kill_as_mariadb_does() {
        assert_eq!(route("KILL 7"), kill(false, KillTarget::Id(7)));
        assert_eq!(route("kill connection 7;"), kill(false, KillTarget::Id(7)));
        assert_eq!(route("KILL QUERY 42"), kill(true, KillTarget::Id(42)));
        assert_eq!(route("KILL HARD QUERY 42"), kill(true, KillTarget::Id(42)));
        assert_eq!(
            route("KILL SOFT CONNECTION 3"),
            kill(false, KillTarget::Id(3))
        );
        assert_eq!(route("KILL '9'"), kill(false, KillTarget::Id(9)));
        assert_eq!(
            route("KILL QUERY CONNECTION_ID()"),
            kill(true, KillTarget::Own)
        );
        assert_eq!(
            route("/* cancel */ KILL /* it */ QUERY 5"),
            kill(true, KillTarget::Id(5))
        );
    }

    #[test]
    fn leaves_an_expression_to_the_server() {
        let expression = |sql: &str| match route(sql) {
            Route::Kill(Kill {
                target: KillTarget::Expression(e),
                ..
            }) => e,
            other => panic!("{sql}: {other:?}"),
        };
        assert_eq!(expression("KILL 1+1"), "1 + 1 ");
        assert_eq!(expression("KILL QUERY @id;"), "@id ");
        assert_eq!(
            expression("KILL (('x' IN ( SELECT 1)) MOD 44)"),
            "( ( 'x' IN ( SELECT 1 ) ) MOD 44 ) "
        );
        assert_eq!(expression("KILL 5 6"), "5 6 ");
    }

    #[test]
    fn refuses_the_kill_forms_it_cannot_honour() {
        for sql in ["KILL QUERY ID 12", "KILL USER app"] {
            assert!(
                matches!(plan(sql), Some(Err(RouteError::NotSupported(_)))),
                "{sql}"
            );
        }
        assert!(matches!(plan("KILL"), Some(Err(RouteError::Syntax(_)))));
    }

    #[test]
    fn reads_show_processlist() {
        assert_eq!(
            route("SHOW PROCESSLIST"),
            Route::ProcessList { full: false }
        );
        assert_eq!(
            route("show full processlist ;"),
            Route::ProcessList { full: true }
        );
        assert!(plan("SHOW PROCESSLIST LIKE 'x'").is_none());
        assert!(plan("SHOW TABLES").is_none());
        assert!(plan("SELECT * FROM information_schema.PROCESSLIST").is_none());
    }

    #[test]
    fn finds_the_servers_processlist() {
        let names = |sql: &str| names_server_processlist(sql, Syntax::DEFAULT);
        assert!(names("SELECT * FROM information_schema.PROCESSLIST"));
        assert!(names(
            "SELECT id FROM `INFORMATION_SCHEMA`.`processlist` WHERE state = 'x'"
        ));
        assert!(!names("SELECT 'information_schema.processlist'"));
        assert!(!names("SELECT * FROM processlist_copy"));
        assert!(!names("SELECT 1"));
    }

    #[test]
    fn account_management_runs_on_every_primary() {
        for (sql, privilege) in [
            ("CREATE USER x@'%' IDENTIFIED BY 'p'", "CREATE USER"),
            ("CREATE OR REPLACE USER x", "CREATE USER"),
            ("create user if not exists x", "CREATE USER"),
            ("DROP USER IF EXISTS x", "CREATE USER"),
            ("ALTER USER x IDENTIFIED BY 'q'", "CREATE USER"),
            ("RENAME USER a TO b", "CREATE USER"),
            ("CREATE ROLE r", "CREATE USER"),
            ("DROP ROLE r", "CREATE USER"),
            ("GRANT SELECT ON app.* TO x", "GRANT OPTION"),
            ("REVOKE ALL PRIVILEGES, GRANT OPTION FROM x", "GRANT OPTION"),
            ("FLUSH PRIVILEGES", "RELOAD"),
            ("FLUSH NO_WRITE_TO_BINLOG PRIVILEGES", "RELOAD"),
            ("SET PASSWORD FOR x = PASSWORD('p')", "CREATE USER"),
            ("SET DEFAULT ROLE r FOR x", "CREATE USER"),
            (
                "SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED",
                "SUPER",
            ),
        ] {
            assert_eq!(route(sql), Route::EveryPrimary { privilege }, "{sql}");
        }
    }

    #[test]
    fn leaves_other_statements_to_the_planner() {
        for sql in [
            "SELECT 1",
            "CREATE TABLE user (id INT)",
            "DROP TABLE users",
            "ALTER TABLE users ADD c INT",
            "FLUSH TABLES",
            "SET @x = 1",
            "SET GLOBAL wait_timeout = 5",
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "",
            "   ",
        ] {
            assert!(plan(sql).is_none(), "{sql}");
        }
    }

    #[test]
    fn refuses_what_would_change_the_backend_account() {
        assert!(matches!(
            plan("SET PASSWORD = PASSWORD('x')"),
            Some(Err(RouteError::NotSupported(_)))
        ));
    }

    #[test]
    fn set_role_is_a_session_setting() {
        for sql in ["SET ROLE r", "set role NONE"] {
            let Some(Ok(plan)) = plan(sql) else {
                panic!("{sql}")
            };
            let Route::Set { vars, .. } = plan.route else {
                panic!("{sql}: {:?}", plan.route)
            };
            assert_eq!(
                (vars[0].name.as_str(), vars[0].sql.as_str()),
                (ROLE_SETTING, sql)
            );
        }
    }
}
