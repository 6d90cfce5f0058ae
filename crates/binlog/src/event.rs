//! One packet of a MariaDB binlog dump → what the catch-up does with it.
//!
//! `mysql_common`'s reader decodes the format description, table maps and rows events (and
//! strips CRC32 checksums); MariaDB's own events (GTID 162, GTID list 163, annotate rows 160,
//! binlog checkpoint 161) are unknown to it and read here. A transaction is a GTID event, its
//! rows events, and an XID event (or a `COMMIT` query for non-transactional tables); a GTID
//! event flagged standalone is a statement of its own (DDL), with no commit after it.

use std::collections::HashSet;

use mysql_common::binlog::consts::{BinlogVersion, EventType};
use mysql_common::binlog::events::{EventData, RowsEventData};
use mysql_common::binlog::EventStreamReader;

use crate::gtid::Gtid;
use crate::moves::{Row, RowChange};
use crate::BinlogError;

/// MariaDB's event types (`log_event.h`).
const MARIADB_GTID_EVENT: u8 = 162;
/// Compressed query and rows events (`log_bin_compress`), and encryption.
const MARIADB_UNREADABLE: std::ops::RangeInclusive<u8> = 164..=171;
/// The GTID event's flag for a transaction of one statement (DDL) with no COMMIT event.
const FL_STANDALONE: u8 = 1;

/// What one event means to the catch-up.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A transaction begins; `standalone` ones end with their one statement.
    Begin {
        gtid: Gtid,
        standalone: bool,
        /// When the source wrote it (seconds since the epoch).
        timestamp: u32,
    },
    /// Row changes of a followed table.
    Rows {
        database: String,
        table: String,
        changes: Vec<RowChange>,
    },
    /// The transaction commits.
    Commit,
    /// The transaction's non-transactional changes are logged and the rest rolled back.
    Rollback,
    /// A statement logged as text (DDL, or a statement-format change).
    Query { database: String, sql: String },
    /// Anything else: rotation, format description, heartbeats, row changes of other tables.
    Other,
}

/// Decodes the events of one dump connection, in order (table maps and the format
/// description are remembered between events).
pub struct Decoder {
    reader: EventStreamReader,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            reader: EventStreamReader::new(BinlogVersion::Version4),
        }
    }
}

/// The common header: timestamp 4, type 1, server id 4, event size 4, next position 4, flags 2.
const HEADER_LEN: usize = 19;

impl Decoder {
    /// Decodes one event (a dump packet without its leading 0x00); rows events only for the
    /// tables `follows(database, table)` accepts.
    pub fn decode(
        &mut self,
        event: &[u8],
        follows: &HashSet<(String, String)>,
    ) -> Result<Decoded, BinlogError> {
        // The reader panics on an event shorter than its header says: check first.
        let size = (event.get(9..13))
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(BinlogError::Truncated)?;
        if size < HEADER_LEN || size > event.len() {
            return Err(BinlogError::Truncated);
        }
        let kind = event[4];
        if MARIADB_UNREADABLE.contains(&kind) {
            return Err(BinlogError::Compressed(kind));
        }
        let read = (self.reader.read(&event[..size]))
            .map_err(|e| BinlogError::Malformed(e.to_string()))?;
        let Some(read) = read else {
            return Ok(Decoded::Other);
        };
        let header = read.header();
        if kind == MARIADB_GTID_EVENT {
            return mariadb_gtid(read.data(), header.server_id(), header.timestamp());
        }
        if kind == EventType::XID_EVENT as u8 {
            return Ok(Decoded::Commit);
        }
        let malformed = |e: std::io::Error| BinlogError::Malformed(e.to_string());
        match read.read_data().map_err(malformed)? {
            Some(EventData::QueryEvent(q)) => {
                let sql = q.query().trim().to_owned();
                Ok(match sql.to_ascii_uppercase().as_str() {
                    "COMMIT" => Decoded::Commit,
                    "ROLLBACK" => Decoded::Rollback,
                    // MariaDB writes no BEGIN after a GTID event; older formats might.
                    "BEGIN" => Decoded::Other,
                    _ => Decoded::Query {
                        database: q.schema().into_owned(),
                        sql,
                    },
                })
            }
            Some(EventData::RowsEvent(rows)) => self.rows(&rows, follows),
            _ => Ok(Decoded::Other),
        }
    }

    fn rows(
        &self,
        rows: &RowsEventData<'_>,
        follows: &HashSet<(String, String)>,
    ) -> Result<Decoded, BinlogError> {
        let tme = (self.reader.get_tme(rows.table_id())).ok_or(BinlogError::NoTableMap)?;
        let key = (
            tme.database_name().into_owned(),
            tme.table_name().into_owned(),
        );
        if !follows.contains(&key) {
            return Ok(Decoded::Other);
        }
        let (database, table) = key;
        let columns = tme.columns_count() as usize;
        // Columns in each image (an image an event type lacks counts as whole).
        let (before, after) = match rows {
            RowsEventData::WriteRowsEventV1(e) => (columns, e.columns_after_image().count_ones()),
            RowsEventData::WriteRowsEvent(e) => (columns, e.columns_after_image().count_ones()),
            RowsEventData::UpdateRowsEventV1(e) => (
                e.columns_before_image().count_ones(),
                e.columns_after_image().count_ones(),
            ),
            RowsEventData::UpdateRowsEvent(e) => (
                e.columns_before_image().count_ones(),
                e.columns_after_image().count_ones(),
            ),
            RowsEventData::DeleteRowsEventV1(e) => (e.columns_before_image().count_ones(), columns),
            RowsEventData::DeleteRowsEvent(e) => (e.columns_before_image().count_ones(), columns),
            RowsEventData::PartialUpdateRowsEvent(_) => (0, 0),
        };
        if before != columns || after != columns {
            return Err(BinlogError::PartialRowImage(table));
        }
        let values = |row: mysql_common::binlog::row::BinlogRow| -> Row {
            (0..row.len())
                .filter_map(|i| row.as_ref(i).map(|v| v.clone().into_owned()))
                .collect()
        };
        let mut changes = Vec::new();
        for pair in rows.rows(tme) {
            let (before, after) = pair.map_err(|e| BinlogError::Malformed(e.to_string()))?;
            changes.push(match (before.map(values), after.map(values)) {
                (None, Some(row)) => RowChange::Insert(row),
                (Some(row), None) => RowChange::Delete(row),
                (Some(before), Some(after)) => RowChange::Update { before, after },
                (None, None) => continue,
            });
        }
        Ok(Decoded::Rows {
            database,
            table,
            changes,
        })
    }
}

/// MariaDB's GTID event: sequence number 8, domain id 4, flags 1, then optional parts.
fn mariadb_gtid(data: &[u8], server: u32, timestamp: u32) -> Result<Decoded, BinlogError> {
    let (Some(seq), Some(domain), Some(&flags)) = (data.get(0..8), data.get(8..12), data.get(12))
    else {
        return Err(BinlogError::Truncated);
    };
    let seq = u64::from_le_bytes(seq.try_into().expect("8 bytes"));
    let domain = u32::from_le_bytes(domain.try_into().expect("4 bytes"));
    Ok(Decoded::Begin {
        gtid: Gtid {
            domain,
            server,
            seq,
        },
        standalone: flags & FL_STANDALONE != 0,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event of `kind` with `data`, no checksum.
    fn event(kind: u8, server: u32, data: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        e.push(kind);
        e.extend_from_slice(&server.to_le_bytes());
        e.extend_from_slice(&((HEADER_LEN + data.len()) as u32).to_le_bytes());
        e.extend_from_slice(&0u32.to_le_bytes());
        e.extend_from_slice(&0u16.to_le_bytes());
        e.extend_from_slice(data);
        e
    }

    #[test]
    fn reads_mariadb_gtid_events() {
        let mut data = 1234u64.to_le_bytes().to_vec();
        data.extend_from_slice(&2u32.to_le_bytes());
        data.push(FL_STANDALONE);
        let decoded = Decoder::default()
            .decode(&event(162, 201, &data), &HashSet::new())
            .unwrap();
        assert_eq!(
            decoded,
            Decoded::Begin {
                gtid: "2-201-1234".parse().unwrap(),
                standalone: true,
                timestamp: 1_700_000_000
            }
        );
    }

    #[test]
    fn refuses_compressed_and_truncated_events() {
        let mut decoder = Decoder::default();
        let follows = HashSet::new();
        assert!(matches!(
            decoder.decode(&event(169, 1, &[0; 8]), &follows),
            Err(BinlogError::Compressed(169))
        ));
        let mut short = event(162, 1, &[0; 13]);
        short.truncate(20);
        assert!(matches!(
            decoder.decode(&short, &follows),
            Err(BinlogError::Truncated)
        ));
        assert!(matches!(
            decoder.decode(&[0; 5], &follows),
            Err(BinlogError::Truncated)
        ));
        let gtid_too_short = event(162, 1, &[0; 5]);
        assert!(matches!(
            decoder.decode(&gtid_too_short, &follows),
            Err(BinlogError::Truncated)
        ));
    }

    #[test]
    fn other_mariadb_events_are_skipped() {
        let mut decoder = Decoder::default();
        for kind in [160, 161, 163] {
            let decoded = decoder.decode(&event(kind, 1, &[0; 12]), &HashSet::new());
            assert_eq!(decoded.unwrap(), Decoded::Other, "{kind}");
        }
    }
}
