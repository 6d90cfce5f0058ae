//! End-to-end test harness: a real MariaDB sandbox with the proxy in front of it, in-process.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::PathBuf;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use shardgate_config::Topology;
use shardgate_sandbox::{Sandbox, SandboxSpec};
use shardgate_server::Proxy;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub mod live_load;

pub struct TestEnv {
    pub sandbox: Sandbox,
    pub port: u16,
    pub config_path: PathBuf,
    pub topology: Arc<Topology>,
    /// The proxy serving `port` (its runtime changes on reload; `topology` is the first one).
    pub proxy: Arc<Proxy>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestEnv {
    /// This env's config with another listen port, written beside the sandbox (for a second
    /// proxy process over the same shards): the file and the port.
    pub fn second_proxy_config(&self) -> (PathBuf, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = std::fs::read_to_string(&self.config_path).unwrap();
        let listen = format!("listen = \"127.0.0.1:{}\"", self.port);
        let second = self.sandbox.dir().join("second.toml");
        std::fs::write(
            &second,
            text.replace(&listen, &format!("listen = \"127.0.0.1:{port}\"")),
        )
        .unwrap();
        (second, port)
    }

    /// `shards` × (primary + `replicas`), the sample schema (no rows), and the proxy on a free port.
    pub async fn start(shards: usize, replicas: usize) -> TestEnv {
        Self::start_with(shards, replicas, "").await
    }

    /// Like `start`, with `extra_toml` appended to the generated config (e.g. a `[backend.pool]` table).
    pub async fn start_with(shards: usize, replicas: usize, extra_toml: &str) -> TestEnv {
        Self::start_rendered(shards, replicas, |sandbox, listen| {
            sandbox.config_toml(listen) + extra_toml
        })
        .await
    }

    /// Like `start`, with the config `render(sandbox, proxy listen address)` returns.
    pub async fn start_rendered(
        shards: usize,
        replicas: usize,
        render: impl FnOnce(&Sandbox, &str) -> String,
    ) -> TestEnv {
        Self::start_spec(SandboxSpec::new(shards, replicas), render).await
    }

    /// Like `start_rendered`, for the sandbox `spec` describes.
    pub async fn start_spec(
        spec: SandboxSpec,
        render: impl FnOnce(&Sandbox, &str) -> String,
    ) -> TestEnv {
        let sandbox = Sandbox::start(spec).await.expect("sandbox starts");
        sandbox.create_sample_schema().await.expect("sample schema");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy port");
        let port = listener.local_addr().expect("local addr").port();
        let config_text = render(&sandbox, &format!("127.0.0.1:{port}"));
        let config_path = sandbox.dir().join("shardgate.toml");
        std::fs::write(&config_path, &config_text).expect("write config");
        let topology = shardgate_config::parse(&config_text, "shardgate.toml")
            .expect("sandbox config is valid");
        let proxy = Proxy::new(topology);
        let topology = proxy.runtime().topology.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(shardgate_server::serve(listener, proxy.clone(), async {
            let _ = stopped.await;
        }));
        TestEnv {
            sandbox,
            port,
            config_path,
            topology,
            proxy,
            stop: Some(stop),
        }
    }

    /// The shard that owns integer key `id` of sharded table `table`.
    pub fn shard_of(&self, table: &str, id: i128) -> usize {
        let rule = self.topology.table(table).expect("a sharded table");
        rule.shard_for(&shardgate_ring::KeyValue::Int(id))
            .expect("an integer key")
    }

    pub fn opts(&self) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(shardgate_sandbox::PROXY_USER))
            .pass(Some(shardgate_sandbox::PROXY_PASSWORD))
            .db_name(Some(shardgate_sandbox::DATABASE))
            .prefer_socket(false)
    }

    /// A mysql_async connection through the proxy.
    pub async fn connect(&self) -> Conn {
        Conn::new(Opts::from(self.opts()))
            .await
            .expect("connect through the proxy")
    }

    /// A mysql_async connection straight to a shard's primary (bypassing the proxy).
    pub async fn connect_primary(&self, shard: usize) -> Conn {
        let primary = &self.sandbox.shards()[shard].primary;
        let opts = OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(primary.port)
            .user(Some(shardgate_sandbox::BACKEND_USER))
            .pass(Some(shardgate_sandbox::BACKEND_PASSWORD))
            .db_name(Some(shardgate_sandbox::DATABASE))
            .prefer_socket(false);
        Conn::new(Opts::from(opts))
            .await
            .expect("connect to a primary")
    }

    /// After a change the servers read only when a connection opens (global privileges,
    /// `max_allowed_packet`): waits for the primaries' pooled connections out now (opened
    /// before it, e.g. by the schema cache's first read) to come back, then closes the idle
    /// ones, so every later statement runs on a connection opened after the change.
    pub async fn reopen_primary_connections(&self) {
        let runtime = self.proxy.runtime();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        for shard in 0..self.topology.shards.len() {
            let pool = runtime.primary(shard);
            while pool.stats().in_use > 0 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "a connection of shard {shard} stayed out of its pool"
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            pool.discard_idle();
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.sandbox.stop().await;
    }
}

/// The server error a result carries, as (code, SQLSTATE, message).
pub fn server_error<T: std::fmt::Debug>(result: mysql_async::Result<T>) -> (u16, String, String) {
    match result {
        Err(mysql_async::Error::Server(e)) => (e.code, e.state, e.message),
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// Users `1..=count` (`u{id}@x.test`, `n{id}`), each with two orders: `id * 10` of
/// `{id}.50` and `id * 10 + 1` of `1.00`.
pub async fn insert_users_with_orders(conn: &mut Conn, count: i64) {
    for id in 1..=count {
        conn.query_drop(format!(
            "INSERT INTO users (id, email, name) VALUES ({id}, 'u{id}@x.test', 'n{id}')"
        ))
        .await
        .unwrap();
        conn.query_drop(format!(
            "INSERT INTO orders (id, user_id, amount) VALUES ({}, {id}, {id}.50), ({}, {id}, 1.00)",
            id * 10,
            id * 10 + 1
        ))
        .await
        .unwrap();
    }
}

/// Runs one SQL text through a fresh connection and returns all rows as strings.
pub async fn rows(conn: &mut Conn, sql: &str) -> Vec<Vec<Option<String>>> {
    let rows: Vec<mysql_async::Row> = conn
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter()
        .map(|row| {
            (0..row.len())
                .map(|i| match row.as_ref(i) {
                    Some(mysql_async::Value::NULL) | None => None,
                    Some(mysql_async::Value::Bytes(b)) => {
                        Some(String::from_utf8_lossy(b).into_owned())
                    }
                    Some(v) => Some(v.as_sql(true)),
                })
                .collect()
        })
        .collect()
}

/// Runs the `shardgate` binary with `args`; its stdout, once it exited 0 (the test fails with
/// both outputs otherwise).
pub fn shardgate_cli<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A config over the sandbox's shards named `names`, in that order (`s0` the default shard),
/// their replicas too with `replicas`, with the sandbox's accounts; tables are appended by the
/// caller.
pub fn config_with_shards(
    sandbox: &Sandbox,
    listen: &str,
    names: &[&str],
    replicas: bool,
) -> String {
    let mut text = format!(
        "default_shard = \"s0\"\n[server]\nlisten = \"{listen}\"\n\
         [[users]]\nname = \"{}\"\npassword = \"{}\"\n\
         [backend]\nuser = \"{}\"\npassword = \"{}\"\ndatabase = \"{}\"\n",
        shardgate_sandbox::PROXY_USER,
        shardgate_sandbox::PROXY_PASSWORD,
        shardgate_sandbox::BACKEND_USER,
        shardgate_sandbox::BACKEND_PASSWORD,
        shardgate_sandbox::DATABASE,
    );
    for name in names {
        let shard = (sandbox.shards().iter())
            .find(|s| s.name == *name)
            .expect("a shard of the sandbox");
        let addrs: Vec<String> = (shard.replicas.iter())
            .filter(|_| replicas)
            .map(|r| format!("\"{}\"", r.addr()))
            .collect();
        text += &format!(
            "[[shards]]\nname = \"{}\"\nprimary = \"{}\"\nreplicas = [{}]\n",
            shard.name,
            shard.primary.addr(),
            addrs.join(", ")
        );
    }
    text
}

/// Runs `sql` in the sandbox's database on every shard's primary (replication carries it to
/// the replicas).
pub async fn on_every_primary(sandbox: &Sandbox, sql: &str) {
    for shard in sandbox.shards() {
        (sandbox)
            .exec_in(&shard.primary, shardgate_sandbox::DATABASE, sql)
            .await
            .unwrap();
    }
}

/// A `shardgate serve` child process; killed when dropped (also when the test panics).
pub struct ServeProcess(pub std::process::Child);

/// Starts `shardgate serve` on `config` (2 worker threads, no file polling), its log appended
/// to `log` (a restart keeps the earlier lines).
pub fn spawn_serve(config: &std::path::Path, log: &std::path::Path) -> ServeProcess {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_shardgate"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--config-poll-interval-ms", "0", "--worker-threads", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start shardgate serve");
    ServeProcess(child)
}

/// A connection, waiting (up to a minute) for a proxy that is starting or restarting.
pub async fn connect_when_up(opts: &Opts) -> Conn {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match Conn::new(opts.clone()).await {
            Ok(conn) => return conn,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no proxy answered: {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
