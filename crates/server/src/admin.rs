//! Admin statements the proxy answers itself, for users with `admin = true`:
//! `SHOW SHARDGATE SHARDS | TABLES | HOTSPOTS | SCHEMA | MIGRATIONS | ROUTE FOR <statement>`,
//! and resharding's `SHARDGATE RESHARD …` (`reshard_admin.rs`).
//!
//! They are recognised before the SQL planner, which cannot parse them.

use shardgate_backend::Role;
use shardgate_migration::{ReshardStatement, StatementError};
use shardgate_ring::Sharder;
use shardgate_router::{plan_sql, Plan, PlanTree, RouteError};
use shardgate_wire::column_definition::ColumnDef;
use shardgate_wire::packets;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{End, Session, Step};

/// One admin statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admin<'a> {
    /// Every endpoint: health, lag, rotation, pool use.
    Shards,
    /// Every table rule: strategy, shard key, consistency level.
    Tables,
    /// Every sharded table's hot-spot score and requests per shard.
    Hotspots,
    /// The columns of each table as the schema cache holds them.
    Schema,
    /// Every resharding migration and its flows' progress.
    Migrations,
    /// `SHARDGATE RESHARD …`, or why it is no such statement.
    Reshard(Result<ReshardStatement, StatementError>),
    /// The plan of the statement that follows `ROUTE FOR`.
    RouteFor(&'a str),
    /// `SHOW SHARDGATE` followed by something else.
    Unknown(&'a str),
}

/// The admin statement `sql` is, if it starts with `SHOW SHARDGATE` or `SHARDGATE RESHARD`
/// (any case).
pub(crate) fn parse(sql: &str) -> Option<Admin<'_>> {
    if let Some(statement) = shardgate_migration::parse_reshard(sql) {
        return Some(Admin::Reshard(statement));
    }
    let rest = strip_word(sql.trim_start(), "show")?;
    let rest = strip_word(rest, "shardgate")?;
    let rest = rest.trim().trim_end_matches(';').trim_end();
    if let Some(statement) = strip_word(rest, "route").and_then(|r| strip_word(r, "for")) {
        return Some(Admin::RouteFor(statement.trim()));
    }
    Some(match rest.to_ascii_lowercase().as_str() {
        "shards" => Admin::Shards,
        "tables" => Admin::Tables,
        "hotspots" => Admin::Hotspots,
        "schema" => Admin::Schema,
        "migrations" => Admin::Migrations,
        _ => Admin::Unknown(rest),
    })
}

/// `text` after the word `word` (any case) and the white space after it, if it starts so.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    let ends = rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_whitespace());
    (head.eq_ignore_ascii_case(word) && ends).then(|| rest.trim_start())
}

/// A result set the proxy builds itself: column names and text rows (None = NULL).
pub(crate) struct Rows {
    pub columns: &'static [&'static str],
    pub rows: Vec<Vec<Option<String>>>,
}

impl Session {
    /// Answers an admin statement, or refuses it to a user without `admin = true`.
    pub(crate) async fn admin(&mut self, runtime: &Runtime, statement: Admin<'_>) -> Step {
        let user = self.user();
        if !self.is_admin(runtime) {
            let e = ClientError::new(
                1227,
                b"42000",
                format!(
                    "Access denied; you need the shardgate admin privilege (admin = true for user {user:?} in [[users]]) for this operation"
                ),
            );
            return self.send_error(e).await;
        }
        let rows = match statement {
            Admin::Shards => shards(runtime),
            Admin::Tables => tables(runtime),
            Admin::Hotspots => hotspots(runtime),
            Admin::Schema => schema(runtime),
            Admin::Migrations => match crate::reshard_admin::migrations(&self.proxy).await {
                Ok(rows) => rows,
                Err(e) => return self.send_error(ClientError::from(&e)).await,
            },
            Admin::Reshard(Err(e)) => {
                let e = crate::migration_error::MigrationError::from(e);
                return self.send_error(ClientError::from(&e)).await;
            }
            Admin::Reshard(Ok(statement)) => {
                let proxy = self.proxy.clone();
                match crate::reshard_admin::reshard(&proxy, statement).await {
                    Ok(crate::reshard_admin::Answer::Rows(rows)) => rows,
                    Ok(crate::reshard_admin::Answer::Ok(affected)) => {
                        return self.send_ok(affected, 0).await
                    }
                    Err(e) => return self.send_error(ClientError::from(&e)).await,
                }
            }
            Admin::RouteFor(sql) => {
                match crate::schema_loader::plan_knowing_views(runtime, sql, self.syntax).await {
                    Ok(plan) => {
                        let instead = self.runs_instead(runtime, &plan, sql, false).await;
                        route(runtime, instead.as_ref().unwrap_or(&plan), sql)
                    }
                    // Its views read as their definitions: the plan of that text.
                    Err(RouteError::ReadsViews(text)) => {
                        match plan_sql(&text, &runtime.topology, self.syntax) {
                            Ok(plan) => route(runtime, &plan, &text),
                            Err(e) => return self.send_error(ClientError::from(&e)).await,
                        }
                    }
                    // A statement run in steps: what they are.
                    Err(e) => match e.steps() {
                        Some(steps) => Rows {
                            columns: PLAN_COLUMNS,
                            rows: vec![vec![Some(steps), None, Some(sql.to_owned())]],
                        },
                        None => return self.send_error(ClientError::from(&e)).await,
                    },
                }
            }
            Admin::Unknown(what) => {
                let e = ClientError::new(
                    1064,
                    b"42000",
                    format!("unknown statement SHOW SHARDGATE {what}: expected SHOW SHARDGATE SHARDS, TABLES, HOTSPOTS, SCHEMA, MIGRATIONS or ROUTE FOR <statement>"),
                );
                return self.send_error(e).await;
            }
        };
        self.send_rows(rows).await
    }

    /// Writes a text result set.
    async fn send_rows(&mut self, rows: Rows) -> Step {
        let mut packets = Vec::with_capacity(rows.columns.len() + rows.rows.len() + 3);
        packets.push(packets::column_count(rows.columns.len() as u64));
        let extended_metadata = self.flavor.extended_metadata();
        packets.extend(
            (rows.columns.iter()).map(|c| ColumnDef::varchar(c).encode_for(extended_metadata)),
        );
        if !self
            .capabilities
            .contains(shardgate_protocol::CapabilityFlags::CLIENT_DEPRECATE_EOF)
        {
            packets.push(packets::eof(self.status(), 0));
        }
        for row in &rows.rows {
            packets.push(shardgate_wire::text_row::text_row(
                row.iter().map(|v| v.as_deref().map(str::as_bytes)),
            ));
        }
        packets.push(packets::result_terminator(
            self.capabilities,
            self.status(),
            0,
        ));
        for packet in &packets {
            self.client
                .write_packet(packet)
                .await
                .map_err(End::Client)?;
        }
        Ok(())
    }
}

/// One row per column of each table the schema cache holds, in table order; `agreed` says
/// `yes`, or how a shard defines the table differently.
fn schema(runtime: &Runtime) -> Rows {
    let status = runtime.topology.schema.current();
    let mut rows = Vec::new();
    for (table, columns) in status.schema.tables() {
        let agreed = match status.disagreement(table) {
            Some(d) => Some(d.what.clone()),
            None => yes_no(true),
        };
        for (i, column) in columns.columns.iter().enumerate() {
            rows.push(vec![
                Some(table.to_owned()),
                Some((i + 1).to_string()),
                Some(column.name.clone()),
                Some(column.column_type.clone()),
                column.collation.clone(),
                agreed.clone(),
                Some(status.generation.to_string()),
            ]);
        }
    }
    Rows {
        columns: &[
            "table",
            "position",
            "column",
            "type",
            "collation",
            "agreed",
            "generation",
        ],
        rows,
    }
}

fn yes_no(b: bool) -> Option<String> {
    Some(if b { "yes" } else { "no" }.to_owned())
}

/// `SHOW SHARDGATE SHARDS`: one row per endpoint.
fn shards(runtime: &Runtime) -> Rows {
    let rows = runtime
        .services()
        .map(|service| {
            let target = service.target();
            let health = service.health.snapshot();
            let stats = service.pool.stats();
            let status = match (health.checks, health.up) {
                (0, _) => "unchecked",
                (_, true) => "up",
                (_, false) => "down",
            };
            let replica = target.role == Role::Replica;
            vec![
                Some(target.shard.clone()),
                Some(target.role.as_str().to_owned()),
                Some(target.endpoint.to_string()),
                Some(status.to_owned()),
                health
                    .lag
                    .filter(|_| replica)
                    .map(|lag| lag.as_secs().to_string()),
                if replica {
                    yes_no(health.in_rotation)
                } else {
                    None
                },
                Some(stats.in_use.to_string()),
                Some(stats.idle.to_string()),
                Some(stats.waiting.to_string()),
                health.last_error.clone(),
            ]
        })
        .collect();
    Rows {
        columns: &[
            "shard",
            "role",
            "address",
            "status",
            "lag_seconds",
            "in_rotation",
            "pool_in_use",
            "pool_idle",
            "pool_waiting",
            "last_error",
        ],
        rows,
    }
}

/// `SHOW SHARDGATE TABLES`: sharded tables, then reference tables, each by name.
fn tables(runtime: &Runtime) -> Rows {
    let topology = &runtime.topology;
    let default = topology.replication.consistency;
    let mut sharded: Vec<_> = topology.tables.values().collect();
    sharded.sort_by(|a, b| a.name.cmp(&b.name));
    let mut rows: Vec<Vec<Option<String>>> = sharded
        .into_iter()
        .map(|rule| {
            let strategy = match rule.sharder.as_ref() {
                Sharder::ConsistentHash(_) => "consistent_hash",
                Sharder::HashMod { .. } => "hash_mod",
                Sharder::Range(_) => "range",
            };
            vec![
                Some(rule.name.clone()),
                Some(strategy.to_owned()),
                Some(rule.shard_key.clone()),
                Some(rule.consistency.unwrap_or(default).as_str().to_owned()),
                lookups(rule),
            ]
        })
        .collect();
    let mut reference: Vec<_> = topology.reference_tables.iter().collect();
    reference.sort();
    rows.extend(reference.into_iter().map(|name| {
        vec![
            Some(name.clone()),
            Some("reference".to_owned()),
            None,
            Some(default.as_str().to_owned()),
            None,
        ]
    }));
    Rows {
        columns: &["table", "strategy", "shard_key", "consistency", "lookups"],
        rows,
    }
}

/// A table's lookups, e.g. `email unique → users_email_lookup`, or NULL for none.
fn lookups(rule: &shardgate_config::TableRule) -> Option<String> {
    let shown: Vec<String> = rule
        .lookups
        .iter()
        .map(|l| {
            let unique = if l.unique { " unique" } else { "" };
            let write_only = if l.write_only { " (write only)" } else { "" };
            format!("{}{unique} → {}{write_only}", l.column, l.table)
        })
        .collect();
    (!shown.is_empty()).then(|| shown.join("; "))
}

/// `SHOW SHARDGATE HOTSPOTS`: one row per sharded table.
fn hotspots(runtime: &Runtime) -> Rows {
    let shard_names: Vec<&str> = runtime
        .topology
        .shards
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let rows = runtime
        .instruments
        .hotspots
        .scores()
        .into_iter()
        .map(|t| {
            let per_shard: Vec<String> = shard_names
                .iter()
                .zip(&t.counts)
                .map(|(name, n)| format!("{name}={n}"))
                .collect();
            vec![
                Some(t.table),
                Some(format!("{:.1}", t.score)),
                Some(t.counts.iter().sum::<u64>().to_string()),
                Some(per_shard.join(" ")),
                yes_no(t.hot),
                t.advice,
            ]
        })
        .collect();
    Rows {
        columns: &[
            "table",
            "score",
            "requests",
            "requests_per_shard",
            "hot",
            "advice",
        ],
        rows,
    }
}

/// `SHOW SHARDGATE ROUTE FOR …`: the plan tree, one row per operator with the shard and the
/// text it sends there (the rows `EXPLAIN` answers for a statement on several shards).
fn route(runtime: &Runtime, plan: &Plan, sql: &str) -> Rows {
    let tree = PlanTree::of(plan, &runtime.topology);
    Rows {
        columns: PLAN_COLUMNS,
        rows: plan_rows(&tree, runtime, sql),
    }
}

/// The columns of a plan tree's rows.
pub(crate) const PLAN_COLUMNS: &[&str] = &["plan", "shard", "sql"];

/// A plan tree's rows; lines that send the statement as written show `sql`.
pub(crate) fn plan_rows(tree: &PlanTree, runtime: &Runtime, sql: &str) -> Vec<Vec<Option<String>>> {
    tree.rows(&runtime.topology, sql)
        .into_iter()
        .map(|row| vec![Some(row.plan), row.shard, row.sql])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_statements_in_any_case() {
        assert_eq!(parse("SHOW SHARDGATE SHARDS"), Some(Admin::Shards));
        assert_eq!(parse("  show shardgate tables ;"), Some(Admin::Tables));
        assert_eq!(parse("Show\nShardGate\tHotSpots"), Some(Admin::Hotspots));
        assert_eq!(
            parse("SHOW SHARDGATE ROUTE FOR SELECT * FROM users WHERE id = 7;"),
            Some(Admin::RouteFor("SELECT * FROM users WHERE id = 7"))
        );
        assert_eq!(parse("show shardgate migrations"), Some(Admin::Migrations));
        assert_eq!(
            parse("SHARDGATE RESHARD PAUSE 4"),
            Some(Admin::Reshard(Ok(ReshardStatement::Pause(4))))
        );
        assert!(matches!(
            parse("SHARDGATE RESHARD"),
            Some(Admin::Reshard(Err(_)))
        ));
        assert_eq!(
            parse("SHOW SHARDGATE nonsense"),
            Some(Admin::Unknown("nonsense"))
        );
    }

    #[test]
    fn leaves_other_statements_alone() {
        assert_eq!(parse("SHOW TABLES"), None);
        assert_eq!(parse("SHOW SHARDGATES"), None);
        assert_eq!(parse("SELECT 'SHOW SHARDGATE SHARDS'"), None);
        assert_eq!(parse("SHOWSHARDGATE SHARDS"), None);
        assert_eq!(parse("é"), None);
    }
}
