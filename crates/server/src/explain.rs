//! `EXPLAIN` of a statement that does not run on one shard: the proxy's plan tree as rows, the
//! rows of `SHOW SHARDGATE ROUTE FOR` (one per operator, with the shard and the text it sends
//! there); in binary-protocol rows for a prepared statement's execution.

use bytes::Bytes;
use shardgate_merge::{BinaryRowEncoder, ColumnMeta};
use shardgate_protocol::packets::{self, ColumnDef};
use shardgate_protocol::CapabilityFlags;
use shardgate_router::{Explained, PlanTree};

use crate::admin::{plan_rows, PLAN_COLUMNS};
use crate::runtime::Runtime;
use crate::session::{End, Session, Step};

impl Session {
    /// Answers `EXPLAIN` of `explained` with its plan tree.
    pub(crate) async fn explain(
        &mut self,
        runtime: &Runtime,
        explained: &Explained,
        binary: bool,
    ) -> Step {
        let tree = PlanTree::of(&explained.plan, &runtime.topology);
        let rows = plan_rows(&tree, runtime, &explained.sql);
        let columns: Vec<ColumnDef> = PLAN_COLUMNS.iter().map(|c| ColumnDef::varchar(c)).collect();
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
        for row in &rows {
            let text = packets::text_row(row.iter().map(|c| c.as_deref().map(str::as_bytes)));
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
