//! The final select list: drops the planner's hidden columns, reorders, computes expressions.
//!
//! Column items are copied as raw cells (no decoding); expression items are evaluated and
//! written as MariaDB's text.

use bytes::Bytes;

use crate::column::ColumnMeta;
use crate::error::{MergeError, Result};
use crate::expr::Expr;
use crate::pipeline::RowOperator;
use crate::row::{RowWriter, TextRow};

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
        })
    }

    /// Keeps the first `n` columns: drops hidden columns the planner appended.
    pub fn first(n: usize, columns: &[ColumnMeta]) -> Result<Project> {
        Project::new((0..n).map(ProjectItem::Column).collect(), columns)
    }

    /// The projected row.
    pub fn apply(&self, row: Bytes) -> Result<Bytes> {
        let r = TextRow::parse(row, self.columns.len())?;
        let mut w = RowWriter::with_capacity(r.payload().len());
        for item in &self.items {
            match item {
                ProjectItem::Column(c) => w.push_cell(r.cell(*c)),
                ProjectItem::Expr(e) => w.push_value(&e.eval(&r, &self.columns)?),
            }
        }
        Ok(w.finish())
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
