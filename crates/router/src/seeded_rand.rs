//! `RAND(seed)` in a statement that runs on several shards: MariaDB draws one seeded sequence
//! over the rows in the order it evaluates them, where each shard (or a compute connection
//! over copies, in its own scan order) would start the sequence anew and give other values —
//! a silent difference (`SELECT … ORDER BY RAND(1) LIMIT 3` picks other rows). Refused (1235);
//! `RAND()` without a seed is random anyway and goes through. Rows of a split INSERT keep
//! their values: each `RAND(n)` of a VALUES row is its own sequence on one server too.

use crate::{Route, Syntax};

/// Whether `sql` (resolved text) calls `RAND` with an argument.
pub(crate) fn holds(sql: &str, syntax: Syntax) -> bool {
    if !sql
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"rand"))
    {
        return false;
    }
    let Ok(tokens) = crate::lex::tokenize(sql, syntax, false) else {
        return false;
    };
    crate::lex::calls_function(&tokens, "rand", true)
}

/// Whether `route` evaluates the statement's expressions over its rows on more than one
/// server, or over copies: where a seeded sequence would not be one server's.
/// `insert` tells whether the statement is an INSERT (asked only for a split).
pub(crate) fn splits_sequences(route: &Route, insert: impl FnOnce() -> bool) -> bool {
    match route {
        Route::Scatter(_)
        | Route::Broadcast(_)
        | Route::SetOperation(_)
        | Route::Materialize(_)
        | Route::Join(_) => true,
        Route::Split(_) => !insert(),
        _ => false,
    }
}

/// The refusal.
pub(crate) fn refusal() -> crate::RouteError {
    crate::RouteError::NotSupported(
        "RAND(seed) in a statement that runs on several shards is not supported by shardgate: MariaDB draws the seeded sequence over the rows in its order, and each shard would start it anew; run it on one shard (give its shard key), or call RAND() without a seed".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_call_with_a_seed_counts() {
        let holds = |sql: &str| holds(sql, Syntax::DEFAULT);
        assert!(holds("SELECT id FROM t ORDER BY RAND(1) LIMIT 3"));
        assert!(holds("UPDATE t SET x = rand ( @seed )"));
        assert!(!holds("SELECT id FROM t ORDER BY RAND() LIMIT 3"));
        assert!(!holds("SELECT 'rand(1)', `rand` FROM t"));
        assert!(!holds("SELECT operand(1) FROM t"));
    }
}
