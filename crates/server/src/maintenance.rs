//! Runs a maintenance statement of sharded and reference tables on every shard
//! (`Route::Maintenance`, `router/src/maintenance.rs`) and answers one report: `CHECKSUM
//! TABLE`'s checksum of a sharded table is the shards' sum modulo 2^32 (MariaDB adds its rows'
//! checksums), of a reference table one copy's (the default shard's), NULL when a shard has
//! none; `CHECK` / `OPTIMIZE` / `ANALYZE` / `REPAIR` rows are every shard's, grouped by table in
//! the default shard's order, a row that says what an earlier one said shown once.

use bytes::Bytes;
use shardgate_merge::ColumnMeta;
use shardgate_ring::ShardId;
use shardgate_router::Maintenance;

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{Session, Step};
use crate::set_operation::Evaluated;

/// A shard's report: its column definitions and rows.
type Report = crate::state::Answer;

impl Session {
    /// Answers `text`, a maintenance statement of kind `kind`, from every shard's report.
    pub(crate) async fn maintenance(
        &mut self,
        runtime: &Runtime,
        kind: Maintenance,
        text: &[u8],
        binary: bool,
    ) -> Step {
        if let Err(e) =
            self.outside_transaction("table maintenance of a sharded or reference table")
        {
            return self.send_error(e).await;
        }
        let shards: Vec<ShardId> = (0..runtime.topology.shards.len()).collect();
        let reads = shards
            .iter()
            .map(|&s| self.maintenance_report(runtime, s, text));
        let mut reports = Vec::with_capacity(shards.len());
        for read in futures_util::future::join_all(reads).await {
            match read {
                Ok(report) => reports.push(report),
                Err(e) => return self.send_error(e).await,
            }
        }
        // The default shard's report first: its order and its copy of reference tables.
        let default = runtime.topology.default_shard;
        reports.swap(0, default);
        let combined = match kind {
            Maintenance::Checksum => checksums(runtime, &reports),
            Maintenance::Report => Ok(messages(&reports)),
        };
        let (heads, rows) = match combined {
            Ok(combined) => combined,
            Err(e) => return self.send_error(e).await,
        };
        if heads.is_empty() {
            return self.send_ok(0, 0).await;
        }
        let metas = match (heads.iter())
            .map(|h| ColumnMeta::from_definition(h))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(metas) => metas,
            Err(e) => {
                return self
                    .send_error(ClientError::new(1105, b"HY000", e.to_string()))
                    .await
            }
        };
        let result = Evaluated {
            heads,
            metas,
            found: rows.len() as u64,
            rows,
        };
        self.write_result(result, (0, Diagnostics::default()), binary)
            .await
    }

    /// `shard`'s report of `text`.
    async fn maintenance_report(
        &self,
        runtime: &Runtime,
        shard: ShardId,
        text: &[u8],
    ) -> Result<Report, ClientError> {
        let name = &runtime.topology.shards[shard].name;
        let named = |e: ClientError| ClientError {
            message: format!("shard {name}: {}", e.message),
            ..e
        };
        let mut conn =
            (self.checkout(runtime, shard).await).map_err(|e| named(ClientError::from(&e)))?;
        match crate::state::result_rows(&mut conn, text).await {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(named(ClientError::from(e))),
            Err(e) => Err(named(ClientError::from(&e))),
        }
    }
}

/// A row's cells as text (`None`: NULL).
fn cells(row: &Bytes, width: usize) -> Result<Vec<Option<Vec<u8>>>, ClientError> {
    let mut pos = 0;
    (0..width)
        .map(|c| {
            shardgate_wire::text_row::read_cell(row, &mut pos, c)
                .map(|range| range.map(|(s, e)| row[s..e].to_vec()))
                .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))
        })
        .collect()
}

/// The table a report's `Table` cell (`db.table`) names, lower-cased without its database.
fn table_of(cell: Option<&[u8]>) -> String {
    let text = String::from_utf8_lossy(cell.unwrap_or_default()).to_ascii_lowercase();
    match text.rsplit_once('.') {
        Some((_, table)) => table.to_owned(),
        None => text,
    }
}

/// `CHECKSUM TABLE`: per table of the first report, the shards' checksums added modulo 2^32
/// for a sharded table, the first report's for another (a reference table's copies hold the
/// same rows); NULL when any shard has none.
fn checksums(runtime: &Runtime, reports: &[Report]) -> Result<Report, ClientError> {
    let Some((heads, first)) = reports.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let width = heads.len();
    let mut rows = Vec::with_capacity(first.len());
    for (i, row) in first.iter().enumerate() {
        let cells_of = cells(row, width)?;
        let table = table_of(cells_of.first().and_then(|c| c.as_deref()));
        let sharded = runtime.topology.table(&table).is_some();
        let mut sum: Option<u64> = Some(0);
        let parts = if sharded { reports } else { &reports[..1] };
        for (_, other) in parts {
            let cell = match other.get(i) {
                Some(r) => cells(r, width)?.get(1).cloned().flatten(),
                None => None,
            };
            let value = cell.and_then(|c| String::from_utf8(c).ok()?.parse::<u64>().ok());
            sum = match (sum, value) {
                (Some(s), Some(v)) => Some((s + v) % (1 << 32)),
                _ => None,
            };
        }
        let sum = sum.map(|s| s.to_string().into_bytes());
        let combined: Vec<Option<&[u8]>> =
            vec![cells_of.first().and_then(|c| c.as_deref()), sum.as_deref()];
        rows.push(Bytes::from(shardgate_wire::text_row::text_row(combined)));
    }
    Ok((heads.clone(), rows))
}

/// `CHECK` / `OPTIMIZE` / `ANALYZE` / `REPAIR`: every report's rows grouped by table (in the
/// order tables first appear), each distinct row once, in the order it first appears.
fn messages(reports: &[Report]) -> Report {
    let Some((heads, _)) = reports.iter().find(|(h, _)| !h.is_empty()) else {
        return (Vec::new(), Vec::new());
    };
    let mut tables: Vec<(Vec<u8>, Vec<Bytes>)> = Vec::new();
    for (_, rows) in reports {
        for row in rows {
            let table = shardgate_wire::text_row::text_cell(row, 0)
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_vec();
            let at = match tables.iter().position(|(t, _)| *t == table) {
                Some(at) => at,
                None => {
                    tables.push((table, Vec::new()));
                    tables.len() - 1
                }
            };
            if !tables[at].1.contains(row) {
                tables[at].1.push(row.clone());
            }
        }
    }
    let rows = tables.into_iter().flat_map(|(_, rows)| rows).collect();
    (heads.clone(), rows)
}
