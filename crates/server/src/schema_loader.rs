//! Reads the tables' columns from the shards into the runtime's schema cache
//! (`Topology::schema`, `shardgate_schema`): at start, when a reload brings a new runtime, every
//! `[server] schema_refresh_ms`, after DDL through the proxy (which forgets the tables it
//! names), and on demand, when a plan needs columns the cache lacks
//! (`RouteError::SchemaNeeded`).
//!
//! Every shard's primary is read: the cache holds the default shard's columns, and a table
//! another shard defines differently is marked, so that no plan merges rows of two shapes.

use std::sync::{Arc, Weak};
use std::time::Duration;

use shardgate_backend::{BackendError, Flavor, QueryHead};
use shardgate_ring::ShardId;
use shardgate_router::{Plan, StatementKind};
use shardgate_schema::{
    disagreements, ColumnDefault, ColumnRow, Disagreement, Schema, SchemaStatus,
};

use crate::{Proxy, Runtime};

/// How often the refresher looks for a new runtime (a reload) to read.
const RUNTIME_POLL: Duration = Duration::from_secs(1);

/// Reads every sharded and reference table and installs them whole.
pub(crate) async fn refresh_all(runtime: &Runtime) -> Result<(), BackendError> {
    let cell = &runtime.topology.schema;
    let ticket = cell.begin_load();
    let read = read_everywhere(runtime, None).await;
    record(&read);
    let (schema, disagreements) = read?;
    cell.install_all(
        ticket,
        SchemaStatus {
            schema,
            disagreements,
            generation: 0,
        },
    );
    for why in shardgate_router::loose_keys(&runtime.topology) {
        tracing::warn!("reads by key go to every shard, and nothing is co-located by it: {why}");
    }
    Ok(())
}

/// Reads `tables` (lower-cased), for a plan that needs them.
pub(crate) async fn load_tables(runtime: &Runtime, tables: &[String]) -> Result<(), BackendError> {
    let cell = &runtime.topology.schema;
    let ticket = cell.begin_load();
    let read = read_everywhere(runtime, Some(tables)).await;
    record(&read);
    let (schema, disagreements) = read?;
    cell.install_tables(ticket, tables, schema, disagreements);
    Ok(())
}

/// A plan that expanded `*` from the cache checks the shards' column definitions against it:
/// another shape means the cache is stale, and the answer is refused (and the tables read
/// again for the next statement) rather than merged by the wrong columns.
pub(crate) fn stale_star(
    runtime: &Runtime,
    plan: &shardgate_router::ScatterPlan,
    heads: &[Vec<bytes::BytesMut>],
) -> Option<crate::errors::ClientError> {
    let check = plan.star_check.as_ref()?;
    let why = heads.iter().find_map(|head| {
        let names = head.iter().map(|d| {
            shardgate_wire::column_definition::column_name(d)
                .and_then(|n| std::str::from_utf8(n).ok())
                .unwrap_or("")
        });
        check.mismatch(names)
    })?;
    runtime.topology.schema.invalidate(Some(&check.tables));
    shardgate_metrics::metrics().schema_stale_total.inc();
    Some(crate::errors::ClientError::new(
        1235,
        b"42000",
        format!(
            "the columns of `{}` changed on the shards since shardgate read them ({why}); they are read again for the next statement: run it again",
            check.tables.join("`, `")
        ),
    ))
}

/// Plans `sql` again once the cache holds `tables` (a plan that needed their columns).
pub(crate) async fn plan_after_loading(
    runtime: &Runtime,
    sql: &str,
    syntax: shardgate_router::Syntax,
    tables: &[String],
) -> Result<Plan, shardgate_router::RouteError> {
    if let Err(e) = load_tables(runtime, tables).await {
        tracing::warn!(error = %e, "reading the columns of {tables:?} from the shards failed");
    }
    // Read afresh, shards that still disagree are the answer.
    shardgate_router::plan_sql(sql, &runtime.topology, syntax).map_err(|e| match e {
        shardgate_router::RouteError::SchemaDisagrees { refusal, .. } => *refusal,
        other => other,
    })
}

/// Plans `sql`; when the plan needs columns the cache lacks, reads them and plans again.
pub async fn plan_with_schema(
    runtime: &Runtime,
    sql: &str,
    syntax: shardgate_router::Syntax,
) -> Result<Plan, shardgate_router::RouteError> {
    let planned = match shardgate_router::plan_sql(sql, &runtime.topology, syntax) {
        Err(
            shardgate_router::RouteError::SchemaNeeded { tables }
            | shardgate_router::RouteError::SchemaDisagrees { tables, .. },
        ) => plan_after_loading(runtime, sql, syntax, &tables).await,
        planned => planned,
    };
    with_fresh_key_default(runtime, sql, syntax, planned).await
}

/// `planned` again after reading its table afresh when its rows are placed by the default of a
/// shard key they leave out (`Plan::placed_by_key_default`): a cached default may have changed
/// behind the proxy's back, and a row placed by it would not be found.
pub(crate) async fn with_fresh_key_default(
    runtime: &Runtime,
    sql: &str,
    syntax: shardgate_router::Syntax,
    planned: Result<Plan, shardgate_router::RouteError>,
) -> Result<Plan, shardgate_router::RouteError> {
    match planned {
        Ok(Plan {
            placed_by_key_default: Some(table),
            ..
        }) => plan_after_loading(runtime, sql, syntax, &[table.to_string()]).await,
        planned => planned,
    }
}

/// After a statement ran: DDL makes the cache forget the table it names (every table when it
/// names none the planner knows), and the column collations looked up for merges.
pub(crate) fn after_statement(runtime: &Runtime, plan: &Plan) {
    if plan.kind != StatementKind::Ddl {
        return;
    }
    let table = plan.table.as_ref().map(|t| vec![t.to_string()]);
    runtime.topology.schema.invalidate(table.as_deref());
    runtime.forget_collations();
}

/// Keeps the schema of the serving runtime fresh until aborted: reads it at once, again
/// every `schema_refresh` and whenever a reload has swapped the runtime.
pub(crate) async fn keep_fresh(proxy: Weak<Proxy>) {
    let mut read_version = None;
    let mut last_read = tokio::time::Instant::now();
    loop {
        let Some(runtime) = proxy.upgrade().map(|p| p.runtime()) else {
            return;
        };
        let due = runtime
            .topology
            .server
            .schema_refresh
            .is_some_and(|every| last_read.elapsed() >= every);
        if read_version != Some(runtime.version) || due {
            if let Err(e) = refresh_all(&runtime).await {
                tracing::warn!(error = %e, "reading the tables' columns from the shards failed");
            }
            read_version = Some(runtime.version);
            last_read = tokio::time::Instant::now();
        }
        drop(runtime);
        tokio::time::sleep(RUNTIME_POLL).await;
    }
}

fn record<T>(read: &Result<T, BackendError>) {
    let result = if read.is_ok() { "ok" } else { "error" };
    shardgate_metrics::metrics()
        .schema_refreshes_total
        .with_label_values(&[result])
        .inc();
}

/// The default shard's tables (`tables`, or every sharded and reference one) and where the
/// other shards differ.
async fn read_everywhere(
    runtime: &Runtime,
    tables: Option<&[String]>,
) -> Result<(Schema, Vec<Disagreement>), BackendError> {
    let topology = &runtime.topology;
    let default = topology.default_shard;
    let mut reference = read_shard(runtime, default, tables).await?;
    if tables.is_none() {
        reference.retain(|t| topology.table(t).is_some() || topology.is_reference(t));
    }
    let mut found = Vec::new();
    for shard in (0..topology.shards.len()).filter(|&s| s != default) {
        let theirs = read_shard(runtime, shard, tables).await?;
        found.extend(disagreements(
            &reference,
            &topology.shards[default].name,
            &theirs,
            &topology.shards[shard].name,
        ));
    }
    Ok((reference, found))
}

/// The rows of `information_schema.COLUMNS` for the backend database on `shard`'s primary.
async fn read_shard(
    runtime: &Runtime,
    shard: ShardId,
    tables: Option<&[String]>,
) -> Result<Schema, BackendError> {
    let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"));
    let mut sql = String::from(
        "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, COLLATION_NAME, \
         COLUMN_DEFAULT, IS_NULLABLE, IS_GENERATED, COLUMN_KEY, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
    );
    if let Some(tables) = tables {
        let list: Vec<String> = tables.iter().map(|t| quote(t)).collect();
        sql.push_str(&format!(" AND TABLE_NAME IN ({})", list.join(", ")));
    }
    let mut conn = runtime.primary(shard).get(Flavor::common()).await?;
    // A clean session: another client's sql_mode or database must not change what is read.
    let clean = crate::state::SessionState::new(
        runtime.topology.backend.database.clone(),
        shardgate_protocol::UTF8MB4_GENERAL_CI,
    );
    clean.sync(&mut conn).await?;
    let mut rows = Vec::new();
    match conn.query_rows(sql.as_bytes()).await? {
        QueryHead::Columns(_) => {
            while let Ok(row) = conn.next_row().await? {
                let cell = |i: usize| -> Option<String> {
                    let bytes = shardgate_wire::text_row::text_cell(&row, i)
                        .ok()
                        .flatten()?;
                    Some(String::from_utf8_lossy(bytes).into_owned())
                };
                let (Some(table), Some(column), Some(ordinal), Some(column_type)) =
                    (cell(0), cell(1), cell(2), cell(3))
                else {
                    continue;
                };
                rows.push(ColumnRow {
                    table,
                    column,
                    ordinal: ordinal.parse().unwrap_or(u64::MAX),
                    column_type,
                    collation: cell(4),
                    default: ColumnDefault::from_information_schema(
                        cell(5).as_deref(),
                        cell(6).as_deref() == Some("YES"),
                        cell(7).as_deref().is_some_and(|g| g != "NEVER"),
                        cell(9).as_deref(),
                    ),
                    primary_key: cell(8).as_deref() == Some("PRI"),
                });
            }
        }
        QueryHead::Done(_) => {
            return Err(BackendError::Protocol {
                endpoint: conn.endpoint().to_owned(),
                source: shardgate_protocol::ProtocolError::malformed(
                    "the tables' columns could not be read from information_schema",
                ),
            })
        }
    }
    Ok(Schema::from_rows(rows))
}

/// Starts [`keep_fresh`] for `proxy`; the caller aborts it when serving ends.
pub(crate) fn spawn(proxy: &Arc<Proxy>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(keep_fresh(Arc::downgrade(proxy)))
}
