//! Cutting a COM_QUERY text into the statements MariaDB would run one after another.
//!
//! MariaDB ends a statement at a `;` outside strings, quoted names and comments. Without
//! CLIENT_MULTI_STATEMENTS only comments or a final `;` may follow it; with it, the next
//! statement starts after the `;` and the spaces that follow. A `;` followed by nothing but
//! spaces and `;` ends the text. A statement that is only comments answers OK (after another
//! statement); one that starts with `;` is a syntax error. Stored-program definitions and
//! compound statements (`CREATE PROCEDURE … BEGIN …; …; END`, `BEGIN NOT ATOMIC`, `IF`, a
//! labelled `LOOP`…) hold `;` of their own: from such a statement on, the rest of the text
//! goes to the server as one piece.
//!
//! Pieces are byte ranges of the client's text, so the proxy forwards them as written; the
//! scan works on bytes, so text in any character set keeps its offsets.

use std::ops::Range;

use crate::lex::{comment_at, comment_end, line_end, quoted_end, Comment};
use crate::{SqlMode, Syntax};

/// One step of running a COM_QUERY text, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A statement: the client's bytes from its first non-space byte up to the `;` ending it.
    Statement(Range<usize>),
    /// A statement of comments only, after another one: MariaDB answers it with an OK.
    Empty,
    /// MariaDB stops reading here: a syntax error near the text from this offset, and no
    /// further statement runs.
    SyntaxError(usize),
}

/// The statements of `text` as MariaDB runs them, all read under `syntax` (see
/// [`next_statement`], which reads each under the syntax its turn comes with).
pub fn split_statements(text: &[u8], syntax: Syntax, multi: bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut from = Some(0);
    while let Some(at) = from {
        let (piece, next) = next_statement(text, at, syntax, multi);
        pieces.push(piece);
        from = next;
    }
    pieces
}

/// The statement of `text` that starts at offset `from` (0, or where the previous call said
/// the next one starts), read under `syntax`, and where the statement after it starts, if one
/// follows. `multi`: the client set CLIENT_MULTI_STATEMENTS; without it a second statement is
/// a syntax error and nothing runs. A text MariaDB reads as one statement is one
/// [`Piece::Statement`] (without its final `;`); an empty one (or only comments) is the whole
/// text, for the server to answer.
///
/// MariaDB reads each statement of a text in turn, under the `sql_mode` the statements before
/// it left: so does a caller that passes the session's syntax of the moment.
pub fn next_statement(
    text: &[u8],
    from: usize,
    syntax: Syntax,
    multi: bool,
) -> (Piece, Option<usize>) {
    let scan = Scan { b: text, syntax };
    let first = from == 0;
    let start = from + text[from..].iter().take_while(|c| is_space(**c)).count();
    let Some(token) = scan.first_token(from) else {
        // Only spaces and comments left.
        return match first {
            true => (Piece::Statement(0..text.len()), None),
            false => (Piece::Empty, None),
        };
    };
    if text[token] == b';' {
        return match (scan.ends_text(token), first) {
            (true, true) => (Piece::Statement(0..text.len()), None),
            (true, false) => (Piece::Empty, None),
            (false, _) => (Piece::SyntaxError(token), None),
        };
    }
    if scan.starts_compound(token) {
        return (Piece::Statement(start..text.len()), None);
    }
    let Some(semicolon) = scan.statement_end(start) else {
        return (Piece::Statement(start..text.len()), None);
    };
    let statement = Piece::Statement(start..semicolon);
    if scan.ends_text(semicolon) {
        return (statement, None);
    }
    if !multi {
        // Only comments, or a `;` that ends the text, may follow the statement.
        return match scan.first_token(semicolon + 1) {
            Some(next) if !(text[next] == b';' && scan.ends_text(next)) => {
                (Piece::SyntaxError(next), None)
            }
            _ => (statement, None),
        };
    }
    (statement, Some(semicolon + 1))
}

/// MariaDB's spaces (`my_isspace`).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

struct Scan<'a> {
    b: &'a [u8],
    syntax: Syntax,
}

impl Scan<'_> {
    /// The offset of the next byte from `*i` that is neither a space nor inside a comment (the
    /// content of an executable comment the server runs is SQL), with `*i` moved to it.
    /// `in_run`: inside such a comment, whose `*/` is skipped.
    fn next_significant(&self, i: &mut usize, in_run: &mut bool) -> Option<usize> {
        let b = self.b;
        while *i < b.len() {
            match b[*i] {
                c if is_space(c) => *i += 1,
                b'#' => *i = line_end(b, *i),
                b'-' if b.get(*i + 1) == Some(&b'-')
                    && b.get(*i + 2)
                        .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) =>
                {
                    *i = line_end(b, *i)
                }
                b'*' if *in_run && b.get(*i + 1) == Some(&b'/') => {
                    *in_run = false;
                    *i += 2;
                }
                b'/' if b.get(*i + 1) == Some(&b'*') => match comment_at(b, *i, self.syntax) {
                    Comment::Ordinary => *i = comment_end(b, *i + 2, 0),
                    Comment::Runs(content) if !*in_run => {
                        *in_run = true;
                        *i = content;
                    }
                    _ => *i = comment_end(b, *i + 2, 1),
                },
                _ => return Some(*i),
            }
        }
        None
    }

    /// The offset of the first token at or after `from`, past spaces and comments.
    fn first_token(&self, from: usize) -> Option<usize> {
        self.next_significant(&mut from.clone(), &mut false)
    }

    /// The offset of the `;` ending the statement that starts at `from`, if one does.
    fn statement_end(&self, from: usize) -> Option<usize> {
        let b = self.b;
        let mode = self.syntax.sql_mode;
        let backslash = !mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
        let (mut i, mut in_run) = (from, false);
        while let Some(at) = self.next_significant(&mut i, &mut in_run) {
            i = match b[at] {
                // A `;` inside an executable comment stays in its statement.
                b';' if !in_run => return Some(at),
                b'\'' => quoted_end(b, at, b'\'', backslash),
                b'"' => quoted_end(
                    b,
                    at,
                    b'"',
                    backslash && !mode.contains(SqlMode::ANSI_QUOTES),
                ),
                b'`' => quoted_end(b, at, b'`', false),
                _ => at + 1,
            };
        }
        None
    }

    /// Where the statement of the `SET STATEMENT … FOR <statement>` starting at `at` starts:
    /// the first token after the `FOR` outside parentheses, strings and comments.
    fn set_statement_body(&self, at: usize) -> Option<usize> {
        let b = self.b;
        let backslash = !self.syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
        let (mut i, mut in_run, mut depth) = (at, false, 0usize);
        while let Some(at) = self.next_significant(&mut i, &mut in_run) {
            i = match b[at] {
                b';' if !in_run => return None,
                b'(' => {
                    depth += 1;
                    at + 1
                }
                b')' => {
                    depth = depth.saturating_sub(1);
                    at + 1
                }
                c @ (b'\'' | b'"') => quoted_end(b, at, c, backslash),
                b'`' => quoted_end(b, at, b'`', false),
                c if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'@') || c >= 0x80 => {
                    let end = at
                        + b[at..]
                            .iter()
                            .take_while(|c| {
                                c.is_ascii_alphanumeric()
                                    || matches!(c, b'_' | b'$' | b'@' | b'.')
                                    || **c >= 0x80
                            })
                            .count();
                    if depth == 0 && b[at..end].eq_ignore_ascii_case(b"for") {
                        return self.first_token(end);
                    }
                    end
                }
                _ => at + 1,
            };
        }
        None
    }

    /// Whether the `;` at `at` ends the text: only spaces and `;` follow it.
    fn ends_text(&self, at: usize) -> bool {
        self.b[at + 1..].iter().all(|c| *c == b';' || is_space(*c))
    }

    /// Whether the statement whose first token is at `at` holds statements of its own: a
    /// stored-program definition or a compound statement.
    fn starts_compound(&self, at: usize) -> bool {
        let words = leading_words(&self.b[at..]);
        let word = |k: usize| words.get(k).map_or("", |w| w.text.as_str());
        match word(0) {
            // `SET STATEMENT var = value FOR <statement>` holds what its statement holds.
            "set" if word(1) == "statement" => self
                .set_statement_body(at)
                .is_some_and(|body| self.starts_compound(body)),
            "begin" => word(1) == "not" && word(2) == "atomic",
            "if" | "case" | "loop" | "while" | "repeat" | "for" => true,
            "create" => {
                let mut k = 1;
                loop {
                    match word(k) {
                        "procedure" | "function" | "trigger" | "event" | "package" => return true,
                        "or" | "replace" | "sql" | "security" | "invoker" | "aggregate" => k += 1,
                        "definer" => {
                            k += 1;
                            if word(k) == "=" {
                                k += 1;
                            }
                            // The account: its first token and those written right after it
                            // (`'user'@'host'`, `CURRENT_USER()`).
                            k += 1;
                            while words.get(k).is_some_and(|w| w.joined) {
                                k += 1;
                            }
                        }
                        _ => return false,
                    }
                }
            }
            // `label: BEGIN …`, `label: LOOP …`
            _ => word(1) == ":",
        }
    }
}

/// A token at the start of a statement, for [`Scan::starts_compound`]: a word (lower-cased),
/// a quoted string or name (`'…'`), or one punctuation character.
struct LeadingWord {
    text: String,
    /// Written right after the previous one, with no space between.
    joined: bool,
}

/// The first few tokens of `b` (enough to see past `CREATE … DEFINER = … SQL SECURITY …`).
fn leading_words(b: &[u8]) -> Vec<LeadingWord> {
    let mut words = Vec::new();
    let mut i = 0;
    let mut joined = false;
    while i < b.len() && words.len() < 16 {
        let c = b[i];
        let start = i;
        let text = if is_space(c) {
            i += 1;
            joined = false;
            continue;
        } else if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'@') || c >= 0x80 {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'$' | b'@' | b'.'))
            {
                i += 1;
            }
            i = i.max(start + 1);
            String::from_utf8_lossy(&b[start..i]).to_ascii_lowercase()
        } else if matches!(c, b'\'' | b'"' | b'`') {
            i = quoted_end(b, i, c, c != b'`');
            "'…'".to_owned()
        } else {
            i += 1;
            char::from(c).to_string()
        };
        words.push(LeadingWord { text, joined });
        joined = true;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Syntax = Syntax {
        sql_mode: SqlMode::NONE,
        server_version: 101119,
    };

    /// The pieces of `text` as strings: statements as their text, `<ok>` for an empty one,
    /// `<error near …>` for a syntax error.
    fn split_with(text: &str, syntax: Syntax, multi: bool) -> Vec<String> {
        split_statements(text.as_bytes(), syntax, multi)
            .into_iter()
            .map(|p| match p {
                Piece::Statement(r) => text[r].to_owned(),
                Piece::Empty => "<ok>".to_owned(),
                Piece::SyntaxError(at) => format!("<error near {}>", &text[at..]),
            })
            .collect()
    }

    fn multi(text: &str) -> Vec<String> {
        split_with(text, V, true)
    }

    fn single(text: &str) -> Vec<String> {
        split_with(text, V, false)
    }

    #[test]
    fn cuts_at_semicolons_outside_strings_names_and_comments() {
        assert_eq!(multi("SELECT 1; SELECT 2"), ["SELECT 1", "SELECT 2"]);
        assert_eq!(
            multi("SET SESSION x = 1;\n  WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r"),
            [
                "SET SESSION x = 1",
                "WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r"
            ]
        );
        assert_eq!(
            multi("SELECT 'a;b', \"c;d\", `e;f` FROM t; SELECT 2"),
            ["SELECT 'a;b', \"c;d\", `e;f` FROM t", "SELECT 2"]
        );
        assert_eq!(
            multi("SELECT 1 /* ; */ -- ;\n# ;\n; SELECT 2"),
            ["SELECT 1 /* ; */ -- ;\n# ;\n", "SELECT 2"]
        );
        assert_eq!(
            multi(r"SELECT 'it\'s;'; SELECT 2"),
            [r"SELECT 'it\'s;'", "SELECT 2"]
        );
        assert_eq!(
            multi("SELECT 'it''s;'; SELECT 2"),
            ["SELECT 'it''s;'", "SELECT 2"]
        );
        // `--` starts a comment only before a space or a control character.
        assert_eq!(multi("SELECT 1--1; SELECT 2"), ["SELECT 1--1", "SELECT 2"]);
    }

    #[test]
    fn reads_quotes_as_the_sql_mode_says() {
        let text = r"SELECT 'a\'; SELECT 2', 3";
        assert_eq!(multi(text), [text]);
        let nbe = Syntax {
            sql_mode: SqlMode::NO_BACKSLASH_ESCAPES,
            ..V
        };
        assert_eq!(
            split_with(text, nbe, true),
            [r"SELECT 'a\'", "SELECT 2', 3"]
        );
        // Under ANSI_QUOTES "…" is a name, where a backslash is an ordinary character.
        let names = r#"SELECT "a\"; SELECT 2"#;
        assert_eq!(multi(names), [names]);
        let ansi = Syntax {
            sql_mode: SqlMode::ANSI_QUOTES,
            ..V
        };
        assert_eq!(
            split_with(names, ansi, true),
            [r#"SELECT "a\""#, "SELECT 2"]
        );
    }

    #[test]
    fn each_statement_is_read_under_the_syntax_of_its_turn() {
        let text = r"SET sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\'; SELECT 2";
        let (first, next) = next_statement(text.as_bytes(), 0, V, true);
        assert_eq!(first, Piece::Statement(0..37));
        let nbe = Syntax {
            sql_mode: SqlMode::NO_BACKSLASH_ESCAPES,
            ..V
        };
        let (second, next) = next_statement(text.as_bytes(), next.unwrap(), nbe, true);
        assert_eq!(second, Piece::Statement(39..50));
        let (third, next) = next_statement(text.as_bytes(), next.unwrap(), nbe, true);
        assert_eq!((third, next), (Piece::Statement(52..60), None));
        // Read under the first statement's syntax, the rest would be one unterminated string.
        assert_eq!(multi(text).len(), 2);
    }

    #[test]
    fn executable_comments_are_sql_when_the_server_runs_them() {
        // A comment for a later version is a comment: the statement after it is comments only.
        assert_eq!(
            multi("SELECT 1; /*!99999 SELECT 2 */"),
            ["SELECT 1", "<ok>"]
        );
        assert_eq!(
            multi("SELECT 1; /*!40101 SET @x = 1 */; SELECT @x"),
            ["SELECT 1", "/*!40101 SET @x = 1 */", "SELECT @x"]
        );
        // Its `;` does not cut it.
        assert_eq!(
            multi("/*!40101 SET @a = 1; */"),
            ["/*!40101 SET @a = 1; */"]
        );
        assert_eq!(
            single("SELECT 1; /*!40101 SET @x=1 */; SELECT @x"),
            ["<error near SET @x=1 */; SELECT @x>"]
        );
    }

    #[test]
    fn final_semicolons_and_comments_follow_mariadb() {
        // What MariaDB 10.11 answers to each text, with and without CLIENT_MULTI_STATEMENTS.
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("SELECT 1;", &["SELECT 1"], &["SELECT 1"]),
            ("SELECT 1; ", &["SELECT 1"], &["SELECT 1"]),
            ("SELECT 1;;", &["SELECT 1"], &["SELECT 1"]),
            ("SELECT 1;;;", &["SELECT 1"], &["SELECT 1"]),
            ("SELECT 1; ; ", &["SELECT 1"], &["SELECT 1"]),
            ("SELECT 1;\n;\n", &["SELECT 1"], &["SELECT 1"]),
            ("SELECT 1; -- c", &["SELECT 1", "<ok>"], &["SELECT 1"]),
            ("SELECT 1; /* x */", &["SELECT 1", "<ok>"], &["SELECT 1"]),
            ("SELECT 1;/**/;", &["SELECT 1", "<ok>"], &["SELECT 1"]),
            ("SELECT 1; # x\n", &["SELECT 1", "<ok>"], &["SELECT 1"]),
            (
                "SELECT 1;; SELECT 2",
                &["SELECT 1", "<error near ; SELECT 2>"],
                &["<error near ; SELECT 2>"],
            ),
            (
                "SELECT 1;; -- x",
                &["SELECT 1", "<error near ; -- x>"],
                &["<error near ; -- x>"],
            ),
            (
                "SELECT 1; /* x */ ;SELECT 2",
                &["SELECT 1", "<error near ;SELECT 2>"],
                &["<error near ;SELECT 2>"],
            ),
            (
                "SELECT 1; SELECT 2;; SELECT 3",
                &["SELECT 1", "SELECT 2", "<error near ; SELECT 3>"],
                &["<error near SELECT 2;; SELECT 3>"],
            ),
            (
                "SELECT 1;\n\n  /* x */ SELECT 2",
                &["SELECT 1", "/* x */ SELECT 2"],
                &["<error near SELECT 2>"],
            ),
            (
                "SELECT 1; DROP TABLE t",
                &["SELECT 1", "DROP TABLE t"],
                &["<error near DROP TABLE t>"],
            ),
            (
                "  ;SELECT 1",
                &["<error near ;SELECT 1>"],
                &["<error near ;SELECT 1>"],
            ),
            (
                "/* a */ ; SELECT 1",
                &["<error near ; SELECT 1>"],
                &["<error near ; SELECT 1>"],
            ),
            // Empty texts go to the server whole (it answers "Query was empty").
            (";", &[";"], &[";"]),
            ("/* c */ ;", &["/* c */ ;"], &["/* c */ ;"]),
        ];
        for (text, with, without) in cases {
            assert_eq!(multi(text), *with, "{text:?} with multi-statements");
            assert_eq!(single(text), *without, "{text:?} without");
        }
    }

    #[test]
    fn stored_programs_and_compound_statements_stay_whole() {
        for text in [
            "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END",
            "CREATE OR REPLACE DEFINER=`root`@`localhost` PROCEDURE p() BEGIN SELECT 1; END",
            "CREATE DEFINER = 'a b'@'%' SQL SECURITY INVOKER FUNCTION f() RETURNS INT BEGIN RETURN 1; END",
            "CREATE DEFINER=CURRENT_USER() TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; END",
            "create aggregate function f(x INT) returns INT begin return 1; end",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; END",
            "BEGIN NOT ATOMIC SELECT 1; SELECT 2; END",
            "SET STATEMENT sql_mode = '' FOR CREATE PROCEDURE p() BEGIN SELECT 1; END",
            "set statement a = (1), b = 'for' for begin not atomic select 1; end",
            "IF 1 THEN SELECT 1; END IF",
            "lbl: LOOP SELECT 1; LEAVE lbl; END LOOP",
            "WHILE 0 DO SELECT 1; END WHILE",
        ] {
            assert_eq!(multi(text), [text], "{text}");
        }
        assert_eq!(
            multi("DROP PROCEDURE IF EXISTS p; CREATE PROCEDURE p() BEGIN SELECT 1; END; CALL p()"),
            [
                "DROP PROCEDURE IF EXISTS p",
                "CREATE PROCEDURE p() BEGIN SELECT 1; END; CALL p()"
            ]
        );
        // Not compound statements: BEGIN of a transaction, a view naming a column `event`.
        assert_eq!(multi("BEGIN; SELECT 1"), ["BEGIN", "SELECT 1"]);
        assert_eq!(
            multi("SET STATEMENT a = 1 FOR SELECT 1; SELECT 2"),
            ["SET STATEMENT a = 1 FOR SELECT 1", "SELECT 2"]
        );
        assert_eq!(
            multi("CREATE VIEW v AS SELECT event FROM t; SELECT 1"),
            ["CREATE VIEW v AS SELECT event FROM t", "SELECT 1"]
        );
        assert_eq!(
            multi("CREATE TABLE procedure_log (a INT); SELECT 1"),
            ["CREATE TABLE procedure_log (a INT)", "SELECT 1"]
        );
    }

    /// Statements whose text holds `;` and quotes in every place MariaDB reads as not ending it.
    const ATOMS: [&str; 10] = [
        "SELECT 1",
        "SELECT 'a;b'",
        "SELECT 'it''s;'",
        r"SELECT 'back\';' ",
        "SELECT \"x;y\"",
        "SELECT `c;d` FROM t",
        "SELECT 1 /* ; */ + 2",
        "SELECT 1 -- ;\n + 2",
        "SELECT 1 # ;\n",
        "/*!40101 SET @a = ';' */",
    ];

    proptest::proptest! {
        #[test]
        fn joined_statements_come_back_as_written(
            picks in proptest::collection::vec((0..ATOMS.len(), 0..3usize), 1..8),
        ) {
            let separators = [";", "; ", ";\n\t "];
            let mut text = String::new();
            for (k, (atom, separator)) in picks.iter().enumerate() {
                if k > 0 {
                    text.push_str(separators[*separator]);
                }
                text.push_str(ATOMS[*atom]);
            }
            let expected: Vec<&str> = picks.iter().map(|(atom, _)| ATOMS[*atom]).collect();
            proptest::prop_assert_eq!(multi(&text), expected);
        }

        #[test]
        fn any_bytes_split_into_ordered_pieces_inside_the_text(
            text in proptest::collection::vec(
                proptest::sample::select(b"; '\"`\\#-*/!\nSELCT1M".to_vec()),
                0..60,
            ),
            multi in proptest::bool::ANY,
        ) {
            let mut end = 0;
            for piece in split_statements(&text, V, multi) {
                match piece {
                    Piece::Statement(r) => {
                        proptest::prop_assert!(end <= r.start && r.start <= r.end && r.end <= text.len());
                        proptest::prop_assert!(r.end == text.len() || text[r.end] == b';');
                        end = r.end;
                    }
                    Piece::SyntaxError(at) => proptest::prop_assert!(end <= at && at < text.len()),
                    Piece::Empty => {}
                }
            }
        }
    }

    #[test]
    fn pieces_keep_the_clients_bytes() {
        // latin1 bytes, not UTF-8: offsets are bytes.
        let text = b"SELECT '\xe9;'; SELECT 2";
        assert_eq!(
            split_statements(text, V, true),
            [Piece::Statement(0..11), Piece::Statement(13..21)]
        );
    }
}
