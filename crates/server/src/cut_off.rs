//! A statement cut off at its time bound (`statement_time.rs`) on a connection the session
//! keeps (its transaction's): MariaDB stops such a statement and keeps the transaction, so the
//! proxy tries to as well, before the client hears of it.

use shardgate_backend::PooledConn;
use shardgate_protocol::forward::ForwardError;
use shardgate_protocol::response::Finish;
use shardgate_protocol::ProtocolError;

/// Whether a forward ended at the statement's deadline before any of the answer reached the
/// client: the connection may be cleaned and the client told (once part of an answer went out,
/// the client connection is closed).
pub(crate) fn recoverable(result: &Result<Finish, ForwardError>) -> bool {
    matches!(
        result,
        Err(ForwardError::Backend {
            error: ProtocolError::Deadline,
            partial: false,
        })
    )
}

/// Stops the cut-off statement on `conn` (`KILL QUERY` from a connection of its own) and reads
/// the rest of its answer, within the pool's `connect_timeout`; a connection that cannot be
/// cleaned stays `cut_off` (the caller lets it go: it is killed and closed, never pooled).
pub(crate) async fn recover(conn: &mut PooledConn) {
    let pool = conn.pool().clone();
    if conn.recover(&pool, pool.connect_timeout()).await {
        tracing::info!(
            endpoint = pool.label(),
            "statement stopped at its time bound; its connection goes on"
        );
    }
}
