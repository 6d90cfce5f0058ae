//! A reload never strands rows: one that would look for existing rows on other shards than
//! hold them (a shard added to a ring, a changed strategy or range, a table that changes kind,
//! another default shard) is refused, naming each table and what would move, unless the table
//! holds no row on any shard (checked on every primary when the reload is applied).

use shardgate_backend::Flavor;
use shardgate_config::{placement_changes, ConfigError, ConfigErrors, Placements, Topology};

use crate::Runtime;

/// `Ok` if `new` looks for every existing row where `old` (serving) put it.
pub(crate) async fn keeps_key_owners(
    old: &Runtime,
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
    let changes = placement_changes(&Placements::of(&old.topology), &Placements::of(new));
    for change in changes {
        let Some(table) = &change.table else {
            // The unsharded tables are not listed anywhere: their rows cannot be checked.
            errors.push(problem(
                "default_shard".into(),
                format!("{change} (restart to change it, once they are moved)"),
            ));
            continue;
        };
        match rows_on(old, table).await {
            Ok(shards) if shards.is_empty() => {
                tracing::info!(%table, "config reload: {change}; the table is empty on every shard");
            }
            Ok(shards) => errors.push(problem(
                format!("tables.{table}"),
                format!(
                    "{change}, and the table has rows (on {}) that would no longer be found: keep its placement until its rows are moved (a reload may change the placement of a table that is empty on every shard)",
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

/// The shards (by name) whose primary holds a row of `table` (a shard without the table holds
/// none), or why that could not be read.
async fn rows_on(runtime: &Runtime, table: &str) -> Result<Vec<String>, String> {
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM `{}` LIMIT 1) AS any_row",
        table.replace('`', "``")
    );
    let mut holding = Vec::new();
    for (shard, config) in runtime.topology.shards.iter().enumerate() {
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
