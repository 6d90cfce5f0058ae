//! A result set the proxy answers itself (`SHOW PROCESSLIST`, `EXPLAIN` across shards): its
//! column definitions and text cells, sent in text-protocol rows, or in binary-protocol rows
//! for a prepared statement's execution.

use bytes::Bytes;
use shardgate_merge::{BinaryRowEncoder, ColumnMeta};
use shardgate_protocol::CapabilityFlags;
use shardgate_wire::column_definition::ColumnDef;
use shardgate_wire::packets;

use crate::session::{End, Session, Step};

impl Session {
    /// Sends `rows` under `columns`, binary-protocol rows with `binary`.
    pub(crate) async fn send_proxy_rows<R: AsRef<[Option<String>]>>(
        &mut self,
        columns: &[ColumnDef],
        rows: &[R],
        binary: bool,
    ) -> Step {
        let encoder = binary.then(|| {
            let metas: Result<Vec<ColumnMeta>, _> = columns
                .iter()
                .map(|c| ColumnMeta::from_definition(&c.encode()))
                .collect();
            BinaryRowEncoder::new(&metas.expect("definitions the proxy wrote"))
        });
        let extended_metadata = self.flavor.extended_metadata();
        let status = self.status();
        let mut out = Vec::with_capacity(columns.len() + rows.len() + 3);
        out.push(packets::column_count(columns.len() as u64));
        out.extend(columns.iter().map(|c| c.encode_for(extended_metadata)));
        if !self
            .capabilities
            .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
        {
            out.push(packets::eof(status, 0));
        }
        for row in rows {
            let cells = row.as_ref();
            let text = shardgate_wire::text_row::text_row(
                cells.iter().map(|c| c.as_deref().map(str::as_bytes)),
            );
            match &encoder {
                Some(encoder) => {
                    let mut binary_row = Vec::new();
                    encoder
                        .encode(&Bytes::from(text), &mut binary_row)
                        .expect("cells the proxy wrote");
                    out.push(binary_row);
                }
                None => out.push(text),
            }
        }
        out.push(packets::result_terminator(self.capabilities, status, 0));
        for packet in &out {
            self.client.queue_packet(packet);
        }
        self.client.flush().await.map_err(End::Client)
    }
}
