//! Clients that log in and then say nothing, holding their connections.

use std::net::SocketAddr;
use std::sync::Arc;

use shardgate_protocol::client_handshake::{login, BackendLogin};
use shardgate_protocol::{CapabilityFlags, PacketConn};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::Credentials;

/// Logins in flight at once: enough to make a storm, few enough for the listen backlog.
const LOGINS_IN_FLIGHT: usize = 256;

/// How long a login may take before it counts as failed (a guard against hanging, not a
/// measure).
const LOGIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// What the idle clients' logins gave.
#[derive(Debug, Default)]
pub struct IdleClients {
    /// The logged-in connections, open until dropped.
    pub connections: Vec<PacketConn<TcpStream>>,
    /// Logins that failed, as text (the first few), and how many.
    pub failures: Vec<String>,
    pub failed: usize,
}

/// Logs `count` clients in and keeps them open.
pub async fn log_in(proxy: SocketAddr, credentials: &Credentials, count: usize) -> IdleClients {
    let gate = Arc::new(Semaphore::new(LOGINS_IN_FLIGHT));
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let gate = gate.clone();
            let credentials = credentials.clone();
            tokio::spawn(async move {
                let _turn = gate.acquire_owned().await.expect("never closed");
                logged_in(proxy, n, &credentials).await
            })
        })
        .collect();
    let mut clients = IdleClients::default();
    for task in tasks {
        match task.await.expect("a login task") {
            Ok(conn) => clients.connections.push(conn),
            Err(e) => {
                clients.failed += 1;
                if clients.failures.len() < 10 {
                    clients.failures.push(e);
                }
            }
        }
    }
    clients
}

/// One client connected from the `n`th source address and logged in.
pub async fn logged_in(
    proxy: SocketAddr,
    n: usize,
    credentials: &Credentials,
) -> Result<PacketConn<TcpStream>, String> {
    let connect = crate::source::connect(proxy, n);
    let stream = match tokio::time::timeout(LOGIN_LIMIT, connect).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(format!("connect: {e}")),
        Err(_) => return Err(format!("connect: not accepted within {LOGIN_LIMIT:?}")),
    };
    let mut conn = PacketConn::new(stream);
    let login_as = BackendLogin {
        user: &credentials.user,
        password: &credentials.password,
        native_stage1: None,
        database: Some(&credentials.database),
        capabilities: shardgate_protocol::COMMON_CAPABILITIES
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB,
        mariadb_capabilities: shardgate_protocol::MariadbCapabilities::empty(),
    };
    match tokio::time::timeout(LOGIN_LIMIT, login(&mut conn, &login_as)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("login: {e}")),
        Err(_) => return Err(format!("login: no answer within {LOGIN_LIMIT:?}")),
    }
    Ok(conn)
}
