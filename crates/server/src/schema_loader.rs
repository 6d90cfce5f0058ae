//! Reads the tables' columns from the shards into the runtime's schema cache
//! (`Topology::schema`, `shardgate_schema`): at start, when a reload brings a new runtime, every
//! `[server] schema_refresh_ms`, after DDL through the proxy (which forgets the tables it
//! names), and on demand, when a plan needs columns the cache lacks
//! (`RouteError::SchemaNeeded`).
//!
//! Every shard's primary is read: the cache holds the default shard's columns, and a table
//! another shard defines differently is marked, so that no plan merges rows of two shapes.
//!
//! The views over sharded tables (`Topology::schema.views`, `router/src/views.rs`) are read
//! from the default shard with the columns, and again after any DDL through the proxy (which
//! forgets them) when a statement may name one (`RouteError::ViewsNeeded`).

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
    load_views(runtime).await?;
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

/// The views of the backend database, by name.
const LIST_VIEWS: &str = "SHOW FULL TABLES WHERE Table_type = 'VIEW'";
/// How long reading the views' definitions waits for a view another session is changing.
const VIEWS_LOCK_WAIT_SECONDS: u32 = 10;

/// `s` as a string literal (the loader's clean session reads backslash escapes).
fn quote_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Reads the views of the backend database on the default shard and installs those over
/// sharded tables (unless a DDL made the read stale meanwhile).
pub(crate) async fn load_views(runtime: &Runtime) -> Result<(), BackendError> {
    let views = &runtime.topology.schema.views;
    let ticket = views.begin_load();
    let read = read_view_definitions(runtime).await;
    record(&read);
    let topology = &runtime.topology;
    let bodies =
        shardgate_router::bodies_over_sharded(&read?, &topology.backend.database, topology);
    views.install(ticket, bodies);
    Ok(())
}

/// The views of the backend database on the default shard, with their definitions: their
/// names first, from the tables' files (no table opened, so no lock another session holds on
/// a table can make it wait), then the definitions of the views alone.
async fn read_view_definitions(runtime: &Runtime) -> Result<Vec<(String, String)>, BackendError> {
    let shard = runtime.topology.default_shard;
    let unreadable = "the views could not be read from information_schema";
    let names: Vec<String> = (read_rows(runtime, shard, LIST_VIEWS, unreadable).await?)
        .into_iter()
        .filter_map(|mut row| row.first_mut()?.take())
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let quoted: Vec<String> = names.iter().map(|n| quote_string(n)).collect();
    let sql = format!(
        "SET STATEMENT lock_wait_timeout = {VIEWS_LOCK_WAIT_SECONDS} FOR SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({})",
        quoted.join(", ")
    );
    let rows = read_rows(runtime, shard, &sql, unreadable).await?;
    Ok((rows.into_iter())
        .filter_map(|mut row| Some((row.first_mut()?.take()?, row.get_mut(1)?.take()?)))
        .collect())
}

/// Plans `sql`; when it may name a view while the views are unknown, reads them and plans
/// again.
pub(crate) async fn plan_knowing_views(
    runtime: &Runtime,
    sql: &str,
    syntax: shardgate_router::Syntax,
) -> Result<Plan, shardgate_router::RouteError> {
    match shardgate_router::plan_sql(sql, &runtime.topology, syntax) {
        Err(shardgate_router::RouteError::ViewsNeeded) => {
            plan_after_loading_views(runtime, sql, syntax).await
        }
        planned => planned,
    }
}

/// Plans `sql` again once the views are read (a statement that may name one).
pub(crate) async fn plan_after_loading_views(
    runtime: &Runtime,
    sql: &str,
    syntax: shardgate_router::Syntax,
) -> Result<Plan, shardgate_router::RouteError> {
    if let Err(e) = load_views(runtime).await {
        tracing::warn!(error = %e, "reading the views from the default shard failed");
    }
    shardgate_router::plan_sql(sql, &runtime.topology, syntax)
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
        Err(shardgate_router::RouteError::ViewsNeeded) => {
            plan_after_loading_views(runtime, sql, syntax).await
        }
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
/// names none the planner knows) and the column collations looked up for merges; DDL that may
/// change views (`sql`, read by its words) makes it forget the views.
pub(crate) fn after_statement(
    runtime: &Runtime,
    plan: &Plan,
    sql: &str,
    syntax: shardgate_router::Syntax,
) {
    if plan.kind != StatementKind::Ddl {
        return;
    }
    if shardgate_router::may_change_views(sql, syntax) {
        runtime.topology.schema.views.forget();
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
    let mut sql = String::from(
        "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, COLLATION_NAME, \
         COLUMN_DEFAULT, IS_NULLABLE, IS_GENERATED, COLUMN_KEY, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
    );
    if let Some(tables) = tables {
        let list: Vec<String> = tables.iter().map(|t| quote_string(t)).collect();
        sql.push_str(&format!(" AND TABLE_NAME IN ({})", list.join(", ")));
    }
    let read = read_rows(
        runtime,
        shard,
        &sql,
        "the tables' columns could not be read from information_schema",
    );
    let rows = read.await?.into_iter().filter_map(|mut row| {
        let mut cell = |i: usize| row.get_mut(i).and_then(Option::take);
        let (table, column, ordinal, column_type) = (cell(0)?, cell(1)?, cell(2)?, cell(3)?);
        let collation = cell(4);
        let (default, nullable, generated, key, extra) =
            (cell(5), cell(6), cell(7), cell(8), cell(9));
        Some(ColumnRow {
            table,
            column,
            ordinal: ordinal.parse().unwrap_or(u64::MAX),
            column_type,
            collation,
            default: ColumnDefault::from_information_schema(
                default.as_deref(),
                nullable.as_deref() == Some("YES"),
                generated.as_deref().is_some_and(|g| g != "NEVER"),
                extra.as_deref(),
            ),
            primary_key: key.as_deref() == Some("PRI"),
        })
    });
    Ok(Schema::from_rows(rows.collect::<Vec<_>>()))
}

/// The rows of `sql` (text cells, `None` for NULL) on `shard`'s primary, in a clean session:
/// another client's `sql_mode` or database must not change what is read.
async fn read_rows(
    runtime: &Runtime,
    shard: ShardId,
    sql: &str,
    unreadable: &'static str,
) -> Result<Vec<Vec<Option<String>>>, BackendError> {
    let mut conn = runtime.primary(shard).get(Flavor::common()).await?;
    let clean = crate::state::SessionState::new(
        runtime.topology.backend.database.clone(),
        shardgate_protocol::UTF8MB4_GENERAL_CI,
    );
    clean.sync(&mut conn).await?;
    let mut rows = Vec::new();
    match conn.query_rows(sql.as_bytes()).await? {
        QueryHead::Columns(columns) => {
            while let Ok(row) = conn.next_row().await? {
                let cells = (0..columns.len()).map(|i| {
                    let bytes = shardgate_wire::text_row::text_cell(&row, i)
                        .ok()
                        .flatten()?;
                    Some(String::from_utf8_lossy(bytes).into_owned())
                });
                rows.push(cells.collect());
            }
        }
        QueryHead::Done(_) => {
            return Err(BackendError::Protocol {
                endpoint: conn.endpoint().to_owned(),
                source: shardgate_protocol::ProtocolError::malformed(unreadable),
            })
        }
    }
    Ok(rows)
}

/// Starts [`keep_fresh`] for `proxy`; the caller aborts it when serving ends.
pub(crate) fn spawn(proxy: &Arc<Proxy>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(keep_fresh(Arc::downgrade(proxy)))
}
