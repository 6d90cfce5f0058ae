//! The rows of a SELECT the proxy runs itself and writes into another statement as literals
//! (`INSERT … SELECT` by rows, a write after its subqueries): the SELECT runs through the
//! proxy (on its one shard, or on every shard when its rows need no merge), its rows are
//! kept, at most `[server] merge_max_rows` / `merge_max_bytes` of them (1038 beyond), each
//! cell as a literal MariaDB reads back as the same value. Inside a transaction the SELECT
//! reads in it.

use bytes::Bytes;
use shardgate_backend::{BackendConn, QueryHead};
use shardgate_merge::ColumnMeta;
use shardgate_protocol::response::Finish;
use shardgate_protocol::ColumnType;
use shardgate_router::{Route, RouteError};

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::session::Session;
use crate::set_operation::SetFailure;
use crate::statement_clock::under_settings;

/// One row, each cell an SQL literal.
pub(crate) type Row = Vec<Vec<u8>>;

/// A SELECT's rows as literals, or the column whose shown text is not its value.
pub(crate) enum Literals {
    Rows(Vec<Row>),
    Rounded(usize),
}

/// A SELECT whose rows the proxy reads.
pub(crate) struct RowsOf<'a> {
    /// The SELECT, as written.
    pub select: &'a str,
    /// What the rows are for, in errors (`INSERT … SELECT into `t``).
    pub purpose: String,
    /// The columns each row must have (`None`: any number),
    pub columns: Option<usize>,
    /// and the error when its rows have another number.
    pub wrong_columns: fn() -> ClientError,
    /// Whether a SELECT only copies of its sharded tables answer (`Route::Materialize`) is
    /// read from them.
    pub over_copies: bool,
}

/// 1235 for the SELECT of `request` whose rows the proxy cannot read.
fn not_answered(request: &RowsOf<'_>) -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        format!(
            "{}: the proxy reads its SELECT's rows itself, and this SELECT does not run on shards whose rows the proxy merges or combines (a join across shards, a derived table over a scatter …); select rows of one table",
            request.purpose
        ),
    )
}

impl RowsOf<'_> {
    /// What a SELECT that raised `diagnostics` answers instead of its rows, if anything: it
    /// raised conditions. MariaDB's write would either fail on them (a strict `sql_mode` makes
    /// the warnings it raises while it runs errors, not those raised while it is prepared) or
    /// report them with its own, and the write the proxy sends could do neither.
    pub(crate) fn raised(&self, diagnostics: &Diagnostics) -> Option<ClientError> {
        (!diagnostics.is_empty()).then(|| {
            ClientError::new(
                1235,
                b"42000",
                format!(
                    "{}: its SELECT, which the proxy runs first, raised warnings, which the write it then sends could neither fail on nor report as MariaDB's write would; this is not supported by shardgate",
                    self.purpose
                ),
            )
        })
    }
}

/// A SELECT's rows as the proxy reads them: text-protocol rows under their columns, and the
/// conditions the SELECT raised.
pub(crate) struct Selected {
    pub columns: Vec<ColumnMeta>,
    /// The columns' names.
    pub names: Vec<String>,
    pub rows: Vec<Bytes>,
    pub diagnostics: Diagnostics,
    /// Every row came from one shard's answer, in its order (a merge's or combination's rows
    /// have an order of the proxy's).
    pub one_shard: bool,
}

impl Session {
    /// The rows of the SELECT of `request` (planned with the schema cache), as literals;
    /// 1235 when a column's shown text is not its value ([`rounded_column`]).
    pub(crate) async fn select_rows(
        &mut self,
        runtime: &Runtime,
        request: &RowsOf<'_>,
    ) -> Result<Vec<Row>, ClientError> {
        match self.select_literals(runtime, request).await? {
            Literals::Rows(rows) => Ok(rows),
            Literals::Rounded(column) => Err(ClientError::new(
                1235,
                b"42000",
                format!(
                    "{}: column {} of its SELECT, which the proxy runs first, is {ROUNDED}, which the statement it then sends could not carry; this is not supported by shardgate",
                    request.purpose,
                    column + 1
                ),
            )),
        }
    }

    /// The rows of the SELECT of `request` as literals, or which column cannot give them.
    pub(crate) async fn select_literals(
        &mut self,
        runtime: &Runtime,
        request: &RowsOf<'_>,
    ) -> Result<Literals, ClientError> {
        let selected = self.selected_rows(runtime, request).await?;
        if let Some(e) = request.raised(&selected.diagnostics) {
            return Err(e);
        }
        let all: Vec<usize> = (0..selected.columns.len()).collect();
        if let Some(i) = rounded_column(request.select, self.syntax, &selected.columns, &all) {
            return Ok(Literals::Rounded(i));
        }
        let no_backslash_escapes =
            (self.syntax.sql_mode).contains(shardgate_router::SqlMode::NO_BACKSLASH_ESCAPES);
        let numeric: Vec<bool> = (selected.columns.iter())
            .map(|m| is_numeric(m.column_type))
            .collect();
        Ok(Literals::Rows(
            selected
                .rows
                .into_iter()
                .map(|row| {
                    (numeric.iter().enumerate())
                        .map(|(i, &numeric)| {
                            let cell = shardgate_wire::text_row::text_cell(&row, i).ok().flatten();
                            shardgate_protocol::interpolate::cell_literal(
                                cell,
                                numeric,
                                no_backslash_escapes,
                            )
                        })
                        .collect()
                })
                .collect(),
        ))
    }

    /// The setting that lifts the session's `sql_select_limit` for a SELECT whose rows the
    /// proxy reads: MariaDB's INSERT … SELECT reads every row whatever the limit; the proxy's
    /// SELECT of them is a statement of its own, which the limit would cut.
    pub(crate) fn no_select_limit(&self) -> Option<String> {
        (self.state.select_limit_set()).then(|| format!("sql_select_limit = {}", u64::MAX))
    }

    /// The rows of the SELECT of `request` (planned with the schema cache): on its one shard,
    /// on every shard when its rows need no merge, or merged by the proxy.
    pub(crate) async fn selected_rows(
        &mut self,
        runtime: &Runtime,
        request: &RowsOf<'_>,
    ) -> Result<Selected, ClientError> {
        let planned =
            crate::schema_loader::plan_with_schema(runtime, request.select, self.syntax).await;
        let mut bound = Bound {
            rows: runtime.topology.server.merge_max_rows,
            bytes: runtime.topology.server.merge_max_bytes,
        };
        let no_limit = self.no_select_limit();
        let no_limit = no_limit.as_deref();
        let mut selected = Selected {
            columns: Vec::new(),
            names: Vec::new(),
            rows: Vec::new(),
            diagnostics: Diagnostics::default(),
            one_shard: false,
        };
        let plan = match planned {
            Ok(plan) => plan,
            // A SELECT the proxy would run after its subqueries: read over copies of its
            // tables, where MariaDB computes them.
            Err(RouteError::SubqueriesFirst(_)) if request.over_copies => {
                shardgate_router::plan_over_copies(request.select, self.syntax, &runtime.topology)
                    .ok_or_else(|| not_answered(request))?
            }
            Err(e) => return Err(ClientError::from(&e)),
        };
        // Over copies of its sharded tables on one compute connection (a join across shards
        // too: its rows are the copies' joined by MariaDB).
        let copies = match &plan.route {
            Route::Materialize(materialize) => Some(materialize.as_ref()),
            Route::Join(join) => Some(&join.fallback),
            _ => None,
        };
        if let Some(materialize) = copies.filter(|_| request.over_copies) {
            let sql = plan.rewritten.as_deref().unwrap_or(request.select);
            let read = self.materialized_rows(
                runtime,
                materialize,
                sql,
                request,
                &mut bound,
                &mut selected,
            );
            Box::pin(read).await?;
            return Ok(selected);
        }
        let parts: Vec<(usize, String)> = match &plan.route {
            Route::Shard(shard) => vec![(
                *shard,
                plan.rewritten
                    .clone()
                    .unwrap_or_else(|| request.select.to_owned()),
            )],
            Route::Scatter(scatter) if scatter.merge.concatenates() => scatter
                .shards
                .iter()
                .enumerate()
                .map(|(i, s)| (*s, scatter.sql_for(i).to_owned()))
                .collect(),
            // Only without kept connections: a broken one would end the session's transaction.
            Route::SetOperation(set) if self.pins.is_empty() => {
                return match self.set_operation_rows(runtime, set, None).await {
                    Ok((evaluated, _))
                        if request.columns.is_some_and(|n| n != evaluated.metas.len()) =>
                    {
                        Err((request.wrong_columns)())
                    }
                    Ok((evaluated, (_, diagnostics))) => Ok(Selected {
                        names: names(&evaluated.heads),
                        columns: evaluated.metas,
                        rows: evaluated.rows,
                        diagnostics,
                        one_shard: false,
                    }),
                    Err(SetFailure::Error(e)) => Err(e),
                    Err(SetFailure::Lost(_)) => Err(ClientError::new(
                        1105,
                        b"HY000",
                        "a connection broke during a set operation across shards",
                    )),
                };
            }
            Route::Scatter(_) | Route::Join(_) => {
                let kept = match &plan.route {
                    Route::Scatter(scatter) => self.merged_rows(runtime, scatter).await?,
                    // A join across shards not read over copies (a derived table's rows).
                    Route::Join(join) => match Box::pin(self.joined_rows(runtime, join)).await {
                        Some(kept) => kept?,
                        None => return Err(not_answered(request)),
                    },
                    _ => unreachable!("matched above"),
                };
                let columns = metas(&kept.definitions)?;
                if request.columns.is_some_and(|n| n != columns.len()) {
                    return Err((request.wrong_columns)());
                }
                return Ok(Selected {
                    columns,
                    names: names(&kept.definitions),
                    rows: kept.rows,
                    diagnostics: kept.diagnostics,
                    one_shard: false,
                });
            }
            _ => return Err(not_answered(request)),
        };
        // The shards' rows read one clock, as one server's SELECT does.
        let clock = (parts.len() > 1).then(|| self.statement_clock()).flatten();
        let settings: Vec<&str> = clock.as_deref().into_iter().chain(no_limit).collect();
        let mut answering = 0;
        for (shard, sql) in parts {
            let before = selected.rows.len();
            let sql = under_settings(&sql, &settings);
            let read = if self.in_transaction() {
                self.join_txn(runtime, shard, false).await?;
                let conn = self.pins.conn(shard).expect("joined above");
                read_rows(conn, &sql, request, &mut bound, &mut selected).await
            } else {
                let mut lent = self
                    .lend_conn(runtime, shard)
                    .await
                    .map_err(|e| ClientError::from(&e))?;
                let read =
                    read_rows(&mut lent.conn, &sql, request, &mut bound, &mut selected).await;
                self.give_back_lent(shard, lent);
                read
            };
            read?;
            answering += usize::from(selected.rows.len() > before);
        }
        selected.one_shard = answering <= 1;
        Ok(selected)
    }
}

/// What [`rounded_column`] finds, in errors.
pub(crate) const ROUNDED: &str =
    "a value with more digits than its column shows (a DECIMAL quotient, a DOUBLE with fixed decimals)";

/// The first of the `wanted` columns (positions) of `select`'s answer whose shown text is not
/// its value: a DECIMAL quotient (`/`, `AVG`: `SELECT 2/3` shows `0.6667`, MariaDB carries
/// `0.666666666` into a variable or a row; `shardgate_router::dividing_items`) or a DOUBLE
/// shown with fixed decimals (`STD`, a DOUBLE times a DECIMAL). The proxy, which has the shown
/// text only, cannot carry such a value on.
pub(crate) fn rounded_column(
    select: &str,
    syntax: shardgate_router::Syntax,
    columns: &[ColumnMeta],
    wanted: &[usize],
) -> Option<usize> {
    let dividing = shardgate_router::dividing_items(select, syntax);
    let divides = |i: usize| match &dividing {
        Some(items) if items.len() == columns.len() => items[i],
        // Items and columns do not pair up (`*`): any item may be the column.
        Some(items) => items.iter().any(|&d| d),
        None => true,
    };
    wanted
        .iter()
        .copied()
        .find(|&i| match columns[i].column_type {
            ColumnType::MYSQL_TYPE_NEWDECIMAL | ColumnType::MYSQL_TYPE_DECIMAL => divides(i),
            ColumnType::MYSQL_TYPE_DOUBLE | ColumnType::MYSQL_TYPE_FLOAT => {
                columns[i].decimals < 31
            }
            _ => false,
        })
}

/// The names column definitions give their columns.
fn names<D: AsRef<[u8]>>(definitions: &[D]) -> Vec<String> {
    (definitions.iter())
        .map(|d| {
            let name = shardgate_wire::column_definition::column_name(d.as_ref());
            String::from_utf8_lossy(name.unwrap_or_default()).into_owned()
        })
        .collect()
}

/// The column metadata of column definitions.
fn metas<D: AsRef<[u8]>>(definitions: &[D]) -> Result<Vec<ColumnMeta>, ClientError> {
    (definitions.iter())
        .map(|d| {
            ColumnMeta::from_definition(d.as_ref())
                .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))
        })
        .collect()
}

/// What is left of `merge_max_rows` / `merge_max_bytes`.
pub(crate) struct Bound {
    rows: u64,
    bytes: u64,
}

/// Adds the rows of `sql` on `conn` to `selected`, within `bound`.
pub(crate) async fn read_rows(
    conn: &mut BackendConn,
    sql: &str,
    request: &RowsOf<'_>,
    bound: &mut Bound,
    selected: &mut Selected,
) -> Result<(), ClientError> {
    let heads = match conn
        .query_rows(sql.as_bytes())
        .await
        .map_err(|e| ClientError::from(&e))?
    {
        QueryHead::Columns(heads) => heads,
        QueryHead::Done(Finish::Err(e)) => return Err(ClientError::from(e)),
        QueryHead::Done(_) => {
            return Err(ClientError::new(
                1105,
                b"HY000",
                format!("{}: its SELECT gave no rows", request.purpose),
            ))
        }
    };
    // Metadata of the columns only, without MariaDB's extended type information.
    let columns = match conn.flavor.extended_metadata() {
        true => crate::extended_metadata::split(&heads).and_then(|(plain, _)| metas(&plain)),
        false => metas(&heads),
    };
    let wrong = |columns: &Result<Vec<ColumnMeta>, _>| match columns {
        Ok(columns) => request.columns.is_some_and(|n| n != columns.len()),
        Err(_) => true,
    };
    if wrong(&columns) {
        // Its rows are not read: the connection cannot serve again.
        conn.broken = true;
        return Err(columns.err().unwrap_or_else(request.wrong_columns));
    }
    selected.columns = columns?;
    selected.names = names(&heads);
    loop {
        let row = match conn.next_row().await.map_err(|e| ClientError::from(&e))? {
            Ok(row) => row,
            Err(Finish::Err(e)) => return Err(ClientError::from(e)),
            Err(Finish::Ok { warnings, .. }) if warnings > 0 => {
                let read = crate::diagnostics::read(conn, warnings).await;
                selected
                    .diagnostics
                    .extend(read.map_err(|e| ClientError::from(&e))?);
                return Ok(());
            }
            Err(_) => return Ok(()),
        };
        if bound.rows == 0 || bound.bytes < row.len() as u64 {
            // The rest of the answer is not read: the connection cannot serve again.
            conn.broken = true;
            return Err(too_many_rows(&request.purpose));
        }
        bound.rows -= 1;
        bound.bytes -= row.len() as u64;
        selected.rows.push(row);
    }
}

/// 1038 for a SELECT whose rows, held by the proxy for `purpose`, pass its bounds.
pub(crate) fn too_many_rows(purpose: &str) -> ClientError {
    ClientError::new(
        1038,
        b"HY001",
        format!(
            "{purpose}: the SELECT's rows exceed the proxy's merge_max_rows / merge_max_bytes, which bound the rows the proxy holds itself"
        ),
    )
}

/// Wire types whose text is a number.
pub(crate) fn is_numeric(t: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        t,
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_YEAR
            | MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
    )
}
