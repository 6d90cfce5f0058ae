//! Connections whose statement was cut off at its time bound (`BackendConn::cut_off`): the
//! server may still be running it, so such a connection never goes back to the pool. Its
//! statement is stopped from a connection of its own to the same server (`KILL`), which also
//! works while every pooled connection is busy; a server that does not answer that either (a
//! stopped process) is given up on, and the connection is closed all the same.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use shardgate_protocol::response::Finish;
use shardgate_protocol::Command;

use crate::conn::BackendConn;
use crate::pool::Pool;

impl Pool {
    /// Kills the query server thread `thread` runs (`KILL QUERY`), from a new connection
    /// outside the pool; whether the server accepted it.
    pub async fn kill_query(&self, thread: u32) -> bool {
        self.kill(format!("KILL QUERY {thread}")).await
    }

    /// Runs a `KILL` statement from a new connection outside the pool.
    async fn kill(&self, statement: String) -> bool {
        let mut side = match self.open_unpooled().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(endpoint = self.label(), error = %e, "cannot reach the server to stop a statement cut off at its time bound");
                return false;
            }
        };
        match side.execute(Command::COM_QUERY, statement.as_bytes()).await {
            Ok(Finish::Ok { .. }) => true,
            Ok(_) | Err(_) => false,
        }
    }

    /// Takes back a cut-off connection: its slot is free at once; its server thread is killed
    /// (statement and connection) in the background, then the connection is closed.
    pub(crate) fn reap(self: &Arc<Self>, conn: Box<BackendConn>) {
        conn.leases.fetch_add(1, Ordering::SeqCst);
        self.forget_one();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let pool = self.clone();
        runtime.spawn(async move {
            let thread = conn.thread_id();
            // Bounded: a server that accepts the connection but never answers (stopped).
            let limit = pool.connect_timeout() * 2;
            let killed = tokio::time::timeout(limit, pool.kill(format!("KILL {thread}"))).await;
            match killed {
                Ok(true) => {
                    tracing::info!(endpoint = pool.label(), thread, "killed a statement cut off at its time bound");
                }
                _ => {
                    tracing::warn!(endpoint = pool.label(), thread, "could not kill a statement cut off at its time bound; its connection is closed");
                }
            }
            drop(conn);
        });
    }
}
