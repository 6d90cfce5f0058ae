//! A cancel before the cutover, or after a rollback switched back: the rows a copy (and the
//! catch-up) wrote to the new owners are deleted again. No client reaches them (the serving
//! topology places their keys on the sources), so deleting every row of a flow's moving keys
//! on its new owner loses nothing; the new owner's own rows (keys the serving topology places
//! there) are kept.

use shardgate_config::Topology;

use crate::migration_error::MigrationError;
use crate::migration_record::FlowRecord;
use crate::reshard_cleanup::delete_moving_rows;
use crate::reshard_table::Side;

/// Deletes `flow`'s moving rows from its new owner; how many.
pub(crate) async fn remove_copied(
    serving: &Topology,
    target: &Topology,
    flow: &FlowRecord,
) -> Result<u64, MigrationError> {
    delete_moving_rows(serving, target, flow, Side::NewOwner, None).await
}
