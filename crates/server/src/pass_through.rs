//! Pass-through authentication (`[server] pass_through_auth`): a client may log in as one of
//! the servers' own MariaDB accounts, and every backend connection its session takes logs in
//! as that account, from pools of the account's own, so that MariaDB's privileges apply.
//!
//! Only mysql_native_password accounts pass through: the default shard's `mysql.user` gives
//! `SHA1(SHA1(password))` of each host the account is defined for, which checks the client's
//! scramble; the scramble then yields `SHA1(password)`, which answers any server's own salt.
//! Which host's account applies is the servers' decision, made when the proxy logs in (from
//! the proxy's address): a login they refuse is refused to the client.
//!
//! Each such session has pools of its own, closed when it ends: a connection logged in for one
//! client login never serves another, as on MariaDB, where a login takes the account's
//! privileges of that moment (a global privilege granted later applies to later logins; a
//! dropped and recreated account is another account).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shardgate_backend::{Credentials, Flavor, Pool};
use shardgate_config::Topology;
use shardgate_protocol::server_handshake::{parse_native_hash, Account, PassThrough};
use shardgate_ring::ShardId;

use crate::runtime::Runtime;

/// The servers' account `user`, with the stored password hash of each host it is defined for
/// and of the anonymous accounts (`''@host`), which MariaDB may match instead
/// (mysql_native_password only; an empty hash is an empty password). `None` when there is no
/// such account, or it cannot pass through (other plugins, a role), or the lookup failed.
pub(crate) async fn account(runtime: &Runtime, user: &str) -> Option<Account> {
    // Compared as bytes, as MariaDB compares account names.
    let hex: String = user.bytes().map(|b| format!("{b:02X}")).collect();
    let sql = format!(
        "SELECT CONCAT(COUNT(*), ':', COALESCE(GROUP_CONCAT(authentication_string SEPARATOR ','), '')) \
         FROM mysql.user WHERE (User = BINARY X'{hex}' OR User = '') AND is_role = 'N' \
         AND plugin IN ('mysql_native_password', '')"
    );
    let lookup = async {
        let pool = runtime.primary(runtime.topology.default_shard);
        let mut conn = pool.get(Flavor::common()).await?;
        crate::state::query_text(&mut conn, sql.as_bytes()).await
    };
    let text = match lookup.await {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(user, error = %e, "pass-through account not looked up");
            return None;
        }
    };
    Some(Account {
        passwords: passwords_of(&text)?,
        require_tls: runtime.topology.server.require_tls,
        pass_through: true,
    })
}

/// The stored passwords in the lookup's answer, `<rows>:<hash>,<hash>…`: mysql_native_password
/// hashes, or empty for no password. Anything else would be taken for a cleartext password,
/// and is left out; `None` when nothing is left.
fn passwords_of(answer: &str) -> Option<Vec<String>> {
    let (count, hashes) = answer.split_once(':')?;
    if count == "0" {
        return None;
    }
    let passwords: Vec<String> = hashes
        .split(',')
        .filter(|h| h.is_empty() || parse_native_hash(h).is_some())
        .map(str::to_owned)
        .collect();
    (!passwords.is_empty()).then_some(passwords)
}

/// The pools of one pass-through account: one per endpoint, as the runtime's own.
#[derive(Debug)]
struct AccountPools {
    primaries: Vec<Arc<Pool>>,
    replicas: Vec<Vec<Arc<Pool>>>,
}

/// A session logged in as one of the servers' accounts.
#[derive(Debug, Clone)]
pub(crate) struct AccountSession {
    /// The session's connection id, which keys its pools.
    pub connection_id: u32,
    pub account: PassThrough,
}

/// The pools of the sessions logged in as the servers' accounts in one runtime (a reload
/// starts afresh: new endpoints, new settings), by connection id.
#[derive(Debug, Default)]
pub(crate) struct PassThroughPools {
    sessions: Mutex<HashMap<u32, (PassThrough, Arc<AccountPools>)>>,
}

impl PassThroughPools {
    fn of(
        &self,
        session: &AccountSession,
        topology: &Topology,
        tls: &shardgate_backend::TlsSetup,
    ) -> Arc<AccountPools> {
        let mut sessions = self.sessions.lock().expect("pass-through pools lock");
        let account = &session.account;
        if let Some((_, pools)) =
            (sessions.get(&session.connection_id)).filter(|(a, _)| a == account)
        {
            return pools.clone();
        }
        // A session's own pools open connections as it needs them, none kept in advance.
        let settings = shardgate_config::PoolSettings {
            min_idle: 0,
            ..topology.backend.pool.clone()
        };
        let pool =
            |shard: &shardgate_config::Shard, role: &str, endpoint: &shardgate_config::Endpoint| {
                let creds = Credentials {
                    user: account.user.clone(),
                    password: String::new(),
                    native_stage1: account.native_stage1,
                    // In no database: the account may have no privilege on the configured one.
                    database: String::new(),
                };
                let label = format!("shard {} {role} {endpoint} as {}", shard.name, account.user);
                Pool::logging_in_as(
                    endpoint.clone(),
                    label,
                    settings.clone(),
                    creds,
                    tls.clone(),
                )
            };
        let pools = Arc::new(AccountPools {
            primaries: (topology.shards.iter())
                .map(|s| pool(s, "primary", &s.primary))
                .collect(),
            replicas: (topology.shards.iter())
                .map(|s| s.replicas.iter().map(|r| pool(s, "replica", r)).collect())
                .collect(),
        });
        sessions.insert(session.connection_id, (account.clone(), pools.clone()));
        pools
    }

    /// Closes the pools of session `connection_id` (it ended, or changed user).
    pub(crate) fn forget(&self, connection_id: u32) {
        let gone = (self.sessions.lock().expect("pass-through pools lock")).remove(&connection_id);
        drop(gone);
    }
}

impl Runtime {
    /// The pool of `shard`'s primary a session logged in as `account` takes connections from:
    /// the proxy's own without one.
    pub(crate) fn primary_of(
        &self,
        account: Option<&AccountSession>,
        shard: ShardId,
    ) -> Cow<'_, Arc<Pool>> {
        match account {
            None => Cow::Borrowed(self.primary(shard)),
            Some(account) => Cow::Owned(self.account_pools(account).primaries[shard].clone()),
        }
    }

    /// The pool of replica `index` of `shard`, as [`Runtime::primary_of`] chooses.
    pub(crate) fn replica_of(
        &self,
        account: Option<&AccountSession>,
        shard: ShardId,
        index: usize,
    ) -> Cow<'_, Arc<Pool>> {
        match account {
            None => Cow::Borrowed(self.replica(shard, index)),
            Some(account) => Cow::Owned(self.account_pools(account).replicas[shard][index].clone()),
        }
    }

    fn account_pools(&self, account: &AccountSession) -> Arc<AccountPools> {
        (self.pass_through).of(account, &self.topology, &self.backend_tls)
    }
}

#[cfg(test)]
mod tests {
    use super::passwords_of;

    const HASH: &str = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19";

    #[test]
    fn only_native_hashes_and_empty_passwords_are_kept() {
        assert_eq!(passwords_of("0:"), None, "no account");
        assert_eq!(passwords_of("1:"), Some(vec![String::new()]), "no password");
        assert_eq!(
            passwords_of(&format!("2:{HASH},")),
            Some(vec![HASH.to_owned(), String::new()])
        );
        // An old 16-digit hash, or another plugin's string, is no password to compare with.
        assert_eq!(passwords_of("1:6f8c114b58f2ce9e"), None);
        assert_eq!(
            passwords_of(&format!("2:6f8c114b58f2ce9e,{HASH}")),
            Some(vec![HASH.to_owned()])
        );
        assert_eq!(passwords_of("garbage"), None);
    }
}
