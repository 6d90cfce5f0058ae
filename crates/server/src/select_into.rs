//! `SELECT … INTO @a, @b` run as its SELECT (`router/src/select_into.rs`), and the values a
//! `SET @v = (SELECT …)` takes from a subquery the proxy read (`write_subqueries.rs`): the
//! row's cells become literals that give each variable the value and the type MariaDB's
//! assignment from that column gives it (`state::value_literal`) — a number as written, a
//! DECIMAL with its scale, a DOUBLE with an exponent, NULL of the column's type, a string or
//! temporal value as its bytes in the collation MariaDB gives the variable, asked of the
//! default shard (`COLLATION()` of each column over the SELECT joined to no row). The
//! variables are then the session's, replayed on its other connections as any.

use bytes::Bytes;
use shardgate_merge::{ColumnMeta, ValueKind};
use shardgate_router::IntoVariables;

use crate::diagnostics::Diagnostics;
use crate::errors::ClientError;
use crate::runtime::Runtime;
use crate::select_rows::{RowsOf, ROUNDED};
use crate::session::{Session, Step};

impl Session {
    /// Runs the SELECT of `request`, then sets its variables to the one row's values.
    pub(crate) async fn select_into_variables(
        &mut self,
        runtime: &Runtime,
        request: &IntoVariables,
    ) -> Step {
        let rows_of = RowsOf {
            select: &request.select,
            purpose: format!("SELECT … INTO {}", request.vars.join(", ")),
            columns: Some(request.vars.len()),
            wrong_columns: into_columns,
            over_copies: true,
        };
        let selected = match self.selected_rows(runtime, &rows_of).await {
            Ok(selected) => selected,
            Err(e) => return self.send_error(e).await,
        };
        let mut diagnostics = selected.diagnostics;
        let one_shard = selected.one_shard;
        // MariaDB applies the session's sql_select_limit to the SELECT (not over its LIMIT).
        let mut rows = selected.rows;
        if let Some(limit) = self.state.var_number("sql_select_limit") {
            if self.state.select_limit_set() && !request.limited {
                rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            }
        }
        // MariaDB assigns the first row it reads, then fails on the second (ER_TOO_MANY_ROWS).
        // Which row it reads first the proxy knows when every row holds the same values, or
        // when they all came from one shard (its first, as a server holding those rows reads
        // them); otherwise the variables keep theirs.
        let too_many = rows.len() > 1;
        let row = match rows.as_slice() {
            [] => {
                // ER_SP_FETCH_NO_DATA, a warning: the variables keep their values.
                let none = "No data - zero rows fetched, selected, or processed".to_owned();
                diagnostics.extend(Diagnostics::warnings(&[(1329, none)], 1));
                return self.answer_select_into(0, diagnostics).await;
            }
            [row] => row.clone(),
            [first, rest @ ..] if one_shard || rest.iter().all(|r| r == first) => first.clone(),
            _ => return self.fail_with_too_many_rows().await,
        };
        let literals = self
            .variable_literals(
                runtime,
                &request.select,
                &selected.columns,
                Some(&row),
                None,
            )
            .await;
        let literals = match literals {
            Ok(literals) => literals,
            Err(e) => return self.send_error(e).await,
        };
        let vars = (request.vars.iter().zip(literals))
            .map(|(name, literal)| (name.clone(), format!("SET {name} = {literal}").into_bytes()))
            .collect();
        self.set_variables(vars).await;
        if too_many {
            return self.fail_with_too_many_rows().await;
        }
        self.answer_select_into(1, diagnostics).await
    }

    /// MariaDB's 1172 after it assigned the first row: `FOUND_ROWS()` counts that one. Set
    /// here, not by `note_error`: the SELECT run in steps set the statement's select kind as its
    /// own run went (`read_found_rows` leaves `No` once it read the count on a connection).
    async fn fail_with_too_many_rows(&mut self) -> Step {
        self.set_found_rows(1);
        self.send_error(too_many_rows()).await
    }

    /// MariaDB's OK to a `SELECT … INTO`: the rows it selected as affected rows and as
    /// `FOUND_ROWS()`, with the SELECT's conditions.
    async fn answer_select_into(&mut self, rows: u64, diagnostics: Diagnostics) -> Step {
        let warnings = u16::try_from(diagnostics.count()).unwrap_or(u16::MAX);
        self.diagnostics = diagnostics;
        self.diagnostics_read = true;
        self.set_found_rows(rows);
        self.send_ok(rows, warnings).await
    }

    /// Literals giving variables the cells of `row` (`None`: no row, every value NULL) of
    /// `select`'s result `columns`, typed as MariaDB's assignment types them: one per column,
    /// or per column of `wanted` (positions) when given.
    pub(crate) async fn variable_literals(
        &self,
        runtime: &Runtime,
        select: &str,
        columns: &[ColumnMeta],
        row: Option<&Bytes>,
        wanted: Option<&[usize]>,
    ) -> Result<Vec<String>, ClientError> {
        let all: Vec<usize> = (0..columns.len()).collect();
        let wanted = wanted.unwrap_or(&all);
        if let Some(i) = crate::select_rows::rounded_column(select, self.syntax, columns, wanted) {
            return Err(ClientError::new(
                1235,
                b"42000",
                format!("a user variable set from column {} of `{select}`, {ROUNDED}, is not supported by shardgate; run the statement on one shard", i + 1),
            ));
        }
        // Only strings take their column's collation (`state::value_literal`).
        let known = |&i: &usize| columns[i].kind() != ValueKind::Bytes;
        let collations = match wanted.iter().all(known) {
            true => vec!["binary".to_owned(); wanted.len()],
            false => {
                self.result_collations(runtime, select, columns.len(), wanted)
                    .await?
            }
        };
        let mut literals = Vec::with_capacity(wanted.len());
        for (&i, collation) in wanted.iter().zip(&collations) {
            let cell = match row {
                Some(row) => shardgate_wire::text_row::text_cell(row, i)
                    .map_err(|e| ClientError::new(1105, b"HY000", e.to_string()))?,
                None => None,
            };
            let literal = crate::state::value_literal(&columns[i], cell, collation).ok_or_else(|| {
                ClientError::new(
                    1235,
                    b"42000",
                    format!("a user variable set from column {} of `{select}`, a FLOAT column whose text is not its value, is not supported by shardgate; run the statement on one shard", i + 1),
                )
            })?;
            literals.push(literal);
        }
        Ok(literals)
    }

    /// `COLLATION()` of each of the result columns of `select` (of `n`) at positions `wanted`,
    /// asked of the default shard over no row (`LEFT JOIN … ON 0`).
    async fn result_collations(
        &self,
        runtime: &Runtime,
        select: &str,
        n: usize,
        wanted: &[usize],
    ) -> Result<Vec<String>, ClientError> {
        let names: Vec<String> = (1..=n).map(|i| format!("c{i}")).collect();
        let asked: Vec<String> = (wanted.iter())
            .map(|&i| format!("COLLATION(t.{})", names[i]))
            .collect();
        // On lines of their own: a `-- comment` ending the SELECT must not swallow the rest.
        // LIMIT: the session's sql_select_limit (0 hides every row) must not hide the answer.
        let sql = format!(
            "WITH t ({}) AS (\n{select}\n) SELECT CONCAT_WS(',', {}) FROM (SELECT 1) AS d LEFT JOIN t ON 0 LIMIT 1",
            names.join(", "),
            asked.join(", ")
        );
        let shard = runtime.topology.default_shard;
        let asked = async {
            let mut conn = self.checkout(runtime, shard).await?;
            crate::state::query_text(&mut conn, sql.as_bytes()).await
        };
        let collations = asked.await.map_err(|e| {
            ClientError::new(
                1235,
                b"42000",
                format!("user variables set from `{select}`: the collations of its columns could not be read ({e}); this is not supported by shardgate"),
            )
        })?;
        let collations: Vec<String> = collations.split(',').map(str::to_owned).collect();
        match collations.len() == wanted.len() {
            true => Ok(collations),
            false => Err(ClientError::new(
                1105,
                b"HY000",
                format!("the collations of `{select}` did not come back"),
            )),
        }
    }

    /// Makes `vars` (name, statement setting it) the session's user variables, on the
    /// connections it keeps too (a reset would end their transaction or drop their state).
    pub(crate) async fn set_variables(&mut self, vars: Vec<(String, Vec<u8>)>) {
        self.state.apply(vars.iter().cloned());
        self.replay_on_pins(&vars, None).await;
    }
}

/// ER_WRONG_NUMBER_OF_COLUMNS_IN_SELECT: the SELECT's columns and the INTO's variables differ.
fn into_columns() -> ClientError {
    ClientError::new(
        1222,
        b"21000",
        "The used SELECT statements have a different number of columns",
    )
}

/// MariaDB's ER_TOO_MANY_ROWS.
fn too_many_rows() -> ClientError {
    ClientError::new(1172, b"42000", "Result consisted of more than one row")
}
