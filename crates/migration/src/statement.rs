//! The admin statements that drive a migration: `SHARDGATE RESHARD START '<target file>'
//! [ROWS_PER_SECOND n] [DRY RUN]` (`DRY RUN`: the plan, nothing started) and `SHARDGATE RESHARD PAUSE | RESUME | CANCEL | VERIFY <id>`.

/// One `SHARDGATE RESHARD …` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReshardStatement {
    Start {
        target_file: String,
        rows_per_second: Option<u64>,
        /// Only the plan: which keys would move where, rows and time.
        dry_run: bool,
    },
    Pause(u64),
    Resume(u64),
    Cancel(u64),
    Verify(u64),
}

/// Why a `SHARDGATE RESHARD …` text is not one of the statements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}: expected SHARDGATE RESHARD START '<target file>' [ROWS_PER_SECOND n] [DRY RUN], or SHARDGATE RESHARD PAUSE | RESUME | CANCEL | VERIFY <id>")]
pub struct StatementError(pub String);

/// `text` after the word `word` (any case) and the white space after it, if it starts so.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    let ends = rest.is_empty()
        || rest.starts_with(|c: char| c.is_ascii_whitespace() || c == '\'' || c == '"');
    (head.eq_ignore_ascii_case(word) && ends).then(|| rest.trim_start())
}

/// A quoted string at the start of `text` (`'…'` or `"…"`, the quote doubled inside) and
/// what follows it.
fn quoted_string(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let mut value = String::new();
    let mut chars = text[1..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|(_, n)| *n == quote) {
                chars.next();
                value.push(quote);
                continue;
            }
            return Some((value, text[1 + i + 1..].trim_start()));
        }
        value.push(c);
    }
    None
}

fn number(text: &str, what: &str) -> Result<u64, StatementError> {
    text.parse::<u64>()
        .map_err(|_| StatementError(format!("{what} must be a whole number, not {text:?}")))
}

/// The statement `sql` is, `None` when it does not start with `SHARDGATE RESHARD`.
pub fn parse_reshard(sql: &str) -> Option<Result<ReshardStatement, StatementError>> {
    let rest = strip_word(sql.trim_start(), "shardgate")?;
    let rest = strip_word(rest, "reshard")?;
    let rest = rest.trim().trim_end_matches(';').trim_end();
    Some(parse_action(rest))
}

fn parse_action(rest: &str) -> Result<ReshardStatement, StatementError> {
    if let Some(args) = strip_word(rest, "start") {
        let (target_file, after) = quoted_string(args).ok_or_else(|| {
            StatementError("START needs the target file as a quoted string".into())
        })?;
        let (mut rows_per_second, mut dry_run, mut after) = (None, false, after);
        while !after.is_empty() {
            if let Some(n) =
                strip_word(after, "rows_per_second").filter(|_| rows_per_second.is_none())
            {
                let (n, rest) = n.split_once(char::is_whitespace).unwrap_or((n, ""));
                rows_per_second = match number(n, "ROWS_PER_SECOND")? {
                    0 => return Err(StatementError("ROWS_PER_SECOND must be above 0".into())),
                    n => Some(n),
                };
                after = rest.trim_start();
            } else if let Some(rest) = strip_word(after, "dry")
                .and_then(|r| strip_word(r, "run"))
                .filter(|_| !dry_run)
            {
                dry_run = true;
                after = rest;
            } else {
                return Err(StatementError(format!(
                    "unexpected {after:?} after the target file"
                )));
            }
        }
        return Ok(ReshardStatement::Start {
            target_file,
            rows_per_second,
            dry_run,
        });
    }
    type Build = fn(u64) -> ReshardStatement;
    let actions: [(&str, Build); 4] = [
        ("pause", ReshardStatement::Pause),
        ("resume", ReshardStatement::Resume),
        ("cancel", ReshardStatement::Cancel),
        ("verify", ReshardStatement::Verify),
    ];
    for (word, build) in actions {
        if let Some(id) = strip_word(rest, word) {
            if id.is_empty() {
                return Err(StatementError(format!(
                    "{} needs a migration id",
                    word.to_uppercase()
                )));
            }
            return Ok(build(number(id, "the migration id")?));
        }
    }
    Err(StatementError(format!(
        "unknown statement SHARDGATE RESHARD {rest}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_statement_in_any_case() {
        assert_eq!(
            parse_reshard("shardgate reshard start '/etc/t''s.toml' rows_per_second 500;"),
            Some(Ok(ReshardStatement::Start {
                target_file: "/etc/t's.toml".into(),
                rows_per_second: Some(500),
                dry_run: false
            }))
        );
        assert_eq!(
            parse_reshard("SHARDGATE RESHARD START \"t.toml\""),
            Some(Ok(ReshardStatement::Start {
                target_file: "t.toml".into(),
                rows_per_second: None,
                dry_run: false
            }))
        );
        assert_eq!(
            parse_reshard("SHARDGATE RESHARD START 't.toml' ROWS_PER_SECOND 20 dry run"),
            Some(Ok(ReshardStatement::Start {
                target_file: "t.toml".into(),
                rows_per_second: Some(20),
                dry_run: true
            }))
        );
        assert_eq!(
            parse_reshard("SHARDGATE RESHARD PAUSE 3"),
            Some(Ok(ReshardStatement::Pause(3)))
        );
        assert_eq!(
            parse_reshard(" Shardgate Reshard resume 3"),
            Some(Ok(ReshardStatement::Resume(3)))
        );
        assert_eq!(
            parse_reshard("SHARDGATE RESHARD CANCEL 12"),
            Some(Ok(ReshardStatement::Cancel(12)))
        );
        assert_eq!(
            parse_reshard("SHARDGATE RESHARD VERIFY 1"),
            Some(Ok(ReshardStatement::Verify(1)))
        );
    }

    #[test]
    fn bad_statements_say_what_is_wrong() {
        let err = |sql: &str| parse_reshard(sql).unwrap().unwrap_err().to_string();
        assert!(err("SHARDGATE RESHARD START t.toml").contains("quoted string"));
        assert!(err("SHARDGATE RESHARD START 't.toml' FAST").contains("unexpected \"FAST\""));
        assert!(err("SHARDGATE RESHARD START 't.toml' ROWS_PER_SECOND 0").contains("above 0"));
        assert!(err("SHARDGATE RESHARD START 't.toml' ROWS_PER_SECOND x").contains("whole number"));
        assert!(err("SHARDGATE RESHARD START 't.toml' DRY RUN DRY RUN").contains("unexpected"));
        assert!(err("SHARDGATE RESHARD START 't.toml' DRY").contains("unexpected \"DRY\""));
        assert!(err("SHARDGATE RESHARD PAUSE").contains("needs a migration id"));
        assert!(err("SHARDGATE RESHARD VERIFY -1").contains("whole number"));
        assert!(err("SHARDGATE RESHARD EXPLODE").contains("unknown statement"));
        assert!(err("SHARDGATE RESHARD START 'open").contains("quoted string"));
    }

    #[test]
    fn leaves_other_statements_alone() {
        assert_eq!(parse_reshard("SELECT 1"), None);
        assert_eq!(parse_reshard("SHARDGATE"), None);
        assert_eq!(parse_reshard("SHARDGATERESHARD START 'x'"), None);
        assert_eq!(parse_reshard("é"), None);
    }
}
