//! `shardgate lookup init | backfill | verify`: creating a table's lookup tables, filling them
//! from the rows already on the shards (while traffic runs), and checking them.
//!
//! Backfill only adds rows (`INSERT IGNORE`), page by page in shard-key order (keyset
//! pagination), so it can run again and beside the proxy's own writes: a row it adds for a
//! value that changed meanwhile is stale, which reads ignore.
//!
//! Verify compares both ways by the servers' own comparisons (the values are copied into a
//! temporary table of the same types, then joined): rows missing from the lookup, and lookup
//! rows whose row does not hold the value (stale). `--repair` adds the missing rows and
//! removes stale ones, each under the same lock a write takes on its value and after looking
//! again at the row (`LOCK IN SHARE MODE`), so it never removes a row a write in flight needs.

use std::collections::BTreeMap;

use shardgate_backend::PooledConn;
use shardgate_config::{Lookup, ShardKeyType, TableRule};

use crate::lookup_table::{create_sql, qualified, query_rows, run_ok, stored_literal, LookupError};
use crate::runtime::Runtime;

/// What `shardgate lookup verify` found for one lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupReport {
    /// The lookup table.
    pub lookup: String,
    /// Rows holding a value the lookup does not map to them (unreachable by it).
    pub missing: u64,
    /// Lookup rows whose row does not hold the value (any more).
    pub stale: u64,
    /// With `--repair`: lookup rows added and removed.
    pub added: u64,
    pub removed: u64,
}

type Row = Vec<Option<Vec<u8>>>;

fn rule_with_lookups<'r>(runtime: &'r Runtime, table: &str) -> Result<&'r TableRule, LookupError> {
    runtime
        .topology
        .table(table)
        .filter(|r| !r.lookups.is_empty())
        .ok_or_else(|| LookupError::NotConfigured(table.to_owned()))
}

/// A pooled connection to `shard`'s primary without any session's variables; dropped after
/// use (`broken`), with the temporary tables it made.
async fn clean_conn(runtime: &Runtime, shard: usize) -> Result<PooledConn, LookupError> {
    let mut conn = crate::own_tables::clean_conn(runtime, shard).await?;
    conn.broken = true;
    Ok(conn)
}

/// Creates the lookup tables of `table` on the default shard's primary (if missing); their names.
pub async fn init_lookups(runtime: &Runtime, table: &str) -> Result<Vec<String>, LookupError> {
    let rule = rule_with_lookups(runtime, table)?;
    let mut conn = clean_conn(runtime, runtime.topology.default_shard).await?;
    for lookup in &rule.lookups {
        let sql = create_sql(&runtime.topology, rule, lookup);
        run_ok(&mut conn, &sql, &lookup.table, &rule.name).await?;
    }
    Ok(rule.lookups.iter().map(|l| l.table.clone()).collect())
}

/// `(value, key)` of the rows of every shard, a keyset page at a time in key order (never
/// `OFFSET`): safe beside writes, each page read afresh.
struct DataPages<'a> {
    runtime: &'a Runtime,
    rule: &'a TableRule,
    lookup: &'a Lookup,
    batch: usize,
    shard: usize,
    source: Option<PooledConn>,
    /// The last key read on `shard`.
    after: Option<Vec<u8>>,
}

impl<'a> DataPages<'a> {
    fn new(runtime: &'a Runtime, rule: &'a TableRule, lookup: &'a Lookup, batch: usize) -> Self {
        DataPages {
            runtime,
            rule,
            lookup,
            batch,
            shard: 0,
            source: None,
            after: None,
        }
    }

    /// The next page that has rows; `None` once every shard was read.
    async fn next(&mut self) -> Result<Option<Vec<Row>>, LookupError> {
        while self.shard < self.runtime.topology.shards.len() {
            let mut source = match self.source.take() {
                Some(conn) => conn,
                None => clean_conn(self.runtime, self.shard).await?,
            };
            let page = self.page(&mut source).await?;
            if page.len() < self.batch {
                (self.shard, self.after) = (self.shard + 1, None);
            } else {
                self.after = page.last().and_then(|row| row[1].clone());
                self.source = Some(source);
            }
            if !page.is_empty() {
                return Ok(Some(page));
            }
        }
        Ok(None)
    }

    async fn page(&self, conn: &mut PooledConn) -> Result<Vec<Row>, LookupError> {
        let (rule, batch) = (self.rule, self.batch);
        let (key, col) = (&rule.shard_key, &self.lookup.column);
        let order = order_key(rule, &format!("`{key}`"));
        let after = self.after.as_deref().map_or(String::new(), |k| {
            format!(" AND {order} > {}", key_literal(rule, k))
        });
        let sql = format!(
            "SELECT `{col}`, `{key}` FROM {} WHERE `{col}` IS NOT NULL{after} ORDER BY {order} LIMIT {batch}",
            qualified(&self.runtime.topology, &rule.name)
        );
        query_rows(conn, &sql, 2, &rule.name, &rule.name).await
    }
}

/// How keys are ordered for keyset pagination: numbers as numbers, strings by their bytes
/// (the order `>` on a binary string follows).
fn order_key(rule: &TableRule, column: &str) -> String {
    match rule.key_type {
        ShardKeyType::Integer => column.to_owned(),
        ShardKeyType::String => format!("CAST({column} AS BINARY)"),
    }
}

fn key_literal(rule: &TableRule, key: &[u8]) -> String {
    match rule.key_type {
        ShardKeyType::Integer => String::from_utf8_lossy(key).into_owned(),
        ShardKeyType::String => stored_literal(key),
    }
}

fn values(rows: &[Row]) -> String {
    let cell = |c: &Option<Vec<u8>>| c.as_deref().map_or("NULL".to_owned(), stored_literal);
    rows.iter()
        .map(|r| format!("({}, {})", cell(&r[0]), cell(&r[1])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds every row of every shard to `table`'s lookups; the rows read per lookup.
pub async fn backfill_lookups(
    runtime: &Runtime,
    table: &str,
    batch: usize,
) -> Result<Vec<(String, u64)>, LookupError> {
    let rule = rule_with_lookups(runtime, table)?;
    let topology = &runtime.topology;
    let mut out = Vec::new();
    let mut target = clean_conn(runtime, topology.default_shard).await?;
    for lookup in &rule.lookups {
        let mut rows_read = 0;
        let mut pages = DataPages::new(runtime, rule, lookup, batch);
        while let Some(page) = pages.next().await? {
            rows_read += page.len() as u64;
            let sql = format!(
                "INSERT IGNORE INTO {} (`{}`, `{}`) VALUES {}",
                qualified(topology, &lookup.table),
                lookup.column,
                rule.shard_key,
                values(&page)
            );
            run_ok(&mut target, &sql, &lookup.table, &rule.name).await?;
        }
        out.push((lookup.table.clone(), rows_read));
    }
    Ok(out)
}

/// Checks (and with `repair`, fixes) every lookup of `table`.
pub async fn verify_lookups(
    runtime: &Runtime,
    table: &str,
    repair: bool,
    batch: usize,
) -> Result<Vec<LookupReport>, LookupError> {
    let rule = rule_with_lookups(runtime, table)?;
    let mut reports = Vec::new();
    for lookup in &rule.lookups {
        let mut report = LookupReport {
            lookup: lookup.table.clone(),
            ..LookupReport::default()
        };
        missing_rows(runtime, rule, lookup, repair, batch, &mut report).await?;
        stale_rows(runtime, rule, lookup, repair, batch, &mut report).await?;
        reports.push(report);
    }
    Ok(reports)
}

/// Rows of every shard that the lookup does not map to them.
async fn missing_rows(
    runtime: &Runtime,
    rule: &TableRule,
    lookup: &Lookup,
    repair: bool,
    batch: usize,
    report: &mut LookupReport,
) -> Result<(), LookupError> {
    let topology = &runtime.topology;
    let lk = qualified(topology, &lookup.table);
    let (col, key) = (&lookup.column, &rule.shard_key);
    let mut check = clean_conn(runtime, topology.default_shard).await?;
    let create = format!(
        "CREATE TEMPORARY TABLE sg_lookup_check SELECT `{col}`, `{key}` FROM {lk} WHERE 1 = 0"
    );
    run_ok(&mut check, &create, &lookup.table, &rule.name).await?;
    let mut pages = DataPages::new(runtime, rule, lookup, batch);
    while let Some(page) = pages.next().await? {
        run_ok(&mut check, "DELETE FROM sg_lookup_check", "", &rule.name).await?;
        let fill = format!(
            "INSERT INTO sg_lookup_check (`{col}`, `{key}`) VALUES {}",
            values(&page)
        );
        run_ok(&mut check, &fill, &lookup.table, &rule.name).await?;
        let absent = format!(
            "SELECT COUNT(*) FROM sg_lookup_check c WHERE NOT EXISTS (SELECT 1 FROM {lk} l WHERE l.`{col}` = c.`{col}` AND l.`{key}` = c.`{key}`)"
        );
        let count = query_rows(&mut check, &absent, 1, &lookup.table, &rule.name).await?;
        let missing = count_of(&count);
        report.missing += missing;
        if repair && missing > 0 {
            let add = format!(
                "INSERT IGNORE INTO {lk} (`{col}`, `{key}`) SELECT `{col}`, `{key}` FROM sg_lookup_check"
            );
            let (added, _) = run_ok(&mut check, &add, &lookup.table, &rule.name).await?;
            report.added += added;
        }
    }
    Ok(())
}

fn count_of(rows: &[Row]) -> u64 {
    rows.first()
        .and_then(|r| r[0].as_deref())
        .and_then(|c| std::str::from_utf8(c).ok()?.parse().ok())
        .unwrap_or_default()
}

/// Lookup rows whose row does not hold the value, page by page in key order.
async fn stale_rows(
    runtime: &Runtime,
    rule: &TableRule,
    lookup: &Lookup,
    repair: bool,
    batch: usize,
    report: &mut LookupReport,
) -> Result<(), LookupError> {
    let topology = &runtime.topology;
    let lk = qualified(topology, &lookup.table);
    let data = qualified(topology, &rule.name);
    let (col, key) = (&lookup.column, &rule.shard_key);
    let mut lookups = clean_conn(runtime, topology.default_shard).await?;
    let mut shard_conns: BTreeMap<usize, PooledConn> = BTreeMap::new();
    let order = order_key(rule, &format!("`{key}`"));
    let mut after: Option<Vec<u8>> = None;
    loop {
        let from = after.as_deref().map_or(String::new(), |k| {
            format!(" WHERE {order} > {}", key_literal(rule, k))
        });
        // Whole keys per page: a key's rows are never split between pages.
        let sql = format!(
            "SELECT `{col}`, `{key}` FROM {lk} WHERE {order} IN (SELECT * FROM (SELECT DISTINCT {order} FROM {lk}{from} ORDER BY {order} LIMIT {batch}) AS page)"
        );
        let page = query_rows(&mut lookups, &sql, 2, &lookup.table, &rule.name).await?;
        if page.is_empty() {
            break;
        }
        let mut by_shard: BTreeMap<usize, Vec<Row>> = BTreeMap::new();
        for row in page {
            let Some(k) = row[1].as_deref() else { continue };
            let shard = crate::lookups::shard_of_stored(rule, k)?;
            if after.as_deref().is_none_or(|a| greater(rule, k, a)) {
                after = Some(k.to_vec());
            }
            by_shard.entry(shard).or_default().push(row);
        }
        for (shard, rows) in by_shard {
            let conn = match shard_conns.entry(shard) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let mut conn = clean_conn(runtime, shard).await?;
                    let create = format!(
                        "CREATE TEMPORARY TABLE sg_lookup_stale SELECT `{col}`, `{key}` FROM {data} WHERE 1 = 0"
                    );
                    run_ok(&mut conn, &create, &rule.name, &rule.name).await?;
                    e.insert(conn)
                }
            };
            run_ok(conn, "DELETE FROM sg_lookup_stale", "", &rule.name).await?;
            let fill = format!(
                "INSERT INTO sg_lookup_stale (`{col}`, `{key}`) VALUES {}",
                values(&rows)
            );
            run_ok(conn, &fill, &rule.name, &rule.name).await?;
            let stale_sql = format!(
                "SELECT s.`{col}`, s.`{key}` FROM sg_lookup_stale s WHERE NOT EXISTS (SELECT 1 FROM {data} d WHERE d.`{key}` = s.`{key}` AND d.`{col}` = s.`{col}`)"
            );
            let stale = query_rows(conn, &stale_sql, 2, &rule.name, &rule.name).await?;
            report.stale += stale.len() as u64;
            if repair {
                for row in &stale {
                    if remove_if_stale(&mut lookups, conn, runtime, rule, lookup, row).await? {
                        report.removed += 1;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Whether key `a` comes after key `b` in the pagination order.
fn greater(rule: &TableRule, a: &[u8], b: &[u8]) -> bool {
    match rule.key_type {
        ShardKeyType::Integer => {
            let n = |k: &[u8]| std::str::from_utf8(k).ok()?.parse::<i128>().ok();
            n(a) > n(b)
        }
        ShardKeyType::String => a > b,
    }
}

/// Removes lookup row `row` (value, key) if, under the lock writes of its value take, its
/// row still does not hold the value.
async fn remove_if_stale(
    lookups: &mut PooledConn,
    shard_conn: &mut PooledConn,
    runtime: &Runtime,
    rule: &TableRule,
    lookup: &Lookup,
    row: &Row,
) -> Result<bool, LookupError> {
    let topology = &runtime.topology;
    let lk = qualified(topology, &lookup.table);
    let data = qualified(topology, &rule.name);
    let (col, key) = (&lookup.column, &rule.shard_key);
    let (Some(v), Some(k)) = (row[0].as_deref(), row[1].as_deref()) else {
        return Ok(false);
    };
    let one = format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS sg_lookup_one SELECT `{col}`, `{key}` FROM {lk} WHERE 1 = 0"
    );
    run_ok(lookups, &one, &lookup.table, &rule.name).await?;
    run_ok(lookups, "DELETE FROM sg_lookup_one", "", &rule.name).await?;
    let fill = format!(
        "INSERT INTO sg_lookup_one VALUES ({}, {})",
        stored_literal(v),
        stored_literal(k)
    );
    run_ok(lookups, &fill, &lookup.table, &rule.name).await?;
    run_ok(lookups, "START TRANSACTION", "", &rule.name).await?;
    let lock = format!(
        "SELECT l.`{key}` FROM {lk} l JOIN sg_lookup_one o ON l.`{col}` = o.`{col}` FOR UPDATE"
    );
    query_rows(lookups, &lock, 1, &lookup.table, &rule.name).await?;
    let again = format!(
        "SELECT 1 FROM {data} d JOIN sg_lookup_stale s ON d.`{key}` = s.`{key}` AND d.`{col}` = s.`{col}` WHERE s.`{key}` = {} AND s.`{col}` = {} LIMIT 1 LOCK IN SHARE MODE",
        stored_literal(k),
        stored_literal(v)
    );
    let held = query_rows(shard_conn, &again, 1, &rule.name, &rule.name).await?;
    if !held.is_empty() {
        run_ok(lookups, "ROLLBACK", "", &rule.name).await?;
        return Ok(false);
    }
    let delete = format!(
        "DELETE l FROM {lk} l JOIN sg_lookup_one o ON l.`{col}` = o.`{col}` AND l.`{key}` = o.`{key}`"
    );
    let (removed, _) = run_ok(lookups, &delete, &lookup.table, &rule.name).await?;
    run_ok(lookups, "COMMIT", "", &rule.name).await?;
    Ok(removed > 0)
}
