//! How long a statement may run: `[server] query_timeout_ms`, and MariaDB's own
//! `max_statement_time` (the session's, or one statement's `SET STATEMENT max_statement_time = N
//! FOR …`), which the proxy honours itself so that a server that cannot answer (a stopped
//! process, a network gone silent) holds a statement no longer than its bound.
//!
//! The bound becomes the statement's deadline (`shardgate_protocol::deadline`): every backend
//! read and write of the statement ends there, the connection it cut off is killed and never
//! pooled (`shardgate_backend` `reap`), and the client gets MariaDB's 1969 naming the shard
//! (`errors::statement_timeout`).

use std::future::Future;
use std::time::Duration;

use shardgate_router::{SessionVar, Syntax};
use tokio::time::Instant;

use crate::session::Session;
use crate::state::SessionState;

/// How much later than MariaDB's own `max_statement_time` the proxy's copy of it fires: a
/// server that runs fires first and answers with its own error, on a connection that stays
/// usable; the proxy's copy is for a server that cannot.
const MARIADB_FIRST: Duration = Duration::from_millis(500);

/// The session's `max_statement_time`, as the proxy follows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SessionLimit(Option<Duration>);

impl SessionLimit {
    /// After a SET of `vars`: the value the session's `max_statement_time` got (kept by the
    /// value the server gave it, see `sessions::kept_by_value`).
    pub(crate) fn follow(&mut self, vars: &[SessionVar], state: &SessionState) {
        if !vars.iter().any(|v| v.name == MAX_STATEMENT_TIME) {
            return;
        }
        if let Some(limit) = state
            .var_text(MAX_STATEMENT_TIME)
            .and_then(assigned_seconds)
        {
            self.0 = limit;
        }
    }
}

const MAX_STATEMENT_TIME: &str = "max_statement_time";

impl Session {
    /// The deadline of a statement starting now: the nearest of `[server] query_timeout_ms`
    /// and the statement's own `max_statement_time` (its `SET STATEMENT` prefix in `text`, or
    /// the session's). `None`: unbounded, and nothing else is paid for.
    pub(crate) fn statement_deadline(
        &self,
        query_timeout: Option<Duration>,
        text: Option<&[u8]>,
    ) -> Option<Instant> {
        let own = match text.and_then(|t| statement_limit(t, self.syntax)) {
            Some(limit) => limit,
            None => self.statement_limit.0,
        };
        let own = own.map(|limit| limit + MARIADB_FIRST);
        let bound = match (query_timeout, own) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(Instant::now() + bound)
    }
}

/// How long ending what a statement cut off at its bound began (a ROLLBACK of its parts on the
/// shards that answered) may take after the bound.
const CLEANUP: Duration = Duration::from_secs(2);

/// Runs `cleanup`, which ends what the statement began, with [`CLEANUP`] more time than the
/// statement's bound leaves: it must not fail just because that bound passed.
pub(crate) async fn cleanup<F: Future>(cleanup: F) -> F::Output {
    match shardgate_protocol::deadline::current() {
        Some(at) => {
            let at = at.max(Instant::now() + CLEANUP);
            shardgate_protocol::deadline::within(at, cleanup).await
        }
        None => cleanup.await,
    }
}

/// Whether `e` is a statement's bound passing (then there is no time left to try elsewhere).
pub(crate) fn passed(e: &shardgate_backend::BackendError) -> bool {
    matches!(
        e,
        shardgate_backend::BackendError::Protocol {
            source: shardgate_protocol::ProtocolError::Deadline,
            ..
        } | shardgate_backend::BackendError::Connect {
            source: shardgate_protocol::ProtocolError::Deadline,
            ..
        }
    )
}

/// Runs a statement's `work` bounded by `at`. Boxed: the statement's future is large, and the
/// unbounded path (awaited in place by the caller) must not pay for moving it.
pub(crate) async fn within<F: Future>(at: Instant, work: F) -> F::Output {
    Box::pin(shardgate_protocol::deadline::within(at, work)).await
}

/// Runs `work` bounded by `deadline`, if any.
pub(crate) async fn bounded<F: Future>(deadline: Option<Instant>, work: F) -> F::Output {
    match deadline {
        Some(at) => shardgate_protocol::deadline::within(at, work).await,
        None => work.await,
    }
}

/// The `max_statement_time` a `SET STATEMENT … FOR` prefix of `text` gives its statement:
/// `Some(None)` for 0 (no bound), `None` when the text sets none.
fn statement_limit(text: &[u8], syntax: Syntax) -> Option<Option<Duration>> {
    // Most texts start with their first word: no look for comments then.
    let rest = match text.first() {
        Some(c) if c.is_ascii_alphabetic() => text,
        _ => shardgate_router::after_comments(text),
    };
    if !rest.get(..3)?.eq_ignore_ascii_case(b"set") || !rest.get(3)?.is_ascii_whitespace() {
        return None;
    }
    let sql = std::str::from_utf8(text).ok()?;
    let body = shardgate_router::set_statement_body(sql, syntax)?;
    let prefix = &sql[..sql.len() - body.len()];
    let lower = prefix.to_ascii_lowercase();
    let at = lower.find(MAX_STATEMENT_TIME)? + MAX_STATEMENT_TIME.len();
    let value = lower[at..].trim_start().strip_prefix('=')?;
    let number: String = value
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    seconds(&number)
}

/// The seconds a `SET … max_statement_time = <value>` statement assigns.
fn assigned_seconds(sql: &[u8]) -> Option<Option<Duration>> {
    let text = std::str::from_utf8(sql).ok()?;
    seconds(text.rsplit('=').next()?.trim().trim_matches('\''))
}

/// `max_statement_time` seconds (a decimal) as a bound: `Some(None)` for 0.
fn seconds(text: &str) -> Option<Option<Duration>> {
    let seconds: f64 = text.parse().ok()?;
    if seconds == 0.0 {
        return Some(None);
    }
    Duration::try_from_secs_f64(seconds).ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_statement_prefix_gives_its_statement_a_bound() {
        let limit = |t: &str| statement_limit(t.as_bytes(), Syntax::DEFAULT);
        assert_eq!(
            limit("SET STATEMENT max_statement_time=1 FOR SELECT SLEEP(5)"),
            Some(Some(Duration::from_secs(1)))
        );
        assert_eq!(
            limit("/* c */ set statement sql_mode='', MAX_STATEMENT_TIME = 0.25 for select 1"),
            Some(Some(Duration::from_millis(250)))
        );
        assert_eq!(
            limit("SET STATEMENT max_statement_time=0 FOR SELECT 1"),
            Some(None)
        );
        assert_eq!(limit("SET STATEMENT sql_mode='' FOR SELECT 1"), None);
        assert_eq!(limit("SELECT 'max_statement_time=1'"), None);
        assert_eq!(limit("SET max_statement_time = 1"), None);
    }

    #[test]
    fn a_session_value_is_read_as_mariadb_prints_it() {
        let read = |t: &str| assigned_seconds(t.as_bytes());
        assert_eq!(
            read("SET @@SESSION.max_statement_time = 1.500000"),
            Some(Some(Duration::from_millis(1500)))
        );
        assert_eq!(
            read("SET @@SESSION.max_statement_time = 2.5e0"),
            Some(Some(Duration::from_millis(2500)))
        );
        assert_eq!(
            read("SET @@SESSION.max_statement_time = 0.000000"),
            Some(None)
        );
        assert_eq!(read("SET max_statement_time = @x"), None);
    }
}
