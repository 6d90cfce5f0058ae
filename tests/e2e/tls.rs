//! TLS between clients and the proxy: a configured certificate, CLIENT_SSL offered, the
//! SSLRequest upgrade, certificate verification by real clients, and plain clients still served;
//! TLS required of every client or of one account; a renewed certificate served without a
//! restart. TLS between the proxy and servers that require it, in each `[backend] tls` mode; a
//! renewed backend CA file or a changed mode reaching new backend connections on reload.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use shardgate_sandbox::{SandboxSpec, ServerCertificate};

use crate::common::{server_error, TestEnv};

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

/// A CA of its own, written as a PEM file into `dir`: the file's path, and the CA to sign
/// certificates with.
fn new_ca(dir: &Path, name: &str) -> (String, CertifiedIssuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, ca.pem()).unwrap();
    (path.display().to_string(), ca)
}

/// A certificate for `names` signed by `ca`, written with its key into `dir`.
fn signed_certificate(
    ca: &CertifiedIssuer<'_, KeyPair>,
    names: &[&str],
    dir: &Path,
    name: &str,
) -> ServerCertificate {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, ca)
        .unwrap();
    let files = ServerCertificate {
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

/// `mariadb` as `user`/`password` (`-e sql`), on a blocking thread.
async fn mariadb_as(port: u16, user: &str, args: &[&str], sql: &str) -> (bool, String) {
    let mut all: Vec<String> = vec![format!("-u{user}"), format!("-p{user}")];
    all.extend(args.iter().map(|a| a.to_string()));
    let sql = sql.to_owned();
    tokio::task::spawn_blocking(move || {
        let output = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-P", &port.to_string(), "app"])
            .args(&all)
            .args(["-e", &sql])
            .output()
            .expect("the mariadb client runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_logins_are_refused_where_tls_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let server = format!("[server]\ntls_cert_file = \"{cert}\"\ntls_key_file = \"{key}\"\n");
    let users = "\n[[users]]\nname = \"secure\"\npassword = \"secure\"\nrequire_tls = true\n";
    let env = TestEnv::start_rendered(1, 0, |sandbox, listen| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", &server, 1)
            + users
    })
    .await;
    let port = env.port;
    let ca = format!("--ssl-ca={cert}");
    let tls: &[&str] = &[&ca, "--ssl", "--ssl-verify-server-cert"];
    let plain: &[&str] = &["--skip-ssl"];
    let denied = |user: &str| {
        format!(
            "ERROR 1045 (28000): Access denied for user '{user}'@'127.0.0.1' (using password: YES)"
        )
    };

    // One account requires TLS: plain, it gets MariaDB's answer to an account REQUIRE SSL.
    let (ok, out) = mariadb_as(port, "secure", plain, "SELECT 1").await;
    assert!(!ok && out.contains(&denied("secure")), "{out}");
    let (ok, out) = mariadb_as(port, "secure", tls, "SELECT 'over tls'").await;
    assert!(ok && out.contains("over tls"), "{out}");
    let (ok, out) = mariadb_as(port, "app", plain, "SELECT 'plain app'").await;
    assert!(ok && out.contains("plain app"), "the other account: {out}");
    // Changing user into it on a plain connection is refused too.
    let mut conn = env.connect().await;
    let change = mysql_async::ChangeUserOpts::default()
        .with_user(Some("secure".into()))
        .with_pass(Some("secure".into()));
    assert!(conn.change_user(change).await.is_err());
    drop(conn);

    // `[server] require_tls`: every account, from the next connection on (a reload).
    let text = std::fs::read_to_string(&env.config_path).unwrap();
    let required = text.replacen("[server]\n", "[server]\nrequire_tls = true\n", 1);
    std::fs::write(&env.config_path, required).unwrap();
    env.proxy.reload_from(&env.config_path).await.unwrap();
    let (ok, out) = mariadb_as(port, "app", plain, "SELECT 1").await;
    assert!(!ok && out.contains(&denied("app")), "{out}");
    let (code, ..) = server_error(Conn::new(Opts::from(env.opts())).await);
    assert_eq!(code, 1045);
    let (ok, out) = mariadb_as(port, "app", tls, "SHOW STATUS LIKE 'Ssl_cipher'").await;
    assert!(ok, "{out}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_to_new_connections_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_a, issuer_a) = new_ca(dir.path(), "ca-a");
    let (ca_b, issuer_b) = new_ca(dir.path(), "ca-b");
    let first = signed_certificate(&issuer_a, &["127.0.0.1"], dir.path(), "a");
    let renewed = signed_certificate(&issuer_b, &["127.0.0.1"], dir.path(), "b");
    // The files the config names; renewing replaces them (as cert-manager or certbot do).
    let cert = dir.path().join("proxy-cert.pem");
    let key = dir.path().join("proxy-key.pem");
    let install = |files: &ServerCertificate| {
        for (from, to) in [(&files.cert, &cert), (&files.key, &key)] {
            let next = to.with_extension("next");
            std::fs::copy(from, &next).unwrap();
            std::fs::rename(&next, to).unwrap();
        }
    };
    install(&first);
    let server = format!(
        "[server]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let env = TestEnv::start_rendered(1, 0, |sandbox, listen| {
        sandbox
            .config_toml(listen)
            .replacen("[server]\n", &server, 1)
    })
    .await;
    tokio::spawn(shardgate_server::watch_config(
        env.proxy.clone(),
        env.config_path.clone(),
        Duration::from_millis(100),
    ));
    let verified_by = |ca: &str| {
        let ca = format!("--ssl-ca={ca}");
        async move {
            let args = [ca.as_str(), "--ssl", "--ssl-verify-server-cert"];
            mariadb_as(env.port, "app", &args, "SELECT 1").await
        }
    };
    assert!(verified_by(&ca_a).await.0);
    assert!(!verified_by(&ca_b).await.0);

    install(&renewed);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !verified_by(&ca_b).await.0 {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate is never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, out) = verified_by(&ca_a).await;
    assert!(!ok, "the old certificate is no longer served: {out}");
    env.stop().await;
}

/// A proxy serving `config` (a complete config file) in this process, on a free port, once it
/// has checked its endpoints.
async fn proxy_for(config: &str) -> u16 {
    let topology = shardgate_config::parse(config, "proxy.toml").unwrap_or_else(|e| panic!("{e}"));
    let proxy = shardgate_server::Proxy::new(topology);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(shardgate_server::serve(
        listener,
        proxy,
        std::future::pending(),
    ));
    port
}

/// What `sql` answers through the proxy on `port`: its first row's first column.
async fn first_cell(port: u16, sql: &str) -> mysql_async::Result<Option<String>> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(shardgate_sandbox::PROXY_USER))
        .pass(Some(shardgate_sandbox::PROXY_PASSWORD))
        .db_name(Some(shardgate_sandbox::DATABASE))
        .prefer_socket(false);
    let mut conn = Conn::new(Opts::from(opts)).await?;
    let row: Option<mysql_async::Row> = conn.query_first(sql).await?;
    Ok(row.and_then(|r| r.get::<Option<String>, _>(0).flatten()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_connections_use_tls_as_configured_with_servers_requiring_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, issuer) = new_ca(dir.path(), "backend-ca");
    let (other_ca, _) = new_ca(dir.path(), "other-ca");
    // The servers' certificate names 127.0.0.1, not `localhost`.
    let spec = SandboxSpec {
        tls: Some(signed_certificate(
            &issuer,
            &["127.0.0.1"],
            dir.path(),
            "server",
        )),
        ..SandboxSpec::new(2, 0)
    };
    let verify_identity = format!("tls = \"verify_identity\"\ntls_ca_file = \"{ca}\"\n");
    let with_backend = |config: &str, tls: &str| {
        config.replacen(
            "database = \"app\"\n",
            &format!("database = \"app\"\n{tls}"),
            1,
        ) + "\n[[users]]\nname = \"admin\"\npassword = \"admin\"\nadmin = true\n"
    };
    let env = TestEnv::start_spec(spec, |sandbox, listen| {
        with_backend(&sandbox.config_toml(listen), &verify_identity)
    })
    .await;
    // From now on the proxy's account logs in over TLS only.
    for shard in env.sandbox.shards() {
        let sql = "ALTER USER 'shardgate'@'127.0.0.1' REQUIRE SSL";
        env.sandbox.exec(&shard.primary, sql).await.unwrap();
    }
    // The endpoints named by `host` (the listen address is not used: `proxy_for` binds).
    let config = |tls: &str, host: &str| {
        let text = with_backend(&env.sandbox.config_toml("127.0.0.1:0"), tls);
        text.replace("\"127.0.0.1:", &format!("\"{host}:"))
    };
    let version = "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_VERSION'";

    // Fresh pools, checking the certificate and its name: both shards answer, over TLS.
    let port = proxy_for(&config(&verify_identity, "127.0.0.1")).await;
    let tls_version = first_cell(port, version).await.unwrap();
    assert!(
        tls_version
            .as_deref()
            .is_some_and(|v| v.starts_with("TLSv1.")),
        "{tls_version:?}"
    );
    let insert = "INSERT INTO users (id, email, name) VALUES (1, 'a', 'A'), (2, 'b', 'B'), (3, 'c', 'C'), (4, 'd', 'D')";
    first_cell(port, insert).await.unwrap();
    assert_eq!(
        first_cell(port, "SELECT COUNT(*) FROM users")
            .await
            .unwrap(),
        Some("4".into()),
        "a scatter over both shards"
    );
    // Their health checks log in over TLS too: every endpoint is up.
    let mut admin = Conn::new(Opts::from(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("admin"))
            .pass(Some("admin"))
            .prefer_socket(false),
    ))
    .await
    .unwrap();
    let statuses: Vec<mysql_async::Row> = admin.query("SHOW SHARDGATE SHARDS").await.unwrap();
    for row in &statuses {
        let status: String = row.get("status").unwrap();
        assert_eq!(status, "up", "{row:?}");
    }
    drop(admin);

    // `verify_ca` checks the signature, not the name: `localhost` is served...
    let verify_ca = format!("tls = \"verify_ca\"\ntls_ca_file = \"{ca}\"\n");
    let port = proxy_for(&config(&verify_ca, "localhost")).await;
    assert_eq!(
        first_cell(port, "SELECT 'ca'").await.unwrap(),
        Some("ca".into())
    );
    // ... and so is `required`, which checks nothing but still encrypts.
    let port = proxy_for(&config("tls = \"required\"\n", "localhost")).await;
    let tls_version = first_cell(port, version).await.unwrap();
    assert!(tls_version.is_some_and(|v| v.starts_with("TLSv1.")));

    // Refused: plain connections, a certificate from another CA, a name it does not hold.
    let refusals = [
        config("", "127.0.0.1"),
        config(
            &format!("tls = \"verify_ca\"\ntls_ca_file = \"{other_ca}\"\n"),
            "127.0.0.1",
        ),
        config(&verify_identity, "localhost"),
    ];
    for config in refusals {
        let port = proxy_for(&config).await;
        let (code, _, message) = server_error(first_cell(port, "SELECT 1").await);
        assert!(code == 1045 || code == 1429, "{code} {message}\n{config}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_backend_ca_or_a_changed_tls_mode_reaches_new_backend_connections_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, issuer) = new_ca(dir.path(), "backend-ca");
    let (other_ca, _) = new_ca(dir.path(), "other-ca");
    let spec = SandboxSpec {
        tls: Some(signed_certificate(
            &issuer,
            &["127.0.0.1"],
            dir.path(),
            "server",
        )),
        ..SandboxSpec::new(1, 0)
    };
    // The CA file the config names; renewing it replaces its bytes (the config stays as it is).
    let ca_file = dir.path().join("ca.pem");
    let install = |from: &str| {
        let next = ca_file.with_extension("next");
        std::fs::copy(from, &next).unwrap();
        std::fs::rename(&next, &ca_file).unwrap();
    };
    install(&ca);
    let verify_ca = format!(
        "tls = \"verify_ca\"\ntls_ca_file = \"{}\"\n",
        ca_file.display()
    );
    let env = TestEnv::start_spec(spec, |sandbox, listen| {
        sandbox.config_toml(listen).replacen(
            "database = \"app\"\n",
            &format!("database = \"app\"\n{verify_ca}"),
            1,
        )
    })
    .await;
    let sql = "ALTER USER 'shardgate'@'127.0.0.1' REQUIRE SSL";
    env.sandbox
        .exec(&env.sandbox.shards()[0].primary, sql)
        .await
        .unwrap();
    let query = || first_cell(env.port, "SELECT 'served'");
    let refused = |what: &str, result: mysql_async::Result<Option<String>>| {
        let (code, _, message) = server_error(result);
        assert!(code == 1045 || code == 1429, "{what}: {code} {message}");
    };
    assert_eq!(query().await.unwrap().as_deref(), Some("served"));

    // A CA that did not sign the servers' certificate, then a reload (as on SIGHUP) of the same
    // config: new backend connections check against it, and are refused.
    install(&other_ca);
    env.proxy.reload_from(&env.config_path).await.unwrap();
    refused(
        "a CA that did not sign the servers' certificate",
        query().await,
    );

    // The file watcher sees the CA file change back by itself.
    tokio::spawn(shardgate_server::watch_config(
        env.proxy.clone(),
        env.config_path.clone(),
        Duration::from_millis(100),
    ));
    // The watcher notes the files' bytes when it starts: change them after that.
    tokio::time::sleep(Duration::from_secs(1)).await;
    install(&ca);
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = query().await {
        assert!(
            Instant::now() < deadline,
            "the renewed CA is never used: {e}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The mode: plain connections, which the account refuses; then `required` again.
    let config = std::fs::read_to_string(&env.config_path).unwrap();
    for (mode, served) in [("disabled", false), ("required", true)] {
        let next = env.config_path.with_extension("next");
        let tls = format!("tls = \"{mode}\"\n");
        std::fs::write(&next, config.replacen(&verify_ca, &tls, 1)).unwrap();
        std::fs::rename(&next, &env.config_path).unwrap();
        env.proxy.reload_from(&env.config_path).await.unwrap();
        match served {
            true => assert_eq!(query().await.unwrap().as_deref(), Some("served")),
            false => refused("tls = \"disabled\"", query().await),
        }
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls_is_used_in_plain_text_when_preferred_and_refused_when_required() {
    let env = TestEnv::start(1, 0).await;
    let config = |tls: &str| {
        env.sandbox.config_toml("127.0.0.1:0").replacen(
            "database = \"app\"\n",
            &format!("database = \"app\"\n{tls}"),
            1,
        ) + "\n[[users]]\nname = \"admin\"\npassword = \"admin\"\nadmin = true\n"
    };
    let version = "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_VERSION'";
    let port = proxy_for(&config("tls = \"preferred\"\n")).await;
    assert_eq!(
        first_cell(port, version).await.unwrap().as_deref(),
        Some(""),
        "served in plain text"
    );
    // The health check falls back to plain text too.
    let mut admin = Conn::new(Opts::from(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("admin"))
            .pass(Some("admin"))
            .prefer_socket(false),
    ))
    .await
    .unwrap();
    let endpoints: Vec<mysql_async::Row> = admin.query("SHOW SHARDGATE SHARDS").await.unwrap();
    for row in &endpoints {
        assert_eq!(
            row.get::<String, _>("status").as_deref(),
            Some("up"),
            "{row:?}"
        );
    }
    drop(admin);
    let port = proxy_for(&config("tls = \"required\"\n")).await;
    let (code, _, message) = server_error(first_cell(port, "SELECT 1").await);
    assert_eq!(code, 1429, "{message}");
    assert!(
        message.contains("the server does not offer TLS, which [backend] tls requires"),
        "{message}"
    );
    env.stop().await;
}

#[test]
fn check_config_loads_the_backend_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = new_ca(dir.path(), "ca");
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.toml"))
            .unwrap();
    let check = |ca_file: &str| {
        let config = dir.path().join("shardgate.toml");
        let tls = format!("tls = \"verify_identity\"\ntls_ca_file = \"{ca_file}\"\n");
        std::fs::write(&config, example.replacen("tls = \"disabled\"\n", &tls, 1)).unwrap();
        Command::new(env!("CARGO_BIN_EXE_shardgate"))
            .arg("check-config")
            .arg(&config)
            .output()
            .unwrap()
    };
    let good = check(&ca);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "no certificate here\n").unwrap();
    let bad = check(&not_pem.display().to_string());
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("backend.tls_ca_file") && stderr.contains("not-a-ca.pem"),
        "{stderr}"
    );
}
