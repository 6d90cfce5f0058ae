//! The client listener: bound with a listen backlog sized for a connection storm.
//!
//! tokio's `TcpListener::bind` asks for a backlog of 1,024. When thousands of clients connect
//! at once the accept queue overflows; the kernel then drops the clients' final ACKs (or, with
//! SYN cookies, forgets the connection), so a client that waits for the greeting before it
//! sends anything believes it is connected while the proxy never sees it: no greeting, no
//! handshake timeout, until its own timeout. A backlog of `max_client_connections` (the kernel
//! caps it at `net.core.somaxconn`) lets the proxy accept them all.

use std::io;

use tokio::net::{TcpListener, TcpSocket};

/// Listens on `address` (`host:port`, resolved; the first address is used) with a backlog
/// of `backlog` connections not accepted yet.
pub async fn bind(address: &str, backlog: usize) -> io::Result<TcpListener> {
    let addr = tokio::net::lookup_host(address)
        .await?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
    let socket = match addr {
        std::net::SocketAddr::V4(_) => TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As std's and tokio's `bind` do: a restarted proxy may listen again at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(u32::try_from(backlog).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listens_on_a_resolved_address() {
        let listener = bind("localhost:0", 20_000).await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        let client = tokio::net::TcpStream::connect(addr);
        let (accepted, connected) = tokio::join!(listener.accept(), client);
        assert!(accepted.is_ok() && connected.is_ok());
    }
}
