//! Against a real MariaDB: values print as MariaDB prints them, and merging the answers of
//! three "shard" tables gives exactly what one server gives for their union — rows, order,
//! aggregate values and result types. One sandbox for the whole file, stopped at the end.

use bytes::Bytes;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use shardgate_merge::{
    compare_values, Aggregate, ArithOp, Collation, ColumnFlags, ColumnMeta, ColumnType, Expr,
    HashAggregate, Limit, MemoryLimit, MergeSort, OrderedAggregate, Project, RowOperator,
    RowWriter, SortKey, SortedDistinct, TextRow, Value, NOT_FIXED_DEC,
};
use shardgate_sandbox::against_one_server;
use shardgate_wire::text_row::text_cell;

/// A text result set as it came off the wire: column metadata and raw row payloads.
struct ResultSet {
    cols: Vec<ColumnMeta>,
    rows: Vec<Bytes>,
}

impl ResultSet {
    /// Every cell as text (`None` = NULL).
    fn text(&self) -> Vec<Vec<Option<String>>> {
        texts(&self.rows, self.cols.len())
    }
}

fn texts(rows: &[Bytes], n: usize) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|r| {
            (0..n)
                .map(|i| {
                    text_cell(r, i)
                        .unwrap()
                        .map(|t| String::from_utf8(t.to_vec()).unwrap())
                })
                .collect()
        })
        .collect()
}

fn meta(c: &mysql_async::Column) -> ColumnMeta {
    ColumnMeta {
        column_type: ColumnType::try_from(c.column_type() as u8).unwrap(),
        flags: ColumnFlags::from_bits_truncate(c.flags().bits()),
        charset: c.character_set(),
        decimals: c.decimals(),
        length: c.column_length(),
    }
}

/// Runs a text-protocol query and rebuilds the raw row payloads from the cells.
async fn query(conn: &mut Conn, sql: &str) -> ResultSet {
    let mut result = conn
        .query_iter(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let cols: Vec<ColumnMeta> = result
        .columns()
        .map(|c| c.iter().map(meta).collect())
        .unwrap_or_default();
    let rows: Vec<Row> = result.collect().await.unwrap();
    let rows = rows
        .iter()
        .map(|r| {
            let mut w = RowWriter::new();
            for i in 0..r.len() {
                match r.as_ref(i).unwrap() {
                    mysql_async::Value::NULL => w.push_cell(None),
                    mysql_async::Value::Bytes(b) => w.push_cell(Some(b)),
                    other => panic!("text protocol sent {other:?}"),
                }
            }
            w.finish()
        })
        .collect();
    ResultSet { cols, rows }
}

/// A deterministic pseudo-random sequence (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `v`, or SQL `NULL` one time in six.
    fn or_null(&mut self, v: String) -> String {
        if self.below(6) == 0 {
            "NULL".to_owned()
        } else {
            v
        }
    }
}

#[test]
fn mariadb_agrees() {
    against_one_server(|opts| async move {
        let mut conn = Conn::new(opts).await.expect("connects");
        doubles_and_floats_print_like_mariadb(&mut conn).await;
        load_shards(&mut conn).await;
        aggregates_merge_like_one_server(&mut conn).await;
        computed_outputs_merge_like_one_server(&mut conn).await;
        order_limit_and_distinct_merge_like_one_server(&mut conn).await;
        expressions_evaluate_like_mariadb(&mut conn).await;
        strings_sort_like_general_ci_and_bin(&mut conn).await;
        unicode_ci_weighs_like_mariadb(&mut conn).await;
        latin1_swedish_ci_weighs_like_mariadb(&mut conn).await;
        long_strings_sort_by_mariadb_prefixes(&mut conn).await;
        conn.disconnect().await.ok();
    });
}

/// Decoding MariaDB's text and printing the value again gives MariaDB's text back, for
/// random doubles (shortest form), floats (6 digits) and fixed-decimal doubles.
async fn doubles_and_floats_print_like_mariadb(conn: &mut Conn) {
    conn.query_drop(
        "CREATE TABLE dbl (id INT PRIMARY KEY, x DOUBLE, f FLOAT, x3 DOUBLE(14,3), pi DOUBLE)",
    )
    .await
    .unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut values: Vec<f64> = vec![
        1e20,
        0.1 + 0.2,
        1.0 / 3.0,
        1e15,
        1e16,
        999999999999999.0,
        1e-15,
        1e-16,
        1.5e-7,
        100.0,
        -0.5,
        0.0,
        5e-324,
        1.7976931348623157e308,
        123456789e7,
        2.5e-3,
        12345.678,
        -1e-300,
    ];
    while values.len() < 400 {
        let v = match rng.below(3) {
            0 => f64::from_bits(rng.next()),
            1 => (rng.next() as i64 as f64) / 10f64.powi(rng.below(30) as i32),
            _ => (rng.below(2_000_000) as f64 - 1e6) * 10f64.powi(rng.below(40) as i32 - 20),
        };
        if v.is_finite() {
            values.push(v);
        }
    }
    let rows: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let f = if v.abs() < 3e38 {
                format!("{v:e}")
            } else {
                "NULL".into()
            };
            let x3 = if v.abs() < 1e10 {
                format!("{v:e}")
            } else {
                "NULL".into()
            };
            let pi = if v.abs() < 1e300 {
                format!("PI() * {v:e}")
            } else {
                "NULL".into()
            };
            format!("({i}, {v:e}, {f}, {x3}, {pi})")
        })
        .collect();
    conn.query_drop(format!("INSERT INTO dbl VALUES {}", rows.join(",")))
        .await
        .unwrap();
    let rs = query(
        conn,
        "SELECT x, f, x3, pi, x / 3, x3 / 7 FROM dbl ORDER BY id",
    )
    .await;
    assert_eq!(rs.cols[0].decimals, NOT_FIXED_DEC);
    assert_eq!(rs.cols[2].decimals, 3);
    assert_eq!(
        rs.cols[5].decimals, 7,
        "DOUBLE(14,3) / 7 has 3 + 4 decimals"
    );
    for (payload, v) in rs.rows.iter().zip(&values) {
        let row = TextRow::parse(payload.clone(), rs.cols.len()).unwrap();
        for (i, meta) in rs.cols.iter().enumerate() {
            let value = row.value(i, meta).unwrap();
            assert_eq!(
                value.to_text().as_deref(),
                row.cell(i),
                "column {i} ({:?}, decimals {}) of {v:e}",
                meta.column_type,
                meta.decimals
            );
        }
        if v.abs() > 1e-300 {
            assert_eq!(
                row.value(0, &rs.cols[0]).unwrap(),
                Value::double(*v),
                "x reads back exactly"
            );
        }
    }
}

/// `t` holds every row; `t_0`, `t_1`, `t_2` split it by `id % 3`, as three shards would.
async fn load_shards(conn: &mut Conn) {
    let ddl =
        "(id INT PRIMARY KEY, g VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, \
               i INT, u BIGINT UNSIGNED, d DECIMAL(10,3), x DOUBLE, f FLOAT, dd DOUBLE(10,2), \
               s VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, tm TIME(1), y YEAR)";
    let mut rng = Rng(42);
    let groups = ["a", "A", "b", "B ", "c", "é", "E"];
    let strings = ["x", "X", "12abc", "", "ß", "s", "Zebra", "zebra ", "_u"];
    let mut rows = Vec::new();
    for id in 1..=90 {
        let g = if rng.below(10) == 0 {
            "NULL".into()
        } else {
            format!("'{}'", groups[rng.below(7) as usize])
        };
        let i = (rng.below(2001) as i64 - 1000).to_string();
        let i = rng.or_null(i);
        let u = (u64::MAX - rng.below(1000)).to_string();
        let u = rng.or_null(u);
        let d = format!(
            "{:.3}",
            (rng.below(2_000_001) as f64 - 1_000_000.0) / 1000.0
        );
        let d = rng.or_null(d);
        let x = format!("{}", (rng.below(4001) as f64 - 2000.0) / 4.0);
        let x = rng.or_null(x);
        let f = format!("{}", (rng.below(401) as f64 - 200.0) / 2.0);
        let f = rng.or_null(f);
        let dd = format!("{}", (rng.below(4001) as f64 - 2000.0) / 4.0);
        let dd = rng.or_null(dd);
        let s = format!("'{}'", strings[rng.below(9) as usize]);
        let s = rng.or_null(s);
        let secs = rng.below(4_000_000) as i64 - 2_000_000;
        let tm = format!(
            "'{}{}:{:02}:{:02}.{}'",
            if secs < 0 { "-" } else { "" },
            secs.abs() / 3600,
            secs.abs() / 60 % 60,
            secs.abs() % 60,
            rng.below(10)
        );
        let tm = rng.or_null(tm);
        let y = (1901 + rng.below(200)).to_string();
        let y = rng.or_null(y);
        rows.push(format!(
            "({id}, {g}, {i}, {u}, {d}, {x}, {f}, {dd}, {s}, {tm}, {y})"
        ));
    }
    conn.query_drop(format!("CREATE TABLE t {ddl}"))
        .await
        .unwrap();
    conn.query_drop(format!("INSERT INTO t VALUES {}", rows.join(",")))
        .await
        .unwrap();
    for k in 0..3 {
        conn.query_drop(format!("CREATE TABLE t_{k} {ddl}"))
            .await
            .unwrap();
        conn.query_drop(format!(
            "INSERT INTO t_{k} SELECT * FROM t WHERE id % 3 = {k}"
        ))
        .await
        .unwrap();
    }
}

const SINGLE_AGG: &str =
    "COUNT(*), COUNT(i), SUM(i), AVG(i), SUM(u), AVG(u), SUM(d), AVG(d), MIN(d), MAX(d), \
     SUM(x), AVG(x), AVG(f), SUM(dd), AVG(dd), MIN(s), MAX(s), MIN(tm), MAX(tm), SUM(y), AVG(y)";
const SHARD_AGG: &str = "COUNT(*), COUNT(i), SUM(i), SUM(u), COUNT(u), SUM(d), COUNT(d), MIN(d), MAX(d), \
     SUM(x), COUNT(x), SUM(f), COUNT(f), SUM(dd), COUNT(dd), MIN(s), MAX(s), MIN(tm), MAX(tm), SUM(y), COUNT(y)";

/// The merge of [`SHARD_AGG`] partials (after a leading group column) into [`SINGLE_AGG`].
fn outputs() -> Vec<Aggregate> {
    use Aggregate::*;
    vec![
        First(0),
        Count(1),
        Count(2),
        Sum(3),
        Avg { sum: 3, count: 2 },
        Sum(4),
        Avg { sum: 4, count: 5 },
        Sum(6),
        Avg { sum: 6, count: 7 },
        Min(8),
        Max(9),
        Sum(10),
        Avg { sum: 10, count: 11 },
        Avg { sum: 12, count: 13 },
        Sum(14),
        Avg { sum: 14, count: 15 },
        Min(16),
        Max(17),
        Min(18),
        Max(19),
        Sum(20),
        Avg { sum: 20, count: 21 },
    ]
}

/// Rows equal cell for cell, except the group label, equal under `general_ci` (which of
/// 'a' and 'A' labels a group is the first row either server happened to read).
fn assert_same_rows(merged: &[Bytes], single: &ResultSet, what: &str) {
    let (got, want) = (texts(merged, single.cols.len()), single.text());
    assert_eq!(got.len(), want.len(), "{what}: row count");
    for (g, w) in got.iter().zip(&want) {
        let label = |c: &Option<String>| {
            c.as_ref()
                .map(|s| Value::bytes(s.clone()))
                .unwrap_or(Value::Null)
        };
        assert!(
            compare_values(&label(&g[0]), &label(&w[0]), Collation::GeneralCi).is_eq(),
            "{what}: group {g:?} vs {w:?}"
        );
        assert_eq!(g[1..], w[1..], "{what}: group {:?}", w[0]);
    }
}

fn assert_same_columns(merged: &[ColumnMeta], single: &[ColumnMeta], what: &str) {
    assert_eq!(merged.len(), single.len());
    for (i, (m, s)) in merged.iter().zip(single).enumerate() {
        assert_eq!(
            (m.column_type, m.decimals),
            (s.column_type, s.decimals),
            "{what}: column {i} type"
        );
        if m.column_type != ColumnType::MYSQL_TYPE_DOUBLE {
            // DOUBLE display lengths of AVG are not derivable from the SUM column.
            assert_eq!(m.length, s.length, "{what}: column {i} length ({s:?})");
        }
        // MariaDB sets BINARY_FLAG on some aggregate columns and not others depending on the
        // plan (grouped or not); clients read binary-ness from the charset (63) anyway.
        let f = |f: ColumnFlags| f - ColumnFlags::BINARY_FLAG;
        assert_eq!(f(m.flags), f(s.flags), "{what}: column {i} flags");
    }
}

async fn aggregates_merge_like_one_server(conn: &mut Conn) {
    for (name, group_by, filter) in [
        ("grouped", "GROUP BY g", ""),
        ("scalar", "", ""),
        ("scalar over no rows", "", "WHERE id < 0"),
        (
            "grouped, some groups on some shards",
            "GROUP BY g",
            "WHERE id % 5 <> 0 AND (g IS NULL OR g <> 'c' OR id % 3 = 1)",
        ),
    ] {
        // Without GROUP BY a bare `g` would be any row's value: select a constant instead.
        let g = if group_by.is_empty() { "'-' AS g" } else { "g" };
        let single = query(
            conn,
            &format!("SELECT {g}, {SINGLE_AGG} FROM t {filter} {group_by}"),
        )
        .await;
        let order = if group_by.is_empty() {
            ""
        } else {
            "ORDER BY g"
        };
        let mut shards = Vec::new();
        for k in 0..3 {
            shards.push(
                query(
                    conn,
                    &format!("SELECT {g}, {SHARD_AGG} FROM t_{k} {filter} {group_by} {order}"),
                )
                .await,
            );
        }
        let cols = shards[0].cols.clone();
        let group: &[usize] = if group_by.is_empty() { &[] } else { &[0] };

        // Streaming: merge sort on g, then ordered aggregate.
        let mut m = MergeSort::new(3, &[SortKey::asc(0)], &cols).unwrap();
        for (k, s) in shards.iter().enumerate() {
            for r in &s.rows {
                m.push(k, r.clone()).unwrap();
            }
            m.finish(k).unwrap();
        }
        let mut agg = OrderedAggregate::new(group, outputs(), &cols).unwrap();
        let mut merged = Vec::new();
        while let Some((_, r)) = m.pop() {
            agg.push(r, &mut merged).unwrap();
        }
        agg.finish(&mut merged).unwrap();
        assert_same_rows(&merged, &single, name);
        assert_same_columns(agg.output_columns(), &single.cols, name);

        // Hashed, the shards' rows in reverse arrival order.
        let mut hash = HashAggregate::new(group, outputs(), &cols, MemoryLimit::rows(100)).unwrap();
        for r in shards.iter().rev().flat_map(|s| s.rows.iter().rev()) {
            hash.push_row(r.clone()).unwrap();
        }
        assert_same_rows(&hash.finish_rows().unwrap(), &single, name);
    }
}

/// Select items computing with aggregates, as a scatter merges them: each shard computes the
/// item (its column definition) and the partial aggregates; the merge aggregates, then
/// `Project::in_place` replaces the item by its own value. The column MariaDB describes for
/// the item must pass the projection's type check, and the values must be one server's.
async fn computed_outputs_merge_like_one_server(conn: &mut Conn) {
    use Aggregate::{Count, First, Max, Min, Sum};
    use ArithOp::*;
    let c = Expr::col;
    let lit = |v: i64| Expr::lit(Value::Int(v));
    let avg = |sum: usize, count: usize| Expr::arith(Div, c(sum), c(count));
    let round = |arg: Expr, places: i64, truncate: bool| Expr::Round {
        arg: Box::new(arg),
        places,
        truncate,
    };
    // (the item, the shards' partials after it, how the merge combines them, the item over
    // the merged outputs: 0 is the group, 1 the item, the partials from 2 on)
    let cases: Vec<(&str, &str, Vec<Aggregate>, Expr)> = vec![
        (
            "SUM(d) / COUNT(*)",
            "SUM(d), COUNT(*)",
            vec![Sum(2), Count(3)],
            Expr::arith(Div, c(2), c(3)),
        ),
        (
            "AVG(d) * 1000",
            "SUM(d), COUNT(d)",
            vec![Sum(2), Count(3)],
            Expr::arith(Mul, avg(2, 3), lit(1000)),
        ),
        (
            "ROUND(AVG(i), 2)",
            "SUM(i), COUNT(i)",
            vec![Sum(2), Count(3)],
            round(avg(2, 3), 2, false),
        ),
        (
            "TRUNCATE(SUM(d) / 7, 2)",
            "SUM(d)",
            vec![Sum(2)],
            round(Expr::arith(Div, c(2), lit(7)), 2, true),
        ),
        (
            "ROUND(SUM(d), -2)",
            "SUM(d)",
            vec![Sum(2)],
            round(c(2), -2, false),
        ),
        (
            "COALESCE(SUM(d), 0)",
            "SUM(d)",
            vec![Sum(2)],
            Expr::Coalesce(vec![c(2), lit(0)]),
        ),
        (
            "SUM(i) / 3 * 3",
            "SUM(i)",
            vec![Sum(2)],
            Expr::arith(Mul, Expr::arith(Div, c(2), lit(3)), lit(3)),
        ),
        (
            "MAX(d) - MIN(d)",
            "MAX(d), MIN(d)",
            vec![Max(2), Min(3)],
            Expr::arith(Sub, c(2), c(3)),
        ),
        (
            "ABS(SUM(i)) + COUNT(*)",
            "SUM(i), COUNT(*)",
            vec![Sum(2), Count(3)],
            Expr::arith(Add, Expr::Abs(Box::new(c(2))), c(3)),
        ),
    ];
    for (item, partials, merges, computed) in cases {
        for filter in ["", "WHERE id % 4 = 0", "WHERE id < 0"] {
            let what = format!("{item} {filter}");
            let single = query(
                conn,
                &format!("SELECT g, {item} FROM t {filter} GROUP BY g ORDER BY g"),
            )
            .await;
            let (cols, rows) = merged(
                conn,
                &format!("SELECT g, {item}, {partials} FROM {{t}} {filter} GROUP BY g ORDER BY g"),
                &[SortKey::asc(0)],
            )
            .await;
            let mut outputs = vec![First(0), First(1)];
            outputs.extend(merges.iter().cloned());
            let mut agg = OrderedAggregate::new(&[0], outputs, &cols).unwrap();
            let mut project = Project::in_place(agg.output_columns(), &[(1, computed.clone())])
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let mut out = Vec::new();
            let mut groups = Vec::new();
            for r in rows {
                agg.push(r, &mut groups).unwrap();
            }
            agg.finish(&mut groups).unwrap();
            for row in groups {
                project.push(row, &mut out).unwrap();
            }
            let got: Vec<Vec<Option<String>>> = texts(&out, 2)
                .into_iter()
                .map(|r| r[1..].to_vec())
                .collect();
            let want: Vec<Vec<Option<String>>> =
                single.text().into_iter().map(|r| r[1..].to_vec()).collect();
            assert_eq!(got, want, "{what}");
        }
    }
}

async fn merged(
    conn: &mut Conn,
    shard_sql: &str,
    keys: &[SortKey],
) -> (Vec<ColumnMeta>, Vec<Bytes>) {
    let mut shards = Vec::new();
    for k in 0..3 {
        shards.push(query(conn, &shard_sql.replace("{t}", &format!("t_{k}"))).await);
    }
    let mut m = MergeSort::new(3, keys, &shards[0].cols).unwrap();
    // Interleave the shards' rows the way a network might.
    let mut next = [0usize; 3];
    let mut out = Vec::new();
    let mut turn = 0;
    while !m.is_done() {
        while let Some((_, r)) = m.pop() {
            out.push(r);
        }
        let k = m.waiting().nth(turn % 2).or_else(|| m.waiting().next());
        turn += 1;
        let Some(k) = k else { continue };
        match shards[k].rows.get(next[k]) {
            Some(r) => m.push(k, r.clone()).unwrap(),
            None => m.finish(k).unwrap(),
        }
        next[k] += 1;
    }
    (shards[0].cols.clone(), out)
}

async fn order_limit_and_distinct_merge_like_one_server(conn: &mut Conn) {
    let cases: [(&str, Vec<SortKey>); 4] = [
        (
            "g, tm DESC, id",
            vec![SortKey::asc(1), SortKey::desc(2), SortKey::asc(0)],
        ),
        ("d, id", vec![SortKey::asc(3), SortKey::asc(0)]),
        (
            "x DESC, s, id",
            vec![SortKey::desc(4), SortKey::asc(5), SortKey::asc(0)],
        ),
        ("tm, id", vec![SortKey::asc(2), SortKey::asc(0)]),
    ];
    for (order_by, keys) in cases {
        for (offset, count) in [(0, None), (5, Some(7)), (80, Some(30))] {
            let limit = count.map_or(String::new(), |c| format!("LIMIT {c} OFFSET {offset}"));
            let shard_limit =
                Limit::shard_limit(offset, count).map_or(String::new(), |n| format!("LIMIT {n}"));
            let single = query(
                conn,
                &format!("SELECT id, g, tm, d, x, s FROM t ORDER BY {order_by} {limit}"),
            )
            .await;
            let (_, rows) = merged(
                conn,
                &format!("SELECT id, g, tm, d, x, s FROM {{t}} ORDER BY {order_by} {shard_limit}"),
                &keys,
            )
            .await;
            let offset = if count.is_some() { offset } else { 0 };
            let mut l = Limit::new(offset, count);
            let rows: Vec<Bytes> = rows.into_iter().filter_map(|r| l.offer(r)).collect();
            assert_eq!(
                texts(&rows, 6),
                single.text(),
                "ORDER BY {order_by} {limit}"
            );
        }
    }

    let single = query(conn, "SELECT DISTINCT g FROM t ORDER BY g").await;
    let (cols, rows) = merged(
        conn,
        "SELECT DISTINCT g FROM {t} ORDER BY g",
        &[SortKey::asc(0)],
    )
    .await;
    let mut d = SortedDistinct::new(&[0], &cols, MemoryLimit::UNLIMITED).unwrap();
    let rows: Vec<Bytes> = rows
        .into_iter()
        .filter_map(|r| d.offer(r).unwrap())
        .collect();
    assert_eq!(
        rows.len(),
        single.rows.len(),
        "DISTINCT g: {:?} vs {:?}",
        texts(&rows, 1),
        single.text()
    );
}

/// Computed columns: our evaluation of `d/3`, `i/7`, … over the row's columns prints what
/// MariaDB prints for the same expression.
async fn expressions_evaluate_like_mariadb(conn: &mut Conn) {
    use ArithOp::*;
    let c = Expr::col;
    let lit = |v: i64| Expr::lit(Value::Int(v));
    let exprs = [
        ("d / 3", Expr::arith(Div, c(0), lit(3))),
        ("i / 7", Expr::arith(Div, c(1), lit(7))),
        ("d * d", Expr::arith(Mul, c(0), c(0))),
        ("dd / 3", Expr::arith(Div, c(3), lit(3))),
        ("x * 2", Expr::arith(Mul, c(2), lit(2))),
        ("i + d", Expr::arith(Add, c(1), c(0))),
        ("dd + 1", Expr::arith(Add, c(3), lit(1))),
        ("-i", Expr::Neg(Box::new(c(1)))),
        ("s + 0", Expr::arith(Add, c(4), lit(0))),
        ("x / d", Expr::arith(Div, c(2), c(0))),
        ("u - 1", Expr::arith(Sub, c(5), lit(1))),
        (
            "d / 3 * 3",
            Expr::arith(Mul, Expr::arith(Div, c(0), lit(3)), lit(3)),
        ),
        (
            "i / 7 / 7",
            Expr::arith(Div, Expr::arith(Div, c(1), lit(7)), lit(7)),
        ),
        (
            "(i / 3) * (d / 7)",
            Expr::arith(
                Mul,
                Expr::arith(Div, c(1), lit(3)),
                Expr::arith(Div, c(0), lit(7)),
            ),
        ),
        (
            "d / 7 * 1000000000000",
            Expr::arith(Mul, Expr::arith(Div, c(0), lit(7)), lit(1_000_000_000_000)),
        ),
        (
            "i / 3 * 3 = i",
            Expr::cmp(
                shardgate_merge::CompareOp::Eq,
                Expr::arith(Mul, Expr::arith(Div, c(1), lit(3)), lit(3)),
                c(1),
            ),
        ),
        (
            "d / 3 > d / 3.0",
            Expr::cmp(
                shardgate_merge::CompareOp::Gt,
                Expr::arith(Div, c(0), lit(3)),
                Expr::arith(
                    Div,
                    c(0),
                    Expr::lit(Value::Decimal(
                        shardgate_merge::Decimal::parse(b"3.0").unwrap(),
                    )),
                ),
            ),
        ),
        (
            "i > d OR s = 'x'",
            Expr::or(
                Expr::cmp(shardgate_merge::CompareOp::Gt, c(1), c(0)),
                Expr::cmp(
                    shardgate_merge::CompareOp::Eq,
                    c(4),
                    Expr::lit(Value::bytes("x")),
                ),
            ),
        ),
        (
            "s = 'zebra'",
            Expr::cmp(
                shardgate_merge::CompareOp::Eq,
                c(4),
                Expr::lit(Value::bytes("zebra")),
            ),
        ),
        (
            "tm < '00:00:00'",
            Expr::cmp(
                shardgate_merge::CompareOp::Lt,
                c(6),
                Expr::lit(Value::bytes("00:00:00")),
            ),
        ),
    ];
    let list: Vec<&str> = exprs.iter().map(|(sql, _)| *sql).collect();
    let rs = query(
        conn,
        &format!(
            "SELECT d, i, x, dd, s, u, tm, {} FROM t ORDER BY id",
            list.join(", ")
        ),
    )
    .await;
    for payload in &rs.rows {
        let row = TextRow::parse(payload.clone(), rs.cols.len()).unwrap();
        for (n, (sql, e)) in exprs.iter().enumerate() {
            let got = e.eval(&row, &rs.cols).unwrap().to_text();
            let want = row.cell(7 + n).map(<[u8]>::to_vec);
            assert_eq!(
                got.as_deref().map(String::from_utf8_lossy),
                want.as_deref().map(String::from_utf8_lossy),
                "{sql} over {:?}",
                texts(std::slice::from_ref(payload), 7)
            );
        }
    }
}

/// MariaDB's own order of strings is non-decreasing under our collations.
async fn strings_sort_like_general_ci_and_bin(conn: &mut Conn) {
    conn.query_drop(
        "CREATE TABLE str (id INT PRIMARY KEY, ci VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, \
         bin VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin)",
    )
    .await
    .unwrap();
    let words = [
        "a", "A", "a ", "a\t", "á", "Å", "b", "B", "ß", "s", "ss", "S", "z", "Z", "_", "😀", "😁",
        "é", "E", "ǅ", "ǆ", "Ǆ", "µ", "μ", "", " ", "ı", "I", "i", "Ā", "ā",
    ];
    let values: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| format!("({i}, '{w}', '{w}')"))
        .collect();
    conn.query_drop(format!("INSERT INTO str VALUES {}", values.join(",")))
        .await
        .unwrap();
    for (col, collation) in [("ci", Collation::GeneralCi), ("bin", Collation::PadBinary)] {
        let rs = query(
            conn,
            &format!("SELECT {col}, id FROM str ORDER BY {col}, id"),
        )
        .await;
        assert_eq!(rs.cols[0].collation(), collation, "{col}: {:?}", rs.cols[0]);
        let vals: Vec<Value> = rs
            .rows
            .iter()
            .map(|r| {
                TextRow::parse(r.clone(), 2)
                    .unwrap()
                    .value(0, &rs.cols[0])
                    .unwrap()
            })
            .collect();
        for w in vals.windows(2) {
            assert!(
                !compare_values(&w[0], &w[1], collation).is_gt(),
                "{col}: MariaDB puts {:?} before {:?}",
                w[0],
                w[1]
            );
        }
        // And equality agrees: MariaDB's GROUP BY count equals our number of distinct keys.
        let groups = query(conn, &format!("SELECT COUNT(DISTINCT {col}) FROM str")).await;
        let mut distinct = 1;
        for w in vals.windows(2) {
            distinct += usize::from(!compare_values(&w[0], &w[1], collation).is_eq());
        }
        assert_eq!(
            groups.text()[0][0].as_deref(),
            Some(distinct.to_string().as_str()),
            "{col}"
        );
    }
}

/// `utf8mb4_unicode_ci`: every BMP code point (and a sample above it) weighs what
/// `WEIGHT_STRING` says, and random strings compare as `STRCMP` compares them, PAD SPACE and
/// NO PAD.
async fn unicode_ci_weighs_like_mariadb(conn: &mut Conn) {
    let weights = query(
        conn,
        "SELECT CONVERT(CHAR(seq USING utf32) USING utf8mb4), \
         HEX(WEIGHT_STRING(CONVERT(CHAR(seq USING utf32) USING utf8mb4) COLLATE utf8mb4_unicode_ci)) \
         FROM seq_0_to_1114111 WHERE seq < 0xD800 OR seq BETWEEN 0xE000 AND 0xFFFF \
         OR seq % 997 = 0 AND seq > 0xFFFF",
    )
    .await;
    let rows = weights.text();
    assert!(rows.len() > 63_000, "{} code points", rows.len());
    for row in &rows {
        let (c, expected) = (row[0].as_deref().unwrap(), row[1].as_deref().unwrap());
        let mut key = Vec::new();
        Collation::UnicodeNopadCi.key(c.as_bytes(), &mut key);
        // The key holds each weight in three bytes; WEIGHT_STRING in two.
        let ours: String = key
            .chunks(3)
            .map(|w| format!("{:02X}{:02X}", w[1], w[2]))
            .collect();
        assert_eq!(
            ours,
            expected,
            "weights of U+{:04X}",
            c.chars().next().unwrap() as u32
        );
    }

    let strings = random_strings(
        " \t\0aAbBsSzZ_-.1ßÅåéÉæ\u{A0}\u{300}\u{200B}\u{FEFF}\u{E01}\u{E40}\u{AC00}\u{4E00}\u{FB01}\u{1F600}\u{1F601}",
        0x9E37_79B9_7F4A_7C15,
    );
    compare_like_strcmp(
        conn,
        "uca",
        &[
            "utf8mb4 COLLATE utf8mb4_unicode_ci",
            "utf8mb4 COLLATE utf8mb4_unicode_nopad_ci",
        ],
        &strings,
        &[Collation::UnicodeCi, Collation::UnicodeNopadCi],
    )
    .await;
}

/// 120 strings of up to 5 characters of `pool`, drawn by a xorshift generator from `seed`.
fn random_strings(pool: &str, mut seed: u64) -> Vec<String> {
    let pool: Vec<char> = pool.chars().collect();
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    (0..120)
        .map(|_| (0..next(6)).map(|_| pool[next(pool.len())]).collect())
        .collect()
}

/// Stores `strings` in table `table`, one column per character set and collation of
/// `columns`, and checks that each of `collations` (one per column) compares every pair as
/// `STRCMP` does, and gives equal keys exactly to the pairs it calls equal.
async fn compare_like_strcmp(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    strings: &[String],
    collations: &[Collation],
) {
    let defined: Vec<String> = (columns.iter().enumerate())
        .map(|(i, c)| format!("c{i} VARCHAR(20) CHARACTER SET {c}"))
        .collect();
    conn.query_drop(format!(
        "CREATE TABLE {table} (id INT PRIMARY KEY, {})",
        defined.join(", ")
    ))
    .await
    .unwrap();
    let marks = vec!["?"; columns.len()].join(", ");
    for (i, s) in strings.iter().enumerate() {
        let mut params = vec![mysql_async::Value::from(i)];
        params.extend(columns.iter().map(|_| mysql_async::Value::from(s.as_str())));
        conn.exec_drop(format!("INSERT INTO {table} VALUES (?, {marks})"), params)
            .await
            .unwrap();
    }
    let compared: Vec<String> = (0..columns.len())
        .map(|i| format!("STRCMP(a.c{i}, b.c{i})"))
        .collect();
    let pairs = query(
        conn,
        &format!(
            "SELECT a.id, b.id, {} FROM {table} a, {table} b",
            compared.join(", ")
        ),
    )
    .await;
    for row in pairs.text() {
        let id = |i: usize| row[i].as_deref().unwrap().parse::<usize>().unwrap();
        let (a, b) = (&strings[id(0)], &strings[id(1)]);
        for (cell, collation) in (2..).zip(collations) {
            let expected = match row[cell].as_deref().unwrap() {
                "-1" => std::cmp::Ordering::Less,
                "0" => std::cmp::Ordering::Equal,
                _ => std::cmp::Ordering::Greater,
            };
            assert_eq!(
                collation.compare(a.as_bytes(), b.as_bytes()),
                expected,
                "{collation:?}: {a:?} vs {b:?}"
            );
            let (mut ka, mut kb) = (Vec::new(), Vec::new());
            collation.key(a.as_bytes(), &mut ka);
            collation.key(b.as_bytes(), &mut kb);
            assert_eq!(
                ka == kb,
                expected.is_eq(),
                "{collation:?} keys: {a:?} vs {b:?}"
            );
        }
    }
}

/// `latin1_swedish_ci` of text delivered as UTF-8: every latin1 byte's character weighs what
/// `WEIGHT_STRING` says, and random strings of a latin1 column compare as `STRCMP` compares
/// them.
async fn latin1_swedish_ci_weighs_like_mariadb(conn: &mut Conn) {
    let weights = query(
        conn,
        "SELECT CONVERT(CHAR(seq USING latin1) USING utf8mb4), \
         HEX(WEIGHT_STRING(CHAR(seq USING latin1) COLLATE latin1_swedish_ci)) \
         FROM seq_0_to_255 WHERE seq <> 32",
    )
    .await;
    let rows = weights.text();
    assert_eq!(rows.len(), 255);
    for row in &rows {
        let (c, expected) = (row[0].as_deref().unwrap(), row[1].as_deref().unwrap());
        let mut key = Vec::new();
        Collation::Latin1SwedishCi.key(c.as_bytes(), &mut key);
        // The key holds each weight in three bytes; WEIGHT_STRING in one.
        let ours: String = key.chunks(3).map(|w| format!("{:02X}", w[2])).collect();
        assert_eq!(ours, expected, "weight of {c:?}");
    }

    let strings = random_strings(
        " \t\0aAbBzZ_-.1ÅåÄäÖöéÉæÆüÜßÿ€\u{A0}",
        0x2545_F491_4F6C_DD1D,
    );
    compare_like_strcmp(
        conn,
        "l1",
        &["latin1 COLLATE latin1_swedish_ci"],
        &strings,
        &[Collation::Latin1SwedishCi],
    )
    .await;
}

/// Strings that agree in the first 1024 bytes of their sort keys are ties for MariaDB's sort
/// (`ORDER BY v, id` then orders them by id), and for the merge's row order.
async fn long_strings_sort_by_mariadb_prefixes(conn: &mut Conn) {
    let a600 = "a".repeat(600);
    let e100_a600 = "é".repeat(100) + &a600;
    let a_e511 = "a".to_owned() + &"é".repeat(511);
    let a511 = "a".repeat(511);
    // 1,023 characters and 2,046 bytes in UTF-8: latin1's sort key holds 1,024 of them.
    let e1023 = "é".repeat(1023);
    let e1024 = "é".repeat(1024);
    let cases: [(&str, &str, &str, &str); 8] = [
        ("utf8mb4_general_ci", &a600, "b", "a"),
        ("utf8mb4_general_ci", &e100_a600, "b", "a"),
        ("utf8mb4_bin", &a_e511, "ñ", "é"),
        ("utf8mb4_unicode_ci", &a511, "b", "a"),
        ("utf8mb4_unicode_ci", &a511, "ßb", "ßa"),
        ("utf8mb4_unicode_nopad_ci", &a600, "b", "a"),
        ("latin1_swedish_ci", &e1023, "b", "a"),
        ("latin1_swedish_ci", &e1024, "b", "a"),
    ];
    for (collation, prefix, first, second) in cases {
        conn.query_drop("DROP TABLE IF EXISTS long_str")
            .await
            .unwrap();
        conn.query_drop(format!(
            "CREATE TABLE long_str (id INT PRIMARY KEY, v TEXT COLLATE {collation})"
        ))
        .await
        .unwrap();
        let (x, y) = (format!("{prefix}{first}"), format!("{prefix}{second}"));
        conn.exec_drop("INSERT INTO long_str VALUES (1, ?), (2, ?)", (&x, &y))
            .await
            .unwrap();
        let order = query(conn, "SELECT v, id FROM long_str ORDER BY v, id").await;
        let mariadb_ties = order.text()[0][1].as_deref() == Some("1");
        let id = match collation {
            "utf8mb4_general_ci" => 45,
            "utf8mb4_bin" => 46,
            "utf8mb4_unicode_ci" => 224,
            "latin1_swedish_ci" => 8,
            _ => 1248,
        };
        let mut meta = order.cols[0];
        meta.charset = id;
        meta.flags.remove(ColumnFlags::BINARY_FLAG);
        let row_order = shardgate_merge::RowOrder::new(&[SortKey::asc(0)], &[meta]).unwrap();
        let values = |s: &str| {
            let mut w = RowWriter::new();
            w.push_cell(Some(s.as_bytes()));
            row_order.extract(w.finish()).unwrap().1
        };
        let ours = row_order.compare(&values(&x), &values(&y));
        assert_eq!(
            ours.is_eq(),
            mariadb_ties,
            "{collation}: {} + {first:?} / {second:?}: ours {ours:?}",
            prefix.len()
        );
    }
    conn.query_drop("DROP TABLE long_str").await.unwrap();
}
