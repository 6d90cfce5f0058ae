//! A cancel after the cutover, before clean-up (issue #15's rollback): the new owners serve the
//! moved keys and the sources still hold them, kept current by the reverse catch-up. The
//! rollback starts that catch-up again from its saved positions, lets it come close behind,
//! switches back the way the cutover switched forward (`reshard_cutover.rs`,
//! [`Direction::Back`]: writes to the moved keys held, the reverse catch-up at the new owners'
//! position, the source topology swapped in), then deletes the moved rows' copies from the
//! new owners and records the migration `cancelled`. Every write made after the cutover is on
//! the sources again.
//!
//! Durable steps: until the switch the phase stays `verifying` (a restart serves the target
//! and verifies again; the cancel has to be asked again); from the switch it is
//! `rolling_back` (a restart serves the source topology and finishes the deletes).

use std::collections::BTreeMap;
use std::sync::Arc;

use mysql_async::Conn;
use shardgate_config::Topology;
use shardgate_migration::Phase;
use tokio::sync::watch;

use crate::catch_up::Progress as CatchUpProgress;
use crate::migration_error::MigrationError;
use crate::migration_live::{Control, Live};
use crate::migration_record::{FlowRecord, Records};
use crate::reshard_catch_up::CatchUps;
use crate::reshard_cutover::{Cutover, Direction};
use crate::Proxy;

/// Switch-back attempts before the cancel gives up (each bounded by
/// `[resharding] cutover_hold_ms`, [`crate::reshard_cutover::RETRY_AFTER`] apart).
const ATTEMPTS: usize = 3;

/// Rolls migration `id` back to `source` (its recorded source topology) while `target`
/// serves; the rows deleted from the new owners.
pub(crate) async fn roll_back(
    proxy: &Arc<Proxy>,
    records: &Records,
    conn: &mut Conn,
    id: u64,
    source: &Topology,
    target: &Topology,
) -> Result<u64, MigrationError> {
    let flows = records.flows(conn, id).await?;
    let runtime = proxy.runtime();
    let new_owners: Vec<_> = (0..runtime.topology.shards.len())
        .map(|i| runtime.primary(i).clone())
        .collect();
    let starts = crate::migrations::reverse_starts(&flows)?;
    let mut reverse =
        CatchUps::start_reverse(&runtime.topology, &new_owners, source, id, &flows, &starts)?;
    let lag_events = runtime.topology.resharding.cutover_lag_events;
    drop(runtime);
    tracing::info!(
        migration = id,
        "rollback: the reverse catch-up brings the new owners' writes back to the sources"
    );
    // Not steerable: the cancel that asked for it waits for its end.
    let (_control, mut control) = watch::channel(Control::Run);
    let live = Live::default();
    let close_behind = |progress: &BTreeMap<String, CatchUpProgress>, _paused: bool| {
        (progress.values())
            .all(|p| p.streaming && p.source_read_at > 0 && p.lag_events <= lag_events)
    };
    for attempt in 1..=ATTEMPTS {
        reverse = crate::reshard_catch_up::follow_until(
            reverse,
            records,
            conn,
            id,
            &mut control,
            &live,
            close_behind,
        )
        .await?;
        let switched = crate::reshard_cutover::cut_over(
            proxy,
            records,
            conn,
            id,
            source,
            &flows,
            &mut reverse,
            Direction::Back,
        )
        .await;
        match switched {
            Ok(Cutover::Swapped) => {
                reverse.save(records, conn, id).await?;
                reverse.stop().await;
                return remove_copies(records, conn, id, source, target, &flows).await;
            }
            Ok(Cutover::Abandoned) if attempt < ATTEMPTS => {
                tokio::time::sleep(crate::reshard_cutover::RETRY_AFTER).await;
            }
            Ok(Cutover::Abandoned) => {}
            Err(e) => {
                reverse.stop().await;
                return Err(e);
            }
        }
    }
    reverse.stop().await;
    Err(MigrationError::RollBackAbandoned {
        id,
        attempts: ATTEMPTS,
    })
}

/// With the source topology serving again: deletes the moved rows from the new owners and
/// records the migration `cancelled`; the rows deleted.
pub(crate) async fn remove_copies(
    records: &Records,
    conn: &mut Conn,
    id: u64,
    source: &Topology,
    target: &Topology,
    flows: &[FlowRecord],
) -> Result<u64, MigrationError> {
    let mut removed = 0;
    for flow in flows {
        removed += crate::reshard_cancel::remove_copied(source, target, flow).await?;
    }
    records.set_phase(conn, id, Phase::Cancelled, None).await?;
    crate::migration_metrics::phase(Phase::Cancelled);
    tracing::info!(
        migration = id,
        rows_removed = removed,
        "migration rolled back: the source topology serves, the moved rows' copies were removed from the new owners"
    );
    Ok(removed)
}
