//! Equality joins of two row streams in the proxy, with MariaDB's semantics: a NULL key never
//! matches, strings compare by the key column's collation (`'a'` = `'A '` under `general_ci`),
//! numbers by value across types (`1` = `1.0`); an outer row of a LEFT join without a match
//! comes out once, its inner columns NULL.
//!
//! A joined row is the outer row's cells followed by the inner row's: text-protocol payloads
//! are sequences of cells, so joining is concatenating. [`HashJoin`] holds the inner rows
//! (the *build* side) in a hash table and streams outer rows through it; [`BatchedLookup`]
//! collects outer rows in batches, hands out their distinct key values (for `… WHERE key IN
//! (batch)` sent to the inner side's shards), and joins each batch with the inner rows that
//! came back. Held rows count against a [`MemoryLimit`] ([`MergeError::MemoryLimit`] past it).
//! A semi-join (`EXISTS`) keeps each outer row that has a match, once; an anti-join (`NOT
//! EXISTS`) each that has none (a NULL key has none): their rows are the outer rows alone, and
//! the inner side holds only its keys.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use shardgate_wire::text_row::NULL_CELL;

use crate::column::ColumnMeta;
use crate::compare::value_key;
use crate::error::{MergeError, Result};
use crate::memory::{Budget, MemoryLimit, ENTRY_OVERHEAD};
use crate::row::TextRow;
use crate::value::Value;

/// Which rows a join keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Matched pairs only.
    Inner,
    /// Matched pairs, and each outer row without a match with NULL inner columns.
    Left,
    /// Each outer row with a match, once, without inner columns (`EXISTS`).
    Semi,
    /// Each outer row without a match, without inner columns (`NOT EXISTS`).
    Anti,
}

impl JoinKind {
    /// Whether a joined row holds the inner row's cells after the outer row's.
    pub fn emits_inner(self) -> bool {
        matches!(self, JoinKind::Inner | JoinKind::Left)
    }
}

/// The columns a join compares: pairs of (outer column, inner column), with both sides'
/// metadata. String keys compare under the outer column's collation.
#[derive(Debug, Clone)]
pub struct JoinKeys {
    outer: Vec<usize>,
    inner: Vec<usize>,
    outer_metas: Vec<ColumnMeta>,
    inner_metas: Vec<ColumnMeta>,
}

impl JoinKeys {
    /// Keys `outer[i] = inner[i]` over rows of `outer_metas` and `inner_metas`.
    pub fn new(
        outer: &[usize],
        outer_metas: &[ColumnMeta],
        inner: &[usize],
        inner_metas: &[ColumnMeta],
    ) -> Result<JoinKeys> {
        for (&c, metas) in outer
            .iter()
            .map(|c| (c, outer_metas))
            .chain(inner.iter().map(|c| (c, inner_metas)))
        {
            if c >= metas.len() {
                return Err(MergeError::NoSuchColumn {
                    column: c,
                    columns: metas.len(),
                });
            }
        }
        if outer.len() != inner.len() || outer.is_empty() {
            return Err(MergeError::ColumnDefinition(
                "a join needs as many outer as inner key columns, at least one".into(),
            ));
        }
        Ok(JoinKeys {
            outer: outer.to_vec(),
            inner: inner.to_vec(),
            outer_metas: outer_metas.to_vec(),
            inner_metas: inner_metas.to_vec(),
        })
    }

    /// The outer rows' width in cells.
    pub fn outer_width(&self) -> usize {
        self.outer_metas.len()
    }

    /// The inner rows' width in cells.
    pub fn inner_width(&self) -> usize {
        self.inner_metas.len()
    }

    /// The hash key of a row of one side; `None` when a key cell is NULL (it matches nothing).
    fn key(&self, row: &TextRow, inner: bool) -> Result<Option<Vec<u8>>> {
        let (columns, metas) = match inner {
            true => (&self.inner, &self.inner_metas),
            false => (&self.outer, &self.outer_metas),
        };
        let mut key = Vec::with_capacity(16);
        for (i, &c) in columns.iter().enumerate() {
            let value = row.value(c, &metas[c])?;
            if value.is_null() {
                return Ok(None);
            }
            value_key(
                &value,
                self.outer_metas[self.outer[i]].collation(),
                &mut key,
            );
        }
        Ok(Some(key))
    }

    /// The value of the first outer key column of `row` (`Null` for NULL).
    fn outer_value(&self, row: &TextRow) -> Result<Value> {
        let c = self.outer[0];
        row.value(c, &self.outer_metas[c])
    }
}

/// `outer` followed by `inner`: the joined row.
fn concat(outer: &[u8], inner: &[u8]) -> Bytes {
    let mut row = BytesMut::with_capacity(outer.len() + inner.len());
    row.extend_from_slice(outer);
    row.extend_from_slice(inner);
    row.freeze()
}

/// A hash table of inner rows by key, probed by outer rows.
#[derive(Debug)]
pub struct HashJoin {
    keys: JoinKeys,
    kind: JoinKind,
    table: HashMap<Vec<u8>, Vec<Bytes>>,
    budget: Budget,
    /// The inner side of an unmatched LEFT-join row: one NULL cell per inner column.
    nulls: Bytes,
}

impl HashJoin {
    /// An empty table holding at most `limit`.
    pub fn new(keys: JoinKeys, kind: JoinKind, limit: MemoryLimit) -> HashJoin {
        let nulls = Bytes::from(vec![NULL_CELL; keys.inner_width()]);
        HashJoin {
            keys,
            kind,
            table: HashMap::new(),
            budget: Budget::new("hash join", limit),
            nulls,
        }
    }

    /// Adds an inner row; one with a NULL key is dropped (it can never match).
    pub fn build(&mut self, inner: Bytes) -> Result<()> {
        let row = TextRow::parse(inner, self.keys.inner_width())?;
        let Some(key) = self.keys.key(&row, true)? else {
            return Ok(());
        };
        // A semi- or anti-join asks only whether the key is there.
        let payload = match self.kind.emits_inner() {
            true => row.into_payload(),
            false => Bytes::new(),
        };
        let cost = payload.len() as u64 + ENTRY_OVERHEAD;
        match self.table.get_mut(&key) {
            Some(_) if !self.kind.emits_inner() => {}
            Some(rows) => {
                self.budget.charge(1, cost)?;
                rows.push(payload);
            }
            None => {
                self.budget.charge(1, cost + key.len() as u64)?;
                self.table.insert(key, vec![payload]);
            }
        }
        Ok(())
    }

    /// Appends the joined rows of one outer row to `out`, in the inner rows' build order.
    pub fn probe(&self, outer: Bytes, out: &mut Vec<Bytes>) -> Result<()> {
        let row = TextRow::parse(outer, self.keys.outer_width())?;
        let matches = match self.keys.key(&row, false)? {
            Some(key) => self.table.get(&key).map(Vec::as_slice).unwrap_or_default(),
            None => &[],
        };
        match self.kind {
            JoinKind::Inner | JoinKind::Left => {
                for inner in matches {
                    out.push(concat(row.payload(), inner));
                }
                if matches.is_empty() && self.kind == JoinKind::Left {
                    out.push(concat(row.payload(), &self.nulls));
                }
            }
            JoinKind::Semi if !matches.is_empty() => out.push(row.into_payload()),
            JoinKind::Anti if matches.is_empty() => out.push(row.into_payload()),
            JoinKind::Semi | JoinKind::Anti => {}
        }
        Ok(())
    }

    /// Empties the table and gives its memory back to the budget.
    pub fn clear(&mut self) {
        self.table.clear();
        self.budget.release(u64::MAX, u64::MAX);
    }

    /// Inner rows held.
    pub fn len(&self) -> usize {
        self.table.values().map(Vec::len).sum()
    }

    /// `true` when no inner row is held.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// A nested-loop join with batched lookups: outer rows are gathered in batches of at most
/// `batch_size`; each batch's distinct key values are looked up on the inner side at once
/// and the batch joined with the rows found, in the outer rows' order. Joins on one key
/// column (the values go into one `IN` list).
#[derive(Debug)]
pub struct BatchedLookup {
    join: HashJoin,
    batch_size: usize,
    pending: Vec<Bytes>,
    values: Vec<Value>,
    seen: HashMap<Vec<u8>, ()>,
    /// What the pending outer rows hold, against the same bound as the inner rows.
    held: Budget,
}

impl BatchedLookup {
    /// Batches of `batch_size` outer rows (at least one), held with each batch's inner rows
    /// under `limit`.
    pub fn new(
        keys: JoinKeys,
        kind: JoinKind,
        batch_size: usize,
        limit: MemoryLimit,
    ) -> Result<BatchedLookup> {
        if keys.outer.len() != 1 {
            return Err(MergeError::ColumnDefinition(
                "a batched lookup joins on one key column".into(),
            ));
        }
        Ok(BatchedLookup {
            join: HashJoin::new(keys, kind, limit),
            batch_size: batch_size.max(1),
            pending: Vec::new(),
            values: Vec::new(),
            seen: HashMap::new(),
            held: Budget::new("batched lookup join", limit),
        })
    }

    /// Adds an outer row to the batch; `true` when the batch is full and must be looked up.
    pub fn push_outer(&mut self, outer: Bytes) -> Result<bool> {
        let row = TextRow::parse(outer, self.join.keys.outer_width())?;
        if let Some(key) = self.join.keys.key(&row, false)? {
            if self.seen.insert(key, ()).is_none() {
                self.values.push(self.join.keys.outer_value(&row)?);
            }
        }
        let payload = row.into_payload();
        self.held.charge(1, payload.len() as u64 + ENTRY_OVERHEAD)?;
        self.pending.push(payload);
        Ok(self.pending.len() >= self.batch_size)
    }

    /// Outer rows waiting for their lookup.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The batch's distinct non-NULL key values (those the inner side must be asked for;
    /// none when every pending key is NULL).
    pub fn lookup_values(&self) -> &[Value] {
        &self.values
    }

    /// Takes one inner row the lookup returned.
    pub fn inner_row(&mut self, inner: Bytes) -> Result<()> {
        self.join.build(inner)
    }

    /// Joins the pending batch with the inner rows taken since the last batch, appending the
    /// joined rows to `out`, and starts a new batch.
    pub fn finish_batch(&mut self, out: &mut Vec<Bytes>) -> Result<()> {
        for outer in self.pending.drain(..) {
            self.join.probe(outer, out)?;
        }
        self.join.clear();
        self.values.clear();
        self.seen.clear();
        self.held.release(u64::MAX, u64::MAX);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare_values;
    use crate::row::{decode_text_row, encode_text_row};
    use crate::LimitUnit;
    use mysql_common::constants::ColumnType;
    use proptest::prelude::*;

    fn int_meta() -> ColumnMeta {
        ColumnMeta::new(ColumnType::MYSQL_TYPE_LONGLONG)
    }

    fn str_meta() -> ColumnMeta {
        ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45)
    }

    fn row(values: &[Value]) -> Bytes {
        Bytes::from(encode_text_row(values))
    }

    /// The naive reference: every pair compared with MariaDB's equality, NULLs never equal.
    fn nested_loop(
        kind: JoinKind,
        outer: &[Bytes],
        outer_metas: &[ColumnMeta],
        inner: &[Bytes],
        inner_metas: &[ColumnMeta],
    ) -> Vec<Bytes> {
        let mut out = Vec::new();
        for o in outer {
            let ov = decode_text_row(o, outer_metas).unwrap();
            let mut matched = false;
            for i in inner {
                let iv = decode_text_row(i, inner_metas).unwrap();
                let equal = !ov[0].is_null()
                    && !iv[0].is_null()
                    && compare_values(&ov[0], &iv[0], outer_metas[0].collation()).is_eq();
                if equal {
                    if kind.emits_inner() {
                        out.push(concat(o, i));
                    }
                    matched = true;
                }
            }
            match kind {
                JoinKind::Left if !matched => {
                    out.push(concat(o, &vec![NULL_CELL; inner_metas.len()]))
                }
                JoinKind::Semi if matched => out.push(o.clone()),
                JoinKind::Anti if !matched => out.push(o.clone()),
                _ => {}
            }
        }
        out
    }

    fn hash_joined(
        kind: JoinKind,
        outer: &[Bytes],
        outer_metas: &[ColumnMeta],
        inner: &[Bytes],
        inner_metas: &[ColumnMeta],
    ) -> Vec<Bytes> {
        let keys = JoinKeys::new(&[0], outer_metas, &[0], inner_metas).unwrap();
        let mut join = HashJoin::new(keys, kind, MemoryLimit::UNLIMITED);
        for r in inner {
            join.build(r.clone()).unwrap();
        }
        let mut out = Vec::new();
        for r in outer {
            join.probe(r.clone(), &mut out).unwrap();
        }
        out
    }

    /// A batched lookup whose "inner side" answers each batch by filtering `inner` on the
    /// batch's values, as a shard answering `key IN (…)` would.
    fn batch_joined(
        kind: JoinKind,
        batch_size: usize,
        outer: &[Bytes],
        outer_metas: &[ColumnMeta],
        inner: &[Bytes],
        inner_metas: &[ColumnMeta],
    ) -> Vec<Bytes> {
        let keys = JoinKeys::new(&[0], outer_metas, &[0], inner_metas).unwrap();
        let collation = outer_metas[0].collation();
        let mut join = BatchedLookup::new(keys, kind, batch_size, MemoryLimit::UNLIMITED).unwrap();
        let mut out = Vec::new();
        let lookup = |join: &mut BatchedLookup, out: &mut Vec<Bytes>| {
            let values = join.lookup_values().to_vec();
            for r in inner {
                let v = decode_text_row(r, inner_metas).unwrap();
                if values
                    .iter()
                    .any(|x| !v[0].is_null() && compare_values(x, &v[0], collation).is_eq())
                {
                    join.inner_row(r.clone()).unwrap();
                }
            }
            join.finish_batch(out).unwrap();
        };
        for r in outer {
            if join.push_outer(r.clone()).unwrap() {
                lookup(&mut join, &mut out);
            }
        }
        if join.pending() > 0 {
            lookup(&mut join, &mut out);
        }
        out
    }

    #[test]
    fn nulls_never_match_and_left_rows_are_null_extended() {
        let metas = [int_meta(), int_meta()];
        let outer = vec![
            row(&[Value::Int(1), Value::Int(10)]),
            row(&[Value::Null, Value::Int(11)]),
            row(&[Value::Int(2), Value::Int(12)]),
        ];
        let inner = vec![
            row(&[Value::Int(1), Value::Int(100)]),
            row(&[Value::Null, Value::Int(101)]),
            row(&[Value::Int(1), Value::Int(102)]),
        ];
        let inner_join = hash_joined(JoinKind::Inner, &outer, &metas, &inner, &metas);
        assert_eq!(inner_join.len(), 2, "the NULL keys match nothing");
        let left = hash_joined(JoinKind::Left, &outer, &metas, &inner, &metas);
        let all = [metas, metas].concat();
        let decoded: Vec<_> = left
            .iter()
            .map(|r| decode_text_row(r, &all).unwrap())
            .collect();
        assert_eq!(decoded.len(), 4);
        assert_eq!(decoded[2][0], Value::Null);
        assert_eq!(decoded[2][2], Value::Null);
        assert_eq!(decoded[3][2], Value::Null, "2 has no match");
    }

    #[test]
    fn strings_match_by_collation_and_numbers_across_types() {
        let outer = vec![row(&[Value::bytes("Alice ")]), row(&[Value::bytes("bob")])];
        let inner = vec![row(&[Value::bytes("alice")]), row(&[Value::bytes("BOB")])];
        let ci = [str_meta()];
        assert_eq!(
            hash_joined(JoinKind::Inner, &outer, &ci, &inner, &ci).len(),
            2
        );
        let bin = [str_meta().with_flags(crate::ColumnFlags::BINARY_FLAG)];
        assert_eq!(
            hash_joined(JoinKind::Inner, &outer, &bin, &inner, &bin).len(),
            0
        );
        let dec = [ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(2)];
        let outer = [row(&[Value::Int(3)])];
        let inner = [row(&[Value::bytes("3.00")])];
        let ints = [int_meta()];
        let keys = JoinKeys::new(&[0], &ints, &[0], &dec).unwrap();
        let mut join = HashJoin::new(keys, JoinKind::Inner, MemoryLimit::UNLIMITED);
        join.build(inner[0].clone()).unwrap();
        let mut out = Vec::new();
        join.probe(outer[0].clone(), &mut out).unwrap();
        assert_eq!(out.len(), 1, "3 = 3.00");
    }

    #[test]
    fn the_build_side_stops_at_its_bound() {
        let metas = [int_meta()];
        let keys = JoinKeys::new(&[0], &metas, &[0], &metas).unwrap();
        let mut join = HashJoin::new(keys.clone(), JoinKind::Inner, MemoryLimit::rows(3));
        for i in 0..3 {
            join.build(row(&[Value::Int(i)])).unwrap();
        }
        let err = join.build(row(&[Value::Int(9)])).unwrap_err();
        assert!(matches!(
            err,
            MergeError::MemoryLimit {
                operator: "hash join",
                unit: LimitUnit::Rows,
                ..
            }
        ));
        assert_eq!(err.mysql_code().0, 1038);
        join.clear();
        assert!(join.is_empty());
        join.build(row(&[Value::Int(1)])).unwrap();
        let mut lookup =
            BatchedLookup::new(keys, JoinKind::Inner, 10, MemoryLimit::rows(2)).unwrap();
        lookup.push_outer(row(&[Value::Int(1)])).unwrap();
        lookup.push_outer(row(&[Value::Int(1)])).unwrap();
        assert!(lookup.push_outer(row(&[Value::Int(1)])).is_err());
    }

    #[test]
    fn a_batch_asks_for_each_distinct_value_once() {
        let metas = [int_meta()];
        let keys = JoinKeys::new(&[0], &metas, &[0], &metas).unwrap();
        let mut lookup =
            BatchedLookup::new(keys, JoinKind::Inner, 4, MemoryLimit::UNLIMITED).unwrap();
        assert!(!lookup.push_outer(row(&[Value::Int(5)])).unwrap());
        assert!(!lookup.push_outer(row(&[Value::Null])).unwrap());
        assert!(!lookup.push_outer(row(&[Value::Int(5)])).unwrap());
        assert!(lookup.push_outer(row(&[Value::Int(6)])).unwrap());
        assert_eq!(lookup.lookup_values(), [Value::Int(5), Value::Int(6)]);
        let mut out = Vec::new();
        lookup.finish_batch(&mut out).unwrap();
        assert!(out.is_empty());
        assert!(lookup.lookup_values().is_empty());
    }

    fn key_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            1 => Just(Value::Null),
            4 => (0i64..6).prop_map(Value::Int),
        ]
    }

    fn string_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            1 => Just(Value::Null),
            4 => prop::sample::select(vec!["a", "A", "a ", "b", "B  ", "é", "É", ""])
                .prop_map(Value::bytes),
        ]
    }

    fn rows_of(keys: Vec<Value>) -> Vec<Bytes> {
        keys.into_iter()
            .enumerate()
            .map(|(i, k)| row(&[k, Value::Int(i as i64)]))
            .collect()
    }

    const KINDS: [JoinKind; 4] = [
        JoinKind::Inner,
        JoinKind::Left,
        JoinKind::Semi,
        JoinKind::Anti,
    ];

    #[test]
    fn semi_and_anti_joins_keep_outer_rows_once_or_never() {
        let metas = [int_meta(), int_meta()];
        let outer = vec![
            row(&[Value::Int(1), Value::Int(10)]),
            row(&[Value::Null, Value::Int(11)]),
            row(&[Value::Int(2), Value::Int(12)]),
        ];
        let inner = vec![
            row(&[Value::Int(1), Value::Int(100)]),
            row(&[Value::Int(1), Value::Int(102)]),
        ];
        let semi = hash_joined(JoinKind::Semi, &outer, &metas, &inner, &metas);
        assert_eq!(semi, [outer[0].clone()], "1 once, though it matches twice");
        let anti = hash_joined(JoinKind::Anti, &outer, &metas, &inner, &metas);
        assert_eq!(
            anti,
            [outer[1].clone(), outer[2].clone()],
            "a NULL key has no match"
        );
    }

    proptest! {
        #[test]
        fn hash_and_batched_joins_equal_a_nested_loop(
            outer in prop::collection::vec(key_value(), 0..30),
            inner in prop::collection::vec(key_value(), 0..30),
            kind in 0usize..4,
            batch in 1usize..8,
        ) {
            let kind = KINDS[kind];
            let metas = [int_meta(), int_meta()];
            let (outer, inner) = (rows_of(outer), rows_of(inner));
            let expected = nested_loop(kind, &outer, &metas, &inner, &metas);
            prop_assert_eq!(&hash_joined(kind, &outer, &metas, &inner, &metas), &expected);
            prop_assert_eq!(&batch_joined(kind, batch, &outer, &metas, &inner, &metas), &expected);
        }

        #[test]
        fn string_keys_join_as_their_collation_compares(
            outer in prop::collection::vec(string_value(), 0..20),
            inner in prop::collection::vec(string_value(), 0..20),
            kind in 0usize..4,
            binary in any::<bool>(),
        ) {
            let kind = KINDS[kind];
            let key = match binary {
                true => str_meta().with_flags(crate::ColumnFlags::BINARY_FLAG),
                false => str_meta(),
            };
            let metas = [key, int_meta()];
            let (outer, inner) = (rows_of(outer), rows_of(inner));
            let expected = nested_loop(kind, &outer, &metas, &inner, &metas);
            prop_assert_eq!(&hash_joined(kind, &outer, &metas, &inner, &metas), &expected);
            prop_assert_eq!(&batch_joined(kind, 3, &outer, &metas, &inner, &metas), &expected);
        }
    }
}
