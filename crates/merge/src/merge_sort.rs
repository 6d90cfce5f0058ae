//! K-way merge of individually sorted row streams (one per shard) into one sorted stream.
//!
//! The executor drives it as a state machine: it [`push`](MergeSort::push)es rows as they
//! arrive from each input, [`finish`](MergeSort::finish)es an input at its end, and
//! [`pop`](MergeSort::pop)s merged rows, which succeeds only while every unfinished input has
//! a row queued (otherwise the smallest row may still be on its way). When `pop` returns
//! `None`, [`waiting`](MergeSort::waiting) names the inputs to read next. Rows stay raw
//! payloads; only their key columns are decoded, once, on push. Ties go to the lower input
//! index, and rows of one input keep their order, so the output equals a stable sort of the
//! inputs' concatenation.

use std::cmp::Ordering;
use std::collections::VecDeque;

use bytes::Bytes;

use crate::column::ColumnMeta;
use crate::compare::{RowOrder, SortKey};
use crate::error::{MergeError, Result};
use crate::value::Value;

#[derive(Debug)]
struct Entry {
    keys: Vec<Value>,
    row: Bytes,
}

#[derive(Debug, Default)]
struct Input {
    queue: VecDeque<Entry>,
    finished: bool,
}

/// A k-way merge of sorted inputs.
#[derive(Debug)]
pub struct MergeSort {
    order: RowOrder,
    inputs: Vec<Input>,
    /// Min-heap of the inputs that have a queued row, by their first row.
    heap: Vec<usize>,
    /// Inputs neither finished nor holding a queued row.
    waiting: usize,
}

impl MergeSort {
    /// A merge of `inputs` streams of rows with `columns`, each sorted by `keys`.
    pub fn new(inputs: usize, keys: &[SortKey], columns: &[ColumnMeta]) -> Result<MergeSort> {
        Ok(MergeSort {
            order: RowOrder::new(keys, columns)?,
            inputs: (0..inputs).map(|_| Input::default()).collect(),
            heap: Vec::with_capacity(inputs),
            waiting: inputs,
        })
    }

    /// Sorts strings by their first `sort_length` bytes, the session's `max_sort_length`
    /// (the order the shards sorted by).
    pub fn with_sort_length(mut self, sort_length: usize) -> Self {
        self.order.set_sort_length(sort_length);
        self
    }

    /// Queues the next row of `input`. Fails on a malformed row or an unknown or
    /// finished input.
    pub fn push(&mut self, input: usize, row: Bytes) -> Result<()> {
        let n = self.inputs.len();
        match self.inputs.get(input) {
            Some(i) if !i.finished => {}
            _ => return Err(MergeError::BadInput { input, inputs: n }),
        }
        let (_, keys) = self.order.extract(row.clone())?;
        let inp = &mut self.inputs[input];
        inp.queue.push_back(Entry { keys, row });
        if inp.queue.len() == 1 {
            self.waiting -= 1;
            self.heap.push(input);
            self.sift_up(self.heap.len() - 1);
        }
        Ok(())
    }

    /// Marks the end of `input`: it will send no more rows.
    pub fn finish(&mut self, input: usize) -> Result<()> {
        let n = self.inputs.len();
        let inp = self
            .inputs
            .get_mut(input)
            .ok_or(MergeError::BadInput { input, inputs: n })?;
        if !inp.finished {
            inp.finished = true;
            if inp.queue.is_empty() {
                self.waiting -= 1;
            }
        }
        Ok(())
    }

    /// The next merged row and the input it came from, if it can be known now.
    pub fn pop(&mut self) -> Option<(usize, Bytes)> {
        if self.waiting > 0 || self.heap.is_empty() {
            return None;
        }
        let input = self.heap[0];
        let inp = &mut self.inputs[input];
        let entry = inp.queue.pop_front()?;
        if inp.queue.is_empty() {
            if !inp.finished {
                self.waiting += 1;
            }
            let last = self.heap.len() - 1;
            self.heap.swap(0, last);
            self.heap.pop();
        }
        if !self.heap.is_empty() {
            self.sift_down(0);
        }
        Some((input, entry.row))
    }

    /// The inputs that must supply a row (or finish) before [`pop`](MergeSort::pop) can go on.
    pub fn waiting(&self) -> impl Iterator<Item = usize> + '_ {
        self.inputs
            .iter()
            .enumerate()
            .filter(|(_, i)| !i.finished && i.queue.is_empty())
            .map(|(n, _)| n)
    }

    /// Rows queued for `input` (for back-pressure: stop reading an input far ahead).
    pub fn queued(&self, input: usize) -> usize {
        self.inputs.get(input).map_or(0, |i| i.queue.len())
    }

    /// `true` once every input has finished and every row has been popped.
    pub fn is_done(&self) -> bool {
        self.waiting == 0 && self.heap.is_empty()
    }

    fn less(&self, a: usize, b: usize) -> bool {
        let (ea, eb) = (&self.inputs[a].queue[0], &self.inputs[b].queue[0]);
        match self.order.compare(&ea.keys, &eb.keys) {
            Ordering::Equal => a < b,
            o => o == Ordering::Less,
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.less(self.heap[i], self.heap[parent]) {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut smallest = i;
            if l < self.heap.len() && self.less(self.heap[l], self.heap[smallest]) {
                smallest = l;
            }
            if r < self.heap.len() && self.less(self.heap[r], self.heap[smallest]) {
                smallest = r;
            }
            if smallest == i {
                return;
            }
            self.heap.swap(i, smallest);
            i = smallest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::encode_text_row;
    use mysql_common::constants::ColumnType;
    use shardgate_wire::text_row::text_cell;

    fn cols() -> Vec<ColumnMeta> {
        vec![
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING),
        ]
    }

    fn row(k: Option<i64>, tag: &str) -> Bytes {
        let k = k.map_or(Value::Null, Value::Int);
        Bytes::from(encode_text_row(&[k, Value::bytes(tag.to_owned())]))
    }

    fn tag(row: &Bytes) -> String {
        String::from_utf8(text_cell(row, 1).unwrap().unwrap().to_vec()).unwrap()
    }

    #[test]
    fn waits_for_every_live_input_before_popping() {
        let mut m = MergeSort::new(2, &[SortKey::asc(0)], &cols()).unwrap();
        assert_eq!(m.waiting().collect::<Vec<_>>(), vec![0, 1]);
        m.push(0, row(Some(1), "a")).unwrap();
        assert!(m.pop().is_none(), "input 1 may still send a smaller row");
        assert_eq!(m.waiting().collect::<Vec<_>>(), vec![1]);
        m.push(1, row(Some(0), "b")).unwrap();
        assert_eq!(tag(&m.pop().unwrap().1), "b");
        assert!(m.pop().is_none());
        m.finish(1).unwrap();
        let (input, r) = m.pop().unwrap();
        assert_eq!((input, tag(&r)), (0, "a".to_owned()));
        assert!(!m.is_done());
        m.finish(0).unwrap();
        assert!(m.is_done());
        assert!(m.pop().is_none());
    }

    #[test]
    fn nulls_first_and_ties_by_input_order() {
        let mut m = MergeSort::new(3, &[SortKey::asc(0)], &cols()).unwrap();
        for (i, rows) in [
            vec![(Some(1), "0a"), (Some(1), "0b"), (Some(3), "0c")],
            vec![(None, "1a"), (Some(1), "1b")],
            vec![],
        ]
        .into_iter()
        .enumerate()
        {
            for (k, t) in rows {
                m.push(i, row(k, t)).unwrap();
            }
            m.finish(i).unwrap();
        }
        let mut out = Vec::new();
        while let Some((_, r)) = m.pop() {
            out.push(tag(&r));
        }
        assert_eq!(out, ["1a", "0a", "0b", "1b", "0c"]);
        assert!(m.is_done());
    }

    #[test]
    fn descending_puts_nulls_last() {
        let mut m = MergeSort::new(2, &[SortKey::desc(0)], &cols()).unwrap();
        m.push(0, row(Some(5), "a")).unwrap();
        m.push(0, row(None, "b")).unwrap();
        m.push(1, row(Some(7), "c")).unwrap();
        m.finish(0).unwrap();
        m.finish(1).unwrap();
        let out: Vec<_> = std::iter::from_fn(|| m.pop())
            .map(|(_, r)| tag(&r))
            .collect();
        assert_eq!(out, ["c", "a", "b"]);
    }

    #[test]
    fn rejects_bad_inputs_and_rows() {
        let mut m = MergeSort::new(1, &[SortKey::asc(0)], &cols()).unwrap();
        assert!(matches!(
            m.push(1, row(Some(1), "x")),
            Err(MergeError::BadInput {
                input: 1,
                inputs: 1
            })
        ));
        assert!(m.push(0, Bytes::from_static(b"\x05ab")).is_err());
        m.finish(0).unwrap();
        assert!(m.push(0, row(Some(1), "x")).is_err());
        assert!(MergeSort::new(1, &[SortKey::asc(9)], &cols()).is_err());
    }
}
