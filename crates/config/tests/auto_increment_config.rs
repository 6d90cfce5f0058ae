//! `auto_increment = { column, sequence, cache }` on a table: what is read, and each problem
//! `check-config` reports.

mod common;

use common::{assert_problems, base_with};

const USERS: &str = "shard_key = \"id\"\n";

fn users_with(auto_increment: &str) -> String {
    base_with(USERS, &format!("shard_key = \"id\"\n{auto_increment}\n"))
}

#[test]
fn reads_column_sequence_and_cache() {
    let text = users_with("auto_increment = { column = \"ID\", sequence = \"users_seq\" }");
    let topology = shardgate_config::parse(&text, "t.toml").unwrap();
    let ai = topology
        .table("users")
        .unwrap()
        .auto_increment
        .clone()
        .unwrap();
    assert_eq!(ai.column, "id");
    assert_eq!(ai.sequence, "users_seq");
    assert_eq!(ai.cache, shardgate_config::DEFAULT_SEQUENCE_CACHE);
    assert!(topology.table("orders").unwrap().auto_increment.is_none());
    let text = users_with("auto_increment = { column = \"id\", sequence = \"s\", cache = 5 }");
    let topology = shardgate_config::parse(&text, "t.toml").unwrap();
    assert_eq!(
        topology
            .table("users")
            .unwrap()
            .auto_increment
            .as_ref()
            .unwrap()
            .cache,
        5
    );
}

#[test]
fn names_must_be_plain_identifiers() {
    assert_problems(
        &users_with("auto_increment = { column = \"id\", sequence = \"users-seq\" }"),
        &["t.toml:25: tables[0].auto_increment.sequence: sequence (the table on the default shard the ids come from) \"users-seq\" is not a plain identifier (letters, digits, `_` and `$`, not starting with a digit)"],
    );
    assert_problems(
        &users_with("auto_increment = { column = \"\", sequence = \"s\" }"),
        &["t.toml:25: tables[0].auto_increment.column: column (the column the proxy fills with generated ids) \"\" is empty"],
    );
}

#[test]
fn column_and_sequence_are_required() {
    assert_problems(
        &users_with("auto_increment = { sequence = \"s\" }"),
        &["t.toml:25: tables[0].auto_increment.column: missing column (the column the proxy fills with generated ids), e.g. auto_increment = { column = \"id\", sequence = \"users_seq\" }"],
    );
}

#[test]
fn cache_must_be_positive() {
    assert_problems(
        &users_with("auto_increment = { column = \"id\", sequence = \"s\", cache = 0 }"),
        &["t.toml:25: tables[0].auto_increment.cache: cache must be between 1 and 1000000000 (ids reserved at a time), got 0"],
    );
}

#[test]
fn unknown_keys_are_named() {
    assert_problems(
        &users_with("auto_increment = { column = \"id\", sequence = \"s\", cahce = 5 }"),
        &["t.toml:25: tables[0].auto_increment.cahce: unknown key (did you mean \"cache\"?)"],
    );
}

#[test]
fn a_sequence_is_no_configured_table() {
    assert_problems(
        &users_with("auto_increment = { column = \"id\", sequence = \"Orders\" }"),
        &["t.toml:25: tables[0].auto_increment.sequence: sequence \"Orders\" names a configured table: the sequence is a table of its own on the default shard (e.g. \"Orders_seq\")"],
    );
}

#[test]
fn reference_tables_have_none() {
    let text = base_with(
        USERS,
        "reference = true\nauto_increment = { column = \"id\", sequence = \"s\" }\n",
    );
    assert_problems(
        &text,
        &["t.toml:25: tables[0].auto_increment: a reference table (reference = true) is copied to every shard and has no auto_increment"],
    );
}
