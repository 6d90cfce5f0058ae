//! A sandbox topology: its spec, its shards, starting it and stopping it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::try_join_all;

use crate::binaries::Binaries;
use crate::process::{has_exited, remove_dir_in_background, signal};
use crate::stale::{owner_tag, sweep_stale_temp_dirs, OWNER_FILE};
use crate::{config, ports, template, Instance, Role, SandboxError};
use crate::{DATABASE, REPLICATION_PASSWORD, REPLICATION_USER};

/// Longest Unix socket path the kernel accepts (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// What to start.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// Number of shards (`s0`, `s1`, …), at least 1.
    pub shards: usize,
    /// Replicas per shard (0 is allowed), at most 98.
    pub replicas: usize,
    /// Where the instances live. `None`: a fresh temp directory, deleted when the sandbox stops.
    /// `Some`: this directory (created if missing) is kept; instance directories left in it by
    /// an earlier run are replaced.
    pub dir: Option<PathBuf>,
    /// `None`: free ports chosen at random (retried when another process takes one first).
    /// `Some(p)`: instances take `p, p+1, …` in order `s0-primary, s0-replica1, …, s1-primary, …`
    /// and starting fails if one is taken.
    pub base_port: Option<u16>,
    /// How long start-up may take before it fails (generous: machines under load are slow).
    pub start_timeout: Duration,
    /// A certificate every server presents to clients that ask for TLS (none: no TLS).
    pub tls: Option<ServerCertificate>,
}

/// PEM files of a server certificate and its key (`ssl-cert`, `ssl-key` in each server's
/// option file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for SandboxSpec {
    /// 2 shards × (1 primary + 1 replica), temp dir, random ports.
    fn default() -> Self {
        SandboxSpec {
            shards: 2,
            replicas: 1,
            dir: None,
            base_port: None,
            start_timeout: Duration::from_secs(60),
            tls: None,
        }
    }
}

impl SandboxSpec {
    /// `shards` shards of 1 primary + `replicas` replicas, otherwise the defaults.
    pub fn new(shards: usize, replicas: usize) -> Self {
        SandboxSpec {
            shards,
            replicas,
            ..SandboxSpec::default()
        }
    }
}

/// One shard: a primary and its replicas.
#[derive(Debug, Clone)]
pub struct SandboxShard {
    /// `s0`, `s1`, …
    pub name: String,
    /// Takes the writes.
    pub primary: Instance,
    /// Replicate from `primary`, `read_only=ON`.
    pub replicas: Vec<Instance>,
}

impl SandboxShard {
    /// The primary, then the replicas.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        std::iter::once(&self.primary).chain(&self.replicas)
    }
}

/// A running MariaDB topology: N shards of 1 primary + R replicas with GTID replication, each
/// server a `mariadbd` on its own 127.0.0.1 port. [`Sandbox::stop`] shuts it down cleanly;
/// dropping it SIGKILLs whatever still runs, and the kernel kills the servers if this process
/// dies first.
#[derive(Debug)]
pub struct Sandbox {
    pub(crate) dir: PathBuf,
    pub(crate) remove_dir: bool,
    pub(crate) bins: &'static Binaries,
    pub(crate) shards: Vec<SandboxShard>,
    /// The server process of every instance ever launched, by instance name.
    pub(crate) procs: Mutex<HashMap<String, Child>>,
    /// Ports reserved for this sandbox in this process.
    pub(crate) ports: Mutex<Vec<u16>>,
    pub(crate) stopped: bool,
    /// The certificate the servers present, if any.
    pub(crate) tls: Option<ServerCertificate>,
}

impl Sandbox {
    /// Starts the topology and returns once every server answers and every replica's
    /// replication threads run.
    pub async fn start(spec: SandboxSpec) -> Result<Sandbox, SandboxError> {
        let started = Instant::now();
        if spec.shards == 0 {
            return Err(SandboxError::InvalidSpec(
                "at least one shard is needed".into(),
            ));
        }
        if spec.shards > 1000 || spec.replicas > 98 {
            return Err(SandboxError::InvalidSpec(
                "at most 1000 shards and 98 replicas per shard".into(),
            ));
        }
        let bins = Binaries::get().await?;
        let template = template::ensure(bins).await?;
        let (dir, remove_dir) = match &spec.dir {
            Some(d) => {
                std::fs::create_dir_all(d)
                    .map_err(|e| SandboxError::io(format!("creating {}", d.display()), e))?;
                (d.clone(), false)
            }
            None => {
                sweep_stale_temp_dirs();
                let d = tempfile::Builder::new()
                    .prefix("shardgate-sandbox-")
                    .tempdir()
                    .map_err(|e| SandboxError::io("creating the sandbox temp dir", e))?;
                let owner = d.path().join(OWNER_FILE);
                std::fs::write(&owner, owner_tag(std::process::id()))
                    .map_err(|e| SandboxError::io(format!("writing {}", owner.display()), e))?;
                (d.keep(), true)
            }
        };
        let mut sb = Sandbox {
            dir,
            remove_dir,
            bins,
            shards: Vec::new(),
            procs: Mutex::new(HashMap::new()),
            ports: Mutex::new(Vec::new()),
            stopped: false,
            tls: spec.tls.clone(),
        };

        // Plan every instance, with its port.
        let mut flat = Vec::new();
        for shard in 0..spec.shards {
            flat.push(Instance::new(sb.dir.clone(), shard, Role::Primary, 0, 0));
            for r in 1..=spec.replicas {
                flat.push(Instance::new(sb.dir.clone(), shard, Role::Replica, r, 0));
            }
        }
        for (k, inst) in flat.iter_mut().enumerate() {
            inst.port = match spec.base_port {
                Some(base) => {
                    let port = u16::try_from(usize::from(base) + k)
                        .map_err(|_| SandboxError::InvalidSpec("base_port too high".into()))?;
                    if !ports::reserve(port) {
                        return Err(SandboxError::InvalidSpec(format!(
                            "port {port} (base_port {base} + {k}) is in use"
                        )));
                    }
                    port
                }
                None => ports::pick().ok_or_else(|| {
                    SandboxError::InvalidSpec("no free port in 20000-32000".into())
                })?,
            };
            sb.lock_ports().push(inst.port);
            if inst.socket.as_os_str().len() > MAX_SOCKET_PATH {
                return Err(SandboxError::InvalidSpec(format!(
                    "socket path {} is longer than {MAX_SOCKET_PATH} bytes; use a shorter dir",
                    inst.socket.display()
                )));
            }
        }

        // Each server starts as soon as its datadir is copied.
        let deadline = started + spec.start_timeout;
        let fixed_ports = spec.base_port.is_some();
        let sb_ref = &sb;
        let template = &template;
        try_join_all(flat.iter_mut().map(|inst| async move {
            prepare_dir(inst, template).await?;
            sb_ref.bring_up(inst, fixed_ports, deadline).await
        }))
        .await?;

        // Group into shards, then start replication.
        let mut flat = flat.into_iter().peekable();
        while let Some(primary) = flat.next() {
            let mut replicas = Vec::new();
            while let Some(r) = flat.next_if(|i| i.shard == primary.shard) {
                replicas.push(r);
            }
            sb.shards.push(SandboxShard {
                name: primary.shard.clone(),
                primary,
                replicas,
            });
        }
        let pairs: Vec<(&Instance, &Instance)> = sb
            .shards
            .iter()
            .flat_map(|s| s.replicas.iter().map(move |r| (r, &s.primary)))
            .collect();
        try_join_all(pairs.iter().map(|(r, p)| sb.start_replication(r, p))).await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        try_join_all(
            pairs
                .iter()
                .map(|(r, _)| sb.wait_replica_running(r, remaining)),
        )
        .await?;

        tracing::info!(
            dir = %sb.dir.display(),
            shards = spec.shards,
            replicas = spec.replicas,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "sandbox started"
        );
        Ok(sb)
    }

    /// The shards, in order `s0`, `s1`, …
    pub fn shards(&self) -> &[SandboxShard] {
        &self.shards
    }

    /// The shard called `name`.
    pub fn shard(&self, name: &str) -> Option<&SandboxShard> {
        self.shards.iter().find(|s| s.name == name)
    }

    /// Every instance: each shard's primary, then its replicas.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.shards.iter().flat_map(SandboxShard::instances)
    }

    /// The directory holding the instances.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The shardgate TOML config for this topology, the proxy listening on `listen`.
    pub fn config_toml(&self, listen: &str) -> String {
        config::render(&self.shards, listen)
    }

    /// The pid of the instance's server while it runs (not after a [`Sandbox::kill`]).
    pub fn pid(&self, inst: &Instance) -> Option<u32> {
        let mut procs = self.lock_procs();
        let child = procs.get_mut(&inst.name)?;
        (!has_exited(child)).then(|| child.id())
    }

    /// The pids of every server still running.
    pub fn pids(&self) -> Vec<u32> {
        let mut procs = self.lock_procs();
        procs
            .values_mut()
            .filter_map(|c| (!has_exited(c)).then(|| c.id()))
            .collect()
    }

    /// Creates the sample schema ([`crate::SAMPLE_SCHEMA`]) in `app` on every shard's primary;
    /// replication carries it to the replicas.
    pub async fn create_sample_schema(&self) -> Result<(), SandboxError> {
        try_join_all(self.shards.iter().map(|s| async move {
            for stmt in crate::SAMPLE_SCHEMA {
                self.exec_in(&s.primary, DATABASE, stmt).await?;
            }
            Ok::<(), SandboxError>(())
        }))
        .await?;
        Ok(())
    }

    /// Stops every server (SIGTERM, SIGKILL after a grace period) and deletes the temp
    /// directory (in the background). Calling it again does nothing.
    pub async fn stop(&mut self) {
        if self.stopped {
            return;
        }
        let names: Vec<String> = self.lock_procs().keys().cloned().collect();
        let stops = names.iter().map(|n| self.stop_process(n));
        futures_util::future::join_all(stops).await;
        self.finish();
    }

    /// Points `replica` at `primary` and starts replicating.
    async fn start_replication(
        &self,
        replica: &Instance,
        primary: &Instance,
    ) -> Result<(), SandboxError> {
        let sql = format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, \
             MASTER_USER='{REPLICATION_USER}', MASTER_PASSWORD='{REPLICATION_PASSWORD}', \
             MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
            primary.port
        );
        self.exec(replica, &sql).await?;
        self.exec(replica, "START SLAVE").await?;
        Ok(())
    }

    /// Releases the ports and deletes the temp dir; the servers are already gone.
    pub(crate) fn finish(&mut self) {
        self.stopped = true;
        ports::release(self.lock_ports().drain(..));
        if self.remove_dir {
            remove_dir_in_background(&self.dir);
        }
    }

    pub(crate) fn lock_procs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Child>> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_ports(&self) -> std::sync::MutexGuard<'_, Vec<u16>> {
        self.ports.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Sandbox {
    /// SIGKILLs every server still running and reaps it, so no pid outlives the sandbox.
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        for child in self.lock_procs().values_mut() {
            if !has_exited(child) {
                let _ = signal(child.id(), libc::SIGKILL);
                let _ = child.wait();
            }
        }
        self.finish();
    }
}

/// Makes the instance's directory: a copy of the template datadir and a tmpdir. A directory
/// left by an earlier run in a kept sandbox dir is moved aside and deleted in the background.
pub(crate) async fn prepare_dir(inst: &Instance, template: &Path) -> Result<(), SandboxError> {
    if inst.dir.exists() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let trash = inst
            .dir
            .with_file_name(format!(".trash-{}-{nanos}", inst.name));
        std::fs::rename(&inst.dir, &trash)
            .map_err(|e| SandboxError::io(format!("moving old {} aside", inst.dir.display()), e))?;
        remove_dir_in_background(&trash);
    }
    let tmp = inst.dir.join("tmp");
    std::fs::create_dir_all(&tmp)
        .map_err(|e| SandboxError::io(format!("creating {}", tmp.display()), e))?;
    let out = tokio::process::Command::new("cp")
        .arg("-a")
        .arg("--sparse=always")
        .arg(template)
        .arg(&inst.datadir)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| SandboxError::io("running cp", e))?;
    if !out.status.success() {
        return Err(SandboxError::io(
            format!(
                "copying {} to {}",
                template.display(),
                inst.datadir.display()
            ),
            std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        ));
    }
    Ok(())
}
