//! Finding the MariaDB programs the sandbox runs.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::SandboxError;

/// Directories searched after `$PATH`: Debian puts `mariadbd` in /usr/sbin, which is often not
/// on a user's PATH.
const EXTRA_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/local/sbin",
    "/usr/bin",
    "/usr/local/bin",
    "/usr/local/mysql/bin",
    "/usr/local/mysql/scripts",
];

/// The programs the sandbox needs, with the server's version string.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    pub mariadbd: PathBuf,
    pub install_db: PathBuf,
    /// First line of `mariadbd --version`; part of the template cache key.
    pub version: String,
}

static FOUND: OnceLock<Binaries> = OnceLock::new();

impl Binaries {
    /// Locates the programs once per process (`SHARDGATE_MARIADBD` and
    /// `SHARDGATE_MARIADB_INSTALL_DB` override the search).
    pub(crate) async fn get() -> Result<&'static Binaries, SandboxError> {
        if let Some(b) = FOUND.get() {
            return Ok(b);
        }
        let mariadbd = find("mariadbd", &["mariadbd", "mysqld"], "SHARDGATE_MARIADBD")?;
        let install_db = find(
            "mariadb-install-db",
            &["mariadb-install-db", "mysql_install_db"],
            "SHARDGATE_MARIADB_INSTALL_DB",
        )?;
        let out = tokio::process::Command::new(&mariadbd)
            .arg("--version")
            .output()
            .await
            .map_err(|e| {
                SandboxError::io(format!("running {} --version", mariadbd.display()), e)
            })?;
        if !out.status.success() {
            return Err(SandboxError::io(
                format!("running {} --version", mariadbd.display()),
                std::io::Error::other(String::from_utf8_lossy(&out.stderr).into_owned()),
            ));
        }
        let version = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        Ok(FOUND.get_or_init(|| Binaries {
            mariadbd,
            install_db,
            version,
        }))
    }
}

fn find(binary: &'static str, names: &[&str], env: &str) -> Result<PathBuf, SandboxError> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(SandboxError::MissingBinary {
                binary,
                searched: format!("${env}={}", p.display()),
            })
        };
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(EXTRA_DIRS.iter().map(PathBuf::from));
    for name in names {
        for dir in &dirs {
            let p = dir.join(name);
            if is_executable(&p) {
                return Ok(p);
            }
        }
    }
    Err(SandboxError::MissingBinary {
        binary,
        searched: format!("$PATH and {}", EXTRA_DIRS.join(", ")),
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
