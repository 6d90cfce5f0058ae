//! The final select list: drops the planner's hidden columns, reorders, computes expressions.
//!
//! Column items are copied as raw cells (no decoding); expression items are evaluated and
//! written as MariaDB's text.

use bytes::Bytes;

use crate::column::{ColumnMeta, ValueKind};
use crate::error::{MergeError, Result};
use crate::expr::{Expr, ResultType};
use crate::pipeline::RowOperator;
use crate::row::{RowWriter, TextRow};
use crate::value::Value;

/// One output column of a projection.
#[derive(Debug, Clone, PartialEq)]
pub enum ProjectItem {
    /// An input column, copied verbatim.
    Column(usize),
    /// A computed value.
    Expr(Expr),
}

/// Maps each row to the select list.
#[derive(Debug, Clone)]
pub struct Project {
    items: Vec<ProjectItem>,
    columns: Vec<ColumnMeta>,
    /// Each output keeps its input column's definition: a computed value must fit it.
    in_place: bool,
}

impl Project {
    /// A projection of rows with `columns` to `items`.
    pub fn new(items: Vec<ProjectItem>, columns: &[ColumnMeta]) -> Result<Project> {
        for item in &items {
            match item {
                ProjectItem::Column(c) if *c >= columns.len() => {
                    return Err(MergeError::NoSuchColumn {
                        column: *c,
                        columns: columns.len(),
                    })
                }
                ProjectItem::Expr(e) => e.check(columns)?,
                ProjectItem::Column(_) => {}
            }
        }
        Ok(Project {
            items,
            columns: columns.to_vec(),
            in_place: false,
        })
    }

    /// Keeps the first `n` columns: drops hidden columns the planner appended.
    pub fn first(n: usize, columns: &[ColumnMeta]) -> Result<Project> {
        Project::new((0..n).map(ProjectItem::Column).collect(), columns)
    }

    /// Rows of `columns` with the values of `computed` (output, expression) in place of
    /// theirs: each column keeps its definition, which its computed value must fit (a
    /// `DECIMAL` of the same scale, an integer, a `DOUBLE`); one that does not is an error,
    /// never a value shown under another column's type.
    pub fn in_place(columns: &[ColumnMeta], computed: &[(usize, Expr)]) -> Result<Project> {
        // The type the expression takes over these columns must be the column's: checked
        // before any row, so that a statement the merge would describe wrongly goes another
        // way (copies of its tables) rather than fail halfway.
        for (output, e) in computed {
            let Some(meta) = columns.get(*output) else {
                return Err(MergeError::NoSuchColumn {
                    column: *output,
                    columns: columns.len(),
                });
            };
            let declared = e.result_type(columns);
            let fits = match declared {
                ResultType::Int => matches!(meta.kind(), ValueKind::Int | ValueKind::UInt),
                ResultType::Decimal(d) => {
                    meta.kind() == ValueKind::Decimal && d == u32::from(meta.decimals)
                }
                ResultType::Double(d) => meta.kind() == ValueKind::Double && d == meta.decimals,
                ResultType::Other => false,
            };
            if !fits {
                return Err(MergeError::Unsupported(format!(
                    "the merge would compute `{e}` as {declared:?}, where MariaDB describes the column as {:?} with {} decimals",
                    meta.column_type, meta.decimals
                )));
            }
        }
        let items = (0..columns.len())
            .map(|c| match computed.iter().find(|(o, _)| *o == c) {
                Some((_, e)) => ProjectItem::Expr(e.clone()),
                None => ProjectItem::Column(c),
            })
            .collect();
        let mut project = Project::new(items, columns)?;
        project.in_place = true;
        Ok(project)
    }

    /// The projected row.
    pub fn apply(&self, row: Bytes) -> Result<Bytes> {
        let r = TextRow::parse(row, self.columns.len())?;
        let mut w = RowWriter::with_capacity(r.payload().len());
        for (i, item) in self.items.iter().enumerate() {
            match item {
                ProjectItem::Column(c) => w.push_cell(r.cell(*c)),
                ProjectItem::Expr(e) => {
                    let value = e.eval(&r, &self.columns)?;
                    if self.in_place && !fits(&value, &self.columns[i]) {
                        return Err(MergeError::Unsupported(format!(
                            "the merge computed `{e}` as {value:?}, which is not a value of the column MariaDB describes ({:?}, {} decimals)",
                            self.columns[i].column_type, self.columns[i].decimals
                        )));
                    }
                    w.push_value(&value)
                }
            }
        }
        Ok(w.finish())
    }
}

/// Whether `value` is one of a column described by `meta`.
fn fits(value: &Value, meta: &ColumnMeta) -> bool {
    match (value, meta.kind()) {
        (Value::Null, _) => true,
        (Value::Decimal(d), ValueKind::Decimal) => d.scale() == u32::from(meta.decimals),
        (Value::Int(_) | Value::UInt(_), ValueKind::Int | ValueKind::UInt) => true,
        (Value::Double { decimals, .. }, ValueKind::Double) => *decimals == meta.decimals,
        _ => false,
    }
}

impl RowOperator for Project {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        out.push(self.apply(row)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ArithOp;
    use crate::row::{decode_text_row, encode_text_row};
    use crate::value::Value;
    use mysql_common::constants::ColumnType;

    #[test]
    fn copies_cells_and_computes_expressions() {
        let cols = [
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG),
        ];
        let p = Project::new(
            vec![
                ProjectItem::Column(0),
                ProjectItem::Expr(Expr::arith(ArithOp::Div, Expr::col(1), Expr::col(2))),
            ],
            &cols,
        )
        .unwrap();
        let row = Bytes::from(encode_text_row(&[
            Value::bytes("x"),
            Value::Int(2),
            Value::Int(3),
        ]));
        let out = p.apply(row).unwrap();
        let strs = [ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING); 2];
        assert_eq!(
            decode_text_row(&out, &strs).unwrap(),
            vec![Value::bytes("x"), Value::bytes("0.6667")]
        );
        assert!(Project::first(4, &cols).is_err());
        let first = Project::first(1, &cols).unwrap();
        let row = Bytes::from(encode_text_row(&[
            Value::Null,
            Value::Int(2),
            Value::Int(3),
        ]));
        assert_eq!(&first.apply(row).unwrap()[..], &[0xFB]);
    }
}
