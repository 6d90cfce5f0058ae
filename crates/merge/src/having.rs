//! `HAVING` (and any other post-merge predicate): keeps the rows a predicate holds for.
//!
//! A `HAVING` can only be tested after the partial aggregates are merged; the planner strips
//! it from the shard queries, selects what it references (hidden columns if need be) and
//! filters the merged rows here. A row passes when the predicate is true — not false, not NULL.

use bytes::Bytes;

use crate::column::ColumnMeta;
use crate::error::Result;
use crate::expr::Expr;
use crate::pipeline::RowOperator;
use crate::row::TextRow;

/// Passes the rows for which `predicate` is true.
#[derive(Debug, Clone)]
pub struct Filter {
    predicate: Expr,
    columns: Vec<ColumnMeta>,
}

impl Filter {
    /// A filter of rows with `columns`.
    pub fn new(predicate: Expr, columns: &[ColumnMeta]) -> Result<Filter> {
        predicate.check(columns)?;
        Ok(Filter {
            predicate,
            columns: columns.to_vec(),
        })
    }

    /// Offers a row: `Some` when the predicate holds.
    pub fn offer(&self, row: Bytes) -> Result<Option<Bytes>> {
        let r = TextRow::parse(row, self.columns.len())?;
        Ok(self
            .predicate
            .is_true(&r, &self.columns)?
            .then(|| r.into_payload()))
    }
}

impl RowOperator for Filter {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        out.extend(self.offer(row)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::count_meta;
    use crate::expr::CompareOp;
    use crate::row::encode_text_row;
    use crate::value::Value;

    #[test]
    fn keeps_true_rows_only() {
        let cols = [count_meta(), count_meta()];
        let f = Filter::new(
            Expr::cmp(CompareOp::Gt, Expr::col(1), Expr::lit(Value::Int(1))),
            &cols,
        )
        .unwrap();
        let row = |a: Value, b: Value| Bytes::from(encode_text_row(&[a, b]));
        assert!(f
            .offer(row(Value::Int(1), Value::Int(2)))
            .unwrap()
            .is_some());
        assert!(f
            .offer(row(Value::Int(1), Value::Int(1)))
            .unwrap()
            .is_none());
        assert!(f.offer(row(Value::Int(1), Value::Null)).unwrap().is_none());
        assert!(Filter::new(Expr::col(2), &cols).is_err());
    }
}
