//! Client handshakes run on a thread and runtime of their own, so that a login storm's work
//! (greetings, reading handshake responses, checking passwords) queues there and not among the
//! commands of sessions already logged in: in a storm of ~6,700 logins a second on 2 cores, a
//! logged-in client's command otherwise waited its turn behind every ready handshake.
//!
//! The thread runs at a lower CPU priority than the proxy's workers (`yield_to_sessions`).
//!
//! Sockets stay registered with the runtime that accepted them (the proxy's), so only the
//! handshake's own polling moves: once logged in, the session runs where it always did.

use std::future::Future;
use std::sync::OnceLock;

/// The handshake runtime: one worker thread, started at the first handshake.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("shardgate-handshake")
            .on_thread_start(yield_to_sessions)
            .enable_all()
            .build()
            .expect("a runtime for client handshakes")
    })
}

/// Lowers the handshake thread's CPU priority (nice 10; Linux keeps a nice value per thread):
/// when logins and logged-in sessions compete for the cores, the kernel runs the sessions'
/// threads first, and a login storm delays logins rather than every session's commands.
fn yield_to_sessions() {
    // SAFETY: plain system calls on the calling thread's own id; no memory is shared.
    let lowered =
        unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
    if lowered != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "handshake thread keeps its priority");
    }
}

/// Runs `handshake` on the handshake runtime and waits for its outcome; `None` if it panicked.
pub(crate) async fn run<F>(handshake: F) -> Option<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime().spawn(handshake).await.ok()
}
