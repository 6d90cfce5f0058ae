//! Runs a `CREATE TABLE … SELECT` one shard cannot run alone (`router/src/create_from_select.rs`):
//! the table created on the default shard as the SELECT describes its columns — and, when the
//! config shards or copies it, on every other shard as the default shard's `SHOW CREATE TABLE`
//! defines it — then filled by an `INSERT … SELECT` the session runs like any statement; when
//! that fails, the table is dropped wherever it was created, as MariaDB leaves no table behind a
//! failed CREATE … SELECT. With declared columns the fill names the SELECT's columns, read from
//! the default shard; `IF NOT EXISTS` of a table that exists answers MariaDB's note 1050 and
//! writes nothing.

use shardgate_ring::ShardId;
use shardgate_router::CreateFromSelect;

use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::{Session, Step};

impl Session {
    /// Answers `request` with the fill's answer (its rows counted as MariaDB counts them).
    pub(crate) async fn create_from_select(
        &mut self,
        runtime: &Runtime,
        request: &CreateFromSelect,
    ) -> Step {
        if let Err(e) = self.outside_transaction("CREATE TABLE … SELECT across shards") {
            return self.send_error(e).await;
        }
        let default_shard = runtime.topology.default_shard;
        match self
            .run_own(runtime, default_shard, request.create.as_bytes())
            .await
        {
            Ok(()) => {}
            // ER_TABLE_EXISTS_ERROR: `IF NOT EXISTS` makes it a note, and nothing is written.
            Err(e) if e.code == 1050 && request.if_not_exists => {
                self.diagnostics = crate::diagnostics::Diagnostics::note(1050, e.message);
                self.diagnostics_read = true;
                return self.send_ok(0, 1).await;
            }
            Err(e) => return self.send_error(e).await,
        }
        let mut created = vec![default_shard];
        if request.everywhere {
            if let Err(e) = self.create_elsewhere(runtime, request, &mut created).await {
                self.drop_created(runtime, request, &created).await;
                return self.send_error(e).await;
            }
        }
        let columns = match request.declares_columns {
            true => match self.select_columns(runtime, request).await {
                Ok(columns) => Some(columns),
                Err(e) => {
                    self.drop_created(runtime, request, &created).await;
                    return self.send_error(e).await;
                }
            },
            false => None,
        };
        let insert = request.insert(columns.as_deref());
        let answered_error = std::mem::take(&mut self.answered_error);
        let step = Box::pin(self.run_rewritten(runtime, insert.as_bytes())).await;
        if self.answered_error {
            self.drop_created(runtime, request, &created).await;
        }
        self.answered_error |= answered_error;
        step
    }

    /// Creates the table on every shard but the default one, as the default shard defines it;
    /// `created` gains each shard where it was.
    async fn create_elsewhere(
        &mut self,
        runtime: &Runtime,
        request: &CreateFromSelect,
        created: &mut Vec<ShardId>,
    ) -> Result<(), ClientError> {
        let default_shard = runtime.topology.default_shard;
        let show = format!("SHOW CREATE TABLE {}", request.table);
        let definition = self.definition(runtime, default_shard, &show).await?;
        let create = request.create_elsewhere(&definition).ok_or_else(|| {
            ClientError::new(
                1105,
                b"HY000",
                format!("shardgate could not read `{show}` on the default shard: {definition}"),
            )
        })?;
        for shard in 0..runtime.topology.shards.len() {
            if shard != default_shard {
                let name = &runtime.topology.shards[shard].name;
                (self.run_own(runtime, shard, create.as_bytes()).await)
                    .map_err(|e| e.on_shard(name))?;
                created.push(shard);
            }
        }
        Ok(())
    }

    /// The names of the SELECT's columns, as the default shard describes them.
    async fn select_columns(
        &mut self,
        runtime: &Runtime,
        request: &CreateFromSelect,
    ) -> Result<Vec<String>, ClientError> {
        let shard = runtime.topology.default_shard;
        let query = request.columns_query();
        let (heads, _) = self.read_own(runtime, shard, query.as_bytes()).await?;
        (heads.iter())
            .map(|head| {
                shardgate_wire::column_definition::column_name(head)
                    .map(|name| String::from_utf8_lossy(name).into_owned())
                    .ok_or_else(|| {
                        ClientError::new(
                            1105,
                            b"HY000",
                            format!("shardgate could not read the columns of `{query}`"),
                        )
                    })
            })
            .collect()
    }

    /// The `Create Table` cell of `show` on `shard`.
    async fn definition(
        &mut self,
        runtime: &Runtime,
        shard: ShardId,
        show: &str,
    ) -> Result<String, ClientError> {
        let (_, rows) = self.read_own(runtime, shard, show.as_bytes()).await?;
        let cell = rows
            .first()
            .and_then(|row| shardgate_wire::text_row::text_cell(row, 1).ok().flatten());
        Ok(String::from_utf8_lossy(cell.unwrap_or_default()).into_owned())
    }

    /// Drops the table a failed CREATE … SELECT created on `created`.
    async fn drop_created(
        &mut self,
        runtime: &Runtime,
        request: &CreateFromSelect,
        created: &[ShardId],
    ) {
        for &shard in created {
            if let Err(e) = self
                .run_own(runtime, shard, request.drop_table().as_bytes())
                .await
            {
                let shard = &runtime.topology.shards[shard].name;
                tracing::warn!(table = %request.table, %shard, error = %e.message, "the table a failed CREATE … SELECT created could not be dropped");
            }
        }
    }
}
