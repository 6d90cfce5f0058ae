//! Property tests: merging K shard streams gives what one server would give for their
//! concatenation — sorted, limited, de-duplicated and aggregated.

use bytes::Bytes;
use proptest::prelude::*;
use shardgate_merge::{
    count_meta, encode_text_row, Aggregate, ColumnMeta, ColumnType, Decimal, HashAggregate,
    HashDistinct, Limit, MemoryLimit, MergeError, MergeSort, OrderedAggregate, RowOperator,
    RowOrder, SortKey, SortedDistinct, Value,
};
use shardgate_wire::text_row::text_cell;

/// `(k INT NULL, s VARCHAR general_ci, tag INT)`: sort keys, plus a tag to check stability.
fn cols() -> Vec<ColumnMeta> {
    vec![
        ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
        ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_charset(45),
        ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
    ]
}

fn row(k: Option<i64>, s: &str, tag: i64) -> Bytes {
    let k = k.map_or(Value::Null, Value::Int);
    Bytes::from(encode_text_row(&[
        k,
        Value::bytes(s.to_owned()),
        Value::Int(tag),
    ]))
}

fn tag(r: &Bytes) -> i64 {
    std::str::from_utf8(text_cell(r, 2).unwrap().unwrap())
        .unwrap()
        .parse()
        .unwrap()
}

fn key_strategy() -> impl Strategy<Value = (Option<i64>, String)> {
    (
        prop::option::weighted(0.85, -5i64..5),
        prop::sample::select(vec!["", "a", "A", "a ", "b", "B", "é", "E", "z"])
            .prop_map(String::from),
    )
}

/// K shards of rows; every row gets a unique tag in concatenation order.
fn shards_strategy() -> impl Strategy<Value = Vec<Vec<(Option<i64>, String)>>> {
    prop::collection::vec(prop::collection::vec(key_strategy(), 0..12), 1..5)
}

fn tagged(shards: &[Vec<(Option<i64>, String)>]) -> Vec<Vec<Bytes>> {
    let mut t = 0;
    shards
        .iter()
        .map(|s| {
            s.iter()
                .map(|(k, st)| {
                    t += 1;
                    row(*k, st, t)
                })
                .collect()
        })
        .collect()
}

fn sort_stable(rows: &mut [Bytes], keys: &[SortKey]) {
    let order = RowOrder::new(keys, &cols()).unwrap();
    let mut keyed: Vec<_> = rows
        .iter()
        .map(|r| (order.extract(r.clone()).unwrap().1, r.clone()))
        .collect();
    keyed.sort_by(|a, b| order.compare(&a.0, &b.0));
    for (dst, (_, r)) in rows.iter_mut().zip(keyed) {
        *dst = r;
    }
}

/// Drives a merge the way the executor does: pushes from inputs in an interleaving, popping
/// whenever it can.
fn merge(inputs: &[Vec<Bytes>], keys: &[SortKey], schedule: &[usize]) -> Vec<Bytes> {
    let mut m = MergeSort::new(inputs.len(), keys, &cols()).unwrap();
    let mut next = vec![0; inputs.len()];
    let mut out = Vec::new();
    let mut step = 0;
    while !m.is_done() {
        while let Some((_, r)) = m.pop() {
            out.push(r);
        }
        // Feed one of the waiting inputs, or any unfinished one, chosen by the schedule.
        let live: Vec<usize> = (0..inputs.len())
            .filter(|&i| next[i] <= inputs[i].len())
            .collect();
        if live.is_empty() {
            break;
        }
        let i = live[schedule.get(step).copied().unwrap_or(0) % live.len()];
        step += 1;
        if next[i] < inputs[i].len() {
            m.push(i, inputs[i][next[i]].clone()).unwrap();
        } else {
            m.finish(i).unwrap();
        }
        next[i] += 1;
    }
    while let Some((_, r)) = m.pop() {
        out.push(r);
    }
    out
}

fn sort_keys() -> impl Strategy<Value = Vec<SortKey>> {
    prop::collection::vec((0usize..2, any::<bool>()), 1..3).prop_map(|v| {
        v.into_iter()
            .map(|(c, d)| SortKey {
                column: c,
                descending: d,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn merge_sort_equals_stable_sort_of_the_concatenation(
        shards in shards_strategy(),
        keys in sort_keys(),
        schedule in prop::collection::vec(0usize..8, 0..200),
    ) {
        let mut inputs = tagged(&shards);
        for s in &mut inputs {
            sort_stable(s, &keys);
        }
        let mut all: Vec<Bytes> = inputs.concat();
        sort_stable(&mut all, &keys);
        let merged = merge(&inputs, &keys, &schedule);
        prop_assert_eq!(merged.iter().map(tag).collect::<Vec<_>>(), all.iter().map(tag).collect::<Vec<_>>());
    }

    #[test]
    fn limit_equals_slicing(n in 0usize..40, offset in 0u64..50, count in prop::option::of(0u64..50)) {
        let mut l = Limit::new(offset, count);
        let got: Vec<usize> = (0..n).filter_map(|i| l.offer(i)).collect();
        let end = count.map_or(n, |c| (offset + c).min(n as u64) as usize);
        let start = (offset as usize).min(n);
        prop_assert_eq!(got, (start..end.max(start)).collect::<Vec<_>>());
        prop_assert_eq!(l.is_done(), count.is_some_and(|c| (n as u64).saturating_sub(offset) >= c));
    }

    #[test]
    fn distinct_equals_dedup_of_the_sorted_concatenation(shards in shards_strategy()) {
        let keys = [SortKey::asc(0), SortKey::asc(1)];
        let mut inputs = tagged(&shards);
        for s in &mut inputs {
            sort_stable(s, &keys);
        }
        let mut all: Vec<Bytes> = inputs.concat();
        sort_stable(&mut all, &keys);
        let order = RowOrder::new(&keys, &cols()).unwrap();
        let mut want: Vec<Bytes> = Vec::new();
        for r in &all {
            let k = order.extract(r.clone()).unwrap().1;
            if want.last().is_none_or(|l| !order.compare(&order.extract(l.clone()).unwrap().1, &k).is_eq()) {
                want.push(r.clone());
            }
        }
        let mut sorted = SortedDistinct::new(&[0, 1], &cols(), MemoryLimit::UNLIMITED).unwrap();
        let merged = merge(&inputs, &keys, &[]);
        let got: Vec<Bytes> = merged.into_iter().filter_map(|r| sorted.offer(r).unwrap()).collect();
        prop_assert_eq!(got.iter().map(tag).collect::<Vec<_>>(), want.iter().map(tag).collect::<Vec<_>>());

        // Hashed, on the unsorted concatenation: the same set of distinct values.
        let mut hashed = HashDistinct::new(&[0, 1], &cols(), MemoryLimit::UNLIMITED).unwrap();
        let mut got: Vec<Bytes> = tagged(&shards).concat().into_iter().filter_map(|r| hashed.offer(r).unwrap()).collect();
        sort_stable(&mut got, &keys);
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            let (gk, wk) = (order.extract(g.clone()).unwrap().1, order.extract(w.clone()).unwrap().1);
            prop_assert!(order.compare(&gk, &wk).is_eq());
        }
    }
}

// ---- aggregates -------------------------------------------------------------------------

/// Source rows: `(g INT NULL, x DECIMAL(12,2) NULL as cents, y DOUBLE NULL as halves)`.
type Src = (Option<i64>, Option<i64>, Option<i64>);

fn src_strategy() -> impl Strategy<Value = Vec<Vec<Src>>> {
    let cents = prop_oneof![
        -1_000_000i64..1_000_000,
        Just(0),
        -99i64..99,
        Just(999_999_999_999)
    ];
    let row = (
        prop::option::weighted(0.8, 0i64..4),
        prop::option::weighted(0.75, cents),
        prop::option::weighted(0.75, -1000i64..1000),
    );
    prop::collection::vec(prop::collection::vec(row, 0..15), 1..5)
}

fn cents(v: i128) -> String {
    let sign = if v < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", v.abs() / 100, v.abs() % 100)
}

fn dec_value(v: Option<i128>) -> Value {
    v.map_or(Value::Null, |v| {
        Value::Decimal(Decimal::parse(cents(v).as_bytes()).unwrap())
    })
}

fn dbl_value(halves: Option<f64>) -> Value {
    halves.map_or(Value::Null, |h| Value::double(h / 2.0))
}

/// Columns of the shard query
/// `SELECT g, COUNT(*), SUM(x), MIN(x), MAX(x), COUNT(x), SUM(y), COUNT(y), MIN(y) … GROUP BY g ORDER BY g`.
fn partial_cols() -> Vec<ColumnMeta> {
    let sum_x = ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
        .with_decimals(2)
        .with_length(36);
    let x = ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
        .with_decimals(2)
        .with_length(14);
    let y = ColumnMeta::new(ColumnType::MYSQL_TYPE_DOUBLE)
        .with_decimals(31)
        .with_length(23);
    vec![
        ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
        count_meta(),
        sum_x,
        x,
        x,
        count_meta(),
        y,
        count_meta(),
        y,
    ]
}

fn outputs() -> Vec<Aggregate> {
    vec![
        Aggregate::First(0),
        Aggregate::Count(1),
        Aggregate::Sum(2),
        Aggregate::Min(3),
        Aggregate::Max(4),
        Aggregate::Avg { sum: 2, count: 5 },
        Aggregate::Sum(6),
        Aggregate::Avg { sum: 6, count: 7 },
        Aggregate::Min(8),
    ]
}

#[derive(Default, Clone)]
struct Reference {
    rows: i128,
    sum_x: Option<i128>,
    min_x: Option<i128>,
    max_x: Option<i128>,
    n_x: i128,
    sum_y: Option<f64>,
    n_y: i128,
    min_y: Option<f64>,
}

impl Reference {
    fn add(&mut self, &(_, x, y): &Src) {
        self.rows += 1;
        if let Some(x) = x.map(i128::from) {
            self.sum_x = Some(self.sum_x.unwrap_or(0) + x);
            self.min_x = Some(self.min_x.map_or(x, |m| m.min(x)));
            self.max_x = Some(self.max_x.map_or(x, |m| m.max(x)));
            self.n_x += 1;
        }
        if let Some(y) = y.map(|h| h as f64) {
            self.sum_y = Some(self.sum_y.unwrap_or(0.0) + y);
            self.min_y = Some(self.min_y.map_or(y, |m| m.min(y)));
            self.n_y += 1;
        }
    }

    /// The shard's partial row for group `g`.
    fn partial(&self, g: Option<i64>) -> Bytes {
        Bytes::from(encode_text_row(&[
            g.map_or(Value::Null, Value::Int),
            Value::Int(self.rows as i64),
            dec_value(self.sum_x),
            dec_value(self.min_x),
            dec_value(self.max_x),
            Value::Int(self.n_x as i64),
            dbl_value(self.sum_y),
            Value::Int(self.n_y as i64),
            dbl_value(self.min_y),
        ]))
    }

    /// The final row as text, computed without the crate's decimal type.
    fn answer(&self, g: Option<i64>) -> Vec<String> {
        let null = || "NULL".to_owned();
        // AVG(x) at scale 2 + 4, rounded half away from zero: cents * 10^4 / n.
        let avg_x = self.sum_x.filter(|_| self.n_x > 0).map_or_else(null, |s| {
            let num = s * 10_000;
            let (q, r) = (num / self.n_x, num % self.n_x);
            let q = if 2 * r.abs() >= self.n_x {
                q + num.signum()
            } else {
                q
            };
            let sign = if q < 0 { "-" } else { "" };
            format!("{sign}{}.{:06}", q.abs() / 1_000_000, q.abs() % 1_000_000)
        });
        let dbl =
            |v: Option<f64>| v.map_or_else(null, |v| shardgate_merge::format_double(v / 2.0, 31));
        vec![
            g.map_or_else(null, |g| g.to_string()),
            self.rows.to_string(),
            self.sum_x.map_or_else(null, cents),
            self.min_x.map_or_else(null, cents),
            self.max_x.map_or_else(null, cents),
            avg_x,
            dbl(self.sum_y),
            dbl(self
                .sum_y
                .filter(|_| self.n_y > 0)
                .map(|s| s / self.n_y as f64)),
            dbl(self.min_y),
        ]
    }
}

fn group_refs(rows: &[Src], grouped: bool) -> Vec<(Option<i64>, Reference)> {
    let mut groups: Vec<(Option<i64>, Reference)> = Vec::new();
    for r in rows {
        let g = if grouped { r.0 } else { None };
        match groups.iter_mut().find(|(k, _)| *k == g) {
            Some((_, acc)) => acc.add(r),
            None => {
                let mut acc = Reference::default();
                acc.add(r);
                groups.push((g, acc));
            }
        }
    }
    groups.sort_by_key(|(g, _)| *g); // None (NULL) first, as MariaDB orders groups.
    if !grouped && groups.is_empty() {
        groups.push((None, Reference::default()));
    }
    groups
}

/// Every cell of each row as text ("NULL" for NULL).
fn texts(rows: &[Bytes]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            (0..)
                .map_while(|i| text_cell(r, i).ok())
                .map(|c| {
                    c.map_or("NULL".to_owned(), |t| {
                        String::from_utf8(t.to_vec()).unwrap()
                    })
                })
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn merged_partial_aggregates_equal_aggregating_the_concatenation(
        shards in src_strategy(),
        grouped in any::<bool>(),
    ) {
        let all: Vec<Src> = shards.concat();
        let want: Vec<Vec<String>> = group_refs(&all, grouped).iter().map(|(g, r)| r.answer(*g)).collect();

        // Every shard answers its partials sorted by g (a scalar query: exactly one row).
        let partials: Vec<Vec<Bytes>> = shards
            .iter()
            .map(|s| group_refs(s, grouped).iter().map(|(g, r)| r.partial(*g)).collect())
            .collect();
        let group_by: &[usize] = if grouped { &[0] } else { &[] };
        let pcols = partial_cols();

        // Streaming: k-way merge on g, then the ordered aggregate.
        let mut m = MergeSort::new(partials.len(), &[SortKey::asc(0)], &pcols).unwrap();
        for (i, p) in partials.iter().enumerate() {
            for r in p {
                m.push(i, r.clone()).unwrap();
            }
            m.finish(i).unwrap();
        }
        let mut agg = OrderedAggregate::new(group_by, outputs(), &pcols).unwrap();
        let mut out = Vec::new();
        while let Some((_, r)) = m.pop() {
            agg.push(r, &mut out).unwrap();
        }
        agg.finish(&mut out).unwrap();
        prop_assert_eq!(texts(&out), want.clone());

        // Hashed: the shards' rows in any order.
        let mut hash = HashAggregate::new(group_by, outputs(), &pcols, MemoryLimit::rows(10)).unwrap();
        for r in partials.iter().rev().flatten() {
            hash.push_row(r.clone()).unwrap();
        }
        prop_assert_eq!(texts(&hash.finish_rows().unwrap()), want);
    }

    #[test]
    fn hash_aggregate_memory_bound_trips_with_a_typed_error(groups in 2usize..50) {
        let pcols = partial_cols();
        let mut hash = HashAggregate::new(&[0], outputs(), &pcols, MemoryLimit::rows(groups as u64 - 1)).unwrap();
        let mut result = Ok(());
        for g in 0..groups {
            let mut r = Reference::default();
            r.add(&(Some(g as i64), Some(1), None));
            result = result.and(hash.push_row(r.partial(Some(g as i64))));
        }
        let limit = groups as u64 - 1;
        let tripped = matches!(result, Err(MergeError::MemoryLimit { operator: "hash aggregate", limit: l, .. }) if l == limit);
        prop_assert!(tripped, "{:?}", result);
    }
}

#[test]
fn decimal_sums_beyond_i128_stay_exact() {
    let big = format!("{}.{}", "9".repeat(35), "9".repeat(30));
    let pcols = vec![
        ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_decimals(30)
            .with_length(67),
        count_meta(),
    ];
    let mut agg = OrderedAggregate::new(
        &[],
        vec![Aggregate::Sum(0), Aggregate::Avg { sum: 0, count: 1 }],
        &pcols,
    )
    .unwrap();
    let mut out = Vec::new();
    for _ in 0..3 {
        let r = encode_text_row(&[
            Value::Decimal(Decimal::parse(big.as_bytes()).unwrap()),
            Value::Int(1),
        ]);
        agg.push(Bytes::from(r), &mut out).unwrap();
    }
    agg.finish(&mut out).unwrap();
    let t = texts(&out);
    assert_eq!(t[0][0], format!("2{}.{}7", "9".repeat(35), "9".repeat(29)));
    assert_eq!(t[0][1], format!("{big}0000"));
}

/// The reference for one group of raw `(s, tag)` rows: distinct strings under general_ci
/// (first seen kept, pairwise comparison), and the tags in ascending order.
fn raw_reference(rows: &[(String, i64)]) -> (u64, String, String) {
    let collation = cols()[1].collation();
    let mut distinct: Vec<Value> = Vec::new();
    for (s, _) in rows {
        let v = Value::bytes(s.clone());
        if !distinct
            .iter()
            .any(|d| shardgate_merge::compare_values(d, &v, collation).is_eq())
        {
            distinct.push(v);
        }
    }
    let mut tags: Vec<i64> = rows.iter().map(|(_, t)| *t).collect();
    tags.sort_unstable();
    let tags: Vec<String> = tags.iter().map(i64::to_string).collect();
    let xor = rows.iter().fold(0u64, |a, (_, t)| a ^ (*t as u64));
    (distinct.len() as u64, tags.join(";"), xor.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Raw shard rows merged by the group column, aggregated one group at a time: COUNT(DISTINCT s),
    /// GROUP_CONCAT(tag ORDER BY tag SEPARATOR ';') and BIT_XOR(tag) equal computing them over
    /// each group of the concatenation.
    #[test]
    fn raw_value_aggregates_equal_aggregating_the_concatenation(
        shards in shards_strategy(),
        schedule in prop::collection::vec(0usize..8, 0..200),
    ) {
        let keys = [SortKey::asc(0)];
        let mut inputs = tagged(&shards);
        for input in &mut inputs {
            sort_stable(input, &keys);
        }
        let merged = merge(&inputs, &keys, &schedule);
        let outputs = vec![
            Aggregate::First(0),
            Aggregate::CountDistinct(vec![1]),
            Aggregate::GroupConcat(Box::new(shardgate_merge::GroupConcatSpec {
                args: vec![2],
                distinct: false,
                order: vec![SortKey::asc(2)],
                separator: b";".to_vec(),
            })),
            Aggregate::Bit { op: shardgate_merge::BitOp::Xor, column: 2 },
        ];
        let mut agg = OrderedAggregate::new(&[0], outputs, &cols()).unwrap();
        let mut out = Vec::new();
        for r in merged {
            agg.push(r, &mut out).unwrap();
        }
        agg.finish(&mut out).unwrap();

        let mut groups: std::collections::BTreeMap<Option<i64>, Vec<(String, i64)>> =
            Default::default();
        let mut t = 0;
        for shard in &shards {
            for (k, s) in shard {
                t += 1;
                groups.entry(*k).or_default().push((s.clone(), t));
            }
        }
        let expected: Vec<Vec<String>> = groups
            .iter()
            .map(|(k, rows)| {
                let (n, tags, xor) = raw_reference(rows);
                vec![k.map_or("NULL".into(), |k| k.to_string()), n.to_string(), tags, xor]
            })
            .collect();
        prop_assert_eq!(texts(&out), expected);
    }
}
