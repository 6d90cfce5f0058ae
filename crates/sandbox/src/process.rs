//! Server processes: spawning them so they die with us, signalling them, knowing they are gone.
//!
//! Every `mariadbd` is spawned by one long-lived thread with `PR_SET_PDEATHSIG=SIGKILL`, so the
//! kernel kills the servers when the process that started them exits for any reason (even
//! SIGKILL, where no destructor runs). The death signal fires when the *thread* that forked the
//! child exits, which is why the fork happens on a thread that lives as long as the process, not
//! on whatever (test or tokio worker) thread called [`crate::Sandbox::start`].

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();

/// Spawns `cmd` in its own process group (a terminal's Ctrl-C reaches only us, and we stop the
/// servers ourselves), killed by the kernel when this process exits.
pub(crate) fn spawn_tied(mut cmd: Command) -> io::Result<Child> {
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and only calls the async-signal-safe
    // prctl(2) and getppid(2).
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() == 1 {
                return Err(io::Error::other("parent exited during spawn"));
            }
            Ok(())
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("sandbox-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawning the sandbox-spawner thread");
        tx
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("sandbox-spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("sandbox-spawner thread is gone"))?
}

/// Sends `sig` to `pid`; a process that is already gone is not an error.
pub(crate) fn signal(pid: u32, sig: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(err)
    }
}

/// `true` once the child has exited (and is reaped, so its pid is gone from /proc).
pub(crate) fn has_exited(child: &mut Child) -> bool {
    !matches!(child.try_wait(), Ok(None))
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `T`, `Z`, …), `None` when there is no such
/// process. A zombie (`Z`) has exited; it only waits for its parent to reap it.
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

/// `true` while `pid` names a process that has not exited (a zombie counts as exited).
pub fn pid_alive(pid: u32) -> bool {
    matches!(proc_state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// Deletes `path` in a detached `rm -rf` (it outlives this process): deleting a datadir the
/// server just wrote takes seconds on these disks and nobody needs to wait for it.
pub(crate) fn remove_dir_in_background(path: &Path) {
    if !path.exists() {
        return;
    }
    let spawned = Command::new("rm")
        .arg("-rf")
        .arg("--")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        // Reap it when it ends (no zombie); if this process exits first, rm carries on.
        Ok(mut child) => {
            let _ = std::thread::Builder::new()
                .name("sandbox-rm".into())
                .spawn(move || child.wait());
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove sandbox directory")
        }
    }
}
