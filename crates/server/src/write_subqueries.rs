//! An UPDATE / DELETE (or a SELECT's WHERE / HAVING) run after its subqueries
//! (`router/src/write_subqueries.rs`): each
//! subquery's rows are read by the proxy (`select_rows.rs`: one column for `IN` and a value,
//! one row for `EXISTS`), written into the statement — an `IN (…)` list, `(1 = 1)` / `(0 = 1)`,
//! the value (`NULL` for no row, 1242 for more than one) —, and the text is then planned and
//! run as any write (routed by the list when it names the shard key, else on every shard).
//! A SELECT whose answers would not mean what MariaDB's subquery means
//! (`SubqueriesFirst::inexact`: a NULL among an IN's values, strings or temporal values) is
//! answered from copies of its tables instead.
//!
//! Unlike MariaDB's one statement, the subqueries and the write are several: outside a
//! transaction, rows written between them are not seen. Inside one, the subqueries read in it.

use shardgate_router::{SubqueriesFirst, SubqueryUse};

use crate::errors::ClientError;
use crate::previous_statement::FoundRowsUnknown;
use crate::runtime::Runtime;
use crate::select_rows::{Literals, RowsOf, ROUNDED};
use crate::session::{Session, Step};

impl Session {
    /// Runs the subqueries of `request`, then its write with their values.
    pub(crate) async fn write_after_subqueries(
        &mut self,
        runtime: &Runtime,
        request: &SubqueriesFirst,
    ) -> Step {
        // MariaDB's FOUND_ROWS() after it is what its optimizer made of the subqueries.
        self.found_rows_unknown = Some(FoundRowsUnknown::InWrite);
        let mut values = Vec::new();
        // Why the values cannot be written in: a value the proxy cannot write as MariaDB has
        // it, or a subquery it cannot answer (a SELECT then reads copies of its tables).
        let mut inexact = None;
        for subquery in &request.subqueries {
            // Whether EXISTS has a row is one row's question.
            let select = match subquery.used {
                // On a line of its own: a `-- comment` ending the text must not swallow it.
                SubqueryUse::Exists { .. } => format!("{}\nLIMIT 1", subquery.select),
                _ => subquery.select.clone(),
            };
            let rows_of = RowsOf {
                select: &select,
                purpose: format!("{} with the subquery `{}`", request.verb, subquery.select),
                columns: match subquery.used {
                    SubqueryUse::Exists { .. } => None,
                    _ => Some(1),
                },
                wrong_columns: crate::errors::operand_columns,
                over_copies: true,
            };
            if subquery.used == SubqueryUse::Scalar && request.typed() {
                match self.typed_scalar(runtime, &rows_of).await {
                    Ok(value) => values.push(vec![value.into_bytes()]),
                    Err(e) => return self.send_error(e).await,
                }
                continue;
            }
            let rows = match self.select_literals(runtime, &rows_of).await {
                Ok(Literals::Rows(rows)) => rows,
                Ok(Literals::Rounded(_)) => {
                    inexact = Some(format!(
                        "the subquery `{}` answers {ROUNDED}",
                        subquery.select
                    ));
                    break;
                }
                Err(e) if e.code == 1235 && request.verb == "SELECT" => {
                    inexact = Some(e.message);
                    break;
                }
                Err(e) => return self.send_error(e).await,
            };
            if subquery.used == SubqueryUse::Scalar && rows.len() > 1 {
                // ER_SUBQUERY_NO_1_ROW
                let e = ClientError::new(1242, b"21000", "Subquery returns more than 1 row");
                return self.send_error(e).await;
            }
            values.push(rows.into_iter().flatten().collect::<Vec<_>>());
        }
        if let Some(why) = inexact.or_else(|| request.inexact(&values)) {
            let copies = (request.verb == "SELECT")
                .then(|| {
                    shardgate_router::materialized(&request.sql, self.syntax, &runtime.topology)
                })
                .flatten();
            let Some(m) = copies else {
                let e = ClientError::new(
                    1235,
                    b"42000",
                    format!("cannot run this {} after its subqueries: {why}; this is not supported by shardgate", request.verb),
                );
                return self.send_error(e).await;
            };
            let (text, kind) = (
                request.sql.as_bytes(),
                shardgate_router::StatementKind::Read,
            );
            return Box::pin(self.materialize(runtime, &m, text, kind, false)).await;
        }
        let text = request.with_values(&values);
        Box::pin(self.run_rewritten(runtime, &text)).await
    }

    /// The one value of a scalar subquery (`rows_of`) as a literal typed as its column (NULL
    /// of that type for no row; MariaDB's 1242 for more than one).
    async fn typed_scalar(
        &mut self,
        runtime: &Runtime,
        rows_of: &RowsOf<'_>,
    ) -> Result<String, ClientError> {
        let selected = self.selected_rows(runtime, rows_of).await?;
        if let Some(e) = rows_of.raised(&selected.diagnostics) {
            return Err(e);
        }
        if selected.rows.len() > 1 {
            // ER_SUBQUERY_NO_1_ROW
            return Err(ClientError::new(
                1242,
                b"21000",
                "Subquery returns more than 1 row",
            ));
        }
        let literals = self
            .variable_literals(
                runtime,
                rows_of.select,
                &selected.columns,
                selected.rows.first(),
                None,
            )
            .await?;
        Ok(literals.into_iter().next().unwrap_or_else(|| "NULL".into()))
    }
}
