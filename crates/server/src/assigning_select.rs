//! A SELECT assigning user variables in its select list across shards
//! (`router/src/assigning_select.rs`): its SELECT without the assignments runs through the
//! proxy as any (its rows held, under `merge_max_rows` / `merge_max_bytes`), the client gets
//! those rows under the column definitions MariaDB describes for the statement as written
//! (prepared on the default shard, never executed: an assignment's type is not its value's;
//! `Session::described_on_default_shard`), written as held rows are (`write_result`),
//! and each variable takes its column's value, typed as MariaDB's assignment types it
//! (`variable_literals`). Refused (1235) when which row assigns last would matter: rows that
//! differ in an assigned column, or a LIMIT reached where MariaDB may evaluate rows beyond it.

use bytes::{Bytes, BytesMut};
use shardgate_merge::{ColumnMeta, ValueKind};
use shardgate_protocol::ColumnType;
use shardgate_router::{Assigned, AssigningSelect};

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::running_count;
use crate::runtime::Runtime;
use crate::select_rows::RowsOf;
use crate::session::{Session, Step};
use crate::set_operation::Evaluated;

/// What the client gets, and what the variables become.
struct Answer {
    definitions: Vec<BytesMut>,
    rows: Vec<Bytes>,
    diagnostics: Diagnostics,
    /// (variable, statement setting it): what a row assigned them, or, without a row, the
    /// NULL a variable MariaDB creates holds.
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
        let metas = match self.answer_metas(&answer.definitions, binary) {
            Ok(metas) => metas,
            Err(e) => return self.send_error(e).await,
        };
        if !answer.assignments.is_empty() {
            self.set_variables(answer.assignments).await;
        }
        let warnings = u16::try_from(answer.diagnostics.count()).unwrap_or(u16::MAX);
        let result = Evaluated {
            heads: answer.definitions,
            metas,
            found: answer.rows.len() as u64,
            rows: answer.rows,
        };
        self.write_result(result, (warnings, answer.diagnostics), binary)
            .await
    }

    async fn assigning_select_answer(
        &mut self,
        runtime: &Runtime,
        request: &AssigningSelect,
    ) -> Result<Answer, ClientError> {
        let definitions = match self
            .described_on_default_shard(runtime, request.statement.as_bytes())
            .await
        {
            Ok(Ok(definitions)) => definitions,
            Ok(Err(e)) => return Err(ClientError::from(e)),
            Err(e) => return Err(ClientError::from(&e)),
        };
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
        let (counts, plain): (Vec<&Assigned>, Vec<&Assigned>) =
            request.assigned.iter().partition(|a| a.step.is_some());
        let positions: Vec<usize> = plain.iter().map(|a| a.column).collect();
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
            // No row: MariaDB assigned nothing, but a variable the session did not have yet
            // exists now, NULL in its default character set (latin1).
            let created = (request.assigned.iter())
                .filter(|a| self.state.var_text(&a.name).is_none())
                .map(|a| {
                    let sql = format!("SET {} = CONVERT(NULL USING latin1)", a.name);
                    (a.name.clone(), sql.into_bytes())
                })
                .collect();
            return Ok(Answer {
                definitions,
                rows,
                diagnostics: selected.diagnostics,
                assignments: created,
            });
        };
        // In the answer's order MariaDB assigns the last row's values last; in another order,
        // only rows all alike say what it assigned.
        for &c in positions.iter().filter(|_| !request.ordered) {
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
                        &format!("its rows differ in column {}, and which row MariaDB assigns last is the order it evaluates them in; ordered by the whole primary key of its one table, it is known", c + 1),
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
        let mut assignments: Vec<(String, Vec<u8>)> = (plain.iter().zip(literals))
            .map(|(a, literal)| {
                (
                    a.name.clone(),
                    format!("SET {} = {literal}", a.name).into_bytes(),
                )
            })
            .collect();
        if !counts.is_empty() {
            let starts = self.count_starts(runtime, &counts).await?;
            let counted =
                running_count::number_rows(&mut rows, definitions.len(), &counts, &starts)?;
            for (a, value) in counts.iter().zip(counted) {
                let meta = (definitions.get(a.column))
                    .and_then(|d| ColumnMeta::from_definition(d).ok())
                    .unwrap_or_else(|| ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE));
                let literal = running_count::count_literal(value, &meta);
                assignments.push((
                    a.name.clone(),
                    format!("SET {} = {literal}", a.name).into_bytes(),
                ));
            }
        }
        Ok(Answer {
            definitions,
            rows,
            diagnostics: selected.diagnostics,
            assignments,
        })
    }

    /// The metadata of the columns `definitions` describe (MariaDB's extended metadata left
    /// out). In `binary` rows a FLOAT / DOUBLE column is refused: its text, which the proxy
    /// encodes, may show fewer digits than the binary protocol carries.
    fn answer_metas(
        &self,
        definitions: &[BytesMut],
        binary: bool,
    ) -> Result<Vec<ColumnMeta>, ClientError> {
        let plain = match self.flavor.extended_metadata() {
            true => crate::extended_metadata::split(definitions)?.0,
            false => definitions.to_vec(),
        };
        let metas = (plain.iter())
            .map(|d| ColumnMeta::from_definition(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))?;
        let floats =
            (metas.iter()).any(|m| matches!(m.kind(), ValueKind::Float | ValueKind::Double));
        if binary && floats {
            return Err(ClientError::new(
                1235,
                b"42000",
                "a prepared SELECT assigning user variables across shards with a FLOAT / DOUBLE column is not supported by shardgate: its text may show fewer digits than the binary protocol carries",
            ));
        }
        Ok(metas)
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
