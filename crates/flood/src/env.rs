//! The flood's target: a MariaDB sandbox and the proxy binary in a process of its own (so its
//! resident set is its own), configured for the flood.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use mysql_async::{Opts, OptsBuilder};
use shardgate_sandbox::{Sandbox, SandboxSpec};

use crate::{Credentials, FloodError};

/// A sandbox with the proxy binary serving it.
pub struct FloodEnv {
    pub sandbox: Sandbox,
    pub proxy: Child,
    pub addr: SocketAddr,
    pub credentials: Credentials,
}

impl FloodEnv {
    /// Starts `shards` primaries and `binary serve` in front of them, with `server_settings`
    /// (TOML lines) added to `[server]`; returns once the proxy answers a login.
    pub async fn start(
        binary: &Path,
        shards: usize,
        server_settings: &str,
    ) -> Result<FloodEnv, FloodError> {
        let sandbox = Sandbox::start(SandboxSpec::new(shards, 0)).await?;
        sandbox.create_sample_schema().await?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let config = sandbox.config_toml(&addr.to_string()).replacen(
            "[server]\n",
            &format!("[server]\n{server_settings}\n"),
            1,
        );
        let config_path = sandbox.dir().join("flood.toml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(sandbox.dir().join("proxy.log"))?;
        let proxy = Command::new(binary)
            .args(["serve", "--config"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let env = FloodEnv {
            sandbox,
            proxy,
            addr,
            credentials: Credentials {
                user: shardgate_sandbox::PROXY_USER.into(),
                password: shardgate_sandbox::PROXY_PASSWORD.into(),
                database: shardgate_sandbox::DATABASE.into(),
            },
        };
        env.wait_until_serving().await?;
        Ok(env)
    }

    /// Options for a mysql_async client of the proxy.
    pub fn opts(&self) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname(self.addr.ip().to_string())
            .tcp_port(self.addr.port())
            .user(Some(&self.credentials.user))
            .pass(Some(&self.credentials.password))
            .db_name(Some(&self.credentials.database))
            .prefer_socket(false)
            .into()
    }

    pub fn proxy_pid(&self) -> u32 {
        self.proxy.id()
    }

    /// The proxy's log (its stderr).
    pub fn proxy_log(&self) -> String {
        std::fs::read_to_string(self.sandbox.dir().join("proxy.log")).unwrap_or_default()
    }

    async fn wait_until_serving(&self) -> Result<(), FloodError> {
        let mut last = None;
        for _ in 0..600 {
            match mysql_async::Conn::new(self.opts()).await {
                Ok(conn) => return Ok(conn.disconnect().await?),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(FloodError::NotServing(format!("{last:?}")))
    }

    /// Stops the proxy and the sandbox.
    pub async fn stop(mut self) {
        let _ = self.proxy.kill();
        let _ = self.proxy.wait();
        self.sandbox.stop().await;
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
