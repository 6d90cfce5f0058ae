//! `UNION` / `INTERSECT` / `EXCEPT` (each `ALL` or `DISTINCT`) of two row lists, with
//! MariaDB's semantics: whole rows compared, NULLs equal, strings by the result column's
//! collation, numbers by value; `DISTINCT` keeps each row's first occurrence, in order;
//! `INTERSECT ALL` keeps a left row as often as both sides hold it, `EXCEPT ALL` as often as
//! the left holds it more than the right, each copy showing the first of its equal rows (as
//! MariaDB's counted temporary table does). Rows are held under a [`MemoryLimit`]
//! ([`MergeError::MemoryLimit`] past it).

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;

use crate::column::ColumnMeta;
use crate::compare::value_key;
use crate::error::Result;
use crate::memory::{Budget, MemoryLimit, ENTRY_OVERHEAD};
use crate::row::TextRow;

/// The operator of a set operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOperator {
    Union,
    Intersect,
    Except,
}

impl fmt::Display for SetOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetOperator::Union => "Union",
            SetOperator::Intersect => "Intersect",
            SetOperator::Except => "Except",
        })
    }
}

/// What a statement's set operations hold at once, across all of them.
#[derive(Debug, Clone)]
pub struct SetRows {
    budget: Budget,
}

fn cost(row: &Bytes) -> u64 {
    row.len() as u64 + ENTRY_OVERHEAD
}

impl SetRows {
    /// Holding at most `limit`.
    pub fn new(limit: MemoryLimit) -> SetRows {
        SetRows {
            budget: Budget::new("set operation", limit),
        }
    }

    /// Takes `row` into the held rows; fails past the limit.
    pub fn hold(&mut self, row: &Bytes) -> Result<()> {
        self.budget
            .charge(1, cost(row))
            .inspect_err(|_| self.drop_row(row))
    }

    /// Gives back what `hold` took for `row`, which is no longer held.
    pub fn drop_row(&mut self, row: &Bytes) {
        self.budget.release(1, cost(row))
    }
}

/// The equality key of a whole row: equal exactly when MariaDB finds the rows equal.
fn row_key(row: &Bytes, columns: &[ColumnMeta], key: &mut Vec<u8>) -> Result<()> {
    key.clear();
    let parsed = TextRow::parse(row.clone(), columns.len())?;
    for (i, meta) in columns.iter().enumerate() {
        let value = parsed.value(i, meta)?;
        value_key(&value, meta.collation(), key);
    }
    Ok(())
}

/// Combines `left` and `right` (rows of `columns`, the whole's types and real collations).
pub fn combine(
    op: SetOperator,
    all: bool,
    left: Vec<Bytes>,
    right: Vec<Bytes>,
    columns: &[ColumnMeta],
    held: &mut SetRows,
) -> Result<Vec<Bytes>> {
    let mut key = Vec::new();
    if op == SetOperator::Union {
        let mut rows = left;
        rows.extend(right);
        if all {
            return Ok(rows);
        }
        let mut seen: HashMap<Vec<u8>, ()> = HashMap::with_capacity(rows.len());
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            row_key(&row, columns, &mut key)?;
            if seen.insert(key.clone(), ()).is_none() {
                out.push(row);
            } else {
                held.drop_row(&row);
            }
        }
        return Ok(out);
    }
    // How often each right row occurs (DISTINCT forms only ask whether it does).
    let mut counts: HashMap<Vec<u8>, u64> = HashMap::with_capacity(right.len());
    for row in &right {
        row_key(row, columns, &mut key)?;
        *counts.entry(key.clone()).or_default() += 1;
        held.drop_row(row);
    }
    drop(right);
    let mut emitted: HashMap<Vec<u8>, ()> = HashMap::new();
    // MariaDB counts equal rows under one stored row: every copy shows the first one seen.
    let mut firsts: HashMap<Vec<u8>, Bytes> = HashMap::new();
    let mut out = Vec::with_capacity(left.len());
    for row in left {
        row_key(&row, columns, &mut key)?;
        let row = match all {
            true => firsts.entry(key.clone()).or_insert(row).clone(),
            false => row,
        };
        let in_right = counts.get_mut(&key);
        let keep = match (op, all) {
            (SetOperator::Intersect, true) => match in_right {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            },
            (SetOperator::Except, true) => match in_right {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            },
            (SetOperator::Intersect, false) => {
                in_right.is_some() && emitted.insert(key.clone(), ()).is_none()
            }
            (SetOperator::Except, false) => {
                in_right.is_none() && emitted.insert(key.clone(), ()).is_none()
            }
            (SetOperator::Union, _) => unreachable!("handled above"),
        };
        if keep {
            out.push(row);
        } else {
            held.drop_row(&row);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::RowWriter;
    use mysql_common::constants::ColumnType;
    use proptest::prelude::*;

    fn row(cells: &[Option<&str>]) -> Bytes {
        let mut w = RowWriter::new();
        for c in cells {
            w.push_cell(c.map(str::as_bytes));
        }
        w.finish()
    }

    fn text(rows: &[Bytes], width: usize) -> Vec<Vec<Option<String>>> {
        rows.iter()
            .map(|r| {
                let p = TextRow::parse(r.clone(), width).expect("row");
                (0..width)
                    .map(|i| p.cell(i).map(|c| String::from_utf8_lossy(c).into_owned()))
                    .collect()
            })
            .collect()
    }

    fn ci_string() -> ColumnMeta {
        // utf8mb4_general_ci
        ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45)
    }

    fn run(op: SetOperator, all: bool, l: &[Option<&str>], r: &[Option<&str>]) -> Vec<String> {
        let cols = [ci_string()];
        let left = l.iter().map(|c| row(&[*c])).collect();
        let right = r.iter().map(|c| row(&[*c])).collect();
        let mut held = SetRows::new(MemoryLimit::UNLIMITED);
        let out = combine(op, all, left, right, &cols, &mut held).expect("combined");
        text(&out, 1)
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_else(|| "NULL".into()))
            .collect()
    }

    #[test]
    fn distinct_forms_compare_by_collation_and_nulls_are_equal() {
        let (a, big_a, b) = (Some("a"), Some("A"), Some("b"));
        use SetOperator::*;
        assert_eq!(
            run(Union, false, &[a, None, b], &[big_a, None]),
            ["a", "NULL", "b"]
        );
        assert_eq!(run(Union, true, &[a], &[big_a]), ["a", "A"]);
        assert_eq!(
            run(Intersect, false, &[a, b, a, None], &[big_a, None]),
            ["a", "NULL"]
        );
        assert_eq!(
            run(Except, false, &[a, b, b, None], &[big_a]),
            ["b", "NULL"]
        );
        assert_eq!(run(Intersect, true, &[a, a, a, b], &[big_a, a]), ["a", "a"]);
        assert_eq!(run(Except, true, &[a, a, a, b], &[big_a]), ["a", "a", "b"]);
        assert_eq!(run(Except, true, &[big_a, a, a, b], &[b]), ["A", "A", "A"]);
    }

    #[test]
    fn numbers_compare_by_value() {
        let cols = [ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(2)];
        let rows = vec![
            row(&[Some("1.00")]),
            row(&[Some("1.0")]),
            row(&[Some("2.00")]),
        ];
        let mut held = SetRows::new(MemoryLimit::UNLIMITED);
        let out = combine(SetOperator::Union, false, rows, vec![], &cols, &mut held).expect("ok");
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn holding_past_the_limit_fails() {
        let mut held = SetRows::new(MemoryLimit::rows(2));
        let r = row(&[Some("x")]);
        held.hold(&r).expect("one");
        held.hold(&r).expect("two");
        assert!(matches!(
            held.hold(&r),
            Err(crate::MergeError::MemoryLimit { .. })
        ));
        held.drop_row(&r);
        held.hold(&r).expect("room again");
    }

    proptest! {
        /// Against a multiset model over small integers (binary collation, no NULLs).
        #[test]
        fn matches_a_multiset_model(
            l in proptest::collection::vec(0u8..5, 0..12),
            r in proptest::collection::vec(0u8..5, 0..12),
            op in 0usize..3,
            all in any::<bool>(),
        ) {
            let op = [SetOperator::Union, SetOperator::Intersect, SetOperator::Except][op];
            let cols = [ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG)];
            let to_rows = |v: &[u8]| v.iter().map(|n| row(&[Some(&n.to_string())])).collect::<Vec<_>>();
            let mut held = SetRows::new(MemoryLimit::UNLIMITED);
            let out = combine(op, all, to_rows(&l), to_rows(&r), &cols, &mut held).expect("ok");
            let got: Vec<u8> = text(&out, 1).iter().map(|c| c[0].as_deref().unwrap().parse().unwrap()).collect();
            let count = |v: &[u8], x: u8| v.iter().filter(|&&y| y == x).count();
            let mut expected = Vec::new();
            let firsts = |v: &[u8], keep: &dyn Fn(u8) -> bool, expected: &mut Vec<u8>| {
                for &x in v {
                    if keep(x) && !expected.contains(&x) {
                        expected.push(x);
                    }
                }
            };
            match (op, all) {
                (SetOperator::Union, true) => { expected = l.clone(); expected.extend(&r); }
                (SetOperator::Union, false) => { let both: Vec<u8> = l.iter().chain(&r).copied().collect(); firsts(&both, &|_| true, &mut expected); }
                (SetOperator::Intersect, false) => firsts(&l, &|x| r.contains(&x), &mut expected),
                (SetOperator::Except, false) => firsts(&l, &|x| !r.contains(&x), &mut expected),
                (SetOperator::Intersect, true) => {
                    let mut seen = std::collections::HashMap::new();
                    for &x in &l { let n = seen.entry(x).or_insert(0); *n += 1; if *n <= count(&r, x) { expected.push(x); } }
                }
                (SetOperator::Except, true) => {
                    let mut seen = std::collections::HashMap::new();
                    for &x in &l { let n = seen.entry(x).or_insert(0); *n += 1; if *n > count(&r, x) { expected.push(x); } }
                }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
