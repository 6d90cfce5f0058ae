//! Starts and stops local MariaDB topologies for the demo, the end-to-end tests and the
//! benchmarks: N shards of 1 primary + R replicas under GTID replication, every `mariadbd` on a
//! free 127.0.0.1 port in its own directory, never left running.
//!
//! ```no_run
//! # async fn demo() -> Result<(), shardgate_sandbox::SandboxError> {
//! use shardgate_sandbox::{Sandbox, SandboxSpec};
//! let mut sb = Sandbox::start(SandboxSpec::default()).await?; // 2 shards × (1 + 1)
//! let s0 = &sb.shards()[0];
//! sb.exec_in(&s0.primary, "app", "CREATE TABLE t (id INT PRIMARY KEY)").await?;
//! sb.wait_replicas_synced(std::time::Duration::from_secs(10)).await?;
//! println!("{}", sb.config_toml("127.0.0.1:6033"));
//! sb.stop().await;
//! # Ok(()) }
//! ```
//!
//! How it is fast: `mariadb-install-db` runs once into a cached template datadir (accounts and
//! the `app` database included), each instance gets a sparse copy, all servers start at once.
//! How it is safe: servers die with the sandbox (`Drop`), with the process (`PR_SET_PDEATHSIG`),
//! and ports lost to another process are retried on new ones.

mod binaries;
mod config;
mod error;
mod faults;
mod instance;
mod launch;
mod one_server;
mod ports;
mod process;
mod query;
mod sandbox;
mod stale;
mod template;

pub use config::{PROXY_PASSWORD, PROXY_USER, SAMPLE_SCHEMA};
pub use error::SandboxError;
pub use instance::{Instance, Role};
pub use one_server::against_one_server;
pub use process::{pid_alive, proc_state};
pub use query::TextRow;
pub use sandbox::{Sandbox, SandboxShard, SandboxSpec, ServerCertificate};

/// Backend account on every instance (at 127.0.0.1): all privileges except `READ_ONLY ADMIN`,
/// so a write sent to a read-only replica fails with error 1290.
pub const BACKEND_USER: &str = "shardgate";
/// Password of [`BACKEND_USER`].
pub const BACKEND_PASSWORD: &str = "shardgate";
/// The database that exists on every instance.
pub const DATABASE: &str = "app";
/// Admin account used by the sandbox itself: `root@localhost` (Unix socket, password or
/// socket auth) and `root@127.0.0.1` (password).
pub const ADMIN_USER: &str = "root";
/// Password of [`ADMIN_USER`].
pub const ADMIN_PASSWORD: &str = "sandbox";
/// Account the replicas replicate with.
pub const REPLICATION_USER: &str = "repl";
/// Password of [`REPLICATION_USER`].
pub const REPLICATION_PASSWORD: &str = "repl";
