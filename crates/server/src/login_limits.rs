//! Failed logins per client address, as MariaDB's `max_connect_errors`: an address that failed
//! `max_connect_errors` times is refused before the handshake (1129) for `host_block_ms`. And
//! the bounded log of connection failures, which a flood of bad logins cannot turn into a
//! flood of log lines.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use shardgate_config::ServerSettings;
use shardgate_protocol::server_handshake::{Account, Accounts};

use crate::runtime::Runtime;
use crate::Proxy;

/// Most client addresses whose failures are remembered. Past it, expired ones and then the
/// older half are forgotten: many addresses (an IPv6 range, say) cannot grow the table
/// without bound, at the price of forgetting some of them early.
const MAX_TRACKED_ADDRESSES: usize = 10_000;

/// Lines about connection failures written per [`LOG_WINDOW`] at most.
const LOG_LINES_PER_WINDOW: u32 = 20;
const LOG_WINDOW: Duration = Duration::from_secs(10);

/// One address's failed logins in a row.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u64,
    last: Instant,
}

/// What `[server]` says (read at each connection, so that a reload changes it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    /// Failures that block an address; 0: no limit.
    max_errors: u64,
    /// How long an address stays blocked, and how long a failure counts.
    block: Duration,
}

impl Limit {
    pub fn of(server: &ServerSettings) -> Self {
        Limit {
            max_errors: server.max_connect_errors,
            block: server.host_block,
        }
    }
}

/// Failed logins by client address.
#[derive(Debug, Default)]
pub(crate) struct LoginFailures {
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

impl LoginFailures {
    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Failures>> {
        // The map holds plain data: a panic elsewhere cannot leave it inconsistent.
        self.by_address.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How much longer `ip` stays blocked, if it is.
    pub fn blocked(&self, ip: IpAddr, limit: Limit) -> Option<Duration> {
        if limit.max_errors == 0 {
            return None;
        }
        let mut by_address = self.lock();
        let failures = *by_address.get(&ip)?;
        let since = failures.last.elapsed();
        if since >= limit.block {
            by_address.remove(&ip);
            return None;
        }
        (failures.count >= limit.max_errors).then(|| limit.block - since)
    }

    /// Counts a failed login from `ip`; true when this one blocks it.
    pub fn failed(&self, ip: IpAddr, limit: Limit) -> bool {
        if limit.max_errors == 0 {
            return false;
        }
        let now = Instant::now();
        let mut by_address = self.lock();
        if by_address.len() >= MAX_TRACKED_ADDRESSES && !by_address.contains_key(&ip) {
            forget_oldest(&mut by_address, limit.block, now);
        }
        let failures = by_address.entry(ip).or_insert(Failures {
            count: 0,
            last: now,
        });
        // Failures further apart than the block duration do not add up.
        if now.duration_since(failures.last) >= limit.block {
            failures.count = 0;
        }
        failures.count += 1;
        failures.last = now;
        failures.count == limit.max_errors
    }

    /// A login from `ip` succeeded: its failures are forgotten, as MariaDB resets the count.
    pub fn succeeded(&self, ip: IpAddr) {
        let mut by_address = self.lock();
        if !by_address.is_empty() {
            by_address.remove(&ip);
        }
    }
}

/// Makes room in a full table: expired entries go, then the older half of the rest.
fn forget_oldest(by_address: &mut HashMap<IpAddr, Failures>, block: Duration, now: Instant) {
    by_address.retain(|_, f| now.duration_since(f.last) < block);
    if by_address.len() < MAX_TRACKED_ADDRESSES {
        return;
    }
    let mut lasts: Vec<Instant> = by_address.values().map(|f| f.last).collect();
    let middle = lasts.len() / 2;
    let (_, median, _) = lasts.select_nth_unstable(middle);
    let median = *median;
    by_address.retain(|_, f| f.last > median);
}

/// At most [`LOG_LINES_PER_WINDOW`] lines per [`LOG_WINDOW`]; a line written after some were
/// left out says how many.
#[derive(Debug, Default)]
pub(crate) struct LogLimit {
    window: Mutex<LogWindow>,
}

#[derive(Debug, Default)]
struct LogWindow {
    started: Option<Instant>,
    lines: u32,
    suppressed: u64,
}

impl LogLimit {
    /// `Some(n)` when a line may be written now, `n` lines having been left out before it.
    pub fn admit(&self) -> Option<u64> {
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if window
            .started
            .is_none_or(|started| now.duration_since(started) >= LOG_WINDOW)
        {
            window.started = Some(now);
            window.lines = 0;
        }
        if window.lines < LOG_LINES_PER_WINDOW {
            window.lines += 1;
            Some(std::mem::take(&mut window.suppressed))
        } else {
            window.suppressed += 1;
            None
        }
    }
}

/// The accounts a client at `peer` may log in to (at the handshake, or by COM_CHANGE_USER);
/// each refusal is counted, logged at a bounded rate and held against the address before the
/// client hears of it.
pub(crate) struct ClientAccounts<'a> {
    pub runtime: &'a Runtime,
    pub proxy: &'a Proxy,
    pub peer: SocketAddr,
}

impl Accounts for ClientAccounts<'_> {
    async fn account(&self, user: &str) -> Option<Account> {
        match self.runtime.account(user) {
            Some(account) => Some(account),
            None if self.runtime.topology.server.pass_through_auth => {
                crate::pass_through::account(self.runtime, user).await
            }
            None => None,
        }
    }

    fn denied(&self, user: &str, without_tls: bool) {
        let peer = self.peer;
        shardgate_metrics::metrics().login_failures_total.inc();
        let limit = Limit::of(&self.runtime.topology.server);
        let blocks = self.proxy.login_failures.failed(peer.ip(), limit);
        if let Some(suppressed) = self.proxy.failure_log.admit() {
            tracing::info!(%peer, user, without_tls, suppressed, "access denied");
        }
        if blocks {
            // Once per block: always logged.
            tracing::warn!(
                address = %peer.ip(),
                failures = limit.max_errors,
                block_ms = limit.block.as_millis() as u64,
                "client address blocked after failed logins (max_connect_errors)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max_errors: u64, block_ms: u64) -> Limit {
        Limit {
            max_errors,
            block: Duration::from_millis(block_ms),
        }
    }

    #[test]
    fn an_address_is_blocked_at_the_limit_and_freed_after_the_block() {
        let failures = LoginFailures::default();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let other: IpAddr = "10.1.2.4".parse().unwrap();
        let limit = limit(3, 200);
        assert!(!failures.failed(ip, limit));
        assert!(!failures.failed(ip, limit));
        assert_eq!(failures.blocked(ip, limit), None, "below the limit");
        assert!(failures.failed(ip, limit), "the third failure blocks");
        let left = failures.blocked(ip, limit).expect("blocked");
        assert!(left <= Duration::from_millis(200));
        assert_eq!(failures.blocked(other, limit), None, "per address");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(failures.blocked(ip, limit), None, "the block ends");
        assert!(!failures.failed(ip, limit), "and the count starts over");
    }

    #[test]
    fn a_success_forgets_the_failures_and_zero_means_no_limit() {
        let failures = LoginFailures::default();
        let ip: IpAddr = "::1".parse().unwrap();
        let limit = limit(2, 60_000);
        failures.failed(ip, limit);
        failures.succeeded(ip);
        assert!(!failures.failed(ip, limit), "counted from 0 again");
        let off = self::limit(0, 60_000);
        for _ in 0..10 {
            assert!(!failures.failed(ip, off));
        }
        assert_eq!(failures.blocked(ip, off), None);
    }

    #[test]
    fn the_table_stays_bounded() {
        let failures = LoginFailures::default();
        let limit = limit(5, 60_000);
        for i in 0..(MAX_TRACKED_ADDRESSES as u32 * 3) {
            failures.failed(IpAddr::from(i.to_be_bytes()), limit);
        }
        let tracked = failures.lock().len();
        assert!(tracked <= MAX_TRACKED_ADDRESSES, "{tracked}");
        let newest = IpAddr::from((MAX_TRACKED_ADDRESSES as u32 * 3 - 1).to_be_bytes());
        assert!(failures.lock().contains_key(&newest), "the newest are kept");
    }

    #[test]
    fn log_lines_are_bounded_per_window_and_count_what_was_left_out() {
        let log = LogLimit::default();
        for _ in 0..LOG_LINES_PER_WINDOW {
            assert_eq!(log.admit(), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(log.admit(), None);
        }
        // The next window's first line reports the 5.
        log.window.lock().unwrap().started = Some(Instant::now() - LOG_WINDOW);
        assert_eq!(log.admit(), Some(5));
        assert_eq!(log.admit(), Some(0));
    }
}
