//! Reading statement text as MariaDB does, for the session's [`Syntax`].
//!
//! sqlparser's MySQL dialect reads text as MariaDB's default `sql_mode` would, with three
//! differences that change meaning: it runs every executable comment (`/*!99999 … */` too),
//! it reads `||` as concatenation, and `0x2A` comes back as the string `X'2A'`. So text is
//! first prepared ([`resolve_comments`]): executable comments the server would run lose their
//! markers, the others are blanked; bytes keep their positions, so everything cut from the
//! prepared text lines up with the client's. Then it is tokenized for the session's
//! `sql_mode` ([`tokenize`]) and the tokens are parsed with the MySQL dialect.

use std::borrow::Cow;

use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, MySqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError, ParserOptions};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, TokenizerError, Word};

use crate::{SqlMode, Syntax};

/// `sql` with its executable comments resolved for `syntax.server_version`: a comment the
/// server runs keeps its content and loses its markers (`/*!50000`, `/*M!100100`, `*/`), any
/// other is blanked; blanked bytes become spaces (newlines stay), so every byte keeps its
/// offset. With a `sql_mode` that needs our own tokenizer dialect, `#` comments are blanked
/// too (sqlparser reads `#` as a comment only for its own MySQL dialect).
pub fn resolve_comments(sql: &str, syntax: Syntax) -> Cow<'_, str> {
    let b = sql.as_bytes();
    let mode = syntax.sql_mode;
    let backslash = !mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
    let blank_hash = needs_mode_dialect(mode);
    // Quick exit for the common text: nothing to resolve.
    if !blank_hash && memchr::memmem::find(b, b"/*").is_none() {
        return Cow::Borrowed(sql);
    }
    let mut out: Option<Vec<u8>> = None;
    let blank = |out: &mut Option<Vec<u8>>, from: usize, to: usize| {
        let out = out.get_or_insert_with(|| b.to_vec());
        for byte in &mut out[from..to] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    // The `*/` that closes an executable comment being run, if one is open.
    let mut in_run_comment = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => i = quoted_end(b, i, q, backslash),
            b'`' => i = quoted_end(b, i, b'`', false),
            b'#' => {
                let end = line_end(b, i);
                if blank_hash {
                    blank(&mut out, i, end);
                }
                i = end;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2)
                    .is_none_or(|c| c.is_ascii_whitespace() || c.is_ascii_control()) =>
            {
                i = line_end(b, i);
            }
            b'*' if in_run_comment && b.get(i + 1) == Some(&b'/') => {
                blank(&mut out, i, i + 2);
                in_run_comment = false;
                i += 2;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => match comment_at(b, i, syntax) {
                Comment::Ordinary => i = comment_end(b, i + 2, 0),
                Comment::Runs(marker_end) if !in_run_comment => {
                    blank(&mut out, i, marker_end);
                    in_run_comment = true;
                    i = marker_end;
                }
                _ => {
                    // Skipped whole; MariaDB allows one level of comment inside it.
                    let end = comment_end(b, i + 2, 1);
                    blank(&mut out, i, end);
                    i = end;
                }
            },
            _ => i += 1,
        }
    }
    match out {
        // Only ASCII bytes were replaced by ASCII bytes, or whole characters by spaces.
        Some(bytes) => Cow::Owned(
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
        None => Cow::Borrowed(sql),
    }
}

/// What the `/*` at offset `i` of `b` opens, for `syntax.server_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comment {
    /// `/* … */`.
    Ordinary,
    /// An executable comment for a version the server is not (`/*!99999 … */`): a comment.
    Skipped,
    /// An executable comment the server runs: its content, SQL, starts at this offset.
    Runs(usize),
}

pub(crate) fn comment_at(b: &[u8], i: usize, syntax: Syntax) -> Comment {
    let mariadb_only = b.get(i + 2) == Some(&b'M') && b.get(i + 3) == Some(&b'!');
    if b.get(i + 2) != Some(&b'!') && !mariadb_only {
        return Comment::Ordinary;
    }
    let digits_at = i + if mariadb_only { 4 } else { 3 };
    let digits = b[digits_at.min(b.len())..]
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits < 5 {
        // Not a version: the digits are content.
        return Comment::Runs(digits_at);
    }
    let version = b[digits_at..digits_at + digits]
        .iter()
        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    if version <= syntax.server_version && (mariadb_only || !(50700..=99999).contains(&version)) {
        Comment::Runs(digits_at + digits)
    } else {
        Comment::Skipped
    }
}

/// The offset after the quoted string or name starting at `start` (unterminated: the end).
/// `at` past whitespace and comments.
pub(crate) fn skip_space(b: &[u8], mut at: usize) -> usize {
    loop {
        match b.get(at) {
            Some(c) if c.is_ascii_whitespace() => at += 1,
            Some(b'#') => at = crate::lex::line_end(b, at),
            Some(b'-')
                if b.get(at + 1) == Some(&b'-')
                    && b.get(at + 2).is_none_or(u8::is_ascii_whitespace) =>
            {
                at = crate::lex::line_end(b, at)
            }
            Some(b'/') if b.get(at + 1) == Some(&b'*') => {
                at = crate::lex::comment_end(b, at + 2, 0)
            }
            _ => return at,
        }
    }
}

/// The byte ranges of the comma-separated items of `within` (outside quotes, comments and
/// parentheses), each without the whitespace and comments around it.
pub(crate) fn top_level_items(
    b: &[u8],
    within: std::ops::Range<usize>,
    backslash: bool,
) -> Vec<std::ops::Range<usize>> {
    let mut items = Vec::new();
    let end = within.end.min(b.len());
    // An item runs from its first significant byte to the end of its last one.
    let mut j = skip_space(b, within.start).min(end);
    let (mut start, mut last, mut nested) = (j, j, 0usize);
    while j < end {
        match b[j] {
            b',' if nested == 0 => {
                items.push(start..last);
                j = skip_space(b, j + 1).min(end);
                (start, last) = (j, j);
                continue;
            }
            c @ (b'\'' | b'"' | b'`') => {
                j = quoted_end(b, j, c, backslash).min(end);
                last = j;
                j = skip_space(b, j).min(end);
                continue;
            }
            b'(' => nested += 1,
            b')' => nested = nested.saturating_sub(1),
            _ => {}
        }
        last = j + 1;
        j = skip_space(b, j + 1).min(end);
    }
    items.push(start..last);
    items
}

pub(crate) fn quoted_end(b: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if backslash && quote != b'`' => i += 2,
            c if c == quote => {
                if b.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

pub(crate) fn line_end(b: &[u8], from: usize) -> usize {
    memchr::memchr(b'\n', &b[from..]).map_or(b.len(), |p| from + p)
}

/// The offset after the `*/` closing a comment whose body starts at `from`, allowing
/// `nested` levels of `/* … */` inside (unterminated: the end).
pub(crate) fn comment_end(b: &[u8], from: usize, nested: usize) -> usize {
    let mut depth = 0;
    let mut i = from;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'*', b'/') if depth == 0 => return i + 2,
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
            }
            (b'/', b'*') if depth < nested => {
                depth += 1;
                i += 2;
            }
            _ => i += 1,
        }
    }
    b.len()
}

/// Whether `mode` changes how sqlparser's tokenizer must read quotes.
fn needs_mode_dialect(mode: SqlMode) -> bool {
    mode.contains(SqlMode::ANSI_QUOTES) || mode.contains(SqlMode::NO_BACKSLASH_ESCAPES)
}

/// The MySQL dialect's tokenizing, with the `sql_mode` flags that change quotes. Used only to
/// tokenize: the parser runs with [`MySqlDialect`] itself.
#[derive(Debug)]
struct ModeDialect {
    ansi_quotes: bool,
    backslash_escapes: bool,
}

impl Dialect for ModeDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        MySqlDialect {}.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        MySqlDialect {}.is_identifier_part(ch)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`' || (self.ansi_quotes && ch == '"')
    }
    fn supports_string_literal_backslash_escape(&self) -> bool {
        self.backslash_escapes
    }
    fn ignores_wildcard_escapes(&self) -> bool {
        true
    }
    fn supports_numeric_prefix(&self) -> bool {
        true
    }
    fn requires_single_line_comment_whitespace(&self) -> bool {
        true
    }
}

/// The tokens of a client's statement `text` (its executable comments resolved); `None`
/// when it cannot be read (not UTF-8, or not tokenized).
pub(crate) fn read_tokens(text: &[u8], syntax: Syntax) -> Option<Vec<TokenWithSpan>> {
    let sql = std::str::from_utf8(text).ok()?;
    tokenize(&resolve_comments(sql, syntax), syntax, false).ok()
}

/// Whether `tokens` call the built-in function `name` (unquoted, any letter case) with an
/// argument (`with_argument`), or with none.
pub(crate) fn calls_function(tokens: &[TokenWithSpan], name: &str, with_argument: bool) -> bool {
    let solid: Vec<&Token> = (tokens.iter())
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    solid.windows(3).any(|w| {
        matches!(w[0], Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(name))
            && matches!(w[1], Token::LParen)
            && matches!(w[2], Token::RParen) != with_argument
    })
}

/// The tokens of prepared text (see [`resolve_comments`]) as MariaDB reads them under
/// `syntax`: `||` is OR unless `PIPES_AS_CONCAT`, `0x2A`/`0b101`/`b'101'` keep their form.
pub fn tokenize(
    text: &str,
    syntax: Syntax,
    unescape: bool,
) -> Result<Vec<TokenWithSpan>, TokenizerError> {
    let mode = syntax.sql_mode;
    let backslash = !mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
    // Strings are read verbatim and unescaped below, by MariaDB's rules (sqlparser's differ:
    // it keeps the backslash of `\a`).
    let mut tokens = if needs_mode_dialect(mode) {
        let dialect = ModeDialect {
            ansi_quotes: mode.contains(SqlMode::ANSI_QUOTES),
            backslash_escapes: backslash,
        };
        Tokenizer::new(&dialect, text)
            .with_unescape(false)
            .tokenize_with_location()?
    } else {
        Tokenizer::new(&MySqlDialect {}, text)
            .with_unescape(false)
            .tokenize_with_location()?
    };
    let pipes_concat = mode.contains(SqlMode::PIPES_AS_CONCAT);
    let mut offsets = crate::rewrite::Offsets::new(text);
    let mut i = 0;
    while i < tokens.len() {
        let adjacent_next = tokens
            .get(i + 1)
            .is_some_and(|next| next.span.start == tokens[i].span.end);
        let after_name = i > 0
            && tokens[i - 1].span.end == tokens[i].span.start
            && matches!(
                tokens[i - 1].token,
                Token::Word(_) | Token::SingleQuotedString(_) | Token::DoubleQuotedString(_)
            );
        match &mut tokens[i].token {
            // `@'x'`, `@"x"`, `` @`x` ``: a user variable with a quoted name, which the tokenizer
            // reads as `@` and a quoted token (`'user'@'host'` stays so).
            Token::AtSign if adjacent_next && !after_name => {
                let name = match &tokens[i + 1].token {
                    Token::Word(Word {
                        value,
                        quote_style: Some(quote),
                        ..
                    }) => Some(unescape_string(value, *quote, false)),
                    Token::SingleQuotedString(raw) => Some(unescape_string(raw, '\'', backslash)),
                    Token::DoubleQuotedString(raw) => Some(unescape_string(raw, '"', backslash)),
                    _ => None,
                };
                if let Some(name) = name {
                    let span = tokens[i].span.union(&tokens[i + 1].span);
                    let word = Token::make_word(&user_variable(&name), None);
                    tokens[i] = TokenWithSpan::new(word, span);
                    tokens.remove(i + 1);
                }
            }
            Token::SingleQuotedString(s) | Token::NationalStringLiteral(s) if unescape => {
                *s = unescape_string(s, '\'', backslash);
            }
            Token::DoubleQuotedString(s) if unescape => {
                *s = unescape_string(s, '"', backslash);
            }
            Token::StringConcat if !pipes_concat => {
                tokens[i].token = Token::make_keyword("OR");
            }
            // `&&` is MariaDB's AND, at AND's precedence: sqlparser reads it as an operator
            // binding tighter than `=` (`id = 5 && x > 1` as `id = (5 && x) > 1`).
            Token::Overlap => {
                tokens[i].token = Token::make_keyword("AND");
            }
            // `0x2A` is a number where MariaDB wants one (`id = 0x2A` is `id = 42`); the
            // tokenizer makes it the string `X'2A'`. Kept as written instead.
            Token::HexStringLiteral(_) => {
                let start = offsets.at(tokens[i].span.start);
                let end = offsets.at(tokens[i].span.end);
                if let (Some(start), Some(end)) = (start, end) {
                    if text[start..].starts_with("0x") {
                        tokens[i].token = Token::Number(text[start..end].to_owned(), false);
                    }
                }
            }
            // `0b101`: a bit literal, which the tokenizer reads as a name.
            Token::Word(Word {
                value,
                quote_style: None,
                ..
            }) if is_bit_literal(value) => {
                tokens[i].token = Token::Number(value.clone(), false);
            }
            // `b'101'` under our own dialect (sqlparser knows it only for MySqlDialect).
            Token::Word(Word {
                value,
                quote_style: None,
                ..
            }) if value.eq_ignore_ascii_case("b") && adjacent_next => {
                if let Token::SingleQuotedString(bits) = &tokens[i + 1].token {
                    let bits = bits.clone();
                    let span = tokens[i].span.union(&tokens[i + 1].span);
                    tokens[i] =
                        TokenWithSpan::new(Token::SingleQuotedByteStringLiteral(bits), span);
                    tokens.remove(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(tokens)
}

/// A quoted string's content (as written, between its quotes) as MariaDB reads it: a doubled
/// quote is one, and unless `NO_BACKSLASH_ESCAPES` a backslash escapes the next character:
/// `\0 \b \n \r \t \Z` are control characters, `\%` and `\_` keep their backslash (for
/// LIKE), any other `\x` is `x`.
pub fn unescape_string(raw: &str, quote: char, backslash: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if backslash => match chars.next() {
                Some('0') => out.push('\0'),
                Some('b') => out.push('\u{8}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('Z') => out.push('\u{1a}'),
                Some(k @ ('%' | '_')) => {
                    out.push('\\');
                    out.push(k);
                }
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            c if c == quote => {
                // Doubled inside the string: one quote.
                out.push(c);
                let mut rest = chars.clone();
                if rest.next() == Some(quote) {
                    chars = rest;
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// How user variable `name` (its name as MariaDB reads it, quotes gone) is written in SQL the
/// proxy sends: `@name` when that reads back as the same name, else `` @`name` ``. MariaDB
/// compares user variable names without regard to case.
pub(crate) fn user_variable(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.'));
    match plain {
        true => format!("@{name}"),
        false => format!("@`{}`", name.replace('`', "``")),
    }
}

fn is_bit_literal(word: &str) -> bool {
    word.len() > 2 && word.starts_with("0b") && word[2..].bytes().all(|c| c == b'0' || c == b'1')
}

/// Parses prepared text into statements, string literals unescaped (their values).
pub fn parse(text: &str, syntax: Syntax) -> Result<Vec<Statement>, ParserError> {
    parse_with(text, syntax, true)
}

/// Parses prepared text keeping string literals exactly as written, for re-rendering.
pub fn parse_verbatim(text: &str, syntax: Syntax) -> Option<Vec<Statement>> {
    parse_with(text, syntax, false).ok()
}

fn parse_with(text: &str, syntax: Syntax, unescape: bool) -> Result<Vec<Statement>, ParserError> {
    let mut tokens = tokenize(text, syntax, unescape)?;
    drop_dml_modifiers(&mut tokens);
    comma_joined_update(&mut tokens);
    crate::delete_returning::reorder(&mut tokens);
    let directions = crate::group_by_direction::take(&mut tokens);
    let mut statements = Parser::new(&MySqlDialect {})
        .with_options(ParserOptions::new().with_unescape(unescape))
        .with_tokens_with_locations(tokens)
        .parse_statements()?;
    if !crate::group_by_direction::restore(&mut statements, &directions) {
        return Err(ParserError::ParserError(
            "a direction (ASC / DESC) in GROUP BY that shardgate cannot tie to its item".into(),
        ));
    }
    Ok(statements)
}

/// `UPDATE [LOW_PRIORITY] [IGNORE] …` and `DELETE [LOW_PRIORITY] [QUICK] [IGNORE] …`: the
/// modifiers change how MariaDB runs the statement, not where its rows are, and sqlparser reads
/// some of them as the table's name (`UPDATE IGNORE t` as table `IGNORE` alias `t`). They are
/// taken out of what the parser reads; the text sent keeps them (spans are the text's).
fn drop_dml_modifiers(tokens: &mut Vec<TokenWithSpan>) {
    let mut at_start = true;
    let mut in_modifiers = false;
    tokens.retain(|t| {
        let word = match &t.token {
            Token::Whitespace(_) => return true,
            Token::SemiColon => {
                (at_start, in_modifiers) = (true, false);
                return true;
            }
            Token::Word(w) if w.quote_style.is_none() => Some(w),
            _ => None,
        };
        let starts_dml = at_start
            && word.is_some_and(|w| matches!(w.keyword, Keyword::UPDATE | Keyword::DELETE));
        at_start = false;
        if starts_dml {
            in_modifiers = true;
            return true;
        }
        if in_modifiers {
            let modifier = word.is_some_and(|w| {
                matches!(w.keyword, Keyword::LOW_PRIORITY | Keyword::IGNORE)
                    || w.value.eq_ignore_ascii_case("quick")
            });
            if modifier {
                return false;
            }
            in_modifiers = false;
        }
        true
    });
}

/// `UPDATE a, b SET …` (MariaDB's multi-table UPDATE by a comma list), which sqlparser does
/// not read: the parser reads `UPDATE a CROSS JOIN b SET …`, the same tables joined with the
/// conditions in the WHERE clause (the text sent keeps the commas, and MariaDB their
/// precedence, which is only the planner's to know as joins).
fn comma_joined_update(tokens: &mut Vec<TokenWithSpan>) {
    let mut out = Vec::with_capacity(tokens.len());
    let mut at_start = true;
    let mut in_tables = false;
    let mut depth = 0usize;
    for t in tokens.drain(..) {
        match &t.token {
            Token::Whitespace(_) => {}
            Token::SemiColon => (at_start, in_tables, depth) = (true, false, 0),
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Word(w)
                if at_start && w.quote_style.is_none() && w.keyword == Keyword::UPDATE =>
            {
                (at_start, in_tables) = (false, true);
                out.push(t);
                continue;
            }
            Token::Word(w) if in_tables && depth == 0 && w.keyword == Keyword::SET => {
                in_tables = false;
            }
            Token::Comma if in_tables && depth == 0 => {
                let span = t.span;
                for token in [
                    Token::Whitespace(sqlparser::tokenizer::Whitespace::Space),
                    Token::make_keyword("CROSS"),
                    Token::Whitespace(sqlparser::tokenizer::Whitespace::Space),
                    Token::make_keyword("JOIN"),
                    Token::Whitespace(sqlparser::tokenizer::Whitespace::Space),
                ] {
                    out.push(TokenWithSpan::new(token, span));
                }
                continue;
            }
            _ => at_start = false,
        }
        if !matches!(t.token, Token::Whitespace(_) | Token::SemiColon) {
            at_start = false;
        }
        out.push(t);
    }
    *tokens = out;
}

/// Whether the tokens hold a prefix `NOT` (not `IS NOT`, `NOT IN`, `NOT LIKE`, …) whose
/// meaning `HIGH_NOT_PRECEDENCE` changes: such a NOT binds tighter than sqlparser reads it, so
/// `NOT a = 1` is `(NOT a) = 1`. One whose operand — a name, a literal, a call, a parenthesized
/// expression or `EXISTS (…)` — is followed by what binds looser than NOT either way (`AND`,
/// `OR`, `XOR`, a closing parenthesis, a comma, the clause's end) means the same under both.
pub fn has_prefix_not(tokens: &[TokenWithSpan]) -> bool {
    let words: Vec<&Token> = (tokens.iter())
        .map(|t| &t.token)
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut previous: Option<&Token> = None;
    for (i, &t) in words.iter().enumerate() {
        if let Token::Word(w) = t {
            if w.keyword == Keyword::NOT
                && w.quote_style.is_none()
                && is_prefix(previous)
                && !precedence_free(&words[i + 1..])
            {
                return true;
            }
        }
        previous = Some(t);
    }
    false
}

/// Whether a NOT after `previous` is a prefix one (not `IS NOT`, `a NOT IN …`).
fn is_prefix(previous: Option<&Token>) -> bool {
    match previous {
        Some(Token::Word(p)) => {
            p.keyword != Keyword::IS
                && p.quote_style.is_none()
                && matches!(
                    p.keyword,
                    Keyword::WHERE
                        | Keyword::AND
                        | Keyword::OR
                        | Keyword::XOR
                        | Keyword::ON
                        | Keyword::HAVING
                        | Keyword::SELECT
                        | Keyword::WHEN
                        | Keyword::THEN
                        | Keyword::ELSE
                        | Keyword::NOT
                        | Keyword::SET
                )
        }
        Some(
            Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::RParen,
        ) => false,
        _ => true,
    }
}

/// Whether the NOT whose operand starts `rest` (tokens without whitespace) means the same at
/// either precedence: its operand is one primary followed by what binds looser than NOT.
fn precedence_free(rest: &[&Token]) -> bool {
    // The index just past a parenthesized group opening at `at`.
    let past_group = |at: usize| -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in rest.iter().enumerate().skip(at) {
            match t {
                Token::LParen => depth += 1,
                Token::RParen if depth == 1 => return Some(i + 1),
                Token::RParen => depth = depth.checked_sub(1)?,
                _ if depth == 0 => return None,
                _ => {}
            }
        }
        None
    };
    let end = match rest.first() {
        Some(Token::Word(w)) if w.keyword == Keyword::EXISTS && w.quote_style.is_none() => {
            past_group(1)
        }
        Some(Token::LParen) => past_group(0),
        Some(Token::Word(w)) if w.keyword == Keyword::NOT && w.quote_style.is_none() => None,
        Some(Token::Word(_) | Token::Number(..) | Token::SingleQuotedString(_)) => {
            let mut at = 1;
            while matches!(rest.get(at), Some(Token::Period))
                && matches!(rest.get(at + 1), Some(Token::Word(_)))
            {
                at += 2;
            }
            match rest.get(at) {
                Some(Token::LParen) => past_group(at),
                _ => Some(at),
            }
        }
        _ => None,
    };
    let Some(end) = end else {
        return false;
    };
    match rest.get(end) {
        None | Some(Token::RParen | Token::Comma | Token::SemiColon) => true,
        Some(Token::Word(w)) if w.quote_style.is_none() => matches!(
            w.keyword,
            Keyword::AND
                | Keyword::OR
                | Keyword::XOR
                | Keyword::THEN
                | Keyword::ELSE
                | Keyword::END
                | Keyword::WHEN
                | Keyword::AS
                | Keyword::FROM
                | Keyword::ORDER
                | Keyword::GROUP
                | Keyword::HAVING
                | Keyword::LIMIT
                | Keyword::WINDOW
                | Keyword::UNION
                | Keyword::EXCEPT
                | Keyword::INTERSECT
                | Keyword::FOR
                | Keyword::LOCK
                | Keyword::INTO
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Syntax = Syntax {
        sql_mode: SqlMode::NONE,
        server_version: 101119,
    };

    fn resolved(sql: &str) -> String {
        resolve_comments(sql, V).into_owned()
    }

    #[test]
    fn executable_comments_run_as_mariadb_decides() {
        // Run: no version, an old one, a MariaDB one within the server's version.
        assert_eq!(resolved("SELECT 1 /*! +1 */"), "SELECT 1     +1   ");
        assert_eq!(
            resolved("SELECT 1 /*!50699 +1 */"),
            "SELECT 1          +1   "
        );
        assert_eq!(
            resolved("SELECT 1 /*M!100000 +1*/"),
            "SELECT 1            +1  "
        );
        assert_eq!(
            resolved("SELECT 1 /*!100000 +1*/"),
            "SELECT 1           +1  "
        );
        // Skipped: MySQL 5.7+ versions, future versions, MariaDB-only future versions.
        for skipped in [
            "SELECT 1 /*!50700 +1 */",
            "SELECT 1 /*!99999 +1 */",
            "SELECT 1 /*!999999 +1 */",
            "SELECT 1 /*M!999999 +1 */",
            "SELECT 1 /*!1234567 +1 */",
        ] {
            assert_eq!(resolved(skipped).trim_end(), "SELECT 1", "{skipped}");
            assert_eq!(resolved(skipped).len(), skipped.len());
        }
        // Fewer than five digits: not a version, so the digits are content.
        assert_eq!(
            resolved("SELECT /*!1234 x */").trim_end(),
            "SELECT    1234 x"
        );
        // One level of comment inside a skipped one.
        assert_eq!(
            resolved("SELECT 1 /*!99999 a /* b */ c */ + 2").trim(),
            "SELECT 1                         + 2"
        );
        // Markers inside strings are text.
        assert_eq!(resolved("SELECT '/*!99999 x */'"), "SELECT '/*!99999 x */'");
        // Ordinary comments are left to the tokenizer.
        assert_eq!(resolved("SELECT 1 /* x */"), "SELECT 1 /* x */");
    }

    #[test]
    fn pipes_are_or_unless_pipes_as_concat() {
        let text = "SELECT a || b";
        let has = |syntax: Syntax, want: &Token| {
            tokenize(text, syntax, true)
                .unwrap()
                .iter()
                .any(|t| &t.token == want)
        };
        assert!(has(V, &Token::make_keyword("OR")));
        let concat = Syntax {
            sql_mode: SqlMode::PIPES_AS_CONCAT,
            ..V
        };
        assert!(has(concat, &Token::StringConcat));
    }

    #[test]
    fn double_ampersand_is_and_at_its_precedence() {
        let parsed = parse("SELECT 1 FROM t WHERE id = 5 && x > 1", V).unwrap();
        let Statement::Query(q) = &parsed[0] else {
            panic!("a query")
        };
        let sqlparser::ast::SetExpr::Select(select) = q.body.as_ref() else {
            panic!("a SELECT")
        };
        assert_eq!(
            select
                .selection
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("id = 5 AND x > 1")
        );
        assert!(matches!(
            select.selection,
            Some(sqlparser::ast::Expr::BinaryOp {
                op: sqlparser::ast::BinaryOperator::And,
                ..
            })
        ));
    }

    #[test]
    fn literal_forms_keep_their_text() {
        let rendered = |sql: &str| parse_verbatim(sql, V).unwrap()[0].to_string();
        assert_eq!(
            rendered("SELECT 0x2A, X'2A', 0b101"),
            "SELECT 0x2A, X'2A', 0b101"
        );
        assert!(rendered("SELECT b'101'").contains("'101'"));
    }

    #[test]
    fn no_backslash_escapes_reads_backslashes_as_text() {
        let nbe = Syntax {
            sql_mode: SqlMode::NO_BACKSLASH_ESCAPES,
            ..V
        };
        let stmts = parse(r"SELECT * FROM t WHERE a = 'x\' AND id = 7", nbe).unwrap();
        let where_clause = stmts[0].to_string();
        assert!(where_clause.contains("id = 7"), "{where_clause}");
        assert!(parse(r"SELECT * FROM t WHERE a = 'x\' AND id = 7", V).is_err());
    }

    #[test]
    fn ansi_quotes_make_names() {
        let ansi = Syntax {
            sql_mode: SqlMode::ANSI_QUOTES,
            ..V
        };
        let stmts = parse(r#"SELECT "id" FROM "t" WHERE "id" = 7"#, ansi).unwrap();
        assert_eq!(
            stmts[0].to_string(),
            r#"SELECT "id" FROM "t" WHERE "id" = 7"#
        );
        let plain = parse(r#"SELECT "id" FROM t"#, V).unwrap();
        assert!(matches!(&plain[0], Statement::Query(_)));
    }

    #[test]
    fn strings_unescape_as_mariadb_does() {
        assert_eq!(unescape_string(r"c\af", '\'', true), "caf");
        assert_eq!(unescape_string(r"a\%b\_c", '\'', true), r"a\%b\_c");
        assert_eq!(unescape_string(r"it\'s", '\'', true), "it's");
        assert_eq!(unescape_string("it''s", '\'', true), "it's");
        assert_eq!(unescape_string(r"a\nb\0", '\'', true), "a\nb\0");
        assert_eq!(unescape_string(r"a\b", '\'', false), r"a\b");
        let values = |sql: &str| -> Vec<String> {
            tokenize(sql, V, true)
                .unwrap()
                .into_iter()
                .filter_map(|t| match t.token {
                    Token::SingleQuotedString(s) => Some(s),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            values(r"SELECT 'c\af', 'x''y', 'p\'q'"),
            ["caf", "x'y", "p'q"]
        );
    }

    #[test]
    fn finds_prefix_not() {
        let toks = |sql: &str| tokenize(sql, V, true).unwrap();
        assert!(has_prefix_not(&toks("SELECT NOT a = 1")));
        assert!(has_prefix_not(&toks("SELECT * FROM t WHERE NOT a = 1")));
        assert!(!has_prefix_not(&toks("SELECT * FROM t WHERE a NOT IN (1)")));
        assert!(!has_prefix_not(&toks(
            "SELECT * FROM t WHERE a IS NOT NULL"
        )));
        // Operands followed by what binds looser than NOT either way.
        for same in [
            "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM o WHERE o.a = t.id AND o.q > -2) ORDER BY id",
            "SELECT * FROM t WHERE NOT (a = 1) AND b = 2",
            "SELECT * FROM t WHERE x = 1 AND NOT t.flag",
            "SELECT NOT a AS na, NOT f(a, b) FROM t",
            "SELECT CASE WHEN NOT a THEN 1 END FROM t",
        ] {
            assert!(!has_prefix_not(&toks(same)), "{same}");
        }
        for differs in [
            "SELECT * FROM t WHERE NOT a BETWEEN 1 AND 2",
            "SELECT * FROM t WHERE NOT a IS NULL",
            "SELECT * FROM t WHERE NOT t.a + 1 > 2",
            "SELECT * FROM t WHERE NOT (a) = 1",
            "SELECT * FROM t WHERE NOT NOT a = 1",
            "SELECT * FROM t WHERE NOT EXISTS (SELECT 1) = 0",
            "SELECT * FROM t WHERE NOT -a = 1",
        ] {
            assert!(has_prefix_not(&toks(differs)), "{differs}");
        }
    }
}
