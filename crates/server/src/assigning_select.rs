//! A SELECT assigning user variables in its select list across shards
//! (`router/src/assigning_select.rs`): its SELECT without the assignments runs through the
//! proxy as any (its rows held, under `merge_max_rows` / `merge_max_bytes`), the client gets
//! those rows under the column definitions MariaDB describes for the statement as written
//! (prepared on the default shard, never executed: an assignment's type is not its value's),
//! and each variable takes its column's value, typed as MariaDB's assignment types it
//! (`variable_literals`). Refused (1235) when which row assigns last would matter: rows that
//! differ in an assigned column, or a LIMIT reached where MariaDB may evaluate rows beyond it.

use bytes::{Bytes, BytesMut};
use shardgate_merge::{BinaryRowEncoder, ColumnMeta, ValueKind};
use shardgate_protocol::ColumnType;
use shardgate_router::AssigningSelect;
use shardgate_wire::packets;

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::select_rows::RowsOf;
use crate::session::{End, Session, Step};

/// What the client gets, and what the variables become.
struct Answer {
    definitions: Vec<BytesMut>,
    rows: Vec<Bytes>,
    diagnostics: Diagnostics,
    /// (variable, statement setting it), when a row assigned them.
    assignments: Vec<(String, Vec<u8>)>,
}

impl Session {
    /// Answers `request` (in binary rows for a prepared statement's execution).
    pub(crate) async fn assigning_select(
        &mut self,
        runtime: &Runtime,
        request: &AssigningSelect,
        binary: bool,
    ) -> Step {
        let answer = match self.assigning_select_answer(runtime, request).await {
            Ok(answer) => answer,
            Err(e) => return self.send_error(e).await,
        };
        let encoder = match binary {
            true => match self.binary_encoder(&answer.definitions) {
                Ok(encoder) => Some(encoder),
                Err(e) => return self.send_error(e).await,
            },
            false => None,
        };
        let mut encoded = Vec::new();
        if let Some(encoder) = &encoder {
            for row in &answer.rows {
                let mut buffer = Vec::new();
                if let Err(e) = encoder.encode(row, &mut buffer) {
                    let e = ClientError::new(1105, b"HY000", e.to_string());
                    return self.send_error(e).await;
                }
                encoded.push(Bytes::from(buffer));
            }
        }
        let rows = if binary { &encoded } else { &answer.rows };
        let status = self.status();
        (self.client).queue_result_head(answer.definitions.iter(), self.capabilities, status);
        for row in rows {
            self.client.queue_packet(row);
            if self.client.write_buffer().len() >= 64 * 1024 {
                self.client.flush().await.map_err(End::Client)?;
            }
        }
        self.previous.row_count = -1;
        self.set_found_rows(answer.rows.len() as u64);
        let warnings = u16::try_from(answer.diagnostics.count()).unwrap_or(u16::MAX);
        self.diagnostics = answer.diagnostics;
        self.diagnostics_read = true;
        if !answer.assignments.is_empty() {
            self.set_variables(answer.assignments).await;
        }
        let end = packets::result_terminator(self.capabilities, self.status(), warnings);
        self.client.queue_packet(&end);
        self.client.flush().await.map_err(End::Client)
    }

    async fn assigning_select_answer(
        &mut self,
        runtime: &Runtime,
        request: &AssigningSelect,
    ) -> Result<Answer, ClientError> {
        let definitions = self.described(runtime, &request.statement).await?;
        let rows_of = RowsOf {
            select: &request.select,
            purpose: format!("SELECT assigning {}", request.vars().join(", ")),
            columns: Some(definitions.len()),
            wrong_columns: || {
                ClientError::new(
                    1105,
                    b"HY000",
                    "the SELECT without its assignments has other columns than with them",
                )
            },
            over_copies: true,
        };
        let selected = self.selected_rows(runtime, &rows_of).await?;
        let mut rows = selected.rows;
        // The statement's LIMIT, or the session's sql_select_limit standing for one.
        let reached = match request.limit {
            Some(n) => n > 0 && rows.len() as u64 >= n,
            None if self.state.select_limit_set() => {
                let limit = self.state.var_number("sql_select_limit").ok_or_else(|| {
                    refusal(request, "the session's sql_select_limit is not a number")
                })?;
                let cut = rows.len() as u64 > limit;
                rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                cut
            }
            None => false,
        };
        if reached && !request.evaluates_answered_rows_only {
            return Err(refusal(
                request,
                "its LIMIT is reached, and MariaDB may assign from rows beyond it (a join, a derived table, grouping or DISTINCT)",
            ));
        }
        let positions: Vec<usize> = request.assigned.iter().map(|(c, _)| *c).collect();
        for &c in &positions {
            if matches!(
                selected.columns[c].column_type,
                ColumnType::MYSQL_TYPE_FLOAT | ColumnType::MYSQL_TYPE_BIT
            ) {
                return Err(refusal(
                    request,
                    &format!(
                        "column {} is a FLOAT or BIT, whose value assigned is not the one shown",
                        c + 1
                    ),
                ));
            }
        }
        let Some(last) = rows.last().cloned() else {
            // No row: MariaDB assigned nothing.
            return Ok(Answer {
                definitions,
                rows,
                diagnostics: selected.diagnostics,
                assignments: Vec::new(),
            });
        };
        for &c in &positions {
            let cell = |row: &Bytes| {
                shardgate_wire::text_row::text_cell(row, c)
                    .map(|cell| cell.map(<[u8]>::to_vec))
                    .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))
            };
            let value = cell(&last)?;
            for row in &rows {
                if cell(row)? != value {
                    return Err(refusal(
                        request,
                        &format!("its rows differ in column {}, and which row MariaDB assigns last is the order it evaluates them in", c + 1),
                    ));
                }
            }
        }
        let literals = self
            .variable_literals(
                runtime,
                &request.select,
                &selected.columns,
                Some(&last),
                Some(&positions),
            )
            .await?;
        let assignments = (request.assigned.iter().zip(literals))
            .map(|((_, name), literal)| {
                (name.clone(), format!("SET {name} = {literal}").into_bytes())
            })
            .collect();
        Ok(Answer {
            definitions,
            rows,
            diagnostics: selected.diagnostics,
            assignments,
        })
    }

    /// The encoder of binary rows under `definitions` (MariaDB's extended metadata left
    /// out). A FLOAT / DOUBLE column is refused: its text, which the proxy encodes, may show
    /// fewer digits than the binary protocol carries.
    fn binary_encoder(&self, definitions: &[BytesMut]) -> Result<BinaryRowEncoder, ClientError> {
        let plain = match self.flavor.extended_metadata() {
            true => crate::extended_metadata::split(definitions)?.0,
            false => definitions.to_vec(),
        };
        let metas = (plain.iter())
            .map(|d| ColumnMeta::from_definition(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))?;
        if metas
            .iter()
            .any(|m| matches!(m.kind(), ValueKind::Float | ValueKind::Double))
        {
            return Err(ClientError::new(
                1235,
                b"42000",
                "a prepared SELECT assigning user variables across shards with a FLOAT / DOUBLE column is not supported by shardgate: its text may show fewer digits than the binary protocol carries",
            ));
        }
        Ok(BinaryRowEncoder::new(&metas))
    }

    /// The column definitions MariaDB gives `statement`'s result, prepared (never executed)
    /// on the default shard.
    async fn described(
        &self,
        runtime: &Runtime,
        statement: &str,
    ) -> Result<Vec<BytesMut>, ClientError> {
        let shard = runtime.topology.default_shard;
        let mut conn = (self.checkout(runtime, shard).await).map_err(|e| ClientError::from(&e))?;
        let described = conn.describe(statement.as_bytes()).await;
        // Preparing an assignment creates its variable, NULL, on the connection: the session
        // does not hold it, so the connection is reset before it serves again.
        conn.vars_fingerprint = crate::state::DIRTY;
        match described {
            Ok(Ok(definitions)) => Ok(definitions),
            Ok(Err(e)) => Err(ClientError::from(e)),
            Err(e) => Err(ClientError::from(&e)),
        }
    }
}

/// 1235 for `request`, naming `why`.
fn refusal(request: &AssigningSelect, why: &str) -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        format!(
            "assigning user variables ({}) in a SELECT that runs on several shards: {why}; this is not supported by shardgate",
            request.vars().join(", ")
        ),
    )
}
