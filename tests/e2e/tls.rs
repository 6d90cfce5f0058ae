//! TLS between clients and the proxy: a configured certificate, CLIENT_SSL offered, the
//! SSLRequest upgrade, certificate verification by real clients, and plain clients still served.

use std::process::Command;

use crate::common::TestEnv;

/// A self-signed certificate for 127.0.0.1 written as PEM files into `dir`: (cert, key).
fn certificate(dir: &std::path::Path) -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("a certificate");
    let cert = dir.join("proxy-cert.pem");
    let key = dir.join("proxy-key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert.display().to_string(), key.display().to_string())
}

fn mariadb(port: u16, args: &[&str], sql: &str) -> (bool, String) {
    let output = Command::new("mariadb")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-uapp",
            "-papp",
            "app",
        ])
        .args(args)
        .args(["-e", sql])
        .output()
        .expect("the mariadb client runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_connect_over_tls_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let server = format!("[server]\ntls_cert_file = \"{cert}\"\ntls_key_file = \"{key}\"\n");
    let env = TestEnv::start_rendered(2, 0, |sandbox, listen| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", &server, 1)
    })
    .await;
    let port = env.port;
    tokio::task::spawn_blocking(move || {
        let ca = format!("--ssl-ca={cert}");
        let verified = [ca.as_str(), "--ssl", "--ssl-verify-server-cert"];
        // The CLI verifies the certificate against it as CA and reports the cipher in use.
        let (ok, out) = mariadb(port, &verified, "status");
        assert!(ok, "{out}");
        assert!(out.contains("Cipher in use is"), "not encrypted:\n{out}");
        // Queries over TLS reach both shards.
        let sql = "INSERT INTO users (id, email, name) VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B'), (3, 'c@x', 'C'); SELECT COUNT(*) FROM users";
        let (ok, out) = mariadb(port, &verified, sql);
        assert!(ok, "{out}");
        assert!(out.contains('3'), "{out}");
        // A client that does not ask for TLS is served in plain text.
        let (ok, out) = mariadb(port, &["--skip-ssl"], "status");
        assert!(ok, "{out}");
        assert!(out.contains("SSL:\t\t\tNot in use"), "{out}");
        // A client that trusts another CA refuses the proxy's certificate.
        let other = tempfile::tempdir().unwrap();
        let (other_cert, _) = certificate(other.path());
        let other_ca = format!("--ssl-ca={other_cert}");
        let (ok, out) = mariadb(port, &[&other_ca, "--ssl", "--ssl-verify-server-cert"], "SELECT 1");
        assert!(!ok, "a certificate from another CA must not verify:\n{out}");
        // PyMySQL over TLS, verifying the certificate.
        let script = format!(
            r#"
import ssl, pymysql
ctx = ssl.create_default_context(cafile="{cert}")
c = pymysql.connect(host="127.0.0.1", port={port}, user="app", password="app", database="app", ssl=ctx)
cur = c.cursor()
cur.execute("SELECT name FROM users WHERE id = %s", (2,))
assert cur.fetchall() == (("B",),)
assert c._sock.version().startswith("TLS"), c._sock.version()
print("pymysql tls ok", c._sock.version())
"#
        );
        let output = Command::new("python3").args(["-c", &script]).output().unwrap();
        assert!(
            output.status.success(),
            "PyMySQL over TLS failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    })
    .await
    .unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_requiring_tls_where_none_is_configured_does_not_connect() {
    let env = TestEnv::start(1, 0).await;
    let port = env.port;
    tokio::task::spawn_blocking(move || {
        let (ok, out) = mariadb(port, &["--ssl", "--ssl-verify-server-cert"], "SELECT 1");
        // The proxy offers no CLIENT_SSL: the client refuses to go on without encryption.
        assert!(!ok, "{out}");
        assert!(out.contains("SSL"), "{out}");
    })
    .await
    .unwrap();
    env.stop().await;
}

#[test]
fn check_config_loads_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.toml"))
            .unwrap();
    let check = |key: &str| {
        let config = dir.path().join("shardgate.toml");
        let server = format!("[server]\ntls_cert_file = \"{cert}\"\ntls_key_file = \"{key}\"\n");
        std::fs::write(&config, example.replacen("[server]\n", &server, 1)).unwrap();
        Command::new(env!("CARGO_BIN_EXE_shardgate"))
            .arg("check-config")
            .arg(&config)
            .output()
            .unwrap()
    };
    let good = check(&key);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    // A key file that holds no key: named, with the file.
    let bad_key = dir.path().join("not-a-key.pem");
    std::fs::write(&bad_key, "not a key\n").unwrap();
    let bad = check(&bad_key.display().to_string());
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("server.tls_cert_file") && stderr.contains("not-a-key.pem"),
        "{stderr}"
    );
}
