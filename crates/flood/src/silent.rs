//! TCP connections that never log in: not even a byte after connecting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

/// Connects in flight at once.
const CONNECTS_IN_FLIGHT: usize = 256;

/// How long each silent connection stayed open, by the proxy's choice.
#[derive(Debug, Default)]
pub struct SilentConnections {
    /// Time from connect to the proxy closing it, for each one it closed.
    pub closed_after: Vec<Duration>,
    /// Still open after the limit.
    pub still_open: usize,
    /// Connects that failed, as text (the first few), and how many.
    pub failures: Vec<String>,
    pub failed: usize,
}

/// Opens `count` connections that say nothing, and waits up to `limit` for each to be closed.
pub async fn open(
    proxy: SocketAddr,
    count: usize,
    first_source: usize,
    limit: Duration,
) -> SilentConnections {
    let gate = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let turn = gate.acquire_owned().await.expect("never closed");
                let mut stream = crate::source::connect(proxy, first_source + n)
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                let connected = Instant::now();
                drop(turn);
                Ok::<_, String>(
                    closed_within(&mut stream, limit)
                        .await
                        .then(|| connected.elapsed()),
                )
            })
        })
        .collect();
    let mut silent = SilentConnections::default();
    for task in tasks {
        match task.await.expect("a silent connection's task") {
            Ok(Some(after)) => silent.closed_after.push(after),
            Ok(None) => silent.still_open += 1,
            Err(e) => {
                silent.failed += 1;
                if silent.failures.len() < 10 {
                    silent.failures.push(e);
                }
            }
        }
    }
    silent
}

/// Reads (and drops) what arrives until the peer closes: whether it did within `limit`.
async fn closed_within(stream: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}
