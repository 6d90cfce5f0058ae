//! The cached template datadir every instance is copied from.
//!
//! `mariadb-install-db` runs once per (server version, accounts SQL) into
//! `$TMPDIR/shardgate-sandbox-template-<hash>/data`. It is built in a private directory and
//! renamed into place, so processes that race to build it all end up using one complete copy.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::binaries::Binaries;
use crate::process::remove_dir_in_background;
use crate::{SandboxError, ADMIN_PASSWORD, BACKEND_PASSWORD, BACKEND_USER, DATABASE};
use crate::{REPLICATION_PASSWORD, REPLICATION_USER};

/// Serialises template builds inside one process (other processes are handled by the rename).
static BUILD_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Options given to the bootstrap server; the InnoDB ones match the instances' so the files fit.
const INSTALL_ARGS: &[&str] = &[
    "--no-defaults",
    "--skip-test-db",
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=32M",
    "--innodb-doublewrite=OFF",
    "--innodb-flush-log-at-trx-commit=2",
    "--performance-schema=OFF",
];

/// SQL run by `mariadb-install-db --extra-file`: the accounts and the `app` database. The
/// bootstrap server runs without grant tables loaded, hence the leading FLUSH PRIVILEGES. The
/// `sys` schema (diagnostic views, half the template's files) is dropped: creating files is the
/// slowest part of copying the template on these disks.
pub(crate) fn accounts_sql() -> String {
    format!(
        "FLUSH PRIVILEGES;\n\
         ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD('{admin_pw}') OR unix_socket;\n\
         CREATE USER root@'127.0.0.1' IDENTIFIED BY '{admin_pw}';\n\
         GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;\n\
         CREATE USER {repl}@'127.0.0.1' IDENTIFIED BY '{repl_pw}';\n\
         GRANT REPLICATION SLAVE ON *.* TO {repl}@'127.0.0.1';\n\
         CREATE USER {backend}@'127.0.0.1' IDENTIFIED BY '{backend_pw}';\n\
         GRANT ALL PRIVILEGES ON *.* TO {backend}@'127.0.0.1';\n\
         REVOKE READ_ONLY ADMIN ON *.* FROM {backend}@'127.0.0.1';\n\
         CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n\
         DROP DATABASE IF EXISTS sys;\n",
        admin_pw = ADMIN_PASSWORD,
        repl = REPLICATION_USER,
        repl_pw = REPLICATION_PASSWORD,
        backend = BACKEND_USER,
        backend_pw = BACKEND_PASSWORD,
        db = DATABASE,
    )
}

/// Returns the template datadir, building it first if no process has yet.
pub(crate) async fn ensure(bins: &Binaries) -> Result<PathBuf, SandboxError> {
    let sql = accounts_sql();
    let key = fnv1a(&[
        bins.mariadbd.to_string_lossy().as_bytes(),
        bins.version.as_bytes(),
        sql.as_bytes(),
        INSTALL_ARGS.join(" ").as_bytes(),
    ]);
    let root = std::env::temp_dir().join(format!("shardgate-sandbox-template-{key:016x}"));
    let data = root.join("data");
    if is_complete(&data) {
        return Ok(data);
    }
    let _guard = BUILD_LOCK.lock().await;
    if is_complete(&data) {
        return Ok(data);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let build = root.with_file_name(format!(
        "shardgate-sandbox-template-{key:016x}.build-{}-{nanos}",
        std::process::id()
    ));
    let result = build_into(bins, &build, &sql).await;
    if let Err(e) = result {
        remove_dir_in_background(&build);
        return Err(e);
    }
    match std::fs::rename(&build, &root) {
        Ok(()) => {}
        // Another process finished first: use its copy.
        Err(_) if is_complete(&data) => remove_dir_in_background(&build),
        Err(e) => {
            remove_dir_in_background(&build);
            return Err(SandboxError::io(
                format!("renaming {} to {}", build.display(), root.display()),
                e,
            ));
        }
    }
    tracing::debug!(template = %data.display(), "built sandbox template datadir");
    Ok(data)
}

async fn build_into(bins: &Binaries, build: &Path, sql: &str) -> Result<(), SandboxError> {
    std::fs::create_dir_all(build)
        .map_err(|e| SandboxError::io(format!("creating {}", build.display()), e))?;
    let sql_file = build.join("accounts.sql");
    std::fs::write(&sql_file, sql)
        .map_err(|e| SandboxError::io(format!("writing {}", sql_file.display()), e))?;
    let data = build.join("data");
    let mut cmd = tokio::process::Command::new(&bins.install_db);
    cmd.args(INSTALL_ARGS)
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--extra-file={}", sql_file.display()))
        .stdin(std::process::Stdio::null());
    if is_root() {
        cmd.arg("--user=root");
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| SandboxError::io(format!("running {}", bins.install_db.display()), e))?;
    if !out.status.success() || !is_complete(&data) {
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err(SandboxError::Template {
            dir: data,
            output: output.trim().to_string(),
        });
    }
    Ok(())
}

fn is_complete(data: &Path) -> bool {
    data.join("mysql").join("user.frm").exists()
        || data.join("mysql").join("global_priv.frm").exists()
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// FNV-1a 64: a cache key that is stable across Rust versions (unlike `DefaultHasher`).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0u8]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_depends_on_every_part() {
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        assert_eq!(fnv1a(&[b"x"]), fnv1a(&[b"x"]));
    }

    #[test]
    fn accounts_sql_revokes_read_only_admin_from_backend_user() {
        let sql = accounts_sql();
        assert!(sql.starts_with("FLUSH PRIVILEGES;"));
        assert!(sql.contains("REVOKE READ_ONLY ADMIN ON *.* FROM shardgate@'127.0.0.1'"));
    }
}
