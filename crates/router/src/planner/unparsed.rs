//! Text the SQL parser does not read: sent to the default shard as written unless it names a sharded table, and `SET @v := …` read from its tokens.

use super::*;

pub(super) fn unparsed(
    sql: &str,
    topology: &Topology,
    syntax: Syntax,
    message: String,
) -> Result<Plan, RouteError> {
    let tokens = crate::lex::tokenize(sql, syntax, true)
        .map(|t| t.into_iter().map(|t| t.token).collect::<Vec<_>>());
    // Text the tokenizer rejects (an unterminated quote) may still run up to that point on
    // the backend, as a multi-statement text: look for table names in every word of it.
    let words: Vec<String> = match &tokens {
        Ok(tokens) => tokens
            .iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w.value.clone()),
                _ => None,
            })
            .collect(),
        Err(_) => sql
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("handler"))
    {
        return connection_state::plan_handler(&words, topology);
    }
    // `ALTER TABLE t …` in a form the parser lacks (`DISABLE KEYS` in mariadb-dump's output,
    // `COMMENT = …`, `ENGINE = …`, `FORCE`): DDL where t lives, as a parsed one.
    if let Some(name) = tokens.as_deref().ok().and_then(altered_table) {
        let route = match topology.table(&name).is_some() || topology.is_reference(&name) {
            true => Route::AllShards,
            false => Route::Shard(topology.default_shard),
        };
        return Ok(Plan::new(StatementKind::Ddl, route));
    }
    // `DESCRIBE t col`: the columns of a table every shard holding it defines alike, as
    // `DESCRIBE t` (the default shard holds every table).
    if tokens.as_deref().is_ok_and(describes_columns) {
        return Ok(Plan::new(
            StatementKind::Read,
            Route::Shard(topology.default_shard),
        ));
    }
    if let Some(load) = tokens
        .as_deref()
        .ok()
        .and_then(crate::load_data::load_statement)
    {
        crate::load_data::check_target(&load, topology)?;
    }
    // `DO …` over sharded tables (one statement: `DO 1; DELETE …` is left to the refusal).
    let single = tokens.as_ref().is_ok_and(|tokens| {
        !(tokens.iter())
            .skip_while(|t| **t != Token::SemiColon)
            .any(|t| !matches!(t, Token::SemiColon | Token::Whitespace(_) | Token::EOF))
    });
    if single
        && words.first().is_some_and(|w| w.eq_ignore_ascii_case("do"))
        && words.iter().any(|w| topology.table(w).is_some())
    {
        if let Some(plan) = crate::do_statement::plan(sql, topology, syntax) {
            return plan;
        }
    }
    for word in &words {
        if let Some(rule) = topology.table(word) {
            return Err(RouteError::Unparsed {
                table: rule.name.clone(),
                message,
            });
        }
    }
    let first = words
        .first()
        .map(|w| w.to_ascii_lowercase())
        .unwrap_or_default();
    match first.as_str() {
        "unlock" => return Err(connection_state(&first.to_ascii_uppercase())),
        "prepare" | "execute" | "deallocate" => return Err(crate::sql_prepare::not_planned()),
        "xa" => {
            return Err(RouteError::NotSupported(format!(
                "{} through shardgate is not supported",
                first.to_ascii_uppercase()
            )))
        }
        // `SET CHARACTER SET …`, which the parser does not know: kept and replayed like any
        // session variable (MariaDB validates it when it is first run).
        "set"
            if words.get(1).is_some_and(|w| {
                ["character", "charset", "names"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
            }) =>
        {
            let sql = sql.trim().trim_end_matches(';').trim_end().to_owned();
            return Ok(Plan::new(
                StatementKind::Session,
                Route::Set {
                    vars: vec![crate::SessionVar {
                        name: sql.to_ascii_lowercase(),
                        sql,
                        computed: false,
                    }],
                    autocommit: None,
                    globals: false,
                },
            ));
        }
        // `SET @a := …`, `SET @s = _latin1 0x…`: user variables only, assigned by MariaDB on
        // the default shard and kept by the values they got (`Session::set` reads them back).
        "set" => {
            if let Some(vars) = tokens
                .as_deref()
                .ok()
                .and_then(|t| user_variable_set(t, sql))
            {
                return Ok(Plan::new(
                    StatementKind::Session,
                    Route::Set {
                        vars,
                        autocommit: None,
                        globals: false,
                    },
                ));
            }
            return Err(RouteError::NotSupported(format!(
                "`{}` is not supported by shardgate",
                sql.trim().trim_end_matches(';').trim_end()
            )));
        }
        _ => {}
    }
    // `START TRANSACTION WITH CONSISTENT SNAPSHOT`, which the parser does not know: a
    // transaction all the same (its text is replayed when the transaction opens).
    if words.len() >= 2
        && words[0].eq_ignore_ascii_case("start")
        && words[1].eq_ignore_ascii_case("transaction")
    {
        return Ok(txn(TxnCommand::Begin));
    }
    // Only one statement may be a read: `SELECT 1; DELETE …` writes.
    let one_statement = tokens.is_ok_and(|tokens| {
        !tokens
            .iter()
            .skip_while(|t| **t != Token::SemiColon)
            .any(|t| !matches!(t, Token::SemiColon | Token::Whitespace(_) | Token::EOF))
    });
    let first_word = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    let kind = if one_statement
        && ["select", "show", "describe", "desc", "explain"]
            .iter()
            .any(|w| first_word.eq_ignore_ascii_case(w))
    {
        StatementKind::Read
    } else {
        StatementKind::Write
    };
    Ok(Plan::new(kind, Route::Shard(topology.default_shard)))
}

/// The user variables a `SET` assigns, when it assigns nothing else (each top-level item
/// starts with `@name =` or `@name :=`).
pub(super) fn user_variable_set(tokens: &[Token], sql: &str) -> Option<Vec<crate::SessionVar>> {
    let tokens: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF | Token::SemiColon))
        .collect();
    let mut vars = Vec::new();
    let mut depth = 0usize;
    let mut at_item = true;
    for (i, token) in tokens.iter().enumerate().skip(1) {
        if at_item {
            let Token::Word(w) = token else { return None };
            if !w.value.starts_with('@') || w.value.starts_with("@@") {
                return None;
            }
            if !matches!(tokens.get(i + 1), Some(Token::Eq | Token::Assignment)) {
                return None;
            }
            vars.push(crate::SessionVar {
                name: w.value.to_ascii_lowercase(),
                sql: sql.trim().trim_end_matches(';').trim_end().to_owned(),
                computed: true,
            });
            at_item = false;
            continue;
        }
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => at_item = true,
            _ => {}
        }
    }
    (!vars.is_empty() && !at_item).then_some(vars)
}

/// Whether the tokens are `{DESCRIBE | DESC | EXPLAIN} [db.]t {col | 'pattern'}`, which the
/// parser reads only without the column.
fn describes_columns(tokens: &[Token]) -> bool {
    let t: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF | Token::SemiColon))
        .collect();
    let keyword = |t: &Token, words: &[&str]| matches!(t, Token::Word(w) if w.quote_style.is_none() && words.iter().any(|k| w.value.eq_ignore_ascii_case(k)));
    let table_at = match t.as_slice() {
        [verb, ..] if !keyword(verb, &["describe", "desc", "explain"]) => return false,
        [_, Token::Word(_), Token::Period, Token::Word(_), _] => 3,
        [_, Token::Word(_), _] => 1,
        _ => return false,
    };
    let statement_words = [
        "extended",
        "partitions",
        "format",
        "analyze",
        "select",
        "update",
        "delete",
        "insert",
        "replace",
        "with",
        "for",
        "values",
        "table",
    ];
    !keyword(t[1], &statement_words)
        && matches!(t[table_at], Token::Word(_))
        && matches!(
            t[table_at + 1],
            Token::Word(_) | Token::SingleQuotedString(_) | Token::DoubleQuotedString(_)
        )
}

/// The table of `ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] [db.]t …` (lower-cased), one
/// statement naming no other table: not a `RENAME`, whose new name may live elsewhere.
fn altered_table(tokens: &[Token]) -> Option<String> {
    let mut t = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .peekable();
    let word = |t: Option<&Token>| match t {
        Some(Token::Word(w)) => Some(w.clone()),
        _ => None,
    };
    let keyword = |w: &sqlparser::tokenizer::Word, k: &str| {
        w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k)
    };
    let alter = word(t.next())?;
    if !keyword(&alter, "alter") {
        return None;
    }
    let mut next = word(t.next())?;
    while keyword(&next, "online") || keyword(&next, "ignore") {
        next = word(t.next())?;
    }
    if !keyword(&next, "table") {
        return None;
    }
    let mut name = word(t.next())?;
    if keyword(&name, "if") {
        if !keyword(&word(t.next())?, "exists") {
            return None;
        }
        name = word(t.next())?;
    }
    if t.peek() == Some(&&Token::Period) {
        t.next();
        name = word(t.next())?;
    }
    let rest: Vec<&Token> = t.collect();
    // `RENAME [TO | AS] new` names another table; `RENAME COLUMN | INDEX | KEY` does not.
    let renames = rest.windows(2).any(|pair| match pair {
        [Token::Word(w), next] if keyword(w, "rename") => !matches!(
            next,
            Token::Word(n) if keyword(n, "column") || keyword(n, "index") || keyword(n, "key")
        ),
        _ => false,
    }) || matches!(rest.last(), Some(Token::Word(w)) if keyword(w, "rename"));
    let more = (rest.iter())
        .skip_while(|t| !matches!(t, Token::SemiColon))
        .any(|t| !matches!(t, Token::SemiColon));
    (!renames && !more).then(|| name.value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn altered(sql: &str) -> Option<String> {
        let tokens = crate::lex::tokenize(sql, Syntax::default(), true).ok()?;
        altered_table(&tokens.into_iter().map(|t| t.token).collect::<Vec<_>>())
    }

    #[test]
    fn describing_one_column_of_a_table_is_read_on_the_default_shard() {
        let topology =
            crate::test_topology::two_shards("[[tables]]\nname = \"users\"\nshard_key = \"id\"\n");
        for sql in [
            "DESCRIBE users id",
            "desc app.users 'e%';",
            "EXPLAIN users `email`",
        ] {
            let plan = unparsed(sql, &topology, Syntax::default(), String::new()).unwrap();
            assert_eq!(plan.route, Route::Shard(topology.default_shard), "{sql}");
        }
        for sql in [
            "EXPLAIN EXTENDED SELECT 1",
            "DESCRIBE users id extra",
            "DESC FORMAT=JSON users",
        ] {
            let tokens: Vec<Token> = crate::lex::tokenize(sql, Syntax::default(), true)
                .unwrap()
                .into_iter()
                .map(|t| t.token)
                .collect();
            assert!(!describes_columns(&tokens), "{sql}");
        }
    }

    #[test]
    fn an_alter_table_the_parser_lacks_names_its_table() {
        assert_eq!(
            altered("ALTER TABLE Users COMMENT = 'x'").as_deref(),
            Some("users")
        );
        assert_eq!(
            altered("ALTER TABLE app.t DISABLE KEYS;").as_deref(),
            Some("t")
        );
        assert_eq!(
            altered("alter online ignore table if exists `t` force").as_deref(),
            Some("t")
        );
        assert_eq!(
            altered("ALTER TABLE t RENAME INDEX a TO b, RENAME COLUMN c TO d").as_deref(),
            Some("t")
        );
        for sql in [
            "ALTER TABLE t RENAME TO u",
            "ALTER TABLE t RENAME u",
            "ALTER TABLE t FORCE, RENAME AS u",
            "ALTER TABLE t FORCE; DROP TABLE u",
            "ALTER VIEW v AS SELECT 1",
            "ALTER TABLE",
        ] {
            assert_eq!(altered(sql), None, "{sql}");
        }
    }
}
