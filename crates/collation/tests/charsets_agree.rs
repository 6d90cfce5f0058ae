//! Against a real MariaDB: every byte of each single-byte character set the proxy reads is
//! the character MariaDB converts it to (`CONVERT(CONVERT(X'…' USING cs) USING utf8mb4)`,
//! `?` for a byte the set has no character at). A byte read otherwise than the server reads it
//! would place a shard key apart from the rows it names.
//!
//! `UPDATE_CHARSETS=1 cargo test -p shardgate-collation --test charsets_agree` writes
//! `data/single_byte_charsets.txt` from the server: each single-byte set whose bytes below
//! 0x80 are ASCII (`swe7`'s are not).

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use shardgate_collation::Charset;
use shardgate_sandbox::against_one_server;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/single_byte_charsets.txt");

/// What MariaDB converts each byte 0x00–0xFF of `name` to: the code point, or `None` for `?`.
async fn server_bytes(conn: &mut Conn, name: &str) -> Vec<Option<u32>> {
    let columns: Vec<String> = (0..=0xFFu8)
        .map(|b| format!("HEX(CONVERT(CONVERT(X'{b:02X}' USING {name}) USING utf8mb4))"))
        .collect();
    let sql = format!("SELECT {}", columns.join(", "));
    let row: mysql_async::Row = conn
        .query_first(&sql)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .expect("a row");
    (0..=0xFFu8)
        .map(|b| {
            let hex: String = row.get(usize::from(b)).expect("a value");
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            let text = String::from_utf8(bytes).expect("utf8mb4");
            let mut chars = text.chars();
            let c = chars.next().expect("one character");
            assert!(chars.next().is_none(), "{name} {b:02X}: {text:?}");
            (c != '?' || b == b'?').then_some(u32::from(c))
        })
        .collect()
}

/// Each single-byte character set with its default collation.
async fn single_byte_sets(conn: &mut Conn) -> Vec<(String, String)> {
    conn.query(
        "SELECT CHARACTER_SET_NAME, DEFAULT_COLLATE_NAME FROM information_schema.CHARACTER_SETS \
         WHERE MAXLEN = 1 AND CHARACTER_SET_NAME <> 'binary' ORDER BY 1",
    )
    .await
    .expect("character sets")
}

async fn write_data(conn: &mut Conn) {
    let mut out = String::from(
        "# MariaDB 10.11's single-byte character sets: name, default collation, bytes 0x80-0xFF\n\
         # as Unicode code points (`-`: converted to `?`). Written by `UPDATE_CHARSETS=1 cargo\n\
         # test -p shardgate-collation --test charsets_agree`.\n",
    );
    for (name, collation) in single_byte_sets(conn).await {
        let bytes = server_bytes(conn, &name).await;
        if (0..0x80).any(|b| bytes[b] != Some(b as u32)) {
            continue;
        }
        let high: Vec<String> = bytes[0x80..]
            .iter()
            .map(|p| p.map_or("-".to_owned(), |p| format!("{p:X}")))
            .collect();
        out.push_str(&format!("{name}\t{collation}\t{}\n", high.join(" ")));
    }
    std::fs::write(DATA, out).expect("writes the data file");
}

/// The bytes of the sets the proxy reads that it reads otherwise than MariaDB, and default
/// collations it names otherwise.
async fn disagreements(conn: &mut Conn) -> Vec<String> {
    let mut wrong = Vec::new();
    for (name, collation) in single_byte_sets(conn).await {
        if let Charset::SingleByte(set) = Charset::named(&name) {
            if set.default_collation != collation {
                wrong.push(format!("{name}: default collation {collation}"));
            }
        }
    }
    for name in Charset::single_byte_names() {
        let charset = Charset::named(name);
        let server = server_bytes(conn, name).await;
        for b in 0..=0xFFu8 {
            let ours = charset
                .read(&[b])
                .map(|t| u32::from(t.chars().next().unwrap()));
            if ours != server[usize::from(b)] {
                wrong.push(format!(
                    "{name} {b:02X}: shardgate {ours:X?}, MariaDB {:X?}",
                    server[usize::from(b)]
                ));
            }
        }
    }
    wrong
}

#[test]
fn single_byte_character_sets_read_as_mariadb_converts_them() {
    let wrong = against_one_server(|opts| async move {
        let mut conn = Conn::new(opts).await.expect("connects");
        if std::env::var_os("UPDATE_CHARSETS").is_some() {
            write_data(&mut conn).await;
        }
        let wrong = disagreements(&mut conn).await;
        conn.disconnect().await.ok();
        wrong
    });
    assert!(
        wrong.is_empty(),
        "{} bytes read otherwise than MariaDB:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(Charset::single_byte_names().count() >= 20);
}
