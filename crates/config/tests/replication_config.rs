//! `[replication]` and per-table `consistency`.

mod common;

use std::time::Duration;

use common::{base_with, BASE};
use shardgate_config::{parse, Consistency, ReplicaFallback};

#[test]
fn defaults_apply_without_a_replication_section() {
    let t = parse(BASE, "t.toml").unwrap();
    assert_eq!(t.replication.consistency, Consistency::ReadYourWrites);
    assert_eq!(t.replication.max_lag, Duration::from_secs(5));
    assert_eq!(t.replication.fallback, ReplicaFallback::Primary);
    assert_eq!(t.table("users").unwrap().consistency, None);
}

#[test]
fn replication_settings_and_table_consistency_are_read() {
    let text = base_with("shard_key = \"id\"", "shard_key = \"id\"\nconsistency = \"eventual\"")
        + "\n[replication]\nconsistency = \"strong\"\nmax_lag_seconds = 9\nreplica_fallback = \"error\"\nhealth_check_interval_ms = 250\nhealth_check_timeout_ms = 700\n";
    let t = parse(&text, "t.toml").unwrap();
    assert_eq!(t.replication.consistency, Consistency::Strong);
    assert_eq!(t.replication.max_lag, Duration::from_secs(9));
    assert_eq!(t.replication.fallback, ReplicaFallback::Error);
    assert_eq!(
        t.replication.health_check_interval,
        Duration::from_millis(250)
    );
    assert_eq!(
        t.replication.health_check_timeout,
        Duration::from_millis(700)
    );
    assert_eq!(
        t.table("users").unwrap().consistency,
        Some(Consistency::Eventual)
    );
    assert_eq!(t.table("orders").unwrap().consistency, None);
}

#[test]
fn bad_values_name_their_line_and_key() {
    let text = base_with(
        "shard_key = \"id\"",
        "shard_key = \"id\"\nconsistency = \"sometimes\"",
    ) + "\n[replication]\nreplica_fallback = \"retry\"\nmax_lag_seconds = 0\n";
    let errors = parse(&text, "t.toml").unwrap_err().to_string();
    assert!(
        errors
            .contains("t.toml:25: tables[0].consistency: unknown consistency level \"sometimes\""),
        "{errors}"
    );
    assert!(
        errors.contains(
            "t.toml:33: replication.replica_fallback: unknown replica_fallback \"retry\""
        ),
        "{errors}"
    );
    assert!(
        errors.contains("t.toml:34: replication.max_lag_seconds: must be greater than 0"),
        "{errors}"
    );
}

#[test]
fn reference_tables_have_no_shard_key() {
    let text = BASE.to_owned() + "\n[[tables]]\nname = \"countries\"\nreference = true\n";
    let t = parse(&text, "t.toml").unwrap();
    assert!(t.is_reference("Countries"));
    assert!(t.table("countries").is_none());
    let bad = BASE.to_owned()
        + "\n[[tables]]\nname = \"countries\"\nreference = true\nshard_key = \"code\"\n";
    let errors = parse(&bad, "t.toml").unwrap_err().to_string();
    assert!(
        errors.contains("t.toml:34: tables[2].shard_key: a reference table"),
        "{errors}"
    );
}
