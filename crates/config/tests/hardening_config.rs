//! The hardening keys: `[server] handshake_timeout_ms`, `max_allowed_packet`,
//! `max_client_connections`, `max_connect_errors`, `host_block_ms`, `require_tls`,
//! `query_timeout_ms`, `client_write_timeout_ms`;
//! `[[users]] password` given as a mysql_native_password hash, `[[users]] require_tls`;
//! `[backend] tls` and `tls_ca_file`.

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

/// A file that exists, to stand for a PEM file (validation only checks that it is there).
const SOME_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");

/// `BASE` with TLS toward clients configured.
fn with_client_tls(extra_server: &str) -> String {
    base_with(
        LISTEN,
        &format!("{LISTEN}\ntls_cert_file = \"{SOME_FILE}\"\ntls_key_file = \"{SOME_FILE}\"\n{extra_server}"),
    )
}

#[test]
fn connection_and_login_limits_default_to_ten_thousand_and_mariadbs_hundred() {
    let t = shardgate_config::parse(BASE, "t.toml").unwrap();
    assert_eq!(t.server.max_client_connections, 10_000);
    assert_eq!(t.server.max_connect_errors, 100);
    assert_eq!(t.server.host_block, Duration::from_secs(300));
    assert!(!t.server.require_tls);
    assert!(!t.users[0].require_tls);
    assert_eq!(t.backend.tls, shardgate_config::BackendTls::Disabled);
}

#[test]
fn connection_and_login_limits_are_read() {
    let text = base_with(
        LISTEN,
        &format!(
            "{LISTEN}\nmax_client_connections = 5\nmax_connect_errors = 0\nhost_block_ms = 1500"
        ),
    );
    let t = shardgate_config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.max_client_connections, 5);
    assert_eq!(t.server.max_connect_errors, 0, "0: no limit");
    assert_eq!(t.server.host_block, Duration::from_millis(1500));
}

#[test]
fn connection_and_login_limits_must_make_sense() {
    let text = base_with(
        LISTEN,
        &format!(
            "{LISTEN}\nmax_client_connections = 0\nmax_connect_errors = -1\nhost_block_ms = 0"
        ),
    );
    assert_problems(
        &text,
        &[
            "t.toml:3: server.max_client_connections: must be greater than 0 (got 0)",
            "t.toml:4: server.max_connect_errors: must not be negative (got -1; 0 turns the limit off)",
            "t.toml:5: server.host_block_ms: must be greater than 0 (got 0)",
        ],
    );
}

#[test]
fn tls_may_be_required_of_every_client_or_of_one_account() {
    let text = with_client_tls("require_tls = true");
    let t = shardgate_config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(t.server.require_tls);
    let text = with_client_tls("").replacen(
        "password = \"secret\"",
        "password = \"secret\"\nrequire_tls = true",
        1,
    );
    let t = shardgate_config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(!t.server.require_tls);
    assert!(t.users[0].require_tls);
}

#[test]
fn requiring_tls_without_a_certificate_is_refused() {
    let text = base_with(LISTEN, &format!("{LISTEN}\nrequire_tls = true"));
    assert_problems(
        &text,
        &["t.toml:3: server.require_tls: require_tls needs tls_cert_file and tls_key_file: without a certificate no client could log in"],
    );
    let text = base_with(
        "password = \"secret\"",
        "password = \"secret\"\nrequire_tls = true",
    );
    assert_problems(
        &text,
        &["t.toml:7: users[0].require_tls: user \"app\" requires TLS, but [server] sets no tls_cert_file and tls_key_file: it could never log in"],
    );
}

#[test]
fn backend_tls_modes_are_read() {
    use shardgate_config::BackendTls;
    let with = |lines: &str| {
        let text = base_with(
            "database = \"app\"",
            &format!("database = \"app\"\n{lines}"),
        );
        shardgate_config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(with("tls = \"disabled\"").backend.tls, BackendTls::Disabled);
    assert_eq!(
        with("tls = \"preferred\"").backend.tls,
        BackendTls::Preferred
    );
    assert_eq!(with("tls = \"required\"").backend.tls, BackendTls::Required);
    let ca = std::path::PathBuf::from(SOME_FILE);
    let t = with(&format!(
        "tls = \"verify_ca\"\ntls_ca_file = \"{SOME_FILE}\""
    ));
    assert_eq!(t.backend.tls, BackendTls::VerifyCa(ca.clone()));
    let t = with(&format!(
        "tls = \"verify_identity\"\ntls_ca_file = \"{SOME_FILE}\""
    ));
    assert_eq!(t.backend.tls, BackendTls::VerifyIdentity(ca));
    assert_eq!(t.backend.tls.mode(), "verify_identity");
}

#[test]
fn backend_tls_problems_name_their_line() {
    let with = |lines: &str| {
        base_with(
            "database = \"app\"",
            &format!("database = \"app\"\n{lines}"),
        )
    };
    assert_problems(
        &with("tls = \"on\""),
        &["t.toml:12: backend.tls: unknown TLS mode \"on\" (expected one of: disabled, preferred, required, verify_ca, verify_identity)"],
    );
    assert_problems(
        &with("tls = \"verify_identity\""),
        &["t.toml:12: backend.tls_ca_file: tls = \"verify_identity\" checks the servers' certificates against a CA: set tls_ca_file (a PEM file)"],
    );
    assert_problems(
        &with(&format!("tls = \"required\"\ntls_ca_file = \"{SOME_FILE}\"")),
        &["t.toml:13: backend.tls_ca_file: tls_ca_file is only read with tls = \"verify_ca\" or \"verify_identity\" (tls is \"required\"): certificates would not be checked"],
    );
    assert_problems(
        &with("tls = \"verify_ca\"\ntls_ca_file = \"/nonexistent/ca.pem\""),
        &["t.toml:13: backend.tls_ca_file: no such file: /nonexistent/ca.pem"],
    );
}

#[test]
fn a_printed_topology_shows_no_password() {
    let t = shardgate_config::parse(BASE, "t.toml").unwrap();
    let printed = format!("{t:?}");
    assert!(printed.contains("shardgate"), "the backend user is shown");
    assert!(!printed.contains("secret"), "a client password: {printed}");
    assert!(
        !printed.contains("\"pw\""),
        "the backend password: {printed}"
    );
}

#[test]
fn query_and_client_write_timeouts_are_read() {
    let t = shardgate_config::parse(BASE, "t.toml").unwrap();
    assert_eq!(t.server.query_timeout, None);
    assert_eq!(t.server.client_write_timeout, Duration::from_secs(60));
    let text = base_with(
        LISTEN,
        &format!("{LISTEN}\nquery_timeout_ms = 1500\nclient_write_timeout_ms = 250"),
    );
    let t = shardgate_config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.query_timeout, Some(Duration::from_millis(1500)));
    assert_eq!(t.server.client_write_timeout, Duration::from_millis(250));
    let off = base_with(LISTEN, &format!("{LISTEN}\nquery_timeout_ms = 0"));
    let t = shardgate_config::parse(&off, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.query_timeout, None);
    assert_problems(
        &base_with(LISTEN, &format!("{LISTEN}\nquery_timeout_ms = -1")),
        &["t.toml:3: server.query_timeout_ms: must be 0 (no bound) or more (got -1)"],
    );
    assert_problems(
        &base_with(LISTEN, &format!("{LISTEN}\nclient_write_timeout_ms = 0")),
        &["t.toml:3: server.client_write_timeout_ms: must be greater than 0 (got 0)"],
    );
}
