//! `COMMIT` / `ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE]`, which the SQL parser reads only
//! without `RELEASE`: recognised by their words. `RELEASE` ends the transaction, then the
//! client's connection, as MariaDB closes it after its OK; the proxy ends both itself (sent to
//! a backend connection, `RELEASE` would close that one instead). `AND CHAIN` is refused, as
//! without `RELEASE` (the planner's refusal).

use crate::administrative::Words;
use crate::{Plan, Route, RouteError, StatementKind, TxnCommand};

/// The plan of `sql` when it is a COMMIT or ROLLBACK naming `RELEASE` (or `NO RELEASE`).
pub(crate) fn plan_transaction_end(sql: &str) -> Option<Result<Plan, RouteError>> {
    let mut words = Words(sql);
    let first = words.next()?;
    let commit = if first.eq_ignore_ascii_case("commit") {
        true
    } else if first.eq_ignore_ascii_case("rollback") {
        false
    } else {
        return None;
    };
    let is = |word: Option<&str>, what: &str| word.is_some_and(|w| w.eq_ignore_ascii_case(what));
    let mut next = words.next();
    if is(next, "work") {
        next = words.next();
    }
    let mut chain = false;
    if is(next, "and") {
        next = words.next();
        let no = is(next, "no");
        if no {
            next = words.next();
        }
        if !is(next, "chain") {
            return None;
        }
        chain = !no;
        next = words.next();
    }
    let no = is(next, "no");
    if no {
        next = words.next();
    }
    if !is(next, "release") || !words.rest_is_empty() {
        return None;
    }
    if chain {
        return Some(Err(RouteError::NotSupported(
            "COMMIT/ROLLBACK AND CHAIN is not supported by shardgate; end the transaction and BEGIN again".into(),
        )));
    }
    let command = match (no, commit) {
        (false, _) => TxnCommand::EndAndDisconnect { commit },
        (true, true) => TxnCommand::Commit,
        (true, false) => TxnCommand::Rollback,
    };
    Some(Ok(Plan::new(
        StatementKind::Transaction,
        Route::Transaction(command),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(sql: &str) -> Option<Result<TxnCommand, RouteError>> {
        plan_transaction_end(sql).map(|plan| {
            plan.map(|p| match p.route {
                Route::Transaction(c) => c,
                other => panic!("{sql}: {other:?}"),
            })
        })
    }

    #[test]
    fn release_ends_the_transaction_and_the_connection() {
        for (sql, commit) in [
            ("COMMIT RELEASE", true),
            ("commit work and no chain release;", true),
            ("ROLLBACK /* x */ RELEASE", false),
            ("ROLLBACK AND NO CHAIN RELEASE", false),
        ] {
            assert_eq!(
                command(sql),
                Some(Ok(TxnCommand::EndAndDisconnect { commit })),
                "{sql}"
            );
        }
        assert_eq!(
            command("COMMIT AND NO CHAIN NO RELEASE"),
            Some(Ok(TxnCommand::Commit))
        );
        assert_eq!(
            command("ROLLBACK WORK NO RELEASE"),
            Some(Ok(TxnCommand::Rollback))
        );
        assert!(matches!(
            command("ROLLBACK WORK AND CHAIN NO RELEASE"),
            Some(Err(RouteError::NotSupported(_)))
        ));
    }

    #[test]
    fn other_texts_are_left_to_the_parser() {
        for sql in [
            "COMMIT",
            "COMMIT AND NO CHAIN",
            "ROLLBACK TO SAVEPOINT a",
            "COMMIT RELEASE x",
            "COMMIT CHAIN RELEASE",
            "RELEASE SAVEPOINT a",
        ] {
            assert_eq!(command(sql), None, "{sql}");
        }
    }
}
