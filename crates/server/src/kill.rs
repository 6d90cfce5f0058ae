//! `KILL [QUERY | CONNECTION] id` of the proxy's own client sessions.
//!
//! The session's owner (same user) or an admin user may kill it. `KILL QUERY` stops the
//! statement it runs on every backend connection it runs on: the client of that statement gets
//! the backend's own error 1317, and the session (and its transaction) goes on. `KILL
//! CONNECTION` does that and closes the session too.
//!
//! A backend statement is stopped without ever touching another session's: on a separate
//! connection to the same endpoint, the proxy reads the query id the connection's server thread
//! runs, checks that the session still holds that connection (its lease, see
//! `shardgate_backend::Lease`), then kills that query by id (`KILL QUERY ID`). Had the
//! connection gone back to its pool, the check fails; had the query ended, its id matches
//! nothing.

use std::sync::Arc;
use std::time::Duration;

use shardgate_backend::{BackendConn, Lease, Pool, QueryHead};
use shardgate_protocol::Command;
use shardgate_router::{Kill, KillTarget};

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{Session, Step};
use crate::sessions::{Interrupt, Running, SessionSlot};

/// How long a KILL follows the statement it stops: one that has not reached a backend yet (a
/// checkout waiting for a pooled connection, say), or a scatter whose shards start one after
/// another. The KILL answers when the statement has ended, or after this long.
const FOLLOW: Duration = Duration::from_secs(2);
/// The first pause between two looks at the statement's backend connections (doubling).
const FIRST_PAUSE: Duration = Duration::from_millis(20);

impl Session {
    /// Runs a `KILL`.
    pub(crate) async fn kill(&mut self, runtime: &Runtime, kill: Kill) -> Step {
        let id = match kill.target {
            KillTarget::Own => u64::from(self.slot.id),
            KillTarget::Id(id) => id,
            KillTarget::Expression(expression) => {
                match self.kill_target(runtime, &expression).await {
                    Ok(id) => id,
                    Err(e) => return self.send_error(e).await,
                }
            }
        };
        let Some(victim) = self.proxy.sessions.get(id) else {
            let e = ClientError::new(1094, b"HY000", format!("Unknown thread id: {id}"));
            return self.send_error(e).await;
        };
        if victim.user() != self.user() && !self.is_admin(runtime) {
            let e = ClientError::new(1095, b"HY000", format!("You are not owner of thread {id}"));
            return self.send_error(e).await;
        }
        if victim.id == self.slot.id {
            // As on MariaDB, the KILL itself is the statement interrupted; a killed connection
            // closes once the client has been told.
            if kill.query_only {
                let e = ClientError::new(1317, b"70100", "Query execution was interrupted");
                return self.send_error(e).await;
            }
            self.slot.interrupt(Interrupt::Killed);
            let e = ClientError::new(1927, b"70100", "Connection was killed");
            return self.send_error(e).await;
        }
        if !kill.query_only {
            victim.interrupt(Interrupt::Killed);
        }
        tracing::info!(
            victim = victim.id,
            query_only = kill.query_only,
            "KILL of another session"
        );
        stop_statement(&victim).await;
        self.send_ok(0, 0).await
    }

    /// The id `expression` stands for, evaluated as MariaDB evaluates a KILL's (an integer;
    /// NULL is 0), in the session's state on the default shard.
    async fn kill_target(
        &mut self,
        runtime: &Runtime,
        expression: &str,
    ) -> Result<u64, ClientError> {
        let pool = runtime.primary_of(self.pass_through.as_ref(), runtime.topology.default_shard);
        let sql = format!("SELECT COALESCE(CAST(({expression}) AS UNSIGNED), 0) LIMIT 1");
        let answer = async {
            let mut conn = pool.get(self.flavor).await?;
            self.state.sync(&mut conn).await?;
            // What the expression may assign stays off other sessions' way.
            conn.vars_fingerprint = crate::state::DIRTY;
            crate::sql_prepare::evaluate(&mut conn, sql.as_bytes()).await
        };
        match answer.await {
            Ok(Ok(id)) => Ok(id.parse().unwrap_or_default()),
            Ok(Err(refused)) => Err(ClientError::from(refused)),
            Err(e) => Err(ClientError::from(&e)),
        }
    }

    /// COM_PROCESS_KILL (the old `mysql_kill()`): `KILL CONNECTION` of the id in `arg`.
    pub(crate) async fn process_kill(&mut self, arg: &[u8]) -> Step {
        let runtime = self.runtime();
        let id = arg
            .get(..4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let kill = Kill {
            query_only: false,
            target: KillTarget::Id(u64::from(id)),
        };
        self.kill(&runtime, kill).await
    }

    /// Whether the session's user has `admin = true` (a configured user: never one of the
    /// servers' accounts passed through).
    pub(crate) fn is_admin(&self, runtime: &Runtime) -> bool {
        if self.pass_through.is_some() {
            return false;
        }
        let user = self.user();
        (runtime.topology.users.iter()).any(|u| u.name == user && u.admin)
    }
}

/// Stops the statement `victim` runs, on every backend connection it runs on, following it
/// until it ends (at most [`FOLLOW`]). Each connection's query is killed once: what the
/// statement runs there afterwards (a ROLLBACK of its parts, say) is left alone.
async fn stop_statement(victim: &SessionSlot) {
    let statement = victim.commands();
    let deadline = tokio::time::Instant::now() + FOLLOW;
    let mut killed: Vec<ServerThread> = Vec::new();
    let mut pause = FIRST_PAUSE;
    while victim.busy() && victim.commands() == statement {
        let pending: Vec<Running> = (victim.running().into_iter())
            .filter(|r| !killed.contains(&ServerThread::of(r)))
            .collect();
        if !pending.is_empty() {
            killed.extend(kill_queries(&pending).await);
        }
        if tokio::time::Instant::now() + pause > deadline {
            return;
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

/// A server thread: the endpoint (its pool, by address) and the thread id there (ids repeat
/// across servers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ServerThread {
    pool: usize,
    thread_id: u32,
}

impl ServerThread {
    fn of(running: &Running) -> Self {
        ServerThread {
            pool: Arc::as_ptr(&running.pool) as usize,
            thread_id: running.thread_id,
        }
    }
}

/// The server threads of one endpoint a session holds, each with the lease that holds it.
struct EndpointThreads<'a> {
    pool: &'a Arc<Pool>,
    threads: Vec<(u32, &'a Lease)>,
}

/// Kills the queries running on `running`'s connections, endpoint by endpoint at once; the
/// server threads whose query it killed.
async fn kill_queries(running: &[Running]) -> Vec<ServerThread> {
    let mut endpoints: Vec<EndpointThreads<'_>> = Vec::new();
    for r in running {
        match endpoints.iter_mut().find(|e| Arc::ptr_eq(e.pool, &r.pool)) {
            Some(endpoint) => endpoint.threads.push((r.thread_id, &r.lease)),
            None => endpoints.push(EndpointThreads {
                pool: &r.pool,
                threads: vec![(r.thread_id, &r.lease)],
            }),
        }
    }
    let kills = endpoints.iter().map(|e| async move {
        let killed = kill_on_endpoint(e.pool, &e.threads).await;
        killed.into_iter().map(|thread_id| ServerThread {
            pool: Arc::as_ptr(e.pool) as usize,
            thread_id,
        })
    });
    futures_util::future::join_all(kills)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Kills the queries `threads` (server thread ids, with the lease that holds each) run on
/// `pool`'s endpoint, from a connection of its own; the threads whose query it killed.
async fn kill_on_endpoint(pool: &Pool, threads: &[(u32, &Lease)]) -> Vec<u32> {
    let mut conn = match pool.open_unpooled().await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(endpoint = pool.label(), error = %e, "KILL: cannot reach the backend");
            return Vec::new();
        }
    };
    let ids: Vec<String> = threads.iter().map(|(t, _)| t.to_string()).collect();
    let sql = format!(
        "SELECT ID, QUERY_ID FROM information_schema.PROCESSLIST WHERE ID IN ({}) AND COMMAND IN ('Query', 'Execute')",
        ids.join(", ")
    );
    let queries = match running_queries(&mut conn, sql.as_bytes()).await {
        Ok(queries) => queries,
        Err(e) => {
            tracing::warn!(endpoint = pool.label(), error = %e, "KILL: cannot read the backend's processes");
            return Vec::new();
        }
    };
    let mut killed = Vec::new();
    for (thread, query) in queries {
        // Read after the processes: still held means the query was this session's.
        let held = threads
            .iter()
            .any(|(t, lease)| *t == thread && lease.held());
        if !held {
            continue;
        }
        let kill = format!("KILL QUERY ID {query}");
        match crate::state::expect_ok(&mut conn, Command::COM_QUERY, kill.as_bytes()).await {
            Ok(()) => killed.push(thread),
            // 1957: the query ended meanwhile.
            Err(e) => tracing::debug!(endpoint = pool.label(), error = %e, "KILL QUERY ID"),
        }
    }
    killed
}

/// The (thread id, query id) rows of a processlist query.
async fn running_queries(
    conn: &mut BackendConn,
    sql: &[u8],
) -> Result<Vec<(u32, u64)>, shardgate_backend::BackendError> {
    let unexpected = |conn: &BackendConn| shardgate_backend::BackendError::Protocol {
        endpoint: conn.endpoint().to_owned(),
        source: shardgate_protocol::ProtocolError::malformed(
            "unexpected answer to a processlist query",
        ),
    };
    if !matches!(conn.query_rows(sql).await?, QueryHead::Columns(_)) {
        return Err(unexpected(conn));
    }
    let mut rows = Vec::new();
    while let Ok(row) = conn.next_row().await? {
        let number = |i: usize| {
            shardgate_wire::text_row::text_cell(&row, i)
                .ok()
                .flatten()
                .and_then(|cell| std::str::from_utf8(cell).ok()?.parse::<u64>().ok())
        };
        if let (Some(thread), Some(query)) = (number(0), number(1)) {
            rows.push((u32::try_from(thread).unwrap_or(u32::MAX), query));
        }
    }
    Ok(rows)
}
