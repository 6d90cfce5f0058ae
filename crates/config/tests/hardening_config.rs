//! The hardening keys: `[server] handshake_timeout_ms`, `max_allowed_packet`, and
//! `[[users]] password` given as a mysql_native_password hash.

mod common;

use std::time::Duration;

use common::{assert_problems, base_with, BASE};

const LISTEN: &str = "listen = \"127.0.0.1:6033\"";

#[test]
fn defaults_are_ten_seconds_and_mariadbs_sixteen_mib() {
    let t = shardgate_config::parse(BASE, "t.toml").unwrap();
    assert_eq!(t.server.handshake_timeout, Duration::from_secs(10));
    assert_eq!(t.server.max_allowed_packet, 16 * 1024 * 1024);
}

#[test]
fn handshake_timeout_and_max_allowed_packet_are_read() {
    let text = base_with(
        LISTEN,
        &format!("{LISTEN}\nhandshake_timeout_ms = 500\nmax_allowed_packet = 1048576"),
    );
    let t = shardgate_config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.handshake_timeout, Duration::from_millis(500));
    assert_eq!(t.server.max_allowed_packet, 1 << 20);
}

#[test]
fn handshake_timeout_must_be_positive() {
    for bad in ["0", "-5"] {
        let text = base_with(LISTEN, &format!("{LISTEN}\nhandshake_timeout_ms = {bad}"));
        assert_problems(
            &text,
            &[&format!(
                "t.toml:3: server.handshake_timeout_ms: must be greater than 0 (got {bad})"
            )],
        );
    }
}

#[test]
fn max_allowed_packet_is_bounded_as_in_mariadb() {
    for bad in ["0", "1023", "-1", "1073741825"] {
        let text = base_with(LISTEN, &format!("{LISTEN}\nmax_allowed_packet = {bad}"));
        assert_problems(
            &text,
            &[&format!(
                "t.toml:3: server.max_allowed_packet: must be between 1024 and 1073741824 bytes, as in MariaDB (got {bad})"
            )],
        );
    }
    for good in ["1024", "1073741824"] {
        let text = base_with(LISTEN, &format!("{LISTEN}\nmax_allowed_packet = {good}"));
        assert_problems(&text, &[]);
    }
}

#[test]
fn a_password_may_be_a_native_hash() {
    for hash in [
        "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
        "*2470c0c06dee42fd1618bb99005adca2ec9d1e19",
    ] {
        let text = base_with("password = \"secret\"", &format!("password = \"{hash}\""));
        let t = shardgate_config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.users[0].password, hash);
    }
    // Cleartext passwords that merely start with `*` stay cleartext.
    for clear in ["*", "*secret", "*not a hash at all"] {
        let text = base_with("password = \"secret\"", &format!("password = \"{clear}\""));
        assert_problems(&text, &[]);
    }
}

#[test]
fn a_malformed_hash_names_its_line_and_key() {
    let short = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E1";
    let text = base_with("password = \"secret\"", &format!("password = \"{short}\""));
    assert_problems(
        &text,
        &["t.toml:6: users[0].password: malformed mysql_native_password hash: `*` must be followed by 40 hex digits (got 39)"],
    );
    let not_hex = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1EXY";
    let text = base_with(
        "password = \"secret\"",
        &format!("password = \"{not_hex}\""),
    );
    assert_problems(
        &text,
        &["t.toml:6: users[0].password: malformed mysql_native_password hash: `*` must be followed by 40 hex digits (0-9, A-F)"],
    );
}
