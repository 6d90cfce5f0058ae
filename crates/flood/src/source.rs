//! Where flood connections come from: many loopback addresses, so that twelve thousand
//! connections (and as many in TIME_WAIT from the run before) do not run out of the
//! 28,000-odd ephemeral ports one address has toward the proxy.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::{TcpSocket, TcpStream};

/// Loopback source addresses used in turn (127.0.1.1 ..= 127.0.1.SOURCES).
const SOURCES: u32 = 32;

/// Connects to `proxy` from the `n`th source address.
pub async fn connect(proxy: SocketAddr, n: usize) -> std::io::Result<TcpStream> {
    let host = 1 + (n as u32 % SOURCES);
    let source = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 1, 0)) + host);
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    socket.connect(proxy).await
}
