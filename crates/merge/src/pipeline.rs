//! A chain of single-input operators the executor feeds merged rows through.
//!
//! Every operator after the k-way merge implements [`RowOperator`]: rows go in one at a
//! time, rows ready for the client come out, and [`finish`](RowOperator::finish) flushes what
//! an operator holds (the last group, the sorted rows). A [`Pipeline`] chains them, e.g.
//! `OrderedAggregate → Filter (HAVING) → Sort → Limit → Project`.

use bytes::Bytes;

use crate::error::Result;

/// A condition an operator raised while merging, reported with the shards' own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeWarning {
    pub code: u16,
    pub message: String,
}

impl MergeWarning {
    /// MariaDB's 1260 (ER_CUT_VALUE_GROUP_CONCAT).
    pub fn group_concat_cut(row: u64) -> MergeWarning {
        MergeWarning {
            code: 1260,
            message: format!("Row {row} was cut by GROUP_CONCAT()"),
        }
    }
}

/// A streaming operator over raw row payloads.
pub trait RowOperator: Send {
    /// Feeds one row; appends the rows that are ready to `out`.
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()>;

    /// Ends the input; appends the rows still held to `out` (none, for operators that hold
    /// no rows).
    fn finish(&mut self, _out: &mut Vec<Bytes>) -> Result<()> {
        Ok(())
    }

    /// `true` when no further input can change the output (a `LIMIT` is full): the executor
    /// may stop reading and cancel the shards' queries.
    fn is_done(&self) -> bool {
        false
    }

    /// The rows MariaDB's `FOUND_ROWS()` counts for the statement, where this operator knows
    /// it (a `LIMIT`: the rows it skipped and passed).
    fn found_rows(&self) -> Option<u64> {
        None
    }

    /// The warnings raised so far (at most 64 kept), and how many in all.
    fn warnings(&self) -> (Vec<MergeWarning>, u64) {
        (Vec::new(), 0)
    }
}

/// Operators applied in order, each one's output the next one's input.
#[derive(Default)]
pub struct Pipeline {
    ops: Vec<Box<dyn RowOperator>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pipeline({} operators)", self.ops.len())
    }
}

impl Pipeline {
    /// A pipeline of `ops`; an empty one passes rows through.
    pub fn new(ops: Vec<Box<dyn RowOperator>>) -> Pipeline {
        Pipeline { ops }
    }

    /// Appends an operator at the end.
    pub fn then(mut self, op: impl RowOperator + 'static) -> Pipeline {
        self.ops.push(Box::new(op));
        self
    }

    /// Appends another pipeline's operators at the end.
    pub fn then_all(mut self, rest: Pipeline) -> Pipeline {
        self.ops.extend(rest.ops);
        self
    }

    fn run_from(&mut self, start: usize, mut rows: Vec<Bytes>, out: &mut Vec<Bytes>) -> Result<()> {
        for op in &mut self.ops[start..] {
            if rows.is_empty() {
                return Ok(());
            }
            let mut next = Vec::new();
            for row in rows {
                if op.is_done() {
                    break;
                }
                op.push(row, &mut next)?;
            }
            rows = next;
        }
        out.extend(rows);
        Ok(())
    }
}

impl RowOperator for Pipeline {
    fn push(&mut self, row: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        if self.is_done() {
            return Ok(());
        }
        self.run_from(0, vec![row], out)
    }

    fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        for i in 0..self.ops.len() {
            let mut flushed = Vec::new();
            self.ops[i].finish(&mut flushed)?;
            self.run_from(i + 1, flushed, out)?;
        }
        Ok(())
    }

    fn is_done(&self) -> bool {
        self.ops.iter().any(|op| op.is_done())
    }

    fn found_rows(&self) -> Option<u64> {
        self.ops.iter().find_map(|op| op.found_rows())
    }

    fn warnings(&self) -> (Vec<MergeWarning>, u64) {
        let mut kept = Vec::new();
        let mut count = 0;
        for op in &self.ops {
            let (w, n) = op.warnings();
            kept.extend(w);
            count += n;
        }
        (kept, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::ColumnMeta;
    use crate::compare::SortKey;
    use crate::limit::Limit;
    use crate::memory::MemoryLimit;
    use crate::project::Project;
    use crate::row::encode_text_row;
    use crate::sort::Sort;
    use crate::value::Value;
    use mysql_common::constants::ColumnType;
    use shardgate_wire::text_row::text_cell;

    #[test]
    fn chains_operators_and_stops_at_a_full_limit() {
        let cols = [ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG); 2];
        let mut p = Pipeline::default()
            .then(Sort::new(&[SortKey::desc(0)], &cols, MemoryLimit::UNLIMITED).unwrap())
            .then(Limit::new(1, Some(2)))
            .then(Project::first(1, &cols).unwrap());
        let mut out = Vec::new();
        for i in [3, 1, 4, 1, 5] {
            p.push(
                Bytes::from(encode_text_row(&[Value::Int(i), Value::Int(0)])),
                &mut out,
            )
            .unwrap();
        }
        assert!(out.is_empty(), "a sort holds rows until the end");
        p.finish(&mut out).unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|r| text_cell(r, 0).unwrap().unwrap().to_vec())
            .collect();
        assert_eq!(got, [b"4".to_vec(), b"3".to_vec()]);
        assert!(p.is_done());
        assert_eq!(out[0].len(), 2, "the hidden column is gone");

        let mut l = Pipeline::default().then(Limit::new(0, Some(1)));
        let mut out = Vec::new();
        l.push(Bytes::from_static(b"\x011"), &mut out).unwrap();
        assert!(l.is_done());
        l.push(Bytes::from_static(b"\x012"), &mut out).unwrap();
        assert_eq!(out.len(), 1);
    }
}
