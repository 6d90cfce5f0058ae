//! A new placement never strands rows: one that would look for existing rows on other shards
//! than hold them (a shard added to a ring, a changed strategy or range, a table that changes
//! kind, another default shard) is refused, naming each table and what would move, unless the
//! shards that would lose keys hold no row of the table (checked on their primaries when it is
//! applied): so an emptied shard may leave a ring. Checked on reload against the placements
//! served, and at start-up against the placement record.

use shardgate_backend::Flavor;
use shardgate_config::{
    placement_changes, Change, ConfigError, ConfigErrors, Placements, Topology,
};

use crate::Runtime;

/// `Ok` if `new` looks for every existing row where `old` put it; rows are looked for on the
/// shards of `runtime`.
pub(crate) async fn keeps_key_owners(
    old: &Placements,
    runtime: &Runtime,
    new: &Topology,
    file_name: &str,
) -> Result<(), ConfigErrors> {
    let problem = |key: String, message: String| ConfigError {
        file: file_name.to_owned(),
        line: None,
        key,
        message,
    };
    let mut errors = Vec::new();
    for change in placement_changes(old, &Placements::of(new)) {
        let Some(table) = &change.table else {
            // The unsharded tables are not listed anywhere: their rows cannot be checked.
            errors.push(problem(
                "default_shard".into(),
                format!("{change} (change it once the unsharded tables are moved, with the placement record cleared)"),
            ));
            continue;
        };
        // The shards whose rows could be stranded: those losing keys, or every one the table
        // may have rows on when it changes kind.
        let losing: Vec<&str> = match &change.what {
            Change::KeysMove(moves) => moves.from.iter().map(String::as_str).collect(),
            _ => match old.shards_of(table) {
                [] => runtime
                    .topology
                    .shards
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect(),
                recorded => recorded.iter().map(String::as_str).collect(),
            },
        };
        let unreachable: Vec<&str> = (losing.iter().copied())
            .filter(|name| runtime.topology.shard_index(name).is_none())
            .collect();
        if !unreachable.is_empty() {
            errors.push(problem(
                format!("tables.{table}"),
                format!(
                    "{change}, and its rows may be on shards the config no longer has ({}), where they cannot be checked: keep those shards until the table's rows are moved",
                    unreachable.join(", ")
                ),
            ));
            continue;
        }
        match rows_on(runtime, table, &losing).await {
            Ok(shards) if shards.is_empty() => {
                tracing::info!(%table, shards = ?losing, "placement change: {change}; the shards losing keys hold none of the table's rows");
            }
            Ok(shards) => errors.push(problem(
                format!("tables.{table}"),
                format!(
                    "{change}, and the table has rows (on {}) that would no longer be found: keep its placement until its rows are moved (keys may move away from shards that hold none of the table's rows)",
                    shards.join(", ")
                ),
            )),
            Err(e) => errors.push(problem(
                format!("tables.{table}"),
                format!("{change}, and whether the table is empty could not be checked: {e}"),
            )),
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(ConfigErrors { errors }),
    }
}

/// The shards among `shards` (by name) whose primary holds a row of `table` (a shard without
/// the table holds none), or why that could not be read.
async fn rows_on(runtime: &Runtime, table: &str, shards: &[&str]) -> Result<Vec<String>, String> {
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM `{}` LIMIT 1) AS any_row",
        table.replace('`', "``")
    );
    let mut holding = Vec::new();
    let checked = (runtime.topology.shards.iter().enumerate())
        .filter(|(_, config)| shards.contains(&config.name.as_str()));
    for (shard, config) in checked {
        let answer = async {
            let mut conn = runtime.primary(shard).get(Flavor::common()).await?;
            crate::sql_prepare::evaluate(&mut conn, sql.as_bytes()).await
        };
        match answer.await {
            Ok(Ok(count)) if count == "0" => {}
            Ok(Ok(_)) => holding.push(config.name.clone()),
            Ok(Err(missing)) if missing.code == NO_SUCH_TABLE => {}
            Ok(Err(refused)) => return Err(format!("shard {}: {}", config.name, refused.message)),
            Err(e) => return Err(format!("shard {}: {e}", config.name)),
        }
    }
    Ok(holding)
}

/// MariaDB's "Table … doesn't exist".
const NO_SUCH_TABLE: u16 = 1146;
