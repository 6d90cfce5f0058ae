//! Every MySQL column type round-trips exactly through the proxy, in the text protocol
//! (COM_QUERY) and the binary protocol (COM_STMT_PREPARE / EXECUTE): column metadata and values
//! read through the proxy are the ones the owning shard's primary gives a direct client, and
//! values written through the proxy (as text literals or as bound parameters) are stored exactly.

use crate::common::TestEnv;
use mysql_async::prelude::Queryable;
use mysql_async::{Column, Conn, Params, Row, Value};
use shardgate_ring::KeyValue;

/// A value as a short, readable string (multi-MiB blobs are summarized).
fn show(v: &Value) -> String {
    match v {
        Value::Bytes(b) if b.len() > 64 => format!(
            "Bytes(len {}, starts {:02x?}, ends {:02x?})",
            b.len(),
            &b[..16],
            &b[b.len() - 16..]
        ),
        other => format!("{other:?}"),
    }
}

/// Columns and rows of a text-protocol query.
async fn text_result(conn: &mut Conn, sql: &str) -> (Vec<Column>, Vec<Vec<Value>>) {
    let mut result = conn
        .query_iter(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = result.columns().expect("a result set").to_vec();
    let rows: Vec<Row> = result
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(result);
    (columns, rows.into_iter().map(Row::unwrap).collect())
}

/// Columns and rows of a binary-protocol execution.
async fn binary_result(
    conn: &mut Conn,
    sql: &str,
    params: Vec<Value>,
) -> (Vec<Column>, Vec<Vec<Value>>) {
    let params = if params.is_empty() {
        Params::Empty
    } else {
        Params::Positional(params)
    };
    let mut result = conn
        .exec_iter(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = result.columns().expect("a result set").to_vec();
    let rows: Vec<Row> = result
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(result);
    (columns, rows.into_iter().map(Row::unwrap).collect())
}

/// Column definitions field by field.
fn assert_same_columns(what: &str, proxied: &[Column], direct: &[Column]) {
    assert_eq!(proxied.len(), direct.len(), "{what}: column count");
    for (p, d) in proxied.iter().zip(direct) {
        let name = d.name_str();
        assert_eq!(p.name_str(), name, "{what}: name");
        assert_eq!(
            p.org_name_str(),
            d.org_name_str(),
            "{what} {name}: org_name"
        );
        assert_eq!(p.table_str(), d.table_str(), "{what} {name}: table");
        assert_eq!(
            p.org_table_str(),
            d.org_table_str(),
            "{what} {name}: org_table"
        );
        assert_eq!(p.schema_str(), d.schema_str(), "{what} {name}: schema");
        assert_eq!(p.column_type(), d.column_type(), "{what} {name}: type");
        assert_eq!(p.flags(), d.flags(), "{what} {name}: flags");
        assert_eq!(p.decimals(), d.decimals(), "{what} {name}: decimals");
        assert_eq!(
            p.column_length(),
            d.column_length(),
            "{what} {name}: length"
        );
        assert_eq!(
            p.character_set(),
            d.character_set(),
            "{what} {name}: charset"
        );
    }
}

/// Rows value by value (`Value` equality: byte for byte for text, typed for binary).
fn assert_same_rows(what: &str, columns: &[Column], proxied: &[Vec<Value>], direct: &[Vec<Value>]) {
    assert_eq!(proxied.len(), direct.len(), "{what}: row count");
    for (r, (p, d)) in proxied.iter().zip(direct).enumerate() {
        assert_eq!(p.len(), d.len(), "{what}: row {r} width");
        for (c, (pv, dv)) in p.iter().zip(d).enumerate() {
            assert!(
                pv == dv,
                "{what}: row {r} ({}) column {}: proxied {} but the shard says {}",
                show(&d[0]),
                columns[c].name_str(),
                show(pv),
                show(dv)
            );
        }
    }
}

/// Text-protocol and binary-protocol results of `sql` through the proxy and on the shard's
/// primary directly are the same, metadata and values; returns the proxied results.
async fn compare_both_protocols(
    what: &str,
    proxied: &mut Conn,
    direct: &mut Conn,
    sql: &str,
    params: Vec<Value>,
) -> [(Vec<Column>, Vec<Vec<Value>>); 2] {
    let text_sql = if params.is_empty() {
        sql.to_owned()
    } else {
        // The text variant inlines the (integer) parameters.
        let mut out = String::new();
        let mut params = params.iter();
        for part in sql.split('?') {
            out.push_str(part);
            if let Some(p) = params.next() {
                out.push_str(&p.as_sql(false));
            }
        }
        out
    };
    let (pc, pr) = text_result(proxied, &text_sql).await;
    let (dc, dr) = text_result(direct, &text_sql).await;
    let ctx = format!("{what}, text protocol: {text_sql}");
    assert_same_columns(&ctx, &pc, &dc);
    assert_same_rows(&ctx, &pc, &pr, &dr);
    // COM_STMT_PREPARE's own parameter and column definitions.
    let ps = proxied.prep(sql).await.unwrap();
    let ds = direct.prep(sql).await.unwrap();
    let ctx = format!("{what}, COM_STMT_PREPARE: {sql}");
    assert_same_columns(&format!("{ctx} (params)"), ps.params(), ds.params());
    assert_same_columns(&format!("{ctx} (columns)"), &ps.columns(), &ds.columns());
    let (pbc, pbr) = binary_result(proxied, sql, params.clone()).await;
    let (dbc, dbr) = binary_result(direct, sql, params).await;
    let ctx = format!("{what}, binary protocol: {sql}");
    assert_same_columns(&ctx, &pbc, &dbc);
    assert_same_rows(&ctx, &pbc, &pbr, &dbr);
    [(pc, pr), (pbc, pbr)]
}

/// A quoted SQL string literal (backslash escapes, as MariaDB reads them by default).
fn quoted(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn hex_literal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(3 + 2 * bytes.len());
    out.push_str("X'");
    for b in bytes {
        out.push_str(&format!("{b:02X}"));
    }
    out.push('\'');
    out
}

fn str_value(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

/// Column name and type of `all_types` (after `id INT PRIMARY KEY`).
const COLUMNS: &[(&str, &str)] = &[
    ("c_tiny", "TINYINT"),
    ("c_utiny", "TINYINT UNSIGNED"),
    ("c_small", "SMALLINT"),
    ("c_usmall", "SMALLINT UNSIGNED"),
    ("c_medium", "MEDIUMINT"),
    ("c_umedium", "MEDIUMINT UNSIGNED"),
    ("c_int", "INT"),
    ("c_uint", "INT UNSIGNED"),
    ("c_big", "BIGINT"),
    ("c_ubig", "BIGINT UNSIGNED"),
    ("c_dec", "DECIMAL(65,30)"),
    ("c_float", "FLOAT"),
    ("c_double", "DOUBLE"),
    ("c_bit1", "BIT(1)"),
    ("c_bit64", "BIT(64)"),
    ("c_date", "DATE"),
    ("c_datetime", "DATETIME(6)"),
    ("c_timestamp", "TIMESTAMP(6) NULL DEFAULT NULL"),
    ("c_time", "TIME(6)"),
    ("c_year", "YEAR"),
    ("c_char", "CHAR(10) CHARACTER SET utf8mb4"),
    ("c_varchar", "VARCHAR(100) CHARACTER SET utf8mb4"),
    ("c_text", "TEXT CHARACTER SET utf8mb4"),
    ("c_binary", "BINARY(4)"),
    ("c_varbinary", "VARBINARY(16)"),
    ("c_blob", "BLOB"),
    ("c_longblob", "LONGBLOB"),
    ("c_enum", "ENUM('a','b','ü','😀') CHARACTER SET utf8mb4"),
    ("c_set", "SET('x','y','z')"),
    ("c_json", "JSON"),
];

/// Index of a column in `SELECT *` (0 is `id`).
fn col(name: &str) -> usize {
    1 + COLUMNS
        .iter()
        .position(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

/// 17 MiB: its rows span more than one 16 MiB physical packet.
const BIG_BLOB_LEN: usize = 17 * 1024 * 1024;

fn big_blob() -> Vec<u8> {
    [0x00, 0xFF, 0x01, 0xFE].repeat(BIG_BLOB_LEN / 4)
}

/// 3 MiB, inserted as one hex literal.
fn medium_blob() -> Vec<u8> {
    (0..3 * 1024 * 1024).map(|i| (i * 7 % 256) as u8).collect()
}

const DEC_MAX: &str = "99999999999999999999999999999999999.999999999999999999999999999999";
const MAX_VARCHAR: &str = "😀🎉 ünïcödé 𝄞 日本語 it's a \\ back\\slash \u{10FFFF}";
const MAX_JSON: &str = r#"{"emoji": "😀", "nested": {"a": [1, 2.5, null, true, false]}}"#;

/// One row of `all_types` (without id): each column's text literal and the equal parameter.
fn rows() -> Vec<(&'static str, Vec<(String, Value)>)> {
    let l = |s: &str| s.to_owned();
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let crab_text = "🦀".repeat(1000) + "\u{1F600}";
    let misc_blob: Vec<u8> = (0..65535u32).map(|i| (255 - i % 256) as u8).collect();
    let min = vec![
        (l("-128"), Value::Int(-128)),
        (l("0"), Value::UInt(0)),
        (l("-32768"), Value::Int(-32768)),
        (l("0"), Value::UInt(0)),
        (l("-8388608"), Value::Int(-8388608)),
        (l("0"), Value::UInt(0)),
        (l("-2147483648"), Value::Int(-2147483648)),
        (l("0"), Value::UInt(0)),
        (l("-9223372036854775808"), Value::Int(i64::MIN)),
        (l("0"), Value::UInt(0)),
        (format!("-{DEC_MAX}"), str_value(&format!("-{DEC_MAX}"))),
        (l("-3.4028234663852886e38"), Value::Float(-f32::MAX)),
        (l("-1.7976931348623157e308"), Value::Double(f64::MIN)),
        (l("b'0'"), Value::Int(0)),
        (l("b'0'"), Value::UInt(0)),
        (l("'1000-01-01'"), Value::Date(1000, 1, 1, 0, 0, 0, 0)),
        (
            l("'1000-01-01 00:00:00.000000'"),
            Value::Date(1000, 1, 1, 0, 0, 0, 0),
        ),
        (
            l("'1970-01-02 00:00:00.000001'"),
            Value::Date(1970, 1, 2, 0, 0, 0, 1),
        ),
        (
            l("'-838:59:59.999999'"),
            Value::Time(true, 34, 22, 59, 59, 999_999),
        ),
        (l("1901"), Value::Int(1901)),
        (l("''"), str_value("")),
        (l("''"), str_value("")),
        (l("''"), str_value("")),
        (l("X'00'"), Value::Bytes(vec![0])),
        (l("X''"), Value::Bytes(vec![])),
        (l("X''"), Value::Bytes(vec![])),
        (l("X''"), Value::Bytes(vec![])),
        (l("'a'"), str_value("a")),
        (l("''"), str_value("")),
        (l("'[]'"), str_value("[]")),
    ];
    let max = vec![
        (l("127"), Value::Int(127)),
        (l("255"), Value::UInt(255)),
        (l("32767"), Value::Int(32767)),
        (l("65535"), Value::UInt(65535)),
        (l("8388607"), Value::Int(8388607)),
        (l("16777215"), Value::UInt(16777215)),
        (l("2147483647"), Value::Int(2147483647)),
        (l("4294967295"), Value::UInt(4294967295)),
        (l("9223372036854775807"), Value::Int(i64::MAX)),
        (l("18446744073709551615"), Value::UInt(u64::MAX)),
        (l(DEC_MAX), str_value(DEC_MAX)),
        (l("3.4028234663852886e38"), Value::Float(f32::MAX)),
        (l("1.7976931348623157e308"), Value::Double(f64::MAX)),
        (l("b'1'"), Value::Int(1)),
        (l("18446744073709551615"), Value::UInt(u64::MAX)),
        (l("'9999-12-31'"), Value::Date(9999, 12, 31, 0, 0, 0, 0)),
        (
            l("'9999-12-31 23:59:59.999999'"),
            Value::Date(9999, 12, 31, 23, 59, 59, 999_999),
        ),
        (
            l("'2038-01-01 00:00:00.999999'"),
            Value::Date(2038, 1, 1, 0, 0, 0, 999_999),
        ),
        (
            l("'838:59:59.999999'"),
            Value::Time(false, 34, 22, 59, 59, 999_999),
        ),
        (l("2155"), Value::Int(2155)),
        (quoted("a😀é𝄞ü"), str_value("a😀é𝄞ü")),
        (quoted(MAX_VARCHAR), str_value(MAX_VARCHAR)),
        (quoted(&crab_text), str_value(&crab_text)),
        (l("X'FF00FF00'"), Value::Bytes(vec![0xFF, 0, 0xFF, 0])),
        (
            l("X'00FF00FF00FF7F80'"),
            Value::Bytes(vec![0, 0xFF, 0, 0xFF, 0, 0xFF, 0x7F, 0x80]),
        ),
        (hex_literal(&all_bytes), Value::Bytes(all_bytes.clone())),
        (
            format!("REPEAT(X'00FF01FE', {})", BIG_BLOB_LEN / 4),
            Value::Bytes(big_blob()),
        ),
        (l("'😀'"), str_value("😀")),
        (l("'x,y,z'"), str_value("x,y,z")),
        (quoted(MAX_JSON), str_value(MAX_JSON)),
    ];
    let null = COLUMNS
        .iter()
        .map(|_| (l("NULL"), Value::NULL))
        .collect::<Vec<_>>();
    let misc = vec![
        (l("-1"), Value::Int(-1)),
        (l("1"), Value::UInt(1)),
        (l("-1"), Value::Int(-1)),
        (l("1"), Value::UInt(1)),
        (l("-1"), Value::Int(-1)),
        (l("1"), Value::UInt(1)),
        (l("-1"), Value::Int(-1)),
        (l("1"), Value::UInt(1)),
        (l("-1"), Value::Int(-1)),
        (l("9223372036854775808"), Value::UInt(1 << 63)),
        (
            l("-0.000000000000000000000000000001"),
            str_value("-0.000000000000000000000000000001"),
        ),
        (l("0.1"), Value::Float(0.1)),
        (
            l("2.2250738585072014e-308"),
            Value::Double(f64::MIN_POSITIVE),
        ),
        (l("1"), Value::Int(1)),
        (l("9223372036854775809"), Value::UInt((1 << 63) + 1)),
        (l("'2024-02-29'"), Value::Date(2024, 2, 29, 0, 0, 0, 0)),
        (
            l("'2024-02-29 12:34:56.000001'"),
            Value::Date(2024, 2, 29, 12, 34, 56, 1),
        ),
        (
            l("'2001-02-03 04:05:06.789012'"),
            Value::Date(2001, 2, 3, 4, 5, 6, 789_012),
        ),
        (
            l("'-00:00:00.500000'"),
            Value::Time(true, 0, 0, 0, 0, 500_000),
        ),
        (l("2000"), Value::Int(2000)),
        (l("'ü'"), str_value("ü")),
        (
            quoted("tab\there\nnul\0end"),
            str_value("tab\there\nnul\0end"),
        ),
        (
            quoted("\u{1F600}\0\u{1F600}"),
            str_value("\u{1F600}\0\u{1F600}"),
        ),
        (l("X'FFFFFFFF'"), Value::Bytes(vec![0xFF; 4])),
        (hex_literal(&[0xFF; 16]), Value::Bytes(vec![0xFF; 16])),
        (hex_literal(&misc_blob), Value::Bytes(misc_blob.clone())),
        (hex_literal(&medium_blob()), Value::Bytes(medium_blob())),
        (l("'ü'"), str_value("ü")),
        (l("'y'"), str_value("y")),
        (
            l("'\"just a string 😀\"'"),
            str_value("\"just a string 😀\""),
        ),
    ];
    for row in [&min, &max, &null, &misc] {
        assert_eq!(row.len(), COLUMNS.len());
    }
    vec![("min", min), ("max", max), ("null", null), ("misc", misc)]
}

/// Row ids: inserted as text literals through the proxy, as parameters through the proxy, and as
/// parameters straight on the shard (the reference for the proxy's re-encoded executions).
const TEXT_IDS: [i64; 4] = [1, 2, 3, 4];
const PARAM_IDS: [i64; 4] = [11, 12, 13, 14];
const DIRECT_PARAM_IDS: [i64; 4] = [21, 22, 23, 24];

/// Row `id` of a result whose first column is the id.
fn row_of(rows: &[Vec<Value>], id: i64) -> &[Value] {
    rows.iter()
        .find(|r| match &r[0] {
            Value::Int(v) => *v == id,
            Value::Bytes(b) => b == id.to_string().as_bytes(),
            _ => false,
        })
        .unwrap_or_else(|| panic!("no row {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_column_type_round_trips_in_both_protocols() {
    let env = TestEnv::start(2, 0).await;
    let default = env.topology.default_shard;
    // Rows of 17 MiB need a larger max_allowed_packet; it is read when a connection opens, so
    // the proxy's connections are opened again once it is raised.
    for shard in 0..2 {
        let mut admin = env.connect_primary(shard).await;
        admin
            .query_drop("SET GLOBAL max_allowed_packet = 67108864")
            .await
            .unwrap();
    }
    env.reopen_primary_connections().await;
    let mut proxied = env.connect().await;
    let mut direct = env.connect_primary(default).await;

    let columns_ddl: Vec<String> = COLUMNS.iter().map(|(n, t)| format!("{n} {t}")).collect();
    proxied
        .query_drop(format!(
            "CREATE TABLE all_types (id INT PRIMARY KEY, {}) DEFAULT CHARSET = utf8mb4",
            columns_ddl.join(", ")
        ))
        .await
        .unwrap();
    let names: Vec<&str> = COLUMNS.iter().map(|(n, _)| *n).collect();
    let insert_sql = format!(
        "INSERT INTO all_types (id, {}) VALUES (?{})",
        names.join(", "),
        ", ?".repeat(COLUMNS.len())
    );
    let rows = rows();
    for (i, (what, row)) in rows.iter().enumerate() {
        let literals: Vec<&str> = row.iter().map(|(l, _)| l.as_str()).collect();
        proxied
            .query_drop(format!(
                "INSERT INTO all_types (id, {}) VALUES ({}, {})",
                names.join(", "),
                TEXT_IDS[i],
                literals.join(", ")
            ))
            .await
            .unwrap_or_else(|e| panic!("text insert of the {what} row: {e}"));
        assert_eq!(proxied.affected_rows(), 1);
        assert_eq!(proxied.get_warnings(), 0, "text insert of the {what} row");
        let params = |id: i64| {
            let mut p = vec![Value::Int(id)];
            p.extend(row.iter().map(|(_, v)| v.clone()));
            p
        };
        proxied
            .exec_drop(insert_sql.as_str(), params(PARAM_IDS[i]))
            .await
            .unwrap_or_else(|e| panic!("parameter insert of the {what} row: {e}"));
        assert_eq!(proxied.affected_rows(), 1);
        assert_eq!(
            proxied.get_warnings(),
            0,
            "parameter insert of the {what} row"
        );
        direct
            .exec_drop(insert_sql.as_str(), params(DIRECT_PARAM_IDS[i]))
            .await
            .unwrap_or_else(|e| panic!("direct parameter insert of the {what} row: {e}"));
    }
    // Only the default shard has the table.
    let mut other = env.connect_primary(1 - default).await;
    assert!(other
        .query_drop("SELECT 1 FROM all_types LIMIT 1")
        .await
        .is_err());

    let [(text_cols, text_rows), (bin_cols, bin_rows)] = compare_both_protocols(
        "all_types",
        &mut proxied,
        &mut direct,
        "SELECT * FROM all_types ORDER BY id",
        vec![],
    )
    .await;
    assert_eq!(text_cols.len(), 1 + COLUMNS.len());
    assert_eq!(text_rows.len(), 12);
    assert_eq!(bin_rows.len(), 12);

    // The three copies of each row are equal: literals, parameters through the proxy, parameters
    // straight to MariaDB.
    for (protocol, cols, result) in [
        ("text", &text_cols, &text_rows),
        ("binary", &bin_cols, &bin_rows),
    ] {
        for (i, (what, _)) in rows.iter().enumerate() {
            let reference = &row_of(result, DIRECT_PARAM_IDS[i])[1..];
            for (source, id) in [
                ("text literals", TEXT_IDS[i]),
                ("parameters through the proxy", PARAM_IDS[i]),
            ] {
                let got = &row_of(result, id)[1..];
                for (c, (g, r)) in got.iter().zip(reference).enumerate() {
                    assert!(
                        g == r,
                        "{protocol} protocol, {what} row from {source}: column {} is {} but parameters sent directly stored {}",
                        cols[c + 1].name_str(),
                        show(g),
                        show(r)
                    );
                }
            }
        }
    }

    // And they are the values meant, not just the same ones.
    let max = row_of(&bin_rows, PARAM_IDS[1]);
    let min = row_of(&bin_rows, PARAM_IDS[0]);
    let as_u64 = |v: &Value| mysql_async::from_value::<u64>(v.clone());
    let as_i64 = |v: &Value| mysql_async::from_value::<i64>(v.clone());
    assert_eq!(as_u64(&max[col("c_ubig")]), u64::MAX);
    assert_eq!(as_i64(&max[col("c_big")]), i64::MAX);
    assert_eq!(as_i64(&min[col("c_big")]), i64::MIN);
    assert_eq!(as_u64(&max[col("c_uint")]), u64::from(u32::MAX));
    assert_eq!(as_i64(&min[col("c_medium")]), -8388608);
    assert_eq!(max[col("c_float")], Value::Float(f32::MAX));
    assert_eq!(min[col("c_double")], Value::Double(f64::MIN));
    assert_eq!(
        max[col("c_datetime")],
        Value::Date(9999, 12, 31, 23, 59, 59, 999_999)
    );
    assert_eq!(
        min[col("c_time")],
        Value::Time(true, 34, 22, 59, 59, 999_999)
    );
    assert_eq!(max[col("c_bit64")], Value::Bytes(vec![0xFF; 8]));
    assert_eq!(max[col("c_varchar")], str_value(MAX_VARCHAR));
    assert_eq!(max[col("c_longblob")], Value::Bytes(big_blob()));
    assert_eq!(max[col("c_blob")], Value::Bytes((0..=255u8).collect()));
    assert_eq!(min[col("c_binary")], Value::Bytes(vec![0; 4]));
    let text_max = row_of(&text_rows, TEXT_IDS[1]);
    assert_eq!(text_max[col("c_ubig")], str_value("18446744073709551615"));
    assert_eq!(text_max[col("c_dec")], str_value(DEC_MAX));
    assert_eq!(text_max[col("c_time")], str_value("838:59:59.999999"));
    assert_eq!(text_max[col("c_char")], str_value("a😀é𝄞ü"));
    assert_eq!(text_max[col("c_json")], str_value(MAX_JSON));
    let text_misc = row_of(&text_rows, TEXT_IDS[3]);
    assert_eq!(text_misc[col("c_time")], str_value("-00:00:00.500000"));
    assert_eq!(text_misc[col("c_text")], str_value("\u{1F600}\0\u{1F600}"));
    assert_eq!(text_misc[col("c_longblob")], Value::Bytes(medium_blob()));
    for null_id in [TEXT_IDS[2], PARAM_IDS[2]] {
        for result in [&text_rows, &bin_rows] {
            let row = row_of(result, null_id);
            assert!(row[1..].iter().all(|v| *v == Value::NULL), "row {null_id}");
        }
    }

    // Single rows by a parameter, in both protocols.
    for id in TEXT_IDS.iter().chain(&PARAM_IDS) {
        compare_both_protocols(
            "one row of all_types",
            &mut proxied,
            &mut direct,
            "SELECT * FROM all_types WHERE id = ?",
            vec![Value::Int(*id)],
        )
        .await;
    }
    drop((proxied, direct, other));
    env.stop().await;
}

fn shard_of(env: &TestEnv, id: i64) -> usize {
    env.topology
        .table("users")
        .unwrap()
        .shard_for(&KeyValue::Int(i128::from(id)))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_columns_of_a_sharded_table_round_trip_on_each_shard() {
    let env = TestEnv::start(2, 0).await;
    let mut proxied = env.connect().await;
    proxied
        .query_drop(
            "ALTER TABLE users \
             ADD COLUMN c_ubig BIGINT UNSIGNED, \
             ADD COLUMN c_tiny TINYINT, \
             ADD COLUMN c_dec DECIMAL(30,10), \
             ADD COLUMN c_float FLOAT, \
             ADD COLUMN c_double DOUBLE, \
             ADD COLUMN c_bits BIT(64), \
             ADD COLUMN c_date DATE, \
             ADD COLUMN c_dt DATETIME(6), \
             ADD COLUMN c_ts TIMESTAMP(3) NULL DEFAULT NULL, \
             ADD COLUMN c_time TIME(6), \
             ADD COLUMN c_year YEAR, \
             ADD COLUMN c_emoji VARCHAR(40) CHARACTER SET utf8mb4, \
             ADD COLUMN c_bin VARBINARY(8), \
             ADD COLUMN c_blob MEDIUMBLOB, \
             ADD COLUMN c_enum ENUM('x','ÿ','🙂'), \
             ADD COLUMN c_set SET('r','g','b'), \
             ADD COLUMN c_json JSON",
        )
        .await
        .unwrap();
    let typed = [
        "c_ubig", "c_tiny", "c_dec", "c_float", "c_double", "c_bits", "c_date", "c_dt", "c_ts",
        "c_time", "c_year", "c_emoji", "c_bin", "c_blob", "c_enum", "c_set", "c_json",
    ];
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 256) as u8).rev().collect();
    let values: Vec<(String, Value)> = vec![
        ("18446744073709551615".into(), Value::UInt(u64::MAX)),
        ("-128".into(), Value::Int(-128)),
        (
            "-12345678901234567890.0123456789".into(),
            str_value("-12345678901234567890.0123456789"),
        ),
        ("-1.5".into(), Value::Float(-1.5)),
        (
            "3.141592653589793".into(),
            Value::Double(std::f64::consts::PI),
        ),
        (
            "b'1000000000000000000000000000000000000000000000000000000000000001'".into(),
            Value::UInt((1 << 63) | 1),
        ),
        ("'2024-02-29'".into(), Value::Date(2024, 2, 29, 0, 0, 0, 0)),
        (
            "'1999-12-31 23:59:59.999999'".into(),
            Value::Date(1999, 12, 31, 23, 59, 59, 999_999),
        ),
        (
            "'2020-06-15 08:09:10.123'".into(),
            Value::Date(2020, 6, 15, 8, 9, 10, 123_000),
        ),
        (
            "'-100:00:00.000001'".into(),
            Value::Time(true, 4, 4, 0, 0, 1),
        ),
        ("2069".into(), Value::Int(2069)),
        (quoted("🙂 ñ 𝄞 \\ '"), str_value("🙂 ñ 𝄞 \\ '")),
        (
            "X'00FF00FF80'".into(),
            Value::Bytes(vec![0, 0xFF, 0, 0xFF, 0x80]),
        ),
        (hex_literal(&blob), Value::Bytes(blob.clone())),
        ("'🙂'".into(), str_value("🙂")),
        ("'r,b'".into(), str_value("r,b")),
        (
            quoted(r#"{"k": ["😀", 1e3, {"z": null}]}"#),
            str_value(r#"{"k": ["😀", 1e3, {"z": null}]}"#),
        ),
    ];
    assert_eq!(values.len(), typed.len());

    // Per shard: a row from text literals, one from parameters, one of NULLs.
    let mut ids: Vec<(i64, usize, &str)> = Vec::new();
    for shard in 0..2 {
        let mut on_shard = (1..).filter(|id| shard_of(&env, *id) == shard);
        for kind in ["text", "params", "nulls"] {
            ids.push((on_shard.next().unwrap(), shard, kind));
        }
    }
    let insert = format!(
        "INSERT INTO users (id, email, {}) VALUES (?, ?{})",
        typed.join(", "),
        ", ?".repeat(typed.len())
    );
    for (id, _, kind) in &ids {
        match *kind {
            "text" => {
                let literals: Vec<&str> = values.iter().map(|(l, _)| l.as_str()).collect();
                proxied
                    .query_drop(format!(
                        "INSERT INTO users (id, email, {}) VALUES ({id}, 'u{id}', {})",
                        typed.join(", "),
                        literals.join(", ")
                    ))
                    .await
                    .unwrap();
            }
            "params" => {
                let mut params = vec![Value::Int(*id), str_value(&format!("u{id}"))];
                params.extend(values.iter().map(|(_, v)| v.clone()));
                proxied.exec_drop(insert.as_str(), params).await.unwrap();
            }
            _ => {
                proxied
                    .query_drop(format!(
                        "INSERT INTO users (id, email) VALUES ({id}, 'u{id}')"
                    ))
                    .await
                    .unwrap();
            }
        }
        assert_eq!(proxied.affected_rows(), 1);
        assert_eq!(proxied.get_warnings(), 0, "insert of {kind} row {id}");
    }

    let mut directs = [env.connect_primary(0).await, env.connect_primary(1).await];
    let mut by_kind: Vec<(&str, usize, [Vec<Value>; 2])> = Vec::new();
    for (id, shard, kind) in &ids {
        let [(_, text), (_, binary)] = compare_both_protocols(
            &format!("users row {id} ({kind}) on shard {shard}"),
            &mut proxied,
            &mut directs[*shard],
            "SELECT * FROM users WHERE id = ?",
            vec![Value::Int(*id)],
        )
        .await;
        assert_eq!(text.len(), 1, "row {id} read through the proxy");
        // The row lives on its shard only.
        let elsewhere: Vec<Row> = directs[1 - shard]
            .query(format!("SELECT * FROM users WHERE id = {id}"))
            .await
            .unwrap();
        assert!(elsewhere.is_empty(), "row {id} is only on shard {shard}");
        by_kind.push((kind, *shard, [text[0].clone(), binary[0].clone()]));
    }
    // Literals and parameters stored the same values on both shards (id and email aside).
    let reference = by_kind
        .iter()
        .find(|(k, s, _)| *k == "text" && *s == 0)
        .unwrap()
        .2
        .clone();
    for (kind, shard, rows) in &by_kind {
        for (protocol, (row, want)) in ["text", "binary"].iter().zip(rows.iter().zip(&reference)) {
            for (c, name) in typed.iter().enumerate() {
                // After id, email, name and created_at.
                let i = 4 + c;
                if *kind == "nulls" {
                    assert_eq!(
                        row[i],
                        Value::NULL,
                        "{protocol} {kind} on shard {shard}: {name}"
                    );
                } else {
                    assert!(
                        row[i] == want[i],
                        "{protocol} protocol, {kind} row on shard {shard}: {name} is {} but the text row on shard 0 has {}",
                        show(&row[i]),
                        show(&want[i])
                    );
                }
            }
        }
    }
    let binary = &reference[1];
    assert_eq!(binary[4], Value::UInt(u64::MAX));
    assert_eq!(binary[4 + 9], Value::Time(true, 4, 4, 0, 0, 1));
    assert_eq!(binary[4 + 11], str_value("🙂 ñ 𝄞 \\ '"));
    assert_eq!(binary[4 + 13], Value::Bytes(blob));
    drop((proxied, directs));
    env.stop().await;
}
