//! Fault injection: dead, hung, restarted and lagging servers.

use std::time::Duration;

use crate::{proc_state, Instance, Role, Sandbox, SandboxError};

/// How long a restarted server may take to answer (crash recovery included).
const RESTART_TIMEOUT: Duration = Duration::from_secs(60);

impl Sandbox {
    /// Kills the instance's server with SIGKILL (clients then get 2002/2013) and returns once
    /// it is gone. [`Sandbox::restart`] brings it back.
    pub async fn kill(&self, inst: &Instance) -> Result<(), SandboxError> {
        self.check_owned(inst)?;
        self.signal_instance(inst, libc::SIGKILL)?;
        if self.wait_exit(&inst.name, Duration::from_secs(10)).await {
            Ok(())
        } else {
            Err(SandboxError::Timeout {
                what: format!("{} to exit after SIGKILL", inst.name),
                timeout: Duration::from_secs(10),
            })
        }
    }

    /// Freezes the server with SIGSTOP and returns once the kernel shows it stopped: the
    /// kernel still accepts TCP connections but nothing answers. [`Sandbox::thaw`] undoes it;
    /// [`Sandbox::stop`] thaws before stopping.
    pub async fn freeze(&self, inst: &Instance) -> Result<(), SandboxError> {
        self.check_owned(inst)?;
        self.signal_instance(inst, libc::SIGSTOP)?;
        self.wait_state(inst, |s| s == 'T' || s == 't', "stop")
            .await
    }

    /// Continues a frozen server (SIGCONT) and returns once it runs again.
    pub async fn thaw(&self, inst: &Instance) -> Result<(), SandboxError> {
        self.check_owned(inst)?;
        self.signal_instance(inst, libc::SIGCONT)?;
        self.wait_state(inst, |s| s != 'T' && s != 't', "continue")
            .await
    }

    /// Polls `/proc/PID/stat` until the state letter satisfies `ok` (or the process is gone).
    async fn wait_state(
        &self,
        inst: &Instance,
        ok: impl Fn(char) -> bool,
        what: &str,
    ) -> Result<(), SandboxError> {
        let timeout = Duration::from_secs(5);
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let state = self.pid(inst).and_then(proc_state);
            if state.is_none_or(&ok) {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(SandboxError::Timeout {
                    what: format!("{} to {what} (state {state:?})", inst.name),
                    timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Shuts one server down cleanly (SIGTERM, SIGKILL after a grace period).
    pub async fn stop_instance(&self, inst: &Instance) -> Result<(), SandboxError> {
        self.check_owned(inst)?;
        self.stop_process(&inst.name).await;
        Ok(())
    }

    /// Starts the server again on the same datadir and port (stopping it first if it still
    /// runs) and waits until it answers. A replica resumes replicating by itself; a replica of
    /// a restarted primary reconnects within about a second.
    pub async fn restart(&self, inst: &Instance) -> Result<(), SandboxError> {
        self.check_owned(inst)?;
        self.stop_process(&inst.name).await;
        self.relaunch(inst, RESTART_TIMEOUT).await
    }

    /// `STOP SLAVE SQL_THREAD` on a replica: it keeps receiving but applies nothing, and
    /// `Seconds_Behind_Master` becomes NULL.
    pub async fn stop_replica_sql_thread(&self, replica: &Instance) -> Result<(), SandboxError> {
        self.check_replica(replica)?;
        self.exec(replica, "STOP SLAVE SQL_THREAD").await.map(drop)
    }

    /// `START SLAVE SQL_THREAD` on a replica.
    pub async fn start_replica_sql_thread(&self, replica: &Instance) -> Result<(), SandboxError> {
        self.check_replica(replica)?;
        self.exec(replica, "START SLAVE SQL_THREAD").await.map(drop)
    }

    /// Makes a replica apply events `secs` seconds after the primary wrote them
    /// (`CHANGE MASTER TO MASTER_DELAY`); 0 removes the delay.
    pub async fn set_master_delay(
        &self,
        replica: &Instance,
        secs: u32,
    ) -> Result<(), SandboxError> {
        self.check_replica(replica)?;
        self.exec(replica, "STOP SLAVE").await?;
        self.exec(replica, &format!("CHANGE MASTER TO MASTER_DELAY={secs}"))
            .await?;
        self.exec(replica, "START SLAVE").await?;
        Ok(())
    }

    fn check_replica(&self, inst: &Instance) -> Result<(), SandboxError> {
        self.check_owned(inst)?;
        if inst.role != Role::Replica {
            return Err(SandboxError::NotAReplica(inst.name.clone()));
        }
        Ok(())
    }
}
