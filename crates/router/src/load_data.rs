//! `LOAD DATA … INFILE` and `LOAD XML … INFILE`, which sqlparser does not read (it knows
//! Hive's `LOAD DATA INPATH`): the table they load is found by their words.
//!
//! ```text
//! LOAD {DATA | XML} [LOW_PRIORITY | CONCURRENT] [LOCAL] INFILE 'file'
//!     [REPLACE | IGNORE] INTO TABLE [db.]table …
//! ```
//!
//! The rows come from a file the server reads (or the client sends, `LOCAL`), so the proxy
//! cannot look at them: a table on one shard loads there; a sharded table would need each row
//! sent to its key's shard, and a reference table every row to every copy, so both are refused
//! before anything runs.

use shardgate_config::Topology;
use sqlparser::tokenizer::Token;

use crate::RouteError;

/// What a `LOAD DATA` / `LOAD XML` statement loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadData {
    /// `DATA` or `XML`, as the statement says it.
    pub what: &'static str,
    /// The client sends the file (`LOCAL`).
    pub local: bool,
    /// The table, without its database, as written.
    pub table: String,
}

/// The `LOAD DATA` / `LOAD XML` statement `tokens` hold, if they hold one.
pub(crate) fn load_statement(tokens: &[Token]) -> Option<LoadData> {
    let mut words = Words(
        tokens
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .peekable(),
    );
    if !words.keyword("load") {
        return None;
    }
    let what = match () {
        _ if words.keyword("data") => "DATA",
        _ if words.keyword("xml") => "XML",
        _ => return None,
    };
    let _priority = words.keyword("low_priority") || words.keyword("concurrent");
    let local = words.keyword("local");
    if !words.keyword("infile") {
        return None;
    }
    let _file_name = words.0.next()?;
    let _duplicates = words.keyword("replace") || words.keyword("ignore");
    if !(words.keyword("into") && words.keyword("table")) {
        return None;
    }
    let mut table = words.name()?;
    if words.0.next_if(|t| matches!(t, Token::Period)).is_some() {
        table = words.name()?;
    }
    Some(LoadData { what, local, table })
}

/// The tokens of a statement but its spaces.
struct Words<'a, I: Iterator<Item = &'a Token>>(std::iter::Peekable<I>);

impl<'a, I: Iterator<Item = &'a Token>> Words<'a, I> {
    /// Moves past unquoted `keyword` if it comes next.
    fn keyword(&mut self, keyword: &str) -> bool {
        self.0
            .next_if(|t| {
                matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(keyword))
            })
            .is_some()
    }

    /// The name (quoted or not) that comes next.
    fn name(&mut self) -> Option<String> {
        match self.0.next()? {
            Token::Word(w) => Some(w.value.clone()),
            _ => None,
        }
    }
}

/// Refuses a load into a table that lives on more than one shard.
pub(crate) fn check_target(load: &LoadData, topology: &Topology) -> Result<(), RouteError> {
    let LoadData { what, local, .. } = load;
    let statement = match local {
        true => format!("LOAD {what} LOCAL INFILE"),
        false => format!("LOAD {what} INFILE"),
    };
    if let Some(rule) = topology.table(&load.table) {
        return Err(RouteError::NotSupported(format!(
            "{statement} into sharded table `{}` is not supported by shardgate: its rows would have to be split by shard key `{}` across the shards; load them with INSERT statements (a multi-row INSERT is split by shard)",
            rule.name, rule.shard_key
        )));
    }
    if topology.is_reference(&load.table) {
        return Err(RouteError::NotSupported(format!(
            "{statement} into reference table `{}` is not supported by shardgate: every row would have to be loaded into the table's copy on every shard; load them with INSERT statements (written to every copy)",
            load.table
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Plan, Route, Syntax};

    fn tokens(sql: &str) -> Vec<Token> {
        crate::lex::tokenize(sql, Syntax::DEFAULT, true)
            .unwrap()
            .into_iter()
            .map(|t| t.token)
            .collect()
    }

    fn load(sql: &str) -> Option<LoadData> {
        load_statement(&tokens(sql))
    }

    #[test]
    fn finds_the_table_of_every_spelling() {
        let into = |what: &'static str, local: bool, table: &str| {
            Some(LoadData {
                what,
                local,
                table: table.to_owned(),
            })
        };
        assert_eq!(
            load("LOAD DATA LOCAL INFILE '/tmp/x.tsv' INTO TABLE users"),
            into("DATA", true, "users")
        );
        assert_eq!(
            load("load data low_priority infile \"x\" replace into table app.`Orders` (a, b)"),
            into("DATA", false, "Orders")
        );
        assert_eq!(
            load("LOAD XML CONCURRENT LOCAL INFILE 'x.xml' IGNORE INTO TABLE t ROWS IDENTIFIED BY '<r>'"),
            into("XML", true, "t")
        );
        assert_eq!(load("LOAD DATA INPATH 'x' INTO TABLE t"), None);
        assert_eq!(load("SELECT 'LOAD DATA LOCAL INFILE'"), None);
        assert_eq!(load("LOAD DATA LOCAL INFILE 'x' INTO TABLE"), None);
    }

    fn topology() -> Topology {
        shardgate_config::parse(
            r#"
            [backend]
            user = "u"
            password = "p"
            database = "app"
            [[users]]
            name = "app"
            password = "app"
            [[shards]]
            name = "s0"
            primary = "127.0.0.1:3306"
            [[shards]]
            name = "s1"
            primary = "127.0.0.1:3307"
            [[tables]]
            name = "users"
            shard_key = "id"
            [[tables]]
            name = "countries"
            reference = true
            "#,
            "test.toml",
        )
        .unwrap()
    }

    fn plan(sql: &str) -> Result<Plan, RouteError> {
        crate::plan_sql(sql, &topology(), Syntax::DEFAULT)
    }

    #[test]
    fn sharded_and_reference_tables_are_refused_naming_them() {
        let e = plan("LOAD DATA LOCAL INFILE 'f' INTO TABLE app.Users").unwrap_err();
        assert!(
            e.to_string().contains("sharded table `users`") && e.to_string().contains("`id`"),
            "{e}"
        );
        let e = plan("LOAD XML INFILE 'f' INTO TABLE countries").unwrap_err();
        assert!(e.to_string().contains("reference table `countries`"), "{e}");
    }

    #[test]
    fn other_tables_load_on_the_default_shard() {
        let plan = plan("LOAD DATA LOCAL INFILE 'f' INTO TABLE audit").unwrap();
        assert_eq!(plan.route, Route::Shard(0));
    }
}
