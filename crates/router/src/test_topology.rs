//! The topology the router's unit tests plan against: shards `s0` and `s1` (the default),
//! and the tables a test names.

use shardgate_config::Topology;

const SHARDS: &str = r#"
default_shard = "s0"
[[users]]
name = "app"
password = "pw"
[backend]
user = "u"
password = "p"
database = "app"
[[shards]]
name = "s0"
primary = "127.0.0.1:3306"
[[shards]]
name = "s1"
primary = "127.0.0.1:3307"
"#;

/// Two shards and `tables` (`[[tables]]` entries).
pub(crate) fn two_shards(tables: &str) -> Topology {
    shardgate_config::parse(&format!("{SHARDS}{tables}"), "t.toml").expect("a valid test config")
}
