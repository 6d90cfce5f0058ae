//! The proxy's client sessions as `SHOW PROCESSLIST`, `KILL` and `wait_timeout` see them.
//!
//! Each session owns a slot in the registry. The registry's lock is taken when a session
//! connects or disconnects, by `SHOW PROCESSLIST` and `KILL`, and once a second by the sweeper
//! (which closes sessions idle past their `wait_timeout`); per statement a session touches only
//! its own slot: atomics, stamped with a clock the sweeper advances (no clock read per
//! statement), and an uncontended mutex to publish its statement's text and the backend
//! connections it checks out.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_util::task::AtomicWaker;
use shardgate_backend::{Flavor, Lease, Pool, PooledConn};
use shardgate_protocol::server_handshake::Login;
use shardgate_protocol::tls::ClientStream;
use shardgate_protocol::{CapabilityFlags, Command, PacketConn, ProtocolError};
use shardgate_router::SessionVar;

use crate::runtime::Runtime;
use crate::session::Step;
use crate::state::SessionState;
use crate::Proxy;

/// The command of a session between commands (COM_SLEEP), as MariaDB shows it.
const SLEEP: u8 = 0;
/// Bytes of a statement's text a slot keeps; shown only as a digest.
const TEXT_KEPT: usize = 4096;
/// MariaDB's default `wait_timeout` and `interactive_timeout`, while the servers' are unknown.
const DEFAULT_TIMEOUT: u64 = 28_800;

/// What another task asked a session to do, checked between commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// Idle for longer than its `wait_timeout`: close.
    TimedOut = 1,
    /// `KILL [CONNECTION]` by another session: close (wins over a timeout).
    Killed = 2,
}

/// Every client session of the proxy, by connection id.
#[derive(Debug)]
pub(crate) struct Sessions {
    slots: Mutex<BTreeMap<u32, Arc<SessionSlot>>>,
    started: Instant,
    /// Whole seconds since `started`, as of the sweeper's last tick.
    clock: AtomicU64,
    /// The servers' global `wait_timeout` and `interactive_timeout` (0: not read yet).
    wait_timeout: AtomicU64,
    interactive_timeout: AtomicU64,
}

/// One session's entry in the registry.
#[derive(Debug)]
pub(crate) struct SessionSlot {
    /// The connection id the client sees (handshake, `CONNECTION_ID()`, `SHOW PROCESSLIST`).
    pub(crate) id: u32,
    /// The client's address.
    host: String,
    /// The command being served (a COM_* byte; [`SLEEP`] between commands).
    command: AtomicU8,
    /// The clock when `command` last changed.
    since: AtomicU64,
    /// Commands started so far: tells one statement from the next.
    commands: AtomicU64,
    /// Seconds idle after which the session is closed.
    wait_timeout: AtomicU64,
    /// The `wait_timeout` at login, which a reset or change of user returns to.
    login_wait_timeout: u64,
    /// The strongest [`Interrupt`] asked for (as its number), 0 for none.
    interrupt: AtomicU8,
    /// Wakes the session waiting for its client's next command.
    waker: AtomicWaker,
    shared: Mutex<Shared>,
}

/// What a slot publishes that does not fit an atomic.
#[derive(Debug)]
struct Shared {
    user: String,
    database: String,
    /// The statement being served, its first [`TEXT_KEPT`] bytes.
    text: Vec<u8>,
    /// Backend connections the session checked out, as long as it may hold them.
    backends: Vec<Running>,
}

/// A backend connection one checkout of a session holds.
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub(crate) pool: Arc<Pool>,
    /// The server's thread id of the connection.
    pub(crate) thread_id: u32,
    pub(crate) lease: Lease,
}

/// One row of `SHOW PROCESSLIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessRow {
    pub(crate) id: u32,
    pub(crate) user: String,
    pub(crate) host: String,
    pub(crate) database: Option<String>,
    pub(crate) command: &'static str,
    pub(crate) seconds: u64,
    pub(crate) state: &'static str,
    /// The statement's digest (literals replaced), never its text.
    pub(crate) info: Option<String>,
}

impl Sessions {
    /// An empty registry, with its sweeper running (inside a tokio runtime) until it is dropped.
    pub(crate) fn start() -> Arc<Self> {
        let sessions = Arc::new(Sessions {
            slots: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            clock: AtomicU64::new(0),
            wait_timeout: AtomicU64::new(0),
            interactive_timeout: AtomicU64::new(0),
        });
        tokio::spawn(sweep(Arc::downgrade(&sessions)));
        sessions
    }

    fn now(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    /// Adds a logged-in session; it leaves the registry when the registration is dropped.
    pub(crate) fn register(
        self: &Arc<Self>,
        id: u32,
        user: &str,
        host: &str,
        database: &str,
        wait_timeout: u64,
    ) -> Registration {
        let slot = Arc::new(SessionSlot {
            id,
            host: host.to_owned(),
            command: AtomicU8::new(SLEEP),
            since: AtomicU64::new(self.now()),
            commands: AtomicU64::new(0),
            wait_timeout: AtomicU64::new(wait_timeout),
            login_wait_timeout: wait_timeout,
            interrupt: AtomicU8::new(0),
            waker: AtomicWaker::new(),
            shared: Mutex::new(Shared {
                user: user.to_owned(),
                database: database.to_owned(),
                text: Vec::new(),
                backends: Vec::new(),
            }),
        });
        self.slots
            .lock()
            .expect("sessions lock")
            .insert(id, slot.clone());
        Registration {
            slot,
            sessions: self.clone(),
        }
    }

    /// The session with connection id `id`.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<SessionSlot>> {
        let id = u32::try_from(id).ok()?;
        self.slots.lock().expect("sessions lock").get(&id).cloned()
    }

    /// `SHOW PROCESSLIST` rows of the sessions `visible` lets through, by id.
    pub(crate) fn rows(&self, visible: impl Fn(&str) -> bool, full: bool) -> Vec<ProcessRow> {
        let slots: Vec<Arc<SessionSlot>> = (self.slots.lock().expect("sessions lock"))
            .values()
            .cloned()
            .collect();
        let now = self.now();
        slots
            .iter()
            .map(|slot| slot.row(now, full))
            .filter(|row| visible(&row.user))
            .collect()
    }

    /// How many sessions serve each command now (`Sleep` between commands).
    pub(crate) fn by_command(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for slot in self.slots.lock().expect("sessions lock").values() {
            let command = command_name(slot.command.load(Ordering::Relaxed));
            match counts.iter_mut().find(|(c, _)| *c == command) {
                Some((_, n)) => *n += 1,
                None => counts.push((command, 1)),
            }
        }
        counts
    }

    /// The `wait_timeout` a new session starts with: the servers' global `interactive_timeout`
    /// for a client that says it is interactive, else their global `wait_timeout` (read from
    /// the default shard's primary once, and again after a `SET GLOBAL`). Also whether the two
    /// differ, so an interactive session's own `wait_timeout` is not the servers' default.
    pub(crate) async fn login_timeout(
        &self,
        runtime: &Runtime,
        flavor: Flavor,
        interactive: bool,
    ) -> (u64, bool) {
        let mut wait = self.wait_timeout.load(Ordering::Relaxed);
        let mut interactive_wait = self.interactive_timeout.load(Ordering::Relaxed);
        if wait == 0 {
            match read_timeouts(runtime, flavor).await {
                Ok((w, i)) => {
                    (wait, interactive_wait) = (w, i);
                    self.wait_timeout.store(w, Ordering::Relaxed);
                    self.interactive_timeout.store(i, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the servers' wait_timeout; assuming MariaDB's default");
                    (wait, interactive_wait) = (DEFAULT_TIMEOUT, DEFAULT_TIMEOUT);
                }
            }
        }
        match interactive {
            true => (interactive_wait, interactive_wait != wait),
            false => (wait, false),
        }
    }

    /// Forgets the servers' timeouts (a `SET GLOBAL` may have changed them).
    pub(crate) fn forget_timeouts(&self) {
        self.wait_timeout.store(0, Ordering::Relaxed);
    }

    /// Advances the clock and closes the sessions idle past their `wait_timeout`.
    fn tick(&self) {
        let now = self.started.elapsed().as_secs();
        self.clock.store(now, Ordering::Relaxed);
        self.time_out_idle(now);
    }

    /// Interrupts the sessions idle past their `wait_timeout` at clock `now`.
    fn time_out_idle(&self, now: u64) {
        let slots = self.slots.lock().expect("sessions lock");
        for slot in slots.values() {
            let idle = now.saturating_sub(slot.since.load(Ordering::Relaxed));
            // Stamps are whole seconds: more than the timeout means at least that long idle.
            if slot.command.load(Ordering::Relaxed) == SLEEP
                && idle > slot.wait_timeout.load(Ordering::Relaxed)
            {
                slot.interrupt(Interrupt::TimedOut);
            }
        }
    }
}

/// Ticks once a second while the registry lives.
async fn sweep(sessions: Weak<Sessions>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(sessions) = sessions.upgrade() else {
            return;
        };
        sessions.tick();
    }
}

/// Registers a session that just logged in, with the `wait_timeout` MariaDB gives it: an
/// interactive client's is the servers' `interactive_timeout`, which then becomes the
/// session's own `wait_timeout` (so `@@wait_timeout` reads it back, as on MariaDB).
pub(crate) async fn login(
    proxy: &Proxy,
    runtime: &Runtime,
    login: &Login,
    host: &str,
    id: u32,
    state: &mut SessionState,
) -> Registration {
    let interactive = login
        .capabilities
        .contains(CapabilityFlags::CLIENT_INTERACTIVE);
    let flavor = Flavor::of_client(login.capabilities, login.mariadb_capabilities);
    let (wait_timeout, own) = (proxy.sessions)
        .login_timeout(runtime, flavor, interactive)
        .await;
    if own {
        let sql = format!("SET SESSION wait_timeout = {wait_timeout}");
        state.apply([("wait_timeout".to_owned(), sql.into_bytes())]);
    }
    (proxy.sessions).register(id, &login.user, host, &state.database, wait_timeout)
}

/// Whether a `SET` keeps `var` by the value the server gave it (read back) rather than as
/// written: values the server computes, and `wait_timeout`, which the proxy applies itself
/// (MariaDB adjusts values out of range).
pub(crate) fn kept_by_value(var: &SessionVar) -> bool {
    var.computed || var.name == "wait_timeout" || var.name == "max_statement_time"
}

/// The default shard's global `wait_timeout` and `interactive_timeout`.
async fn read_timeouts(
    runtime: &Runtime,
    flavor: Flavor,
) -> Result<(u64, u64), shardgate_backend::BackendError> {
    let mut conn = runtime
        .primary(runtime.topology.default_shard)
        .get(flavor)
        .await?;
    let text = crate::state::query_text(
        &mut conn,
        b"SELECT CONCAT(@@GLOBAL.wait_timeout, ',', @@GLOBAL.interactive_timeout) LIMIT 1",
    )
    .await?;
    let mut numbers = text.split(',').map(|n| n.trim().parse().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(wait), Some(interactive)) => Ok((wait, interactive)),
        _ => Ok((DEFAULT_TIMEOUT, DEFAULT_TIMEOUT)),
    }
}

impl SessionSlot {
    pub(crate) fn user(&self) -> String {
        self.shared.lock().expect("slot lock").user.clone()
    }

    /// Whether the session is serving a command (not idle between commands).
    pub(crate) fn busy(&self) -> bool {
        self.command.load(Ordering::Acquire) != SLEEP
    }

    /// Commands the session has started: changes when its statement does.
    pub(crate) fn commands(&self) -> u64 {
        self.commands.load(Ordering::Acquire)
    }

    /// The backend connections the session holds now.
    pub(crate) fn running(&self) -> Vec<Running> {
        let shared = self.shared.lock().expect("slot lock");
        shared
            .backends
            .iter()
            .filter(|r| r.lease.held())
            .cloned()
            .collect()
    }

    /// Asks the session to close at its next chance (at once when it waits for its client).
    pub(crate) fn interrupt(&self, why: Interrupt) {
        self.interrupt.fetch_max(why as u8, Ordering::AcqRel);
        self.waker.wake();
    }

    fn poll_interrupt(&self, cx: &mut Context<'_>) -> Poll<Interrupt> {
        let read = || match self.interrupt.load(Ordering::Acquire) {
            1 => Some(Interrupt::TimedOut),
            2 => Some(Interrupt::Killed),
            _ => None,
        };
        if let Some(why) = read() {
            return Poll::Ready(why);
        }
        self.waker.register(cx.waker());
        read().map_or(Poll::Pending, Poll::Ready)
    }

    fn row(&self, now: u64, full: bool) -> ProcessRow {
        let command = self.command.load(Ordering::Acquire);
        let seconds = now.saturating_sub(self.since.load(Ordering::Relaxed));
        let shared = self.shared.lock().expect("slot lock");
        let info = (command != SLEEP && !shared.text.is_empty()).then(|| {
            let text = String::from_utf8_lossy(&shared.text);
            let digest = crate::slow_log::digest(&text, TEXT_KEPT);
            match full {
                true => digest,
                // MariaDB's SHOW PROCESSLIST (without FULL) shows 100 characters.
                false => digest.chars().take(100).collect(),
            }
        });
        ProcessRow {
            id: self.id,
            user: shared.user.clone(),
            host: self.host.clone(),
            database: Some(shared.database.clone()).filter(|d| !d.is_empty()),
            command: command_name(command),
            seconds,
            state: if command == SLEEP { "" } else { "executing" },
            info,
        }
    }
}

/// A session's place in the registry, held by the session; dropping it leaves the registry.
#[derive(Debug)]
pub(crate) struct Registration {
    slot: Arc<SessionSlot>,
    sessions: Arc<Sessions>,
}

impl std::ops::Deref for Registration {
    type Target = SessionSlot;
    fn deref(&self) -> &SessionSlot {
        &self.slot
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        (self.sessions.slots.lock().expect("sessions lock")).remove(&self.slot.id);
    }
}

impl Registration {
    /// Waits for the client's next command, or for another task to interrupt the session.
    pub(crate) async fn next_command(
        &self,
        client: &mut PacketConn<ClientStream>,
    ) -> Result<Result<BytesMut, ProtocolError>, Interrupt> {
        let slot = &*self.slot;
        let interrupted = std::future::poll_fn(|cx| slot.poll_interrupt(cx));
        tokio::select! {
            biased;
            why = interrupted => Err(why),
            packet = client.read_packet() => Ok(packet),
        }
    }

    /// The session starts serving `command`; `text` is its statement, if it has one.
    pub(crate) fn begin(&self, command: u8, text: Option<&[u8]>) {
        let slot = &*self.slot;
        // The client spoke before the timeout took effect: it was not idle that long.
        let _ = slot.interrupt.compare_exchange(
            Interrupt::TimedOut as u8,
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        slot.commands.fetch_add(1, Ordering::AcqRel);
        slot.since.store(self.sessions.now(), Ordering::Relaxed);
        slot.command.store(command, Ordering::Release);
        let mut shared = slot.shared.lock().expect("slot lock");
        shared.text.clear();
        if let Some(text) = text {
            shared
                .text
                .extend_from_slice(&text[..text.len().min(TEXT_KEPT)]);
        }
    }

    /// The session finished its command and waits for the next one.
    pub(crate) fn end(&self) {
        self.slot
            .since
            .store(self.sessions.now(), Ordering::Relaxed);
        self.slot.command.store(SLEEP, Ordering::Release);
    }

    /// Notes a backend connection the session just checked out, for `KILL` (connections it no
    /// longer holds are dropped from the list).
    pub(crate) fn hold(&self, conn: &PooledConn) {
        let mut shared = self.slot.shared.lock().expect("slot lock");
        // A pool lends its most recently returned connection first: most often the one the
        // session held last, whose entry then follows this checkout (no new entry to build).
        let mut known = false;
        shared.backends.retain_mut(|r| match r.lease.follow(conn) {
            true => {
                known = true;
                true
            }
            false => r.lease.held(),
        });
        if !known {
            shared.backends.push(Running {
                pool: conn.pool().clone(),
                thread_id: conn.thread_id(),
                lease: conn.lease(),
            });
        }
    }

    pub(crate) fn set_database(&self, database: &str) {
        let mut shared = self.slot.shared.lock().expect("slot lock");
        shared.database.clear();
        shared.database.push_str(database);
    }

    /// Back to the `wait_timeout` of login (COM_RESET_CONNECTION, COM_CHANGE_USER).
    pub(crate) fn reset_wait_timeout(&self) {
        self.slot
            .wait_timeout
            .store(self.slot.login_wait_timeout, Ordering::Relaxed);
    }

    /// After a `SET` of `vars` kept in `state`: a new `wait_timeout` applies from now on.
    pub(crate) fn follow_wait_timeout(&self, vars: &[SessionVar], state: &SessionState) {
        if !vars.iter().any(|v| v.name == "wait_timeout") {
            return;
        }
        // Kept by the value read back, e.g. `SET @@SESSION.wait_timeout = CAST(5 AS UNSIGNED)`.
        let seconds = state.var_text("wait_timeout").and_then(|sql| {
            let value = &sql[sql.iter().rposition(|b| *b == b'=')? + 1..];
            let digits = value.iter().position(u8::is_ascii_digit)?;
            let number: String = value[digits..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .map(|b| char::from(*b))
                .collect();
            number.parse().ok()
        });
        if let Some(seconds) = seconds {
            self.slot.wait_timeout.store(seconds, Ordering::Relaxed);
        }
    }

    /// COM_CHANGE_USER started the session afresh as `user` in `database`.
    pub(crate) fn changed_user(&self, user: &str, database: &str) {
        let mut shared = self.slot.shared.lock().expect("slot lock");
        shared.user = user.to_owned();
        shared.database = database.to_owned();
        drop(shared);
        self.reset_wait_timeout();
    }

    /// Ends the session for `why` (its client is not told, as MariaDB does not tell it).
    pub(crate) fn close(&self, why: Interrupt) -> Step {
        match why {
            Interrupt::Killed => tracing::info!("client connection killed"),
            Interrupt::TimedOut => tracing::info!(
                wait_timeout = self.slot.wait_timeout.load(Ordering::Relaxed),
                "client connection idle past its wait_timeout"
            ),
        }
        Ok(())
    }
}

/// MariaDB's name of a command (what its `SHOW PROCESSLIST` prints), by COM_* byte.
fn command_name(command: u8) -> &'static str {
    const NAMES: [&str; 32] = [
        "Sleep",
        "Quit",
        "Init DB",
        "Query",
        "Field List",
        "Create DB",
        "Drop DB",
        "Refresh",
        "Shutdown",
        "Statistics",
        "Processlist",
        "Connect",
        "Kill",
        "Debug",
        "Ping",
        "Time",
        "Delayed insert",
        "Change user",
        "Binlog Dump",
        "Table Dump",
        "Connect Out",
        "Register Slave",
        "Prepare",
        "Execute",
        "Long Data",
        "Close stmt",
        "Reset stmt",
        "Set option",
        "Fetch",
        "Daemon",
        "Unimpl get tid",
        "Reset connection",
    ];
    NAMES.get(usize::from(command)).copied().unwrap_or("Query")
}

/// The statement text a command carries (what `SHOW PROCESSLIST` digests).
pub(crate) fn command_text<'a>(
    command: u8,
    arg: &'a [u8],
    statements: &'a crate::prepared::Statements,
) -> Option<&'a [u8]> {
    match command {
        c if c == Command::COM_QUERY as u8 || c == Command::COM_STMT_PREPARE as u8 => Some(arg),
        c if c == Command::COM_STMT_EXECUTE as u8 => statements.text_of(arg),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Arc<Sessions> {
        Arc::new(Sessions {
            slots: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            clock: AtomicU64::new(100),
            wait_timeout: AtomicU64::new(0),
            interactive_timeout: AtomicU64::new(0),
        })
    }

    #[test]
    fn rows_show_a_digest_and_leave_when_the_session_does() {
        let sessions = registry();
        let a = sessions.register(7, "app", "127.0.0.1:5000", "app", 60);
        let b = sessions.register(8, "other", "127.0.0.1:5001", "", 60);
        a.begin(
            Command::COM_QUERY as u8,
            Some(b"SELECT * FROM users WHERE email = 'secret@x.com'"),
        );
        let rows = sessions.rows(|_| true, true);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, 7);
        assert_eq!(rows[0].command, "Query");
        assert_eq!(
            rows[0].info.as_deref(),
            Some("SELECT * FROM users WHERE email = ?")
        );
        assert_eq!(rows[1].command, "Sleep");
        assert_eq!(rows[1].info, None);
        assert_eq!(rows[1].database, None);
        assert_eq!(sessions.rows(|user| user == "other", true).len(), 1);
        let mut counts = sessions.by_command();
        counts.sort();
        assert_eq!(counts, [("Query", 1), ("Sleep", 1)]);
        drop(b);
        assert_eq!(sessions.rows(|_| true, true).len(), 1);
        assert!(sessions.get(8).is_none());
        assert!(sessions.get(7).is_some());
        assert!(sessions.get(u64::from(u32::MAX) + 8).is_none());
    }

    #[test]
    fn idle_sessions_past_their_timeout_are_interrupted() {
        let sessions = registry();
        let idle = sessions.register(1, "app", "h", "app", 1);
        let busy = sessions.register(2, "app", "h", "app", 1);
        busy.begin(Command::COM_QUERY as u8, Some(b"SELECT SLEEP(5)"));
        sessions.time_out_idle(101);
        assert_eq!(
            idle.interrupt.load(Ordering::Relaxed),
            0,
            "1 s idle is not past 1 s"
        );
        sessions.time_out_idle(102);
        assert_eq!(
            idle.interrupt.load(Ordering::Relaxed),
            Interrupt::TimedOut as u8
        );
        assert_eq!(busy.interrupt.load(Ordering::Relaxed), 0);
        // A command that arrives anyway cancels the timeout; a kill is never cancelled.
        idle.begin(Command::COM_PING as u8, None);
        assert_eq!(idle.interrupt.load(Ordering::Relaxed), 0);
        idle.interrupt(Interrupt::Killed);
        idle.interrupt(Interrupt::TimedOut);
        idle.begin(Command::COM_PING as u8, None);
        assert_eq!(
            idle.interrupt.load(Ordering::Relaxed),
            Interrupt::Killed as u8
        );
    }

    #[test]
    fn command_names_are_mariadb_s() {
        assert_eq!(command_name(0), "Sleep");
        assert_eq!(command_name(Command::COM_QUERY as u8), "Query");
        assert_eq!(command_name(Command::COM_STMT_EXECUTE as u8), "Execute");
        assert_eq!(
            command_name(Command::COM_RESET_CONNECTION as u8),
            "Reset connection"
        );
    }
}
