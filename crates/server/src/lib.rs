//! The proxy process: listener, client sessions, and the executor that runs plans on backends.

mod errors;
mod fan_out;
mod prepared;
mod reads;
mod runtime;
mod scatter;
mod session;
mod state;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use shardgate_config::Topology;
use tokio::net::TcpListener;

pub use runtime::Runtime;

/// State shared by every session: the current runtime (swapped whole on reload) and counters.
#[derive(Debug)]
pub struct Proxy {
    runtime: ArcSwap<Runtime>,
    next_connection_id: AtomicU32,
}

impl Proxy {
    /// Builds pools for `topology`; must run inside a tokio runtime.
    pub fn new(topology: Topology) -> Arc<Self> {
        Arc::new(Proxy {
            runtime: ArcSwap::from_pointee(Runtime::new(Arc::new(topology))),
            next_connection_id: AtomicU32::new(1),
        })
    }

    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    fn connection_id(&self) -> u32 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Accepts clients until `shutdown` completes; each client gets its own task.
pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    // Clients wait in the listen queue until every endpoint has been checked once.
    let runtime = proxy.runtime();
    let replication = &runtime.topology.replication;
    let limit = replication.health_check_timeout * 3 + replication.health_check_interval;
    tokio::select! {
        _ = &mut shutdown => return,
        _ = runtime.first_checks(limit) => {}
    }
    drop(runtime);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let proxy = proxy.clone();
                    tokio::spawn(async move {
                        session::run(stream, peer, proxy).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
}
