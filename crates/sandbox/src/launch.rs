//! Launching, signalling and stopping the server process of one instance.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::process::{has_exited, signal, spawn_tied};
use crate::template::is_root;
use crate::{ports, Instance, Sandbox, SandboxError};

/// Pause between readiness polls.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// How long a server gets to shut down after SIGTERM before it is SIGKILLed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How often a server is started again on a new port after losing a port race.
const PORT_RETRIES: usize = 10;

/// Why one launch of a server did not come up.
enum LaunchFailure {
    PortInUse,
    Failed(String),
}

impl Sandbox {
    /// Starts `inst`'s server, again on a new port whenever another process took its port
    /// first, until it answers.
    pub(crate) async fn bring_up(
        &self,
        inst: &mut Instance,
        fixed_port: bool,
        deadline: Instant,
    ) -> Result<(), SandboxError> {
        let mut retries = 0;
        loop {
            let log_offset = self.launch(inst)?;
            match self.wait_up(inst, log_offset, deadline).await {
                Ok(()) => return Ok(()),
                Err(LaunchFailure::PortInUse) if !fixed_port && retries < PORT_RETRIES => {
                    retries += 1;
                    let new = ports::pick().ok_or_else(|| {
                        SandboxError::InvalidSpec("no free port in 20000-32000".into())
                    })?;
                    tracing::debug!(instance = %inst.name, old = inst.port, new, "port taken, retrying");
                    let old = inst.port;
                    self.lock_ports().retain(|p| *p != old);
                    ports::release([old]);
                    self.lock_ports().push(new);
                    inst.port = new;
                }
                Err(LaunchFailure::PortInUse) => {
                    return Err(start_error(
                        inst,
                        format!("port {} is in use", inst.port),
                        log_offset,
                    ))
                }
                Err(LaunchFailure::Failed(reason)) => {
                    return Err(start_error(inst, reason, log_offset))
                }
            }
        }
    }

    /// Starts (again) the server of `inst`; returns the error log's length before the start.
    fn launch(&self, inst: &Instance) -> Result<u64, SandboxError> {
        let mut options = inst.config();
        if let Some(tls) = &self.tls {
            options += &format!(
                "ssl-cert={}\nssl-key={}\n",
                tls.cert.display(),
                tls.key.display()
            );
        }
        std::fs::write(&inst.config_file, options)
            .map_err(|e| SandboxError::io(format!("writing {}", inst.config_file.display()), e))?;
        let _ = std::fs::remove_file(&inst.socket);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&inst.error_log)
            .map_err(|e| SandboxError::io(format!("opening {}", inst.error_log.display()), e))?;
        let offset = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log2 = log
            .try_clone()
            .map_err(|e| SandboxError::io("duplicating the log file handle", e))?;
        let mut cmd = Command::new(&self.bins.mariadbd);
        // --defaults-file must come first.
        cmd.arg(format!("--defaults-file={}", inst.config_file.display()));
        if is_root() {
            cmd.arg("--user=root");
        }
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        let child = spawn_tied(cmd).map_err(|e| {
            SandboxError::io(
                format!(
                    "starting {} for {}",
                    self.bins.mariadbd.display(),
                    inst.name
                ),
                e,
            )
        })?;
        tracing::debug!(instance = %inst.name, port = inst.port, pid = child.id(), "launched mariadbd");
        if let Some(mut old) = self.lock_procs().insert(inst.name.clone(), child) {
            // Only replaced after it exited; reap it.
            let _ = old.try_wait();
        }
        Ok(offset)
    }

    /// Waits until `inst` answers on its socket (and listens on its port).
    async fn wait_up(
        &self,
        inst: &Instance,
        log_offset: u64,
        deadline: Instant,
    ) -> Result<(), LaunchFailure> {
        loop {
            if let Some(status) = self.exit_status(&inst.name) {
                let log = read_from(&inst.error_log, log_offset);
                if log.contains("Address already in use") || log.contains("Bind on TCP/IP port") {
                    return Err(LaunchFailure::PortInUse);
                }
                return Err(LaunchFailure::Failed(format!("mariadbd exited ({status})")));
            }
            if inst.socket.exists() {
                let probe = async {
                    let mut conn = Conn::new(inst.admin_opts()).await?;
                    let port: Option<u16> = conn.query_first("SELECT @@port").await?;
                    let _ = conn.disconnect().await;
                    Ok::<_, mysql_async::Error>(port)
                };
                match tokio::time::timeout(Duration::from_secs(2), probe).await {
                    Ok(Ok(Some(port))) if port == inst.port => return Ok(()),
                    Ok(Ok(port)) => {
                        return Err(LaunchFailure::Failed(format!(
                            "server answers with @@port={port:?}, expected {}",
                            inst.port
                        )))
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(LaunchFailure::Failed(
                    "not ready before the start timeout".into(),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Exit status of the instance's server once it has exited.
    fn exit_status(&self, name: &str) -> Option<ExitStatus> {
        let mut procs = self.lock_procs();
        procs
            .get_mut(name)
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Sends `sig` to the instance's server if it runs.
    pub(crate) fn signal_instance(
        &self,
        inst: &Instance,
        sig: libc::c_int,
    ) -> Result<(), SandboxError> {
        let mut procs = self.lock_procs();
        let child = procs
            .get_mut(&inst.name)
            .ok_or_else(|| SandboxError::UnknownInstance(inst.name.clone()))?;
        if has_exited(child) {
            return Ok(());
        }
        signal(child.id(), sig).map_err(|e| {
            SandboxError::io(format!("signalling {} (pid {})", inst.name, child.id()), e)
        })
    }

    /// Polls until the named server has exited; `false` on timeout.
    pub(crate) async fn wait_exit(&self, name: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let exited = match self.lock_procs().get_mut(name) {
                Some(c) => has_exited(c),
                None => true,
            };
            if exited {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGCONT + SIGTERM, then SIGKILL after [`STOP_GRACE`]; returns once the process is gone.
    pub(crate) async fn stop_process(&self, name: &str) {
        let pid = {
            let mut procs = self.lock_procs();
            match procs.get_mut(name) {
                Some(c) => {
                    if has_exited(c) {
                        return;
                    }
                    c.id()
                }
                None => return,
            }
        };
        // A frozen server cannot act on SIGTERM until it is continued.
        let _ = signal(pid, libc::SIGCONT);
        let _ = signal(pid, libc::SIGTERM);
        if !self.wait_exit(name, STOP_GRACE).await {
            tracing::warn!(instance = name, pid, "mariadbd ignored SIGTERM; killing it");
            let _ = signal(pid, libc::SIGKILL);
            self.wait_exit(name, STOP_GRACE).await;
        }
    }

    /// Relaunches `inst` on its datadir and port and waits until it answers.
    pub(crate) async fn relaunch(
        &self,
        inst: &Instance,
        timeout: Duration,
    ) -> Result<(), SandboxError> {
        let offset = self.launch(inst)?;
        match self.wait_up(inst, offset, Instant::now() + timeout).await {
            Ok(()) => Ok(()),
            Err(LaunchFailure::PortInUse) => Err(start_error(
                inst,
                format!("port {} is in use", inst.port),
                offset,
            )),
            Err(LaunchFailure::Failed(reason)) => Err(start_error(inst, reason, offset)),
        }
    }

    /// Looks `inst` up among this sandbox's instances.
    pub(crate) fn check_owned(&self, inst: &Instance) -> Result<(), SandboxError> {
        if self.lock_procs().contains_key(&inst.name) && inst.dir == self.dir.join(&inst.name) {
            Ok(())
        } else {
            Err(SandboxError::UnknownInstance(inst.name.clone()))
        }
    }
}

/// Everything after `offset` in `path` (lossy UTF-8).
fn read_from(path: &Path, offset: u64) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        if f.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = f.read_to_end(&mut buf);
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn start_error(inst: &Instance, reason: String, log_offset: u64) -> SandboxError {
    let log = read_from(&inst.error_log, log_offset);
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(25)..].join("\n");
    SandboxError::Start {
        instance: inst.name.clone(),
        reason,
        log: inst.error_log.clone(),
        tail,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::binaries::Binaries;
    use crate::sandbox::prepare_dir;
    use crate::{template, Role};

    /// Another process can take a chosen port before the server binds it.
    #[tokio::test]
    async fn a_server_that_loses_its_port_starts_on_another() {
        let bins = Binaries::get().await.expect("mariadbd installed");
        let template = template::ensure(bins).await.expect("template");
        let dir = tempfile::Builder::new()
            .prefix("shardgate-sandbox-")
            .tempdir()
            .unwrap()
            .keep();
        let sb = Sandbox {
            dir: dir.clone(),
            remove_dir: true,
            bins,
            shards: Vec::new(),
            procs: Mutex::new(HashMap::new()),
            ports: Mutex::new(Vec::new()),
            stopped: false,
            tls: None,
        };
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let deadline = Instant::now() + Duration::from_secs(60);

        let mut fixed = Instance::new(dir.clone(), 0, Role::Primary, 0, taken_port);
        prepare_dir(&fixed, &template).await.unwrap();
        let err = sb
            .bring_up(&mut fixed, true, deadline)
            .await
            .expect_err("a fixed port that is taken fails");
        assert!(err.to_string().contains("is in use"), "{err}");
        assert!(err.to_string().contains("Address already in use"), "{err}");

        let mut free = Instance::new(dir.clone(), 1, Role::Primary, 0, taken_port);
        prepare_dir(&free, &template).await.unwrap();
        sb.bring_up(&mut free, false, deadline)
            .await
            .expect("starts on another port");
        assert_ne!(free.port, taken_port);
        let port = sb.scalar(&free, "SELECT @@port").await.unwrap();
        assert_eq!(port, Some(free.port.to_string()));
        let pid = sb.pid(&free).expect("runs");
        drop(sb);
        assert!(!crate::pid_alive(pid));
    }
}
