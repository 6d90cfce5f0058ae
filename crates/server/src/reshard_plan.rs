//! The plan of a resharding (issue #15, its first step): for the file serving now and a target
//! file, which keys of each table go from which shard to which (`ring::key_moves` flows, by
//! shard name), and how many rows that is — estimated from the source's table statistics
//! (`information_schema.TABLES`) and the share of its keys that go, or counted exactly for the
//! key ranges of a `range` table — and how long a copy at a given rate would take. Nothing is
//! changed: `shardgate reshard plan` prints it.

use shardgate_config::{placement_changes, Change, Placements, Topology};
use shardgate_ring::KeyFlow;

use crate::own_tables::{clean_conn, rows_of, text_literal};
use crate::Runtime;

/// One flow of one table, with its rows.
#[derive(Debug, Clone)]
pub struct PlannedFlow {
    pub flow: KeyFlow,
    /// Rows that would move: counted exactly (`exact`) or estimated; `None` when the source
    /// could not be asked.
    pub rows: Option<u64>,
    pub exact: bool,
}

/// What the plan says about one table.
#[derive(Debug, Clone)]
pub struct PlannedTable {
    pub table: String,
    /// `N of M ring arcs (x% of the keys) would change shard`, or why it is no resharding.
    pub summary: String,
    pub flows: Vec<PlannedFlow>,
    /// A change a resharding cannot make (another strategy or kind of table, another default
    /// shard): the table's rows would have to be moved some other way.
    pub refused: bool,
}

/// The whole plan.
#[derive(Debug, Clone)]
pub struct ReshardPlan {
    pub tables: Vec<PlannedTable>,
    pub rows_per_second: u64,
}

impl ReshardPlan {
    pub fn total_rows(&self) -> u64 {
        (self.tables.iter().flat_map(|t| &t.flows))
            .filter_map(|f| f.rows)
            .sum()
    }
}

impl std::fmt::Display for ReshardPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tables.is_empty() {
            return writeln!(f, "nothing moves: every key keeps its shard");
        }
        for table in &self.tables {
            writeln!(f, "{}", table.summary)?;
            for planned in &table.flows {
                let rows = match (planned.rows, planned.exact) {
                    (Some(n), true) => format!("{n} rows"),
                    (Some(n), false) => format!("~{n} rows (from table statistics)"),
                    (None, _) => "rows unknown (the source did not answer)".into(),
                };
                writeln!(f, "  {}: {rows}", planned.flow)?;
            }
        }
        let total = self.total_rows();
        let seconds = total.div_ceil(self.rows_per_second.max(1));
        write!(
            f,
            "total: ~{total} rows to copy; at {} rows/s about {seconds} s",
            self.rows_per_second
        )
    }
}

/// The plan for going from what `runtime` serves to `target`.
pub async fn reshard_plan(
    runtime: &Runtime,
    target: &Topology,
    rows_per_second: u64,
) -> ReshardPlan {
    let changes = placement_changes(&Placements::of(&runtime.topology), &Placements::of(target));
    let mut tables = Vec::new();
    for change in changes {
        let name = change.table.clone().unwrap_or_default();
        let moves = match &change.what {
            Change::KeysMove(moves) if !moves.flows.is_empty() => moves,
            _ => {
                tables.push(PlannedTable {
                    table: name,
                    summary: format!(
                        "{change}: not a resharding (its rows must be moved otherwise)"
                    ),
                    flows: Vec::new(),
                    refused: true,
                });
                continue;
            }
        };
        let mut flows = Vec::new();
        for flow in &moves.flows {
            let (rows, exact) = flow_rows(runtime, &name, flow).await;
            flows.push(PlannedFlow {
                flow: flow.clone(),
                rows,
                exact,
            });
        }
        tables.push(PlannedTable {
            summary: format!("{change}"),
            table: name,
            flows,
            refused: false,
        });
    }
    ReshardPlan {
        tables,
        rows_per_second,
    }
}

/// The rows of `table` a flow moves: counted in its key ranges, or its share of the source's
/// estimated rows.
async fn flow_rows(runtime: &Runtime, table: &str, flow: &KeyFlow) -> (Option<u64>, bool) {
    let Some(source) = runtime.topology.shard_index(&flow.from) else {
        return (None, false);
    };
    let Some(rule) = runtime.topology.table(table) else {
        return (None, false);
    };
    let quoted = |name: &str| format!("`{}`", name.replace('`', "``"));
    let (sql, exact) = match flow.share_of_from {
        Some(_) if flow.ranges.is_empty() => (
            format!(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                text_literal(&runtime.topology.backend.database),
                text_literal(&rule.name)
            ),
            false,
        ),
        _ => {
            let key = quoted(&rule.shard_key);
            let mut conditions = Vec::new();
            for (start, end) in &flow.ranges {
                let mut parts = Vec::new();
                if let Some(s) = start {
                    parts.push(format!("{key} >= {s}"));
                }
                if let Some(e) = end {
                    parts.push(format!("{key} < {e}"));
                }
                conditions.push(match parts.is_empty() {
                    true => "TRUE".to_owned(),
                    false => format!("({})", parts.join(" AND ")),
                });
            }
            (
                format!(
                    "SELECT COUNT(*) FROM {} WHERE {}",
                    crate::own_tables::qualified(&runtime.topology, &rule.name),
                    conditions.join(" OR ")
                ),
                true,
            )
        }
    };
    let answer = async {
        let mut conn = clean_conn(runtime, source).await?;
        rows_of(&mut conn, &sql, 1).await
    };
    let count = match answer.await {
        Ok(Ok(rows)) => rows
            .first()
            .and_then(|r| r[0].as_deref())
            .and_then(|c| std::str::from_utf8(c).ok()?.parse::<u64>().ok())
            .unwrap_or(0),
        // A source without the table holds none of its rows.
        Ok(Err(e)) if e.code == 1146 => 0,
        _ => return (None, exact),
    };
    match (exact, flow.share_of_from) {
        (true, _) => (Some(count), true),
        (false, Some(share)) => (Some((count as f64 * share).round() as u64), false),
        (false, None) => (None, false),
    }
}
