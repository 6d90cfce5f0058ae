//! At start-up, after a resharding cutover: the migration record, not an old config file,
//! says where the moved keys live. When the latest migration swapped to its target (phase
//! `verifying`, `cleaning_up`, `done`, or `failed` after its cutover; not `rolling_back`,
//! which serves the old topology again) and the config file
//! would place keys as before, the proxy serves the target topology the record holds, and
//! says so; the operator then puts the target file in place. A reload of the old file is
//! refused like any reload that would move keys (`key_owners.rs`).

use std::sync::Arc;

use shardgate_config::{placement_changes, Placements};
use shardgate_migration::Phase;

use crate::migration_record::Records;
use crate::{Proxy, Runtime};

impl Proxy {
    /// Serves the target of the latest migration that cut over, when the config file's
    /// placements are not already its.
    pub async fn adopt_migrated_topology(self: &Arc<Self>) {
        let runtime = self.runtime();
        let records = Records::of(&runtime.topology);
        let latest = async {
            let mut conn = records.conn().await?;
            records.migrations(&mut conn).await
        };
        let latest = match latest.await {
            Ok(all) => all.into_iter().find(|m| m.phase != Phase::Cancelled),
            Err(e) => {
                tracing::warn!(error = %e, "migration records not read: a resharding cutover recorded there is not checked");
                return;
            }
        };
        let Some(record) = latest else {
            return;
        };
        // Rolling back, the old topology serves again.
        let swapped = matches!(
            record.phase,
            Phase::Verifying | Phase::CleaningUp | Phase::Done
        ) || (record.cutover_pause_ms.is_some()
            && record.phase != Phase::RollingBack);
        if !swapped {
            return;
        }
        let mut target = match shardgate_config::parse(&record.target_config, &record.target_file) {
            Ok(target) => target,
            Err(e) => {
                tracing::error!(migration = record.id, error = %e, "the recorded target of a migration that cut over does not parse: serving the config file");
                return;
            }
        };
        let changes =
            placement_changes(&Placements::of(&runtime.topology), &Placements::of(&target));
        if changes.is_empty() {
            return;
        }
        crate::reload::keep_start_up_settings(&runtime.topology, &mut target);
        let moved: Vec<String> = changes.iter().map(ToString::to_string).collect();
        tracing::warn!(
            migration = record.id,
            target = %record.target_file,
            changes = %moved.join("; "),
            "the config file places keys as before migration {} cut over: serving its target topology from the migration record; put {} in place of the config file",
            record.id,
            record.target_file
        );
        self.runtime.store(Arc::new(Runtime::new(Arc::new(target))));
    }
}
