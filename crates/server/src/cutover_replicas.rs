//! Read-your-writes across a cutover: a session that wrote a moving key on its old owner has
//! remembered that shard's GTID, not the new owner's, so after the swap its read of the key
//! may go to any replica of the new owner. So the cutover, once the catch-up put every such
//! write on the new owners' primaries, waits (within its hold) until their replicas in
//! rotation have applied their primary's position: any replica then serves what the
//! sessions wrote. Going back, the same for the sources.

use std::time::Instant;

use mysql_async::prelude::*;
use mysql_async::Conn;

use crate::Runtime;

/// The shards a cutover swaps the moving keys to, with connections opened before the hold.
pub(crate) struct SwappedTo {
    shards: Vec<Owner>,
}

struct Owner {
    name: String,
    primary: Conn,
    /// Its replicas in rotation, by address.
    replicas: Vec<(String, Conn)>,
}

impl SwappedTo {
    /// Connections to the primaries of the shards `names` of `next` and to their replicas in
    /// rotation.
    pub async fn open(next: &Runtime, mut names: Vec<&str>) -> Result<SwappedTo, String> {
        names.sort_unstable();
        names.dedup();
        let topology = &next.topology;
        let mut shards = Vec::new();
        for name in names {
            let index = (topology.shard_index(name)).ok_or_else(|| format!("no shard {name}"))?;
            let shard = &topology.shards[index];
            let connect = |endpoint| crate::migration_conn::connect(&topology.backend, endpoint);
            let failed = |e: mysql_async::Error| format!("{name}: {e}");
            let primary = connect(&shard.primary).await.map_err(failed)?;
            let mut replicas = Vec::new();
            for (i, endpoint) in shard.replicas.iter().enumerate() {
                if next.replica_in_rotation(index, i) {
                    let conn = connect(endpoint).await.map_err(failed)?;
                    replicas.push((endpoint.to_string(), conn));
                }
            }
            shards.push(Owner {
                name: name.to_owned(),
                primary,
                replicas,
            });
        }
        Ok(SwappedTo { shards })
    }

    /// Each shard's primary `@@gtid_binlog_pos` now, by name.
    pub async fn positions(&mut self) -> Result<Vec<(String, String)>, String> {
        let mut positions = Vec::new();
        for owner in &mut self.shards {
            let position: Option<String> = (owner.primary)
                .query_first("SELECT @@global.gtid_binlog_pos")
                .await
                .map_err(|e| format!("{}: {e}", owner.name))?;
            positions.push((owner.name.clone(), position.unwrap_or_default()));
        }
        Ok(positions)
    }

    /// Waits until every replica has applied its primary's position in `positions`, until
    /// `deadline`.
    pub async fn replicas_caught_up(
        &mut self,
        positions: &[(String, String)],
        deadline: Instant,
    ) -> Result<(), String> {
        for (owner, (_, position)) in self.shards.iter_mut().zip(positions) {
            for (address, replica) in &mut owner.replicas {
                let left = deadline.saturating_duration_since(Instant::now());
                let waited: Option<i64> = replica
                    .exec_first(
                        "SELECT MASTER_GTID_WAIT(?, ?)",
                        (position, left.as_secs_f64()),
                    )
                    .await
                    .map_err(|e| format!("replica {address} of {}: {e}", owner.name))?;
                if waited != Some(0) {
                    return Err(format!(
                        "replica {address} of {} did not apply {position}",
                        owner.name
                    ));
                }
            }
        }
        Ok(())
    }
}
