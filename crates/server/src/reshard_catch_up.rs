//! The catch-up phase of a migration: one [`CatchUp`] per source shard, following the tables
//! of that source's flows from the earliest snapshot position its copies recorded (or, after
//! a restart, from the position last saved), applying each moving key's changes to its new
//! owner. Where each stands is saved in the flow records every [`SAVE_EVERY`], so a proxy
//! restart resumes from there (re-applying a little is harmless: every write is idempotent).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::Conn;
use shardgate_backend::Pool;
use shardgate_binlog::{new_owner_by, GtidPos};
use shardgate_config::Topology;
use tokio::sync::watch;

use crate::catch_up::{CatchUp, CatchUpHandle, CatchUpSpec, FollowedTable, Progress};
use crate::migration_error::MigrationError;
use crate::migration_live::{Control, Live};
use crate::migration_record::{FlowRecord, Records};
use crate::reshard_table::Side;
use crate::reshard_verify::AtOnePosition;

/// How often the applied positions are saved and the live figures refreshed.
pub(crate) const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The binlog dumps announce themselves with server ids from here (one per migration and
/// source), far above the ids servers are usually given.
const SERVER_ID_BASE: u32 = 4_200_000_000;

/// The catch-ups of one migration, by source shard.
pub(crate) struct CatchUps {
    running: BTreeMap<String, CatchUp>,
    /// From the new owners back to the sources (after the cutover).
    reverse: bool,
}

/// A migration's running catch-ups, for a verify to hold at one position.
#[derive(Clone, Default)]
pub(crate) struct Streams {
    by_source: BTreeMap<String, CatchUpHandle>,
    /// From the new owners back to the sources (after the cutover).
    reverse: bool,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (f.debug_struct("Streams"))
            .field("sources", &self.by_source.keys().collect::<Vec<_>>())
            .field("reverse", &self.reverse)
            .finish()
    }
}

impl Streams {
    /// How `flow` is compared at one position: the side written and the catch-up following
    /// it, while that runs.
    pub fn at_one_position(&self, flow: &FlowRecord) -> Option<AtOnePosition> {
        let (written, name) = match self.reverse {
            false => (Side::Source, &flow.from),
            true => (Side::NewOwner, &flow.to),
        };
        let catch_up = self.by_source.get(name).filter(|c| c.is_running())?;
        Some(AtOnePosition {
            written,
            catch_up: catch_up.clone(),
        })
    }
}

/// Where the catch-up of `source` starts: the position saved last, or else the earliest of
/// its flows' snapshot positions.
fn start_of(source: &str, flows: &[&FlowRecord]) -> Result<GtidPos, MigrationError> {
    let parse = |text: &str| {
        text.parse::<GtidPos>().map_err(|e| {
            MigrationError::Record(mysql_async::Error::Other(
                format!("flow of {source}: GTID position {text:?}: {e}").into(),
            ))
        })
    };
    if let Some(applied) = flows.iter().find_map(|f| f.applied_gtid.as_deref()) {
        return parse(applied);
    }
    let mut start: Option<GtidPos> = None;
    for flow in flows {
        let snapshot = (flow.snapshot_gtid.as_deref())
            .ok_or_else(|| MigrationError::NoSnapshotPosition(source.to_owned()))?;
        let snapshot = parse(snapshot)?;
        start = Some(match start {
            Some(earlier) => earlier.earliest(&snapshot),
            None => snapshot,
        });
    }
    start.ok_or_else(|| MigrationError::NoSnapshotPosition(source.to_owned()))
}

/// A pool to the primary of `target`'s shard `shard`, for the catch-up's writes.
fn primary_pool(target: &Topology, shard: usize) -> Arc<Pool> {
    let backend = &target.backend;
    let name = &target.shards[shard].name;
    let endpoint = target.shards[shard].primary.clone();
    Pool::new(
        endpoint.clone(),
        format!("catch-up target {name} primary {endpoint}"),
        backend.pool.clone(),
        &backend.user,
        &backend.password,
        &backend.database,
        shardgate_backend::tls_setup(&backend.tls),
    )
}

/// What one catch-up follows: the tables of `source` (a shard of `sources_topology`, read on
/// `source_pool`) and, per table, the shards its changed keys may go to — each key to the
/// owner `owners` gives it.
struct Followed<'a> {
    source: &'a str,
    source_pool: Arc<Pool>,
    owners: &'a Topology,
    /// Table → the destinations its keys may have.
    destinations: BTreeMap<String, BTreeSet<String>>,
    start: GtidPos,
    server_id: u32,
}

fn spec(followed: Followed<'_>, database: &str) -> Result<CatchUpSpec, MigrationError> {
    let Followed {
        source,
        source_pool,
        owners,
        destinations,
        start,
        server_id,
    } = followed;
    let names: Vec<String> = owners.shards.iter().map(|s| s.name.clone()).collect();
    let mut tables = Vec::new();
    let mut targets = BTreeMap::new();
    for (table, tos) in destinations {
        let rule = owners.table(&table).ok_or_else(|| {
            MigrationError::NotAResharding(format!("`{table}` is not sharded in both topologies"))
        })?;
        for to in &tos {
            let shard =
                (owners.shard_index(to)).ok_or_else(|| MigrationError::NoShard(to.clone()))?;
            targets
                .entry(to.clone())
                .or_insert_with(|| primary_pool(owners, shard));
        }
        let owner = new_owner_by(
            rule.sharder.clone(),
            names.clone(),
            source.to_owned(),
            rule.key_kind(),
        );
        tables.push(FollowedTable {
            name: table,
            shard_key: rule.shard_key.clone(),
            new_owner: Arc::new(move |key| owner(key).filter(|to| tos.contains(to))),
        });
    }
    Ok(CatchUpSpec {
        source: source.to_owned(),
        source_primary: source_pool,
        database: database.to_owned(),
        start,
        tables,
        targets,
        server_id,
    })
}

/// The dump's server id of migration `id`'s catch-up number `n`.
fn server_id(id: u64, n: usize) -> u32 {
    SERVER_ID_BASE
        .wrapping_add((id % 1_000_000) as u32 * 64)
        .wrapping_add(n as u32 % 64)
}

/// The flows' destinations by table.
fn destinations<'f>(
    flows: impl Iterator<Item = &'f FlowRecord>,
    to: impl Fn(&FlowRecord) -> &str,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_table: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for flow in flows {
        by_table
            .entry(flow.table.clone())
            .or_default()
            .insert(to(flow).to_owned());
    }
    by_table
}

impl CatchUps {
    /// Starts one catch-up per source of `flows` (new owners to follow their keys);
    /// `sources` are the serving primaries' pools.
    pub fn start(
        serving: &Topology,
        sources: &[Arc<Pool>],
        target: &Topology,
        id: u64,
        flows: &[FlowRecord],
    ) -> Result<CatchUps, MigrationError> {
        let mut by_source: BTreeMap<&str, Vec<&FlowRecord>> = BTreeMap::new();
        for flow in flows {
            by_source.entry(&flow.from).or_default().push(flow);
        }
        let mut specs = Vec::new();
        for (source, flows) in by_source {
            // A flow without a snapshot found no table on its source: nothing to follow.
            // A source none of whose flows has one has no binary log: refused in `start_of`.
            let followed: Vec<&FlowRecord> = (flows.iter().copied())
                .filter(|f| f.snapshot_gtid.is_some())
                .collect();
            let flows = if followed.is_empty() { flows } else { followed };
            let index = (serving.shard_index(source))
                .ok_or_else(|| MigrationError::NoShard(source.to_owned()))?;
            let followed = Followed {
                source,
                source_pool: sources[index].clone(),
                owners: target,
                destinations: destinations(flows.iter().copied(), |f| &f.to),
                start: start_of(source, &flows)?,
                server_id: server_id(id, index),
            };
            specs.push(spec(followed, &serving.backend.database)?);
        }
        let mut running = BTreeMap::new();
        for spec in specs {
            tracing::info!(migration = id, source = %spec.source, start = %spec.start, tables = spec.tables.len(), "catch-up starts");
            running.insert(spec.source.clone(), CatchUp::start(spec));
        }
        Ok(CatchUps {
            running,
            reverse: false,
        })
    }

    /// After the cutover: one catch-up per new owner, from `starts` (its position at the
    /// swap), bringing the changes of the moved keys back to their old owners, so a cancel
    /// before clean-up loses nothing and verify compares like with like. `new_owners` are
    /// the serving (target) primaries' pools.
    pub fn start_reverse(
        serving: &Topology,
        new_owners: &[Arc<Pool>],
        source: &Topology,
        id: u64,
        flows: &[FlowRecord],
        starts: &BTreeMap<String, GtidPos>,
    ) -> Result<CatchUps, MigrationError> {
        let mut running = BTreeMap::new();
        for (to, start) in starts {
            let index =
                (serving.shard_index(to)).ok_or_else(|| MigrationError::NoShard(to.clone()))?;
            let followed = Followed {
                source: to,
                source_pool: new_owners[index].clone(),
                owners: source,
                destinations: destinations(flows.iter().filter(|f| &f.to == to), |f| &f.from),
                start: start.clone(),
                server_id: server_id(id, 32 + index),
            };
            let spec = spec(followed, &serving.backend.database)?;
            tracing::info!(migration = id, new_owner = %to, start = %spec.start, "reverse catch-up starts: the moved keys' changes go back to their old owners until clean-up");
            running.insert(to.clone(), CatchUp::start(spec));
        }
        Ok(CatchUps {
            running,
            reverse: true,
        })
    }

    /// The catch-ups as a verify holds them: by source (or by new owner after the cutover),
    /// and whether they run backwards.
    pub fn handles(&self) -> Streams {
        Streams {
            by_source: (self.running.iter())
                .map(|(source, c)| (source.clone(), c.handle()))
                .collect(),
            reverse: self.reverse,
        }
    }

    /// Each source's progress.
    pub fn progress(&self) -> BTreeMap<String, Progress> {
        (self.running.iter())
            .map(|(source, c)| (source.clone(), c.progress()))
            .collect()
    }

    /// The first catch-up that stopped on an error, with it.
    pub fn failed(&self) -> Option<crate::catch_up::CatchUpError> {
        (self.running.values())
            .find_map(|c| c.progress().failed)
            .map(crate::catch_up::CatchUpError::NotRunning)
    }

    /// Reads every source's position and waits until its catch-up has applied it.
    pub async fn reach_sources_now(&mut self) -> Result<(), crate::catch_up::CatchUpError> {
        for catch_up in self.running.values_mut() {
            catch_up.reach_source_now().await?;
        }
        Ok(())
    }

    /// Saves each source's applied position in its flows.
    pub async fn save(
        &self,
        records: &Records,
        conn: &mut Conn,
        id: u64,
    ) -> Result<(), MigrationError> {
        for (source, catch_up) in &self.running {
            let applied = catch_up.progress().applied.to_string();
            (records.save_applied(conn, id, source, &applied, self.reverse)).await?;
        }
        Ok(())
    }

    /// Stops every catch-up (between two source transactions); their last positions.
    pub async fn stop(self) -> BTreeMap<String, Progress> {
        let mut stopped = BTreeMap::new();
        for (source, catch_up) in self.running {
            let last = catch_up.progress();
            let progress = catch_up.stop().await.unwrap_or(last);
            stopped.insert(source, progress);
        }
        stopped
    }
}

/// Runs the catch-ups, saving their positions and showing them in `live` every
/// [`SAVE_EVERY`], until `done` says a tick's progress is enough, given whether the migration
/// is paused (the catch-ups still running, returned), one of them fails, or a cancel comes (they are stopped).
pub(crate) async fn follow_until(
    catch_ups: CatchUps,
    records: &Records,
    conn: &mut Conn,
    id: u64,
    control: &mut watch::Receiver<Control>,
    live: &Live,
    done: impl Fn(&BTreeMap<String, Progress>, bool) -> bool,
) -> Result<CatchUps, MigrationError> {
    live.set_streams(catch_ups.handles());
    loop {
        let progress = catch_ups.progress();
        live.set_catch_ups(progress.clone());
        let saved = catch_ups.save(records, conn, id).await;
        let paused = (records.migration(conn, id).await).map(|r| r.paused);
        if let Some(e) = catch_ups.failed() {
            catch_ups.stop().await;
            return Err(e.into());
        }
        saved?;
        let paused = paused?;
        if *control.borrow_and_update() == Control::Cancel {
            catch_ups.stop().await;
            return Err(MigrationError::Cancelled);
        }
        if done(&progress, paused) {
            return Ok(catch_ups);
        }
        tokio::select! {
            _ = tokio::time::sleep(SAVE_EVERY) => {}
            _ = control.changed() => {}
        }
    }
}
