//! One MariaDB server of a sandbox: where it lives and how it is configured.

use std::path::PathBuf;

use mysql_async::OptsBuilder;

use crate::{ADMIN_PASSWORD, ADMIN_USER, BACKEND_PASSWORD, BACKEND_USER, DATABASE};

/// Whether an instance is its shard's primary or one of its replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Takes the writes; `read_only=OFF`.
    Primary,
    /// Replicates from the shard's primary with GTIDs; `read_only=ON`.
    Replica,
}

/// One `mariadbd` of a sandbox. Plain data: clone it freely; the process itself is owned by the
/// [`crate::Sandbox`] (see [`crate::Sandbox::pid`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Unique inside the sandbox: `s0-primary`, `s0-replica1`, …
    pub name: String,
    /// The shard's name, `s0`, `s1`, …
    pub shard: String,
    /// Primary or replica.
    pub role: Role,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// `server_id`, unique inside the sandbox.
    pub server_id: u32,
    /// `gtid_domain_id`, one per shard.
    pub gtid_domain_id: u32,
    /// The instance's directory (holds the config, the datadir, the socket and the log).
    pub dir: PathBuf,
    /// The datadir.
    pub datadir: PathBuf,
    /// The Unix socket.
    pub socket: PathBuf,
    /// Where the server's stderr (its error log) goes.
    pub error_log: PathBuf,
    /// The option file given with `--defaults-file`.
    pub config_file: PathBuf,
}

impl Instance {
    pub(crate) fn new(
        dir: PathBuf,
        shard: usize,
        role: Role,
        replica_no: usize,
        port: u16,
    ) -> Instance {
        let shard_name = format!("s{shard}");
        let name = match role {
            Role::Primary => format!("{shard_name}-primary"),
            Role::Replica => format!("{shard_name}-replica{replica_no}"),
        };
        let inst_dir = dir.join(&name);
        Instance {
            server_id: 100 * (shard as u32 + 1) + replica_no as u32 + 1,
            gtid_domain_id: shard as u32 + 1,
            datadir: inst_dir.join("data"),
            socket: inst_dir.join("mysqld.sock"),
            error_log: inst_dir.join("error.log"),
            config_file: inst_dir.join("my.cnf"),
            dir: inst_dir,
            name,
            shard: shard_name,
            role,
            port,
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `true` for a primary.
    pub fn is_primary(&self) -> bool {
        self.role == Role::Primary
    }

    /// Client options for the backend account (`shardgate`) over TCP, database `app`, with
    /// `prefer_socket(false)` so the connection really uses TCP.
    pub fn backend_opts(&self) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(BACKEND_USER))
            .pass(Some(BACKEND_PASSWORD))
            .db_name(Some(DATABASE))
            .prefer_socket(false)
    }

    /// Client options for the admin account (`root`) over the instance's Unix socket.
    pub fn admin_opts(&self) -> OptsBuilder {
        OptsBuilder::default()
            .socket(Some(self.socket.to_string_lossy()))
            .user(Some(ADMIN_USER))
            .pass(Some(ADMIN_PASSWORD))
            .prefer_socket(false)
    }

    /// The option file for this instance.
    pub(crate) fn config(&self) -> String {
        let mut cnf = format!(
            "# Written by shardgate-sandbox.\n\
             [mysqld]\n\
             datadir={datadir}\n\
             socket={socket}\n\
             pid-file={dir}/mariadbd.pid\n\
             tmpdir={dir}/tmp\n\
             port={port}\n\
             bind-address=127.0.0.1\n\
             skip-name-resolve\n\
             server-id={server_id}\n\
             gtid-domain-id={domain}\n\
             log-bin=binlog\n\
             relay-log=relay-bin\n\
             log-slave-updates=ON\n\
             binlog-format=ROW\n\
             gtid-strict-mode=ON\n\
             slave-net-timeout=10\n\
             character-set-server=utf8mb4\n\
             collation-server=utf8mb4_general_ci\n\
             performance_schema=OFF\n\
             innodb_buffer_pool_size=32M\n\
             innodb_log_file_size=32M\n\
             innodb_flush_log_at_trx_commit=2\n\
             innodb_doublewrite=OFF\n\
             innodb_temp_data_file_path=ibtmp1:1M:autoextend\n\
             innodb_buffer_pool_dump_at_shutdown=OFF\n\
             innodb_buffer_pool_load_at_startup=OFF\n\
             max_connections=500\n",
            datadir = self.datadir.display(),
            socket = self.socket.display(),
            dir = self.dir.display(),
            port = self.port,
            server_id = self.server_id,
            domain = self.gtid_domain_id,
        );
        cnf.push_str(match self.role {
            Role::Primary => "read-only=OFF\n",
            Role::Replica => "read-only=ON\n",
        });
        cnf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_per_instance_and_domain_per_shard() {
        let d = PathBuf::from("/x");
        let p0 = Instance::new(d.clone(), 0, Role::Primary, 0, 1);
        let r0 = Instance::new(d.clone(), 0, Role::Replica, 1, 2);
        let p1 = Instance::new(d, 1, Role::Primary, 0, 3);
        assert_eq!(
            (p0.name.as_str(), r0.name.as_str()),
            ("s0-primary", "s0-replica1")
        );
        assert_ne!(p0.server_id, r0.server_id);
        assert_ne!(p0.server_id, p1.server_id);
        assert_eq!(p0.gtid_domain_id, r0.gtid_domain_id);
        assert_ne!(p0.gtid_domain_id, p1.gtid_domain_id);
        assert!(r0.config().contains("read-only=ON"));
        assert!(p0.config().contains("read-only=OFF"));
    }
}
