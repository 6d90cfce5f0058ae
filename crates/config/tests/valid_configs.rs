//! Valid configs become the expected Topology; absent keys take their defaults.

mod common;

use std::sync::Arc;
use std::time::Duration;

use shardgate_config::{
    parse, Endpoint, PoolSettings, ShardKeyType, DEFAULT_LISTEN, DEFAULT_SERVER_VERSION,
};
use shardgate_ring::{HashRing, KeyValue, RingError, Sharder, DEFAULT_VIRTUAL_NODES};

fn endpoint(host: &str, port: u16) -> Endpoint {
    Endpoint {
        host: host.into(),
        port,
    }
}

const FULL: &str = r#"
default_shard = "b"

[server]
listen = "0.0.0.0:7000"
server_version = "5.5.5-10.6.0-MariaDB-test"

[[users]]
name = "app"
password = "one"

[[users]]
name = "report"
password = "two"

[backend]
user = "proxy"
password = ""
database = "shop"

[backend.pool]
max_size = 8
min_idle = 2
idle_timeout_ms = 1000
max_lifetime_ms = 2000
connect_timeout_ms = 300
checkout_timeout_ms = 400
validation_query = "DO 1"
validation_interval_ms = 0
max_prepared_statements = 16

[ring]
virtual_nodes = 16

[[shards]]
name = "a"
primary = "db-a:3306"

[[shards]]
name = "b"
primary = "[::1]:3307"
replicas = ["db-b1:3306", "db-b2:3306"]

[[tables]]
name = "Users"
shard_key = "ID"

[[tables]]
name = "orders"
shard_key = "user_id"
strategy = "consistent_hash"
shard_key_type = "integer"

[[tables]]
name = "sessions"
shard_key = "token"
strategy = "hash_mod"
shard_key_type = "string"

[[tables]]
name = "carts"
shard_key = "user_id"
strategy = "hash_mod"

[[tables]]
name = "events"
shard_key = "id"
strategy = "range"
ranges = [ { shard = "a", end = 0 }, { shard = "b", start = 0, end = 1000 }, { shard = "a", start = 1000 } ]
"#;

#[test]
fn full_config_round_trips() {
    let t = parse(FULL, "full.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.listen, "0.0.0.0:7000");
    assert_eq!(t.server.server_version, "5.5.5-10.6.0-MariaDB-test");
    let users: Vec<(&str, &str)> = t
        .users
        .iter()
        .map(|u| (u.name.as_str(), u.password.as_str()))
        .collect();
    assert_eq!(users, [("app", "one"), ("report", "two")]);
    assert_eq!(
        (
            t.backend.user.as_str(),
            t.backend.password.as_str(),
            t.backend.database.as_str()
        ),
        ("proxy", "", "shop")
    );
    // The proxy's own records are kept out of the applications' database.
    assert_eq!(t.backend.own_database, "_shardgate_shop");
    assert_eq!(
        t.backend.pool,
        PoolSettings {
            max_size: 8,
            min_idle: 2,
            idle_timeout: Duration::from_millis(1000),
            max_lifetime: Duration::from_millis(2000),
            connect_timeout: Duration::from_millis(300),
            checkout_timeout: Duration::from_millis(400),
            validation_query: "DO 1".into(),
            validation_interval: Duration::ZERO,
            max_prepared_statements: 16,
        }
    );
    assert_eq!(t.shards.len(), 2);
    assert_eq!(t.shards[0].name, "a");
    assert_eq!(t.shards[0].primary, endpoint("db-a", 3306));
    assert!(t.shards[0].replicas.is_empty());
    assert_eq!(t.shards[1].primary, endpoint("::1", 3307));
    assert_eq!(t.shards[1].primary.to_string(), "[::1]:3307");
    assert_eq!(
        t.shards[1].replicas,
        [endpoint("db-b1", 3306), endpoint("db-b2", 3306)]
    );
    assert_eq!(t.default_shard, 1);
    assert_eq!(t.shard_index("b"), Some(1));

    let mut names: Vec<&str> = t.tables.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["carts", "events", "orders", "sessions", "users"]);
    let users = t.table("USERS").unwrap();
    assert_eq!(
        (users.name.as_str(), users.shard_key.as_str()),
        ("Users", "id")
    );
    assert_eq!(users.key_type, ShardKeyType::Integer);
    assert_eq!(t.table("sessions").unwrap().key_type, ShardKeyType::String);

    // One ring for all consistent_hash tables, one hash_mod for all hash_mod tables.
    let orders = t.table("orders").unwrap();
    assert!(Arc::ptr_eq(&users.sharder, &orders.sharder));
    let (sessions, carts) = (t.table("sessions").unwrap(), t.table("carts").unwrap());
    assert!(Arc::ptr_eq(&sessions.sharder, &carts.sharder));
    assert!(matches!(*carts.sharder, Sharder::HashMod { shards: 2 }));
    match &*users.sharder {
        Sharder::ConsistentHash(ring) => {
            assert_eq!((ring.shard_count(), ring.virtual_nodes()), (2, 16));
            let expected = HashRing::new(&["a", "b"], 16);
            assert!(ring.points().eq(expected.points()));
        }
        other => panic!("users: {other:?}"),
    }

    let events = t.table("events").unwrap();
    assert_eq!(events.shard_for(&KeyValue::Int(-1)), Ok(0));
    assert_eq!(events.shard_for(&KeyValue::Int(0)), Ok(1));
    assert_eq!(events.shard_for(&KeyValue::Str(b"999")), Ok(1));
    assert_eq!(events.shard_for(&KeyValue::Int(1000)), Ok(0));
    assert_eq!(
        events.shard_for(&KeyValue::Str(b"x")),
        Err(RingError::NotAnInteger("x".into()))
    );
    assert_eq!(
        t.summary(),
        "2 shards (4 endpoints), 5 sharded tables, 2 users, listen 0.0.0.0:7000"
    );
}

#[test]
fn equal_keys_of_co_sharded_tables_colocate() {
    let t = parse(FULL, "full.toml").unwrap();
    let (users, orders) = (t.table("users").unwrap(), t.table("orders").unwrap());
    for id in -500..500 {
        let text = id.to_string();
        let shard = users.shard_for(&KeyValue::Int(id)).unwrap();
        assert_eq!(orders.shard_for(&KeyValue::Int(id)), Ok(shard));
        assert_eq!(orders.shard_for(&KeyValue::Str(text.as_bytes())), Ok(shard));
    }
}

#[test]
fn defaults_are_applied() {
    let text = r#"
[[users]]
name = "app"
password = "app"

[backend]
user = "u"
password = "p"
database = "d"

[[shards]]
name = "only"
primary = "127.0.0.1:3306"
"#;
    let t = parse(text, "min.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.listen, DEFAULT_LISTEN);
    assert_eq!(DEFAULT_LISTEN, "127.0.0.1:6033");
    assert_eq!(t.server.server_version, DEFAULT_SERVER_VERSION);
    assert_eq!(DEFAULT_SERVER_VERSION, "5.5.5-10.11.0-MariaDB-shardgate");
    assert_eq!(t.default_shard, 0);
    assert!(t.tables.is_empty());
    assert!(t.shards[0].replicas.is_empty());
    assert_eq!(
        t.backend.pool,
        PoolSettings {
            max_size: 64,
            min_idle: 0,
            idle_timeout: Duration::from_millis(300_000),
            max_lifetime: Duration::from_millis(3_600_000),
            connect_timeout: Duration::from_millis(2000),
            checkout_timeout: Duration::from_millis(5000),
            validation_query: "SELECT 1".into(),
            validation_interval: Duration::from_millis(30_000),
            max_prepared_statements: 128,
        }
    );
    assert_eq!(
        t.summary(),
        "1 shard (1 endpoint), 0 sharded tables, 1 user, listen 127.0.0.1:6033"
    );
}

#[test]
fn table_defaults_are_consistent_hash_on_integers() {
    let t = parse(common::BASE, "t.toml").unwrap();
    let users = t.table("users").unwrap();
    assert_eq!(users.key_type, ShardKeyType::Integer);
    match &*users.sharder {
        Sharder::ConsistentHash(ring) => assert_eq!(ring.virtual_nodes(), DEFAULT_VIRTUAL_NODES),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        users.shard_for(&KeyValue::Str(b" 042 ")),
        users.shard_for(&KeyValue::Int(42))
    );
}

#[test]
fn string_keys_are_placed_by_their_key_collation() {
    let text = format!(
        "{}[[tables]]\nname = \"tags\"\nshard_key = \"tag\"\nshard_key_type = \"string\"\n\
         [[tables]]\nname = \"words\"\nshard_key = \"w\"\nshard_key_type = \"string\"\n\
         shard_key_collation = \"utf8mb4_unicode_ci\"\n",
        common::BASE
    );
    let t = parse(&text, "t.toml").unwrap();
    let (tags, words) = (t.table("tags").unwrap(), t.table("words").unwrap());
    assert_eq!(tags.key_collation, shardgate_ring::Collation::GeneralCi);
    assert_eq!(words.key_collation, shardgate_ring::Collation::UnicodeCi);
    let at =
        |rule: &shardgate_config::TableRule, s: &str| rule.shard_for(&KeyValue::Str(s.as_bytes()));
    // general_ci: ß = s; unicode_ci: ß = ss.
    for (a, b) in [("Café", "CAFE "), ("Straße", "strase"), ("Alice", "alice")] {
        assert_eq!(at(tags, a), at(tags, b), "{a} / {b}");
    }
    for (a, b) in [("Café", "CAFE "), ("Straße", "STRASSE"), ("Alice", "alice")] {
        assert_eq!(at(words, a), at(words, b), "{a} / {b}");
    }
    assert_ne!(tags.key_kind(), words.key_kind());
}

#[test]
fn listen_may_ask_for_any_port() {
    let text = common::base_with("127.0.0.1:6033", "127.0.0.1:0");
    assert_eq!(parse(&text, "t.toml").unwrap().server.listen, "127.0.0.1:0");
}

#[test]
fn load_reads_a_file() {
    let dir = std::env::temp_dir().join(format!("shardgate-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shardgate.toml");
    std::fs::write(&path, common::BASE).unwrap();
    let loaded = shardgate_config::load(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(loaded.unwrap().shards.len(), 2);
}
