//! The operations keys: `[server] metrics_listen`, `slow_query_ms` and `[[users]] admin`.

mod common;

use std::time::Duration;

use common::{assert_problems, base_with, problems, BASE};

#[test]
fn defaults_no_endpoint_one_second_and_no_admins() {
    let t = shardgate_config::parse(BASE, "t.toml").unwrap();
    assert_eq!(t.server.metrics_listen, None);
    assert_eq!(t.server.slow_query, Duration::from_secs(1));
    assert!(t.users.iter().all(|u| !u.admin));
}

#[test]
fn operations_keys_are_read() {
    let text = base_with(
        "listen = \"127.0.0.1:6033\"",
        "listen = \"127.0.0.1:6033\"\nmetrics_listen = \"0.0.0.0:9033\"\nslow_query_ms = 250",
    )
    .replacen(
        "password = \"secret\"",
        "password = \"secret\"\nadmin = true",
        1,
    );
    let t = shardgate_config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.metrics_listen.as_deref(), Some("0.0.0.0:9033"));
    assert_eq!(t.server.slow_query, Duration::from_millis(250));
    assert!(t.users[0].admin);
}

#[test]
fn bad_metrics_listen_names_its_line() {
    let text = base_with(
        "listen = \"127.0.0.1:6033\"",
        "listen = \"127.0.0.1:6033\"\nmetrics_listen = \"nowhere\"",
    );
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("t.toml:3: server.metrics_listen: "),
        "{found:?}"
    );
}

#[test]
fn zero_slow_query_ms_is_refused() {
    assert_problems(
        &base_with(
            "listen = \"127.0.0.1:6033\"",
            "listen = \"127.0.0.1:6033\"\nslow_query_ms = 0",
        ),
        &["t.toml:3: server.slow_query_ms: must be greater than 0 (got 0)"],
    );
}

#[test]
fn admin_must_be_a_bool() {
    let text = base_with(
        "password = \"secret\"",
        "password = \"secret\"\nadmin = \"yes\"",
    );
    assert_problems(
        &text,
        &["t.toml:7: users[0].admin: invalid type: string \"yes\", expected a boolean"],
    );
}
