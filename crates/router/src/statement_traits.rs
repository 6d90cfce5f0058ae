//! What the session must know about a statement's text around running it: whether it is a
//! SELECT (for `FOUND_ROWS()`), whether it reads `LAST_INSERT_ID()` or `CONNECTION_ID()` (given
//! to the backend connection first), whether it is an INSERT (its generated id becomes the
//! session's) and whether it names a previous statement's values (`ROW_COUNT()`, …).
//!
//! Found once per plan, from the text that was planned: a cached plan (a template's, a prepared
//! statement's) carries them, so a statement run again costs no scan of its text.

use crate::Syntax;

/// How a statement sets `FOUND_ROWS()`: not at all, to the rows of its result (a SELECT), or to
/// a count only the connection that ran it knows (`SQL_CALC_FOUND_ROWS`, and `INSERT … SELECT`
/// or `CREATE TABLE … SELECT`, whose SELECT's rows the client never sees).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SelectKind {
    #[default]
    No,
    Plain,
    /// A SELECT that may have an offset (`LIMIT o, n`, `OFFSET`) or a set operation (`UNION`,
    /// `INTERSECT`, `EXCEPT`): MariaDB counts the rows an offset skipped, and every row of a
    /// set operation's result before its `LIMIT`, so `FOUND_ROWS()` is not the rows returned.
    /// One connection's answer is read back from it; a scatter's is counted by its merge.
    Paged,
    CountedOnConnection,
    /// A write whose own SELECTs set `FOUND_ROWS()` in MariaDB: `INSERT … SELECT`, a subquery
    /// (as MariaDB's optimizer evaluates it: a `COUNT(*)` sets 1, a `MAX` it optimizes away 0,
    /// an `IN` it turns into a semi-join nothing), a multi-table UPDATE / DELETE. Read back
    /// from the one connection that ran it; unknown when the proxy ran it otherwise (in steps,
    /// on several shards), where `FOUND_ROWS()` is refused rather than answered wrong.
    InWrite,
}

impl SelectKind {
    /// Whether `FOUND_ROWS()` is read back from the connection that ran a single-shard
    /// statement.
    pub fn read_on_connection(self) -> bool {
        matches!(
            self,
            SelectKind::Paged | SelectKind::CountedOnConnection | SelectKind::InWrite
        )
    }
}

/// The statement's traits (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatementTraits {
    pub select: SelectKind,
    /// It may read `LAST_INSERT_ID()` (or `@@identity`).
    pub reads_last_insert_id: bool,
    /// It may read `CONNECTION_ID()` (or `@@pseudo_thread_id`).
    pub reads_connection_id: bool,
    /// It starts with INSERT or REPLACE (also inside `SET STATEMENT … FOR`).
    pub insert: bool,
    /// It may name a value the previous statement left (`ROW_COUNT()`, `FOUND_ROWS()`, …).
    pub reads_previous_statement: bool,
}

impl StatementTraits {
    /// The traits of `text`. Cheap scans: a false positive costs only the statement it is
    /// found in (an extra statement on its connection), never a wrong answer.
    pub fn of(text: &[u8], syntax: Syntax) -> Self {
        StatementTraits {
            select: select_kind(text, syntax),
            reads_last_insert_id: crate::reads_last_insert_id(text),
            reads_connection_id: crate::reads_connection_id(text),
            insert: starts_insert(text, syntax),
            reads_previous_statement: crate::mentions_previous_statement(text),
        }
    }
}

/// Whether the write `text` answers rows (`INSERT … RETURNING`, `DELETE … RETURNING`): the
/// word `RETURNING` outside quotes, comments and parentheses. Text that cannot be read is
/// taken to, when it holds the word.
pub fn returns_rows(text: &[u8], syntax: Syntax) -> bool {
    if !text
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"returning"))
    {
        return false;
    }
    let Some(tokens) = crate::lex::read_tokens(text, syntax) else {
        return true;
    };
    let mut depth = 0usize;
    tokens.iter().any(|t| match &t.token {
        sqlparser::tokenizer::Token::LParen => {
            depth += 1;
            false
        }
        sqlparser::tokenizer::Token::RParen => {
            depth = depth.saturating_sub(1);
            false
        }
        sqlparser::tokenizer::Token::Word(w) => {
            depth == 0 && w.quote_style.is_none() && w.value.eq_ignore_ascii_case("returning")
        }
        _ => false,
    })
}

/// `text` after its leading white space and `/* … */` comments.
pub fn after_comments(text: &[u8]) -> &[u8] {
    let mut rest = text;
    loop {
        rest = rest.trim_ascii_start();
        match rest.strip_prefix(b"/*") {
            Some(comment) => match memchr::memmem::find(comment, b"*/") {
                Some(end) => rest = &comment[end + 2..],
                None => return b"",
            },
            None => return rest,
        }
    }
}

/// Whether `text` starts (after spaces and comments) with the word `word` (lower case).
fn starts_with_word(text: &[u8], word: &[u8]) -> bool {
    text.get(..word.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(word))
}

fn select_kind(text: &[u8], syntax: Syntax) -> SelectKind {
    let head = after_comments(text);
    let word = |w: &[u8]| starts_with_word(head, w);
    if !(word(b"select") || word(b"with") || word(b"(")) {
        let has = |w: &[u8]| head.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
        if (word(b"insert") || word(b"replace") || word(b"create"))
            && has(b"select")
            && std::str::from_utf8(text).is_ok_and(|sql| crate::writes_selected_rows(sql, syntax))
        {
            return SelectKind::CountedOnConnection;
        }
        // A false positive (the word in a string or a name) costs only a read-back.
        let writes = [
            b"insert".as_slice(),
            b"replace",
            b"update",
            b"delete",
            b"set",
            b"do",
        ];
        let selects_in_write =
            writes.iter().any(|w| word(w)) && (has(b"select") || multi_table_write(head));
        return match selects_in_write {
            true => SelectKind::InWrite,
            false => SelectKind::No,
        };
    }
    // Only where the text has a `_` (a point select often has none).
    const CALC: &[u8] = b"sql_calc_found_rows";
    let calc = memchr::memchr_iter(b'_', text).any(|at| {
        at >= 3
            && text
                .get(at - 3..at - 3 + CALC.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(CALC))
    });
    if calc {
        SelectKind::CountedOnConnection
    } else if may_be_paged(text) {
        SelectKind::Paged
    } else {
        SelectKind::Plain
    }
}

/// Whether `head` (an UPDATE or a DELETE) may name several tables: a join, `USING`, a comma
/// before UPDATE's `SET`, or a table list between DELETE and `FROM`.
fn multi_table_write(head: &[u8]) -> bool {
    let lower = head.to_ascii_lowercase();
    let find = |w: &[u8]| memchr::memmem::find(&lower, w);
    if find(b"join").is_some() {
        return true;
    }
    if lower.starts_with(b"update") {
        return find(b" set ")
            .or(find(b"`set "))
            .is_some_and(|set| memchr::memchr(b',', &lower[..set]).is_some());
    }
    if lower.starts_with(b"delete") {
        let before_from = find(b"from").map_or(&lower[6..], |at| &lower[6..at]);
        let modifiers = [b"low_priority".as_slice(), b"quick", b"ignore"];
        return find(b"using").is_some()
            || before_from
                .split(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .any(|w| !w.is_empty() && !modifiers.contains(&w));
    }
    false
}

/// Whether a SELECT's text may hold an offset or a set operation (see [`SelectKind::Paged`]).
/// A word inside a name or a string is a false positive, which costs only a read-back.
fn may_be_paged(text: &[u8]) -> bool {
    let has = |word: &[u8]| {
        text.windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word))
    };
    if has(b"union") || has(b"intersect") || has(b"except") || has(b"offset") {
        return true;
    }
    // `LIMIT offset, count`: a comma after a LIMIT.
    text.windows(5)
        .position(|w| w.eq_ignore_ascii_case(b"limit"))
        .is_some_and(|at| memchr::memchr(b',', &text[at..]).is_some())
}

/// Whether the statement text begins (after spaces and comments) with INSERT or REPLACE, or
/// is a `SET STATEMENT … FOR` one.
pub fn starts_insert(text: &[u8], syntax: Syntax) -> bool {
    let rest = after_comments(text);
    if starts_with_word(rest, b"set") {
        let sql = crate::utf8::lossy(text);
        return crate::set_statement_body(&sql, syntax)
            .is_some_and(|body| starts_insert(body.as_bytes(), syntax));
    }
    starts_with_word(rest, b"insert") || starts_with_word(rest, b"replace")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returning_is_found_outside_quotes_and_parentheses() {
        let returns = |sql: &str| returns_rows(sql.as_bytes(), Syntax::DEFAULT);
        assert!(returns("INSERT INTO t (id) VALUES (1), (2) RETURNING id"));
        assert!(returns("delete from t where a = 1 returning *"));
        assert!(!returns("INSERT INTO t (id, note) VALUES (1, 'returning')"));
        assert!(!returns("INSERT INTO t (id, `returning`) VALUES (1, 2)"));
        assert!(!returns("DELETE FROM t WHERE id = 1 /* returning */"));
        assert!(!returns("UPDATE t SET a = 1"));
    }

    fn traits(sql: &str) -> StatementTraits {
        StatementTraits::of(sql.as_bytes(), Syntax::default())
    }

    #[test]
    fn tells_selects_and_calc_found_rows() {
        assert_eq!(traits("SELECT 1").select, SelectKind::Plain);
        assert_eq!(
            traits(" /* x */ with c AS (SELECT 1) SELECT * FROM c").select,
            SelectKind::Plain
        );
        assert_eq!(
            traits("select SQL_CALC_FOUND_ROWS * FROM t LIMIT 1").select,
            SelectKind::CountedOnConnection
        );
        assert_eq!(traits("(SELECT 1)").select, SelectKind::Plain);
        assert_eq!(
            traits("SELECT a, b FROM t LIMIT 3").select,
            SelectKind::Plain
        );
        for paged in [
            "SELECT a FROM t LIMIT 5, 3",
            "select a from t limit 3 OFFSET 5",
            "SELECT a FROM t LIMIT ?, ?",
            "SELECT a FROM t UNION SELECT b FROM u",
            "(SELECT a FROM t) intersect (SELECT b FROM u) LIMIT 1",
            "SELECT a FROM t EXCEPT SELECT b FROM u",
            "SELECT * FROM (SELECT a FROM t LIMIT 1, 1) d",
        ] {
            assert_eq!(traits(paged).select, SelectKind::Paged, "{paged}");
        }
        assert_eq!(traits("UPDATE t SET a = 1").select, SelectKind::No);
        assert_eq!(traits("SHOW TABLES").select, SelectKind::No);
        assert_eq!(
            traits("INSERT INTO t SELECT 1").select,
            SelectKind::CountedOnConnection
        );
        assert_eq!(
            traits("CREATE TABLE t AS SELECT 1").select,
            SelectKind::CountedOnConnection
        );
        assert_eq!(traits("INSERT INTO t VALUES (1)").select, SelectKind::No);
        for in_write in [
            "INSERT INTO t VALUES ((SELECT COUNT(*) FROM u))",
            "UPDATE t SET a = (SELECT MAX(b) FROM u) WHERE id = 1",
            "delete from t where id in (select id from u)",
            "SET @x = (SELECT COUNT(*) FROM u)",
            "DO (SELECT 1 FROM u)",
            "UPDATE t, u SET t.a = u.b WHERE t.id = u.id",
            "UPDATE t JOIN u ON t.id = u.id SET t.a = 1",
            "DELETE t FROM t JOIN u ON t.id = u.id",
            "DELETE t, u FROM t, u WHERE t.id = u.id",
            "DELETE FROM t USING t, u WHERE t.id = u.id",
        ] {
            assert_eq!(traits(in_write).select, SelectKind::InWrite, "{in_write}");
        }
        for plain_write in [
            "UPDATE t SET a = 1, b = 2 WHERE id = 3",
            "UPDATE `t` SET a = 1, b = 2",
            "DELETE LOW_PRIORITY QUICK IGNORE FROM t WHERE id = 1",
            "DELETE FROM t WHERE id = 1",
            "SET @x = 1, @y = 2",
        ] {
            assert_eq!(traits(plain_write).select, SelectKind::No, "{plain_write}");
        }
        assert_eq!(
            traits("CREATE TABLE selected (a INT)").select,
            SelectKind::No
        );
    }

    #[test]
    fn tells_inserts_also_under_set_statement() {
        assert!(traits("INSERT INTO t VALUES (1)").insert);
        assert!(traits("/* c */ replace INTO t VALUES (1)").insert);
        assert!(traits("SET STATEMENT max_statement_time = 1 FOR INSERT INTO t VALUES (1)").insert);
        assert!(!traits("SET @a = 1").insert);
        assert!(!traits("SELECT 'insert'").insert);
    }

    #[test]
    fn finds_what_the_statement_reads_of_the_session() {
        let t = traits("SELECT LAST_INSERT_ID(), CONNECTION_ID(), ROW_COUNT()");
        assert!(t.reads_last_insert_id && t.reads_connection_id && t.reads_previous_statement);
        let point = traits("SELECT c FROM sbtest1 WHERE id = ?");
        assert!(
            !point.reads_last_insert_id
                && !point.reads_connection_id
                && !point.reads_previous_statement
                && !point.insert
        );
    }
}
