//! Client connections around their sessions: the cap on how many may be open at once
//! (`[server] max_client_connections`), refusals before the handshake (too many connections,
//! a blocked address) as MariaDB sends them, and what each connection is doing now
//! (`shardgate_client_connections_by_state`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus::IntGauge;
use shardgate_protocol::tls::ClientStream;
use shardgate_protocol::PacketConn;
use tokio::net::TcpStream;

use crate::login_limits::Limit;
use crate::Proxy;

/// How long writing a refusal may take before the socket is dropped anyway.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves one accepted connection: refused before the handshake when `max_client_connections`
/// are open or its address is blocked, otherwise a session that holds a slot until it ends.
pub(crate) async fn admit(stream: TcpStream, peer: SocketAddr, proxy: Arc<Proxy>) {
    let runtime = proxy.runtime();
    let server = &runtime.topology.server;
    let Some(slot) = Slot::take(&proxy, server.max_client_connections) else {
        let max = server.max_client_connections;
        drop(runtime);
        if let Some(suppressed) = proxy.failure_log.admit() {
            tracing::warn!(%peer, max_client_connections = max, suppressed, "too many client connections: refused");
        }
        // ER_CON_COUNT_ERROR, MariaDB's words.
        refuse(stream, 1040, "Too many connections", "too_many_connections").await;
        return;
    };
    let limit = Limit::of(server);
    drop(runtime);
    if let Some(left) = proxy.login_failures.blocked(peer.ip(), limit) {
        if let Some(suppressed) = proxy.failure_log.admit() {
            tracing::info!(%peer, left_ms = left.as_millis() as u64, suppressed, "blocked client address: refused");
        }
        // ER_HOST_IS_BLOCKED, with how the proxy unblocks instead of `flush-hosts`.
        let message = format!(
            "Host '{}' is blocked because of many connection errors; it is unblocked in {} s (shardgate [server] max_connect_errors, host_block_ms)",
            peer.ip(),
            left.as_secs().max(1)
        );
        refuse(stream, 1129, &message, "host_blocked").await;
        return;
    }
    crate::session::run(stream, peer, proxy).await;
    drop(slot);
}

/// One of the `max_client_connections` slots, given back when dropped.
struct Slot(Arc<Proxy>);

impl Slot {
    fn take(proxy: &Arc<Proxy>, max: usize) -> Option<Self> {
        let open = &proxy.open_connections;
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()?;
        Some(Slot(proxy.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Sends an ERR packet in place of the greeting and closes the connection, as MariaDB refuses
/// a connection before its handshake; counted by `reason`.
async fn refuse(stream: TcpStream, code: u16, message: &str, reason: &str) {
    shardgate_metrics::metrics()
        .connections_refused_total
        .with_label_values(&[reason])
        .inc();
    let mut conn = PacketConn::new(ClientStream::Plain(stream));
    let packet = shardgate_wire::packets::err_before_handshake(code, message);
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        conn.write_packet(&packet).await.ok()?;
        conn.shutdown().await;
        Some(())
    })
    .await;
}

/// What a client connection is doing (the `state` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Connected, not logged in yet.
    Handshaking,
    /// Logged in, waiting for a command, holding no backend connection.
    Idle,
    /// Running a command.
    Running,
    /// Waiting for a command while it keeps backend connections (a transaction, temporary
    /// tables, locks: `pins.rs`).
    Pinned,
}

impl State {
    const ALL: [State; 4] = [
        State::Handshaking,
        State::Idle,
        State::Running,
        State::Pinned,
    ];

    fn label(self) -> &'static str {
        match self {
            State::Handshaking => "handshaking",
            State::Idle => "idle",
            State::Running => "running",
            State::Pinned => "pinned",
        }
    }

    fn gauge(self) -> &'static IntGauge {
        static GAUGES: OnceLock<Vec<IntGauge>> = OnceLock::new();
        let gauges = GAUGES.get_or_init(|| {
            let by_state = &shardgate_metrics::metrics().client_connections_by_state;
            State::ALL
                .iter()
                .map(|s| by_state.with_label_values(&[s.label()]))
                .collect()
        });
        &gauges[self as usize]
    }
}

/// Counts one connection in the gauge of its state, from the handshake to its end. A change
/// of state is two atomic additions on gauges resolved once: nothing is locked or allocated.
#[derive(Debug)]
pub(crate) struct Activity(State);

impl Activity {
    /// A connection that starts its handshake.
    pub fn handshaking() -> Self {
        State::Handshaking.gauge().inc();
        Activity(State::Handshaking)
    }

    pub fn set(&mut self, state: State) {
        if state != self.0 {
            self.0.gauge().dec();
            state.gauge().inc();
            self.0 = state;
        }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        self.0.gauge().dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_counts_in_one_state_at_a_time() {
        let now = |s: State| s.gauge().get();
        let before: Vec<i64> = State::ALL.iter().map(|s| now(*s)).collect();
        let mut activity = Activity::handshaking();
        assert_eq!(now(State::Handshaking), before[0] + 1);
        activity.set(State::Idle);
        activity.set(State::Running);
        activity.set(State::Running);
        assert_eq!(now(State::Handshaking), before[0]);
        assert_eq!(now(State::Running), before[2] + 1);
        activity.set(State::Pinned);
        assert_eq!(now(State::Running), before[2]);
        assert_eq!(now(State::Pinned), before[3] + 1);
        drop(activity);
        let after: Vec<i64> = State::ALL.iter().map(|s| now(*s)).collect();
        assert_eq!(after, before);
    }
}
