//! A test's checks against one MariaDB server: a sandbox of one primary, started on its own
//! runtime, the checks run in a task of their own so that a failing one still lets the
//! sandbox stop before its panic is raised again.

use std::future::Future;

use mysql_async::OptsBuilder;

use crate::{Sandbox, SandboxSpec, DATABASE};

/// Runs `checks` with admin options for one fresh server's `app` database and returns their
/// result; the server is stopped whatever they do.
pub fn against_one_server<F, Fut, T>(checks: F) -> T
where
    F: FnOnce(OptsBuilder) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut sb = Sandbox::start(SandboxSpec::new(1, 0))
            .await
            .expect("sandbox starts");
        let opts = sb.shards()[0].primary.admin_opts().db_name(Some(DATABASE));
        let outcome = tokio::spawn(checks(opts)).await;
        sb.stop().await;
        outcome.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    })
}
