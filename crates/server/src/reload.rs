//! Hot reload of the config file: on SIGHUP, or when the file's bytes change, the file is read,
//! validated and turned into a new [`Runtime`] that replaces the serving one atomically.
//! Queries in flight finish on the runtime they started with; a file with errors changes
//! nothing.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use shardgate_config::{ConfigError, ConfigErrors, Topology};

use crate::{Proxy, Runtime};

/// What a reload that was applied changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// The topology version serving now.
    pub version: u64,
    /// Endpoints that got a new pool and health check, e.g. `s2 primary 127.0.0.1:3320`.
    pub started: Vec<String>,
    /// Endpoints whose pool and health check stop (once no query in flight uses them).
    pub stopped: Vec<String>,
    /// Settings that changed in the file but keep their old value until a restart.
    pub ignored: Vec<String>,
}

impl Proxy {
    /// Reads the config file at `path` and, if it is valid, serves its topology from now on.
    /// Otherwise logs each problem (`FILE:LINE: KEY: MESSAGE`) and keeps the current topology.
    /// Counted in `shardgate_config_reloads_total{result}`.
    pub async fn reload_from(&self, path: &Path) -> Result<ReloadOutcome, ConfigErrors> {
        let file_name = path.display().to_string();
        let bytes = match tokio::fs::read(path).await {
            Ok(bytes) => bytes,
            Err(e) => {
                let message = format!("cannot read config file: {e}");
                return Err(self.rejected(file_problem(&file_name, message)));
            }
        };
        let mut last = self.last_config.lock().await;
        self.apply(&mut last, bytes, &file_name).await
    }

    /// Validates `bytes` and swaps in the new runtime; `last` (held locked, so reloads run one
    /// at a time) records what was read.
    async fn apply(
        &self,
        last: &mut Option<Vec<u8>>,
        bytes: Vec<u8>,
        file_name: &str,
    ) -> Result<ReloadOutcome, ConfigErrors> {
        let parsed = match std::str::from_utf8(&bytes) {
            Ok(text) => shardgate_config::parse(text, file_name),
            Err(e) => Err(file_problem(file_name, format!("not UTF-8: {e}"))),
        };
        *last = Some(bytes);
        let old = self.runtime();
        let mut topology = match parsed {
            Ok(topology) => topology,
            Err(errors) => return Err(self.rejected(errors)),
        };
        let served = shardgate_config::Placements::of(&old.topology);
        if let Err(errors) =
            crate::key_owners::keeps_key_owners(&served, &old, &topology, file_name).await
        {
            return Err(self.rejected(errors));
        }
        let ignored = keep_start_up_settings(&old.topology, &mut topology);
        for setting in &ignored {
            tracing::warn!("config reload: {setting} changed; ignored until restart");
        }
        let runtime = Runtime::reload(&old, Arc::new(topology));
        // New endpoints are checked once before any query may pick them (as at start-up).
        let replication = &runtime.topology.replication;
        let limit = replication.health_check_timeout * 3 + replication.health_check_interval;
        runtime.first_checks(limit).await;
        let _ = tokio::time::timeout(limit, runtime.mariadb_capabilities()).await;
        let kept = |r: &Runtime, s: &Arc<crate::endpoints::EndpointService>| {
            r.services().any(|t| Arc::ptr_eq(s, t))
        };
        let outcome = ReloadOutcome {
            version: runtime.version,
            started: (runtime.services())
                .filter(|s| !kept(&old, s))
                .map(|s| s.target().to_string())
                .collect(),
            stopped: (old.services())
                .filter(|s| !kept(&runtime, s))
                .map(|s| s.target().to_string())
                .collect(),
            ignored,
        };
        let runtime = Arc::new(runtime);
        self.runtime.store(runtime.clone());
        crate::placement_record::write(&runtime).await;
        let metrics = shardgate_metrics::metrics();
        metrics
            .config_reloads_total
            .with_label_values(&["ok"])
            .inc();
        metrics
            .topology_version
            .set(i64::try_from(outcome.version).unwrap_or(i64::MAX));
        tracing::info!(
            version = outcome.version,
            started = ?outcome.started,
            stopped = ?outcome.stopped,
            "config reloaded"
        );
        Ok(outcome)
    }

    /// Logs every problem of a rejected file and counts the failure.
    fn rejected(&self, errors: ConfigErrors) -> ConfigErrors {
        for problem in &errors {
            tracing::error!("config reload rejected: {problem}");
        }
        tracing::warn!(
            version = self.runtime().version,
            "config reload rejected; the current topology keeps serving"
        );
        let metrics = shardgate_metrics::metrics();
        metrics
            .config_reloads_total
            .with_label_values(&["error"])
            .inc();
        errors
    }
}

/// Polls the config file at `path` every `interval` and reloads when its bytes differ from the
/// last ones read (by this watcher, a SIGHUP reload, or here at the call, which counts as
/// loaded), or when the certificate or key file `[server]` names or the CA file of `[backend]`
/// changed (a renewed certificate or CA: new client or backend connections get it). The path is opened afresh each time, so a Kubernetes
/// ConfigMap or Secret update (an atomic swap of the `..data` symlink the file resolves
/// through) is seen like an edit. Write the file atomically (rename) or a half-written file
/// may be read, rejected, then reloaded whole.
pub fn watch_config(
    proxy: Arc<Proxy>,
    path: PathBuf,
    interval: Duration,
) -> impl Future<Output = ()> {
    let loaded = std::fs::read(&path).ok();
    async move {
        proxy
            .last_config
            .lock()
            .await
            .get_or_insert_with(|| loaded.unwrap_or_default());
        let file_name = path.display().to_string();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut unreadable = false;
        let mut certificate = certificate_files(&proxy.runtime().topology).await;
        loop {
            tick.tick().await;
            let bytes = match tokio::fs::read(&path).await {
                Ok(bytes) => bytes,
                Err(e) => {
                    // Once per outage (a deleted file); a rename or symlink swap leaves no gap.
                    if !unreadable {
                        tracing::warn!(file = %file_name, error = %e, "cannot read the config file; the current topology keeps serving");
                    }
                    unreadable = true;
                    continue;
                }
            };
            unreadable = false;
            let mut last = proxy.last_config.lock().await;
            let renewed = certificate_files(&proxy.runtime().topology).await;
            if last.as_deref() != Some(bytes.as_slice()) || renewed != certificate {
                if renewed != certificate {
                    tracing::info!("a TLS certificate, key or CA file changed: reloading");
                }
                // Problems are logged and counted inside.
                let _ = proxy.apply(&mut last, bytes, &file_name).await;
                certificate = certificate_files(&proxy.runtime().topology).await;
            }
        }
    }
}

/// The bytes of the certificate and key files `[server]` names and of `[backend]
/// tls_ca_file` (`None` for one that cannot be read), to tell a renewed certificate or CA.
async fn certificate_files(topology: &Topology) -> Vec<Option<Vec<u8>>> {
    let server = topology.server.tls.iter().flat_map(|f| [&f.cert, &f.key]);
    let backend = topology.backend.tls.ca_file();
    let mut contents = Vec::with_capacity(3);
    for file in server.map(|f| f.as_path()).chain(backend) {
        contents.push(tokio::fs::read(file).await.ok());
    }
    contents
}

fn file_problem(file_name: &str, message: String) -> ConfigErrors {
    ConfigErrors {
        errors: vec![ConfigError {
            file: file_name.to_owned(),
            line: None,
            key: String::new(),
            message,
        }],
    }
}

/// Puts back into `new` the settings only read at start-up (so the topology says what is in
/// effect) and names those the file changed.
pub(crate) fn keep_start_up_settings(old: &Topology, new: &mut Topology) -> Vec<String> {
    let (old, new) = (&old.server, &mut new.server);
    let mut changed = Vec::new();
    if old.listen != new.listen {
        changed.push(format!(
            "[server] listen ({:?} → {:?})",
            old.listen, new.listen
        ));
        new.listen.clone_from(&old.listen);
    }
    if old.metrics_listen != new.metrics_listen {
        changed.push(format!(
            "[server] metrics_listen ({:?} → {:?})",
            old.metrics_listen, new.metrics_listen
        ));
        new.metrics_listen.clone_from(&old.metrics_listen);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config with shards `names` (in that order) listening on `listen`.
    fn topology(listen: &str, names: &[&str]) -> Topology {
        let mut text = format!(
            "[server]\nlisten = \"{listen}\"\n[[users]]\nname = \"app\"\npassword = \"app\"\n\
             [backend]\nuser = \"u\"\npassword = \"p\"\ndatabase = \"app\"\n"
        );
        for (i, name) in names.iter().enumerate() {
            text += &format!(
                "[[shards]]\nname = \"{name}\"\nprimary = \"127.0.0.1:{}\"\n",
                3300 + i
            );
        }
        shardgate_config::parse(&text, "t.toml").expect("valid config")
    }

    #[test]
    fn a_changed_listen_address_waits_for_a_restart() {
        let old = topology("127.0.0.1:6033", &["s0"]);
        let mut same = topology("127.0.0.1:6033", &["s0"]);
        assert!(keep_start_up_settings(&old, &mut same).is_empty());
        let mut moved = topology("127.0.0.1:7033", &["s0"]);
        assert_eq!(
            keep_start_up_settings(&old, &mut moved),
            ["[server] listen (\"127.0.0.1:6033\" → \"127.0.0.1:7033\")"]
        );
        assert_eq!(
            moved.server.listen, "127.0.0.1:6033",
            "the address in effect"
        );
    }
}
