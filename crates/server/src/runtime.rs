//! A topology together with the backend pools and health monitor that serve it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use shardgate_backend::replica_choice::{choose, Balance, Choice, ReadRequest};
use shardgate_backend::{GtidPosition, MonitorTarget, Pool};
use shardgate_config::{Consistency, Topology};
use shardgate_ring::ShardId;

use crate::endpoints::{services_fit, EndpointService};
use crate::instruments::Instruments;

/// One shard's endpoints: pools and health.
#[derive(Debug)]
struct ShardEndpoints {
    primary: Arc<EndpointService>,
    replicas: Vec<Arc<EndpointService>>,
    /// Spreads reads over the replicas.
    next_read: AtomicU64,
}

/// One immutable topology and its pools; a query holds one `Arc<Runtime>` from start to end.
#[derive(Debug)]
pub struct Runtime {
    pub topology: Arc<Topology>,
    /// 1 for the topology the proxy started with, one more for each reload.
    pub version: u64,
    shards: Vec<ShardEndpoints>,
    /// Metric handles for this topology's shards and endpoints.
    pub(crate) instruments: Instruments,
    /// Collation ids of table columns, looked up once: (schema, table, column) → id.
    collations: std::sync::Mutex<std::collections::HashMap<(String, String, String), Option<u16>>>,
    /// How the servers read text by default (their global `sql_mode`, their version), asked
    /// of the default shard's primary once.
    default_syntax: tokio::sync::OnceCell<shardgate_router::Syntax>,
    /// The MariaDB extended capabilities the default shard's primary offers, asked once.
    mariadb_capabilities: tokio::sync::OnceCell<shardgate_protocol::MariadbCapabilities>,
    /// The TLS acceptor for clients that ask for TLS (`[server] tls_cert_file`/`tls_key_file`).
    pub(crate) tls: Option<shardgate_protocol::tls::ServerTls>,
    /// The bytes of `[backend] tls_ca_file` the pools were opened with: a reload that finds
    /// other bytes at the same path (a renewed CA) opens new pools.
    backend_ca: Option<Vec<u8>>,
    /// `[backend] tls` made ready, for pools opened after the start (`pass_through.rs`).
    pub(crate) backend_tls: shardgate_backend::TlsSetup,
    /// Pools of the accounts clients logged in as by pass-through authentication.
    pub(crate) pass_through: crate::pass_through::PassThroughPools,
}

/// The bytes of `[backend] tls_ca_file`, if it names one that can be read.
fn backend_ca_bytes(topology: &Topology) -> Option<Vec<u8>> {
    std::fs::read(topology.backend.tls.ca_file()?).ok()
}

impl Runtime {
    /// Opens a pool and starts a health check for every endpoint of `topology` (version 1).
    pub fn new(topology: Arc<Topology>) -> Self {
        Self::build(topology, 1, |_| None)
    }

    /// The runtime of `topology` replacing `old`: endpoints `old` already serves (same shard,
    /// role and address, same pool and check settings) keep their pool and health state;
    /// others get new ones. Services only `old` uses stop when the last query holding `old`
    /// ends.
    pub fn reload(old: &Runtime, topology: Arc<Topology>) -> Self {
        let fit =
            services_fit(&old.topology, &topology) && old.backend_ca == backend_ca_bytes(&topology);
        let reuse = |target: &MonitorTarget| {
            if !fit {
                return None;
            }
            old.services().find(|s| s.target() == target).cloned()
        };
        let mut runtime = Self::build(topology, old.version + 1, reuse);
        if runtime.tls.is_none() && runtime.topology.server.tls.is_some() && old.tls.is_some() {
            // A certificate caught half-written, say: TLS keeps working with the one before.
            tracing::warn!("keeping the previous TLS certificate");
            runtime.tls = old.tls.clone();
        }
        runtime
    }

    fn build(
        topology: Arc<Topology>,
        version: u64,
        reuse: impl Fn(&MonitorTarget) -> Option<Arc<EndpointService>>,
    ) -> Self {
        // Its views are read from the default shard before a statement may name one.
        topology.schema.views.forget();
        let mut targets = MonitorTarget::of_shards(&topology.shards).into_iter();
        let backend_ca = backend_ca_bytes(&topology);
        let backend_tls = shardgate_backend::tls_setup(&topology.backend.tls).inspect_err(|e| {
            tracing::error!(error = %e, "[backend] tls not set up: connections to the servers fail")
        });
        let mut service = || {
            let target = targets.next().expect("one target per endpoint");
            reuse(&target)
                .unwrap_or_else(|| EndpointService::start(target, &topology, &backend_tls))
        };
        // `of_shards` lists each shard's primary, then its replicas, in config order.
        let shards = topology
            .shards
            .iter()
            .map(|shard| ShardEndpoints {
                primary: service(),
                replicas: shard.replicas.iter().map(|_| service()).collect(),
                next_read: AtomicU64::new(0),
            })
            .collect();
        let tls = topology.server.tls.as_ref().and_then(|files| {
            shardgate_protocol::tls::acceptor(&files.cert, &files.key)
                .inspect_err(|e| tracing::error!(error = %e, "TLS certificate not loaded"))
                .ok()
        });
        Runtime {
            instruments: Instruments::new(&topology),
            tls,
            backend_ca,
            backend_tls,
            pass_through: Default::default(),
            topology,
            version,
            shards,
            collations: Default::default(),
            default_syntax: tokio::sync::OnceCell::new(),
            mariadb_capabilities: tokio::sync::OnceCell::new(),
        }
    }

    /// How a new session's text is read: the default shard's global `sql_mode` and version
    /// (asked once); MariaDB's defaults while that server cannot answer.
    pub(crate) async fn default_syntax(
        &self,
        flavor: shardgate_backend::Flavor,
    ) -> shardgate_router::Syntax {
        let ask = async {
            let shard = self.topology.default_shard;
            let mut conn = self.primary(shard).get(flavor).await?;
            let text = crate::state::query_text(
                &mut conn,
                b"SELECT CONCAT(@@GLOBAL.sql_mode, '|', VERSION()) LIMIT 1",
            )
            .await?;
            let (mode, version) = text.rsplit_once('|').unwrap_or((&text, ""));
            Ok::<_, shardgate_backend::BackendError>(shardgate_router::Syntax {
                sql_mode: shardgate_router::SqlMode::parse(mode),
                server_version: shardgate_router::Syntax::version_id(version)
                    .unwrap_or(shardgate_router::Syntax::DEFAULT.server_version),
            })
        };
        match self.default_syntax.get_or_try_init(|| ask).await {
            Ok(syntax) => *syntax,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the servers' sql_mode; assuming MariaDB's default");
                shardgate_router::Syntax::DEFAULT
            }
        }
    }

    /// The MariaDB extended capabilities the backends offer (the default shard's primary
    /// speaks for all; asked once), which the proxy may offer clients in turn. None while that
    /// server cannot be reached.
    pub(crate) async fn mariadb_capabilities(&self) -> shardgate_protocol::MariadbCapabilities {
        let ask = async {
            let pool = self.primary(self.topology.default_shard);
            let mut conn = pool.get(shardgate_backend::Flavor::common()).await?;
            // Not kept: clients get connections opened when they need them, with the servers'
            // settings of that moment (a raised max_allowed_packet, say), as without the probe.
            conn.broken = true;
            Ok::<_, shardgate_backend::BackendError>(conn.hello.server_mariadb_capabilities)
        };
        match self.mariadb_capabilities.get_or_try_init(|| ask).await {
            Ok(capabilities) => *capabilities,
            Err(e) => {
                tracing::debug!(error = %e, "could not ask the servers' MariaDB capabilities");
                shardgate_protocol::MariadbCapabilities::empty()
            }
        }
    }

    /// The configured account `user` logs in to, as the handshake checks it: TLS required by
    /// the account or by `[server] require_tls`.
    pub(crate) fn account(
        &self,
        user: &str,
    ) -> Option<shardgate_protocol::server_handshake::Account> {
        let account = self.topology.users.iter().find(|u| u.name == user)?;
        Some(shardgate_protocol::server_handshake::Account {
            passwords: vec![account.password.clone()],
            require_tls: account.require_tls || self.topology.server.require_tls,
            pass_through: false,
        })
    }

    /// Every endpoint's pool and health check: each shard's primary, then its replicas.
    pub(crate) fn services(&self) -> impl Iterator<Item = &Arc<EndpointService>> {
        self.shards
            .iter()
            .flat_map(|s| std::iter::once(&s.primary).chain(&s.replicas))
    }

    /// Waits until every endpoint has been checked once (at most `limit`), so the first reads
    /// know which replicas may serve them.
    pub async fn first_checks(&self, limit: std::time::Duration) {
        let checks = futures_util::future::join_all(self.services().map(|s| s.first_check()));
        let _ = tokio::time::timeout(limit, checks).await;
    }

    /// The collation id of a table column (from information_schema on `shard`), cached.
    pub async fn column_collation(
        &self,
        shard: ShardId,
        flavor: shardgate_backend::Flavor,
        column: (String, String, String),
    ) -> Result<Option<u16>, shardgate_backend::BackendError> {
        if let Some(id) = self
            .collations
            .lock()
            .expect("collations lock")
            .get(&column)
        {
            return Ok(*id);
        }
        let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "''");
        let sql = format!(
            "SELECT co.ID FROM information_schema.COLUMNS c JOIN information_schema.COLLATIONS co \
             ON co.COLLATION_NAME = c.COLLATION_NAME WHERE c.TABLE_SCHEMA = '{}' AND c.TABLE_NAME = '{}' AND c.COLUMN_NAME = '{}' LIMIT 1",
            quote(&column.0),
            quote(&column.1),
            quote(&column.2)
        );
        let mut conn = self.primary(shard).get(flavor).await?;
        // A clean session: another client's sql_mode or collation_connection left on the
        // pooled connection must not change how the lookup reads.
        let clean = crate::state::SessionState::new(
            self.topology.backend.database.clone(),
            shardgate_protocol::UTF8MB4_GENERAL_CI,
        );
        clean.sync(&mut conn).await?;
        let mut id = None;
        match conn.query_rows(sql.as_bytes()).await? {
            shardgate_backend::QueryHead::Columns(_) => {
                while let Ok(row) = conn.next_row().await? {
                    id = shardgate_wire::text_row::text_cell(&row, 0)
                        .ok()
                        .flatten()
                        .and_then(|text| std::str::from_utf8(text).ok()?.parse().ok());
                }
            }
            // Not cached: an error says nothing about the column.
            shardgate_backend::QueryHead::Done(_) => {
                return Err(shardgate_backend::BackendError::Protocol {
                    endpoint: conn.endpoint().to_owned(),
                    source: shardgate_protocol::ProtocolError::malformed(
                        "the column's collation could not be read from information_schema",
                    ),
                })
            }
        }
        self.collations
            .lock()
            .expect("collations lock")
            .insert(column, id);
        Ok(id)
    }

    /// Forgets the column collations looked up so far (after DDL through the proxy).
    pub(crate) fn forget_collations(&self) {
        self.collations.lock().expect("collations lock").clear();
    }

    pub fn primary(&self, shard: ShardId) -> &Arc<Pool> {
        &self.shards[shard].primary.pool
    }

    pub fn replica(&self, shard: ShardId, index: usize) -> &Arc<Pool> {
        &self.shards[shard].replicas[index].pool
    }

    /// Whether replica `index` of `shard` takes reads now.
    pub(crate) fn replica_in_rotation(&self, shard: ShardId, index: usize) -> bool {
        self.shards[shard].replicas[index]
            .health
            .snapshot()
            .in_rotation
    }

    pub fn has_replicas(&self, shard: ShardId) -> bool {
        !self.shards[shard].replicas.is_empty()
    }

    /// Where a read of `shard` at `consistency` goes, leaving out replicas in `excluded`
    /// (ones that just failed). While the primary is down, replicas whose SQL thread still
    /// applies what they have serve eventual reads (their IO thread cannot connect, so the
    /// lag is unknown): stale but available beats failing.
    pub fn choose_read(
        &self,
        shard: ShardId,
        consistency: Consistency,
        last_write: Option<&GtidPosition>,
        excluded: &[usize],
    ) -> Choice {
        let endpoints = &self.shards[shard];
        let primary = endpoints.primary.health.snapshot();
        let primary_down = primary.checks > 0 && !primary.up;
        // The shared snapshots as they are; a copy only where this read must see otherwise.
        let snapshots: Vec<Arc<_>> = endpoints
            .replicas
            .iter()
            .enumerate()
            .map(|(i, replica)| {
                let snapshot = replica.health.snapshot();
                let in_rotation = if excluded.contains(&i) {
                    false
                } else if primary_down && consistency == Consistency::Eventual {
                    snapshot.up && snapshot.sql_running == Some(true)
                } else {
                    return snapshot;
                };
                if snapshot.in_rotation == in_rotation {
                    return snapshot;
                }
                let mut changed = (*snapshot).clone();
                changed.in_rotation = in_rotation;
                Arc::new(changed)
            })
            .collect();
        let tick = endpoints.next_read.fetch_add(1, Ordering::Relaxed);
        choose(
            &snapshots,
            &ReadRequest {
                shard: &self.topology.shards[shard].name,
                consistency,
                last_write,
                fallback: self.topology.replication.fallback,
                balance: Balance::RoundRobin(tick),
            },
        )
    }
}
