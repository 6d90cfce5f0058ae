//! Shared by the config tests: a valid base config and error helpers.
#![allow(dead_code)]

/// A valid config; tests break one line of it. Line numbers matter: keep them stable.
pub const BASE: &str = r#"[server]
listen = "127.0.0.1:6033"

[[users]]
name = "app"
password = "secret"

[backend]
user = "shardgate"
password = "pw"
database = "app"

[[shards]]
name = "s0"
primary = "127.0.0.1:3310"
replicas = ["127.0.0.1:3311"]

[[shards]]
name = "s1"
primary = "127.0.0.1:3320"

[[tables]]
name = "users"
shard_key = "id"

[[tables]]
name = "orders"
shard_key = "user_id"
strategy = "consistent_hash"
"#;

/// `BASE` with the first occurrence of `from` replaced by `to` (which must exist).
pub fn base_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    BASE.replacen(from, to, 1)
}

/// Every problem `text` has, rendered `FILE:LINE: KEY: MESSAGE`.
pub fn problems(text: &str) -> Vec<String> {
    match shardgate_config::parse(text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts `text` has exactly the given problems.
#[track_caller]
pub fn assert_problems(text: &str, expected: &[&str]) {
    assert_eq!(problems(text), expected, "config:\n{text}");
}
