//! Any statement text planned against a small fixed topology: a plan or an error, no panic;
//! and any bytes cut into statements as a COM_QUERY text is.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shardgate_config::Topology;

const CONFIG: &str = r#"
[[users]]
name = "app"
password = "app"
[backend]
user = "shardgate"
password = ""
database = "app"
[[shards]]
name = "s0"
primary = "127.0.0.1:3310"
[[shards]]
name = "s1"
primary = "127.0.0.1:3320"
[[shards]]
name = "s2"
primary = "127.0.0.1:3330"
[[tables]]
name = "users"
shard_key = "id"
[[tables]]
name = "orders"
shard_key = "user_id"
[[tables]]
name = "events"
shard_key = "id"
strategy = "range"
ranges = [ { shard = "s0", end = 100 }, { shard = "s1", start = 100, end = 1000 }, { shard = "s2", start = 1000 } ]
[[tables]]
name = "emails"
shard_key = "email"
shard_key_type = "string"
strategy = "hash_mod"
[[tables]]
name = "countries"
reference = true
"#;

fn topology() -> &'static Topology {
    static TOPOLOGY: OnceLock<Topology> = OnceLock::new();
    TOPOLOGY.get_or_init(|| shardgate_config::parse(CONFIG, "fuzz.toml").expect("valid"))
}

fuzz_target!(|data: &[u8]| {
    let syntax = shardgate_router::Syntax::DEFAULT;
    // Cutting any bytes into statements: pieces inside the text, in order.
    for multi in [false, true] {
        let mut end = 0;
        for piece in shardgate_router::split_statements(data, syntax, multi) {
            if let shardgate_router::Piece::Statement(range) = piece {
                assert!(end <= range.start && range.start <= range.end && range.end <= data.len());
                end = range.end;
            }
        }
    }
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let _ = shardgate_router::sql_prepared_statement(sql, syntax);
    let _ = shardgate_router::plan_sql(sql, topology(), syntax);
});
