//! A config with many problems reports all of them, in file order, one per line.

mod common;

use common::problems;

#[test]
fn every_problem_is_reported() {
    let text = r#"default_shard = "nowhere"
[server]
listen = "nope"

[[users]]
name = "app"

[backend]
user = "shardgate"
database = "app"

[backend.pool]
max_size = -3

[[shards]]
name = "s0"
primary = "127.0.0.1:3310"

[[shards]]
name = "s0"
primary = "127.0.0.1:3310"
replicas = ["bad address"]

[[tables]]
name = "users"
strategy = "consistent"

[[tables]]
name = "Users"
shard_key = "id"
shard_kye = "id"
"#;
    let expected = [
        "t.toml:1: default_shard: unknown shard \"nowhere\" (shards: s0)",
        "t.toml:3: server.listen: invalid address \"nope\": missing port (expected host:port, e.g. 127.0.0.1:3306 or [::1]:3306)",
        "t.toml:5: users[0].password: user \"app\" has no password; every client account needs one",
        "t.toml:8: backend.password: missing backend password",
        "t.toml:13: backend.pool.max_size: must be greater than 0 (got -3)",
        "t.toml:20: shards[1].name: duplicate shard name \"s0\" (first defined on line 16)",
        "t.toml:21: shards[1].primary: endpoint 127.0.0.1:3310 is already used by shards[0].primary (line 17)",
        "t.toml:22: shards[1].replicas[0]: invalid address \"bad address\": missing port (expected host:port, e.g. 127.0.0.1:3306 or [::1]:3306)",
        "t.toml:24: tables[0].shard_key: missing shard_key: the column whose value picks the shard",
        "t.toml:26: tables[0].strategy: unknown strategy \"consistent\" (expected \"consistent_hash\", \"hash_mod\" or \"range\")",
        "t.toml:29: tables[1].name: duplicate table \"Users\" (first defined on line 25; table names are case-insensitive)",
        "t.toml:31: tables[1].shard_kye: unknown key (did you mean \"shard_key\"?)",
    ];
    assert_eq!(problems(text), expected);

    let rendered = shardgate_config::parse(text, "t.toml")
        .unwrap_err()
        .to_string();
    assert_eq!(rendered, expected.join("\n"));
}
