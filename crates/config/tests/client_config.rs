//! The client-facing keys: `[server] transaction_mode`, `tls_cert_file` and `tls_key_file`.

mod common;

use common::{base_with, problems, BASE};
use shardgate_config::TransactionMode;

fn server_with(extra: &str) -> String {
    base_with(
        "listen = \"127.0.0.1:6033\"",
        &format!("listen = \"127.0.0.1:6033\"\n{extra}"),
    )
}

#[test]
fn defaults_single_shard_transactions_and_no_tls() {
    let t = shardgate_config::parse(BASE, "t.toml").unwrap();
    assert_eq!(t.server.transaction_mode, TransactionMode::Single);
    assert_eq!(t.server.tls, None);
}

#[test]
fn transaction_mode_is_read_and_checked() {
    let t = shardgate_config::parse(&server_with("transaction_mode = \"multi\""), "t.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.transaction_mode, TransactionMode::Multi);
    let found = problems(&server_with("transaction_mode = \"2pc\""));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("t.toml:3: server.transaction_mode: unknown transaction_mode \"2pc\""),
        "{found:?}"
    );
}

#[test]
fn multi_shard_lock_wait_timeout_defaults_to_five_seconds_and_zero_turns_it_off() {
    let t = shardgate_config::parse(BASE, "t.toml").unwrap();
    assert_eq!(t.server.multi_shard_lock_wait_timeout, Some(5));
    let off = server_with("multi_shard_lock_wait_timeout_seconds = 0");
    let t = shardgate_config::parse(&off, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.server.multi_shard_lock_wait_timeout, None);
    let found = problems(&server_with("multi_shard_lock_wait_timeout_seconds = -1"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("t.toml:3: server.multi_shard_lock_wait_timeout_seconds: "),
        "{found:?}"
    );
}

#[test]
fn tls_files_must_exist_and_come_in_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("c.pem");
    let key = dir.path().join("k.pem");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\n").unwrap();
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let both = format!(
        "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        cert.display(),
        key.display()
    );
    let t =
        shardgate_config::parse(&server_with(&both), "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let tls = t.server.tls.expect("TLS configured");
    assert_eq!((tls.cert, tls.key), (cert.clone(), key));

    let found = problems(&server_with(&format!(
        "tls_cert_file = \"{}\"",
        cert.display()
    )));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("server.tls_key_file"), "{found:?}");

    let missing = format!(
        "tls_cert_file = \"{}\"\ntls_key_file = \"/no/such/key.pem\"",
        cert.display()
    );
    let found = problems(&server_with(&missing));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("t.toml:4: server.tls_key_file: no such file: /no/such/key.pem"),
        "{found:?}"
    );
}
