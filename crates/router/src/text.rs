//! Cheap tests on statement text, run on every query before (or instead of) parsing: no
//! allocation.

/// The byte offset of the first ASCII-case-insensitive occurrence of `needle` (lower-case).
pub(crate) fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    h.windows(n.len()).position(|w| w.eq_ignore_ascii_case(n))
}

/// The first word of `sql`, past spaces and ordinary comments (empty if none).
pub(crate) fn first_word(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(comment) = rest
            .strip_prefix("/*")
            .filter(|c| !c.starts_with(['!', 'M']))
        {
            match comment.find("*/") {
                Some(end) => rest = &comment[end + 2..],
                None => return "",
            }
        } else if rest.starts_with('#') || rest.starts_with("-- ") {
            rest = rest.find('\n').map_or("", |end| &rest[end..]);
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Whether the text has `INTO @…` (`SELECT … INTO @v`): a user variable set inside a query.
fn assigns_into_variable(sql: &str) -> bool {
    let mut rest = sql;
    while let Some(at) = find_ignore_case(rest, "into") {
        rest = &rest[at + 4..];
        if rest.trim_start().starts_with('@') {
            return true;
        }
    }
    false
}

/// The user variables a statement assigns inside a query (`@v := …`, `… INTO @a, @b`),
/// lower-cased with their `@`, in order, without repeats.
pub(crate) fn assigned_user_variables(sql: &str, syntax: crate::Syntax) -> Vec<String> {
    use sqlparser::tokenizer::Token;
    if !sql.contains(":=") && !assigns_into_variable(sql) {
        return Vec::new();
    }
    let Ok(tokens) = crate::lex::tokenize(sql, syntax, true) else {
        return Vec::new();
    };
    let tokens: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let user_var = |t: &Token| match t {
        Token::Word(w)
            if w.quote_style.is_none()
                && w.value.starts_with('@')
                && !w.value.starts_with("@@") =>
        {
            Some(w.value.to_ascii_lowercase())
        }
        _ => None,
    };
    let mut names: Vec<String> = Vec::new();
    let mut push = |name: String| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    for (i, t) in tokens.iter().enumerate() {
        if matches!(t, Token::Assignment) {
            if let Some(name) = i.checked_sub(1).and_then(|p| user_var(tokens[p])) {
                push(name);
            }
        }
        if matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("into"))
        {
            let mut j = i + 1;
            while let Some(name) = tokens.get(j).and_then(|t| user_var(t)) {
                push(name);
                if tokens.get(j + 1) != Some(&&Token::Comma) {
                    break;
                }
                j += 2;
            }
        }
    }
    names
}

/// A SELECT's text without its trailing `LOCK IN SHARE MODE` (MySQL's older spelling of
/// `FOR SHARE`, which the SQL parser does not read), when it ends with one — comments and
/// semicolons after it included.
pub(crate) fn without_trailing_lock_in_share_mode(
    sql: &str,
    syntax: crate::Syntax,
) -> Option<&str> {
    use sqlparser::tokenizer::Token;
    let tokens = crate::lex::tokenize(sql, syntax, true).ok()?;
    let mut words = tokens
        .iter()
        .rev()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .skip_while(|t| t.token == Token::SemiColon);
    let mut lock = None;
    for expected in ["mode", "share", "in", "lock"] {
        let token = words.next()?;
        match &token.token {
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(expected) => {
                lock = Some(token);
            }
            _ => return None,
        }
    }
    let start = crate::rewrite::Offsets::new(sql).at(lock?.span.start)?;
    Some(&sql[..start])
}

/// A SELECT's text without its trailing `INTO @a, @b` (MariaDB reads the clause after the
/// WHERE, ORDER BY and LIMIT; the SQL parser does not), when it ends with one: what the
/// statement is planned by. The whole text is what runs.
pub(crate) fn without_trailing_into(sql: &str, syntax: crate::Syntax) -> Option<&str> {
    use sqlparser::tokenizer::Token;
    let tokens = crate::lex::tokenize(sql, syntax, true).ok()?;
    let tokens: Vec<_> = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut end = tokens.len();
    while end > 0 && tokens[end - 1].token == Token::SemiColon {
        end -= 1;
    }
    // Backwards: `@v` (`, @v`)* then `INTO`.
    let mut at = end;
    loop {
        let var = at.checked_sub(1)?;
        match &tokens[var].token {
            Token::Word(w) if w.value.starts_with('@') && !w.value.starts_with("@@") => {}
            _ => return None,
        }
        at = var;
        match &tokens.get(at.checked_sub(1)?)?.token {
            Token::Comma => at -= 1,
            Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("into") => {
                let into = &tokens[at - 1];
                let start = crate::rewrite::Offsets::new(sql).at(into.span.start)?;
                return Some(&sql[..start]);
            }
            _ => return None,
        }
    }
}

/// The first function or variable in the text that describes the previous statement or the
/// backend connection's transaction (`ROW_COUNT()`, `FOUND_ROWS()`, `@@warning_count`,
/// `@@error_count`, `@@in_transaction`), as written.
pub(crate) fn previous_statement_diagnostic(sql: &str, syntax: crate::Syntax) -> Option<String> {
    use sqlparser::tokenizer::Token;
    const NAMES: [&str; 5] = [
        "row_count",
        "found_rows",
        "warning_count",
        "error_count",
        "in_transaction",
    ];
    if !NAMES.iter().any(|n| find_ignore_case(sql, n).is_some()) {
        return None;
    }
    let tokens = crate::lex::tokenize(sql, syntax, false).ok()?;
    let tokens: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let word = |t: &Token| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    };
    for (i, t) in tokens.iter().enumerate() {
        let Some(v) = word(t) else { continue };
        let called = tokens.get(i + 1) == Some(&&Token::LParen);
        let scoped = i >= 2
            && tokens[i - 1] == &Token::Period
            && word(tokens[i - 2]).is_some_and(|s| s == "@@session" || s == "@@local");
        let variable = v.strip_prefix("@@").map(|v| {
            v.strip_prefix("session.")
                .or_else(|| v.strip_prefix("local."))
                .unwrap_or(v)
        });
        match (v.as_str(), variable) {
            ("row_count" | "found_rows", _) if called => {
                return Some(format!("{}()", v.to_uppercase()))
            }
            (_, Some(n @ ("warning_count" | "error_count" | "in_transaction"))) => {
                return Some(format!("@@{n}"))
            }
            (n @ ("warning_count" | "error_count" | "in_transaction"), _) if scoped => {
                return Some(format!("@@{n}"))
            }
            _ => {}
        }
    }
    None
}

/// A statement that shows the previous statement's diagnostics area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosticsStatement {
    /// `SHOW WARNINGS [LIMIT …]`, with the statement that lists none: `SHOW WARNINGS LIMIT 0`.
    Warnings,
    /// `SHOW ERRORS [LIMIT …]`.
    Errors,
    /// `SHOW COUNT(*) WARNINGS` / `SHOW COUNT(*) ERRORS`.
    Count,
}

impl DiagnosticsStatement {
    /// The statement that answers it with no rows, where the previous statement left none.
    pub fn empty_answer(self) -> Option<&'static str> {
        match self {
            DiagnosticsStatement::Warnings => Some("SHOW WARNINGS LIMIT 0"),
            DiagnosticsStatement::Errors => Some("SHOW ERRORS LIMIT 0"),
            DiagnosticsStatement::Count => None,
        }
    }
}

/// Whether `sql` is `SHOW [COUNT(*)] WARNINGS | ERRORS [LIMIT …]` (a cheap look at its words).
pub fn diagnostics_statement(sql: &str) -> Option<DiagnosticsStatement> {
    let head = sql.trim_start();
    if !head.get(..4)?.eq_ignore_ascii_case("show") {
        return None;
    }
    let words: Vec<&str> = head
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(3)
        .collect();
    let is = |i: usize, w: &str| words.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    if is(1, "warnings") {
        Some(DiagnosticsStatement::Warnings)
    } else if is(1, "errors") {
        Some(DiagnosticsStatement::Errors)
    } else if is(1, "count") && (is(2, "warnings") || is(2, "errors")) {
        Some(DiagnosticsStatement::Count)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_trailing_lock_in_share_mode_is_cut_off_comments_and_all() {
        let head = |sql| without_trailing_lock_in_share_mode(sql, crate::Syntax::DEFAULT);
        assert_eq!(
            head("SELECT 1 FROM t lock in share mode"),
            Some("SELECT 1 FROM t ")
        );
        assert_eq!(
            head("SELECT 1 FROM t LOCK IN SHARE MODE -- why\n;"),
            Some("SELECT 1 FROM t ")
        );
        assert_eq!(
            head("SELECT 1 FROM t LOCK /* x */ IN SHARE MODE /* y */"),
            Some("SELECT 1 FROM t ")
        );
        assert_eq!(
            head("SELECT 1 FROM t WHERE mode = 'LOCK IN SHARE MODE'"),
            None
        );
        assert_eq!(head("SELECT 1 FROM `lock` `in` share mode"), None);
        assert_eq!(head("SELECT 1 FROM t FOR UPDATE"), None);
    }
    use super::*;

    #[test]
    fn finds_words_in_any_case() {
        assert_eq!(
            find_ignore_case("SELECT Get_Lock('x', 0)", "get_lock"),
            Some(7)
        );
        assert_eq!(find_ignore_case("SELECT 1", "get_lock"), None);
        assert!(assigns_into_variable("SELECT 7 INTO  @v"));
        assert!(assigns_into_variable("SELECT a FROM t INTO @x"));
        assert!(!assigns_into_variable("INSERT INTO t VALUES (1)"));
        let d = crate::Syntax::DEFAULT;
        assert_eq!(
            without_trailing_into(
                "SELECT a, b FROM t WHERE id = 5 ORDER BY a LIMIT 1 INTO @x, @y;",
                d
            ),
            Some("SELECT a, b FROM t WHERE id = 5 ORDER BY a LIMIT 1 ")
        );
        assert_eq!(without_trailing_into("SELECT 'INTO @x' FROM t", d), None);
        assert_eq!(without_trailing_into("SELECT a INTO @x FROM t", d), None);
        assert_eq!(without_trailing_into("SELECT a FROM t INTO @@x", d), None);
        let d = crate::Syntax::DEFAULT;
        assert_eq!(
            assigned_user_variables("SELECT @a := 1, @B:=2, @a := 3 FROM t", d),
            ["@a", "@b"]
        );
        assert_eq!(
            assigned_user_variables("SELECT x, y FROM t WHERE id = 1 INTO @x, @y", d),
            ["@x", "@y"]
        );
        assert!(assigned_user_variables("SELECT ':=' , 'into @x'", d).is_empty());
        assert_eq!(
            previous_statement_diagnostic("SELECT Row_Count()", d).as_deref(),
            Some("ROW_COUNT()")
        );
        assert_eq!(
            previous_statement_diagnostic("SELECT @@session.warning_count", d).as_deref(),
            Some("@@warning_count")
        );
        assert_eq!(
            previous_statement_diagnostic("SELECT @@error_count", d).as_deref(),
            Some("@@error_count")
        );
        assert_eq!(
            previous_statement_diagnostic("SELECT row_count FROM t", d),
            None
        );
        assert_eq!(
            previous_statement_diagnostic("SELECT 'found_rows()'", d),
            None
        );
        use DiagnosticsStatement as D;
        assert_eq!(
            diagnostics_statement("show warnings limit 2"),
            Some(D::Warnings)
        );
        assert_eq!(diagnostics_statement(" SHOW ERRORS"), Some(D::Errors));
        assert_eq!(
            diagnostics_statement("SHOW COUNT(*) WARNINGS"),
            Some(D::Count)
        );
        assert_eq!(diagnostics_statement("SHOW TABLES"), None);
    }
}
