//! The proxy process: listener, client sessions, and the executor that runs plans on backends.

mod admin;
mod adopted_topology;
mod assigning_select;
mod catch_up;
mod connections;
mod consistent_snapshot;
mod copy_narrowing;
mod create_from_select;
mod cut_off;
mod cutover_gate;
mod cutover_replicas;
mod database_name;
mod derived_rows;
mod diagnostics;
mod dropped_database;
mod endpoints;
mod errors;
mod every_primary;
mod executor;
mod explain;
mod extended_metadata;
mod fan_out;
mod generated_ids;
mod handshakes;
mod held_state;
mod hotspots;
mod id_blocks;
mod ids;
mod insert_select;
mod instruments;
mod join;
mod key_owners;
mod kill;
mod limited_write;
pub mod listener;
mod login_limits;
mod lookup_maintenance;
mod lookup_table;
mod lookup_update;
mod lookups;
mod maintenance;
mod materialize;
mod materialize_instead;
mod migration_conn;
mod migration_error;
mod migration_live;
mod migration_metrics;
mod migration_record;
mod migrations;
mod moving_update;
mod multi;
mod own_database;
mod own_tables;
mod pass_through;
mod pins;
mod placement_record;
mod prepared;
mod previous_statement;
mod probe;
mod processlist;
mod proxy_heartbeat;
mod proxy_rows;
mod reads;
mod reload;
mod reshard_admin;
mod reshard_cancel;
mod reshard_catch_up;
mod reshard_cleanup;
mod reshard_copy;
mod reshard_cutover;
mod reshard_plan;
mod reshard_roll_back;
mod reshard_table;
mod reshard_verify;
mod result_source;
mod returning;
mod running_count;
mod runtime;
mod scatter;
mod scatter_nullability;
mod schema_loader;
mod select_into;
mod select_rows;
mod sequence_table;
mod sequences;
mod session;
mod sessions;
mod set_operation;
mod shard_renumbering;
mod slow_log;
mod sql_prepare;
mod state;
mod statement_clock;
mod statement_time;
mod stored_program;
mod transaction;
mod write_subqueries;

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use shardgate_config::Topology;
use tokio::net::TcpListener;

pub use catch_up::{
    CatchUp, CatchUpError, CatchUpSpec, FollowedTable, Progress as CatchUpProgress,
};
pub use lookup_maintenance::{backfill_lookups, init_lookups, verify_lookups, LookupReport};
pub use lookup_table::LookupError;
pub use migration_record::{FLOWS_TABLE, MIGRATIONS_TABLE};
pub use own_database::{move_records_into_own_database, RecordsNotMoved};
pub use placement_record::{check_at_start as check_placement_record, RECORD_TABLE};
pub use proxy_heartbeat::PROXIES_TABLE;
pub use reload::{watch_config, ReloadOutcome};
pub use reshard_admin::DEFAULT_ROWS_PER_SECOND;
pub use reshard_plan::{reshard_plan, PlannedFlow, PlannedTable, ReshardPlan};
pub use runtime::Runtime;
pub use schema_loader::plan_with_schema;
pub use sequence_table::{init_sequence, SequenceError, SequenceInit};

/// State shared by every session: the current runtime (swapped whole on reload) and counters.
#[derive(Debug)]
pub struct Proxy {
    runtime: ArcSwap<Runtime>,
    next_connection_id: AtomicU32,
    /// The client sessions, for SHOW PROCESSLIST, KILL and wait_timeout.
    sessions: Arc<sessions::Sessions>,
    /// The config file's bytes as last read for a reload; locked while a reload runs.
    last_config: tokio::sync::Mutex<Option<Vec<u8>>>,
    /// Client connections open now, handshaking ones included (`max_client_connections`).
    open_connections: AtomicUsize,
    /// Failed logins by client address (`max_connect_errors`).
    login_failures: login_limits::LoginFailures,
    /// Bounds the lines logged about refused and failed connections.
    failure_log: login_limits::LogLimit,
    /// Ids reserved from the sequences of tables with `auto_increment`.
    sequences: sequences::Sequences,
    /// The resharding migration this proxy drives.
    migrations: migrations::Migrations,
    /// Holds writes to moving keys while a migration's cutover swaps the topology.
    cutover: cutover_gate::CutoverGate,
}

impl Proxy {
    /// Builds pools for `topology`; must run inside a tokio runtime.
    pub fn new(topology: Topology) -> Arc<Self> {
        Arc::new(Proxy {
            runtime: ArcSwap::from_pointee(Runtime::new(Arc::new(topology))),
            next_connection_id: AtomicU32::new(1),
            sessions: sessions::Sessions::start(),
            last_config: tokio::sync::Mutex::new(None),
            open_connections: AtomicUsize::new(0),
            login_failures: Default::default(),
            failure_log: Default::default(),
            sequences: Default::default(),
            migrations: Default::default(),
            cutover: Default::default(),
        })
    }

    /// At start-up: resumes the resharding migration this proxy drove, if one was under way
    /// (its copy goes on from the cursors it saved).
    pub async fn resume_migration(self: &Arc<Self>) {
        self.migrations.resume_at_start(self).await;
    }

    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    fn connection_id(&self) -> u32 {
        self.next_connection_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// Loads the TLS certificate and key `topology` names, if any, and the CA file of
/// `[backend] tls` (what `check-config` verifies beyond the files being there); a problem
/// comes with the key that names the file.
pub fn check_tls(topology: &Topology) -> Result<(), (&'static str, String)> {
    if let Some(files) = &topology.server.tls {
        shardgate_protocol::tls::acceptor(&files.cert, &files.key)
            .map_err(|e| ("server.tls_cert_file", e))?;
    }
    shardgate_backend::tls_setup(&topology.backend.tls)
        .map(drop)
        .map_err(|e| ("backend.tls_ca_file", e))
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
        _ = async {
            runtime.first_checks(limit).await;
            // What the greeting offers, learnt before the first client waits for it.
            let _ = tokio::time::timeout(limit, runtime.mariadb_capabilities()).await;
        } => {}
    }
    drop(runtime);
    let schema_refresher = schema_loader::spawn(&proxy);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(connections::admit(stream, peer, proxy.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    schema_refresher.abort();
}

/// The bytes one client connection's task holds however little it does: its state machine,
/// as large as the largest state of any command path awaited inline. Rarely used, large paths
/// are boxed (allocated only while they run) to keep it small; a test keeps it so.
#[doc(hidden)]
pub fn connection_task_bytes(stream: tokio::net::TcpStream, proxy: Arc<Proxy>) -> usize {
    let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    std::mem::size_of_val(&connections::admit(stream, peer, proxy))
}

/// Serves `GET /metrics`, `/healthz` and `/readyz` for `proxy` on `listener` until `shutdown`
/// completes (see `[server] metrics_listen`).
pub async fn serve_metrics(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()>,
) {
    shardgate_metrics::serve(listener, proxy, shutdown).await;
}
