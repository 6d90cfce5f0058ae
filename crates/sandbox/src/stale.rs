//! Cleaning up after sandboxes whose process died without stopping them.

use std::time::Duration;

use crate::process::remove_dir_in_background;

/// File in a temp sandbox dir naming the process that owns it.
pub(crate) const OWNER_FILE: &str = "owner";

/// `PID PID-NAMESPACE`: a pid means something only inside its namespace.
pub(crate) fn owner_tag(pid: u32) -> String {
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{pid} {ns}")
}

/// Deletes temp sandbox dirs (and half-built templates) whose process died without cleaning
/// up (SIGKILL, abort, a static sandbox never dropped). Their servers died with it (see
/// `process`). Runs once per process.
pub(crate) fn sweep_stale_temp_dirs() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        let dead = |pid: u32| pid != std::process::id() && !crate::pid_alive(pid);
        let own_ns = owner_tag(0);
        let own_ns = own_ns.split_once(' ').map(|(_, ns)| ns).unwrap_or_default();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let stale = if let Some(rest) = name.strip_prefix("shardgate-sandbox-template-") {
                // `<key>.build-<pid>-<nanos>`, left by a build that never finished.
                // Its pid may be from another pid namespace: only touch old ones.
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(600));
                old && rest
                    .split_once(".build-")
                    .and_then(|(_, b)| b.split('-').next()?.parse().ok())
                    .is_some_and(dead)
            } else if name.starts_with("shardgate-sandbox-") {
                std::fs::read_to_string(path.join(OWNER_FILE))
                    .ok()
                    .and_then(|tag| {
                        let (pid, ns) = tag.trim().split_once(' ')?;
                        (ns == own_ns).then(|| pid.parse().ok())?
                    })
                    .is_some_and(dead)
            } else {
                false
            };
            if stale {
                tracing::debug!(dir = %path.display(), "removing a stale sandbox directory");
                remove_dir_in_background(&path);
            }
        }
    });
}
