//! Health and replication-lag monitor: one task per endpoint checks it on an interval and
//! publishes an [`EndpointHealth`] snapshot that replica choice reads without locking.
//!
//! A check keeps one control connection open (reconnecting when it breaks), runs the
//! validation query, and on a replica reads `SHOW SLAVE STATUS` (`SHOW REPLICA STATUS` on
//! servers that only know that): the replication threads, `Seconds_Behind_Master` and the
//! applied GTID position. Every step runs under a timeout, so a hung server (SIGSTOP: the
//! kernel accepts the connection but nothing answers) is reported down instead of stalling the
//! monitor. Whether a replica takes reads (`in_rotation`) changes with hysteresis: it leaves
//! after `fall` bad checks in a row and comes back after `rise` good ones.
//!
//! The second half of this file is [`GtidPosition`]: MariaDB GTID positions
//! (`domain-server-seqno`, one per domain, comma separated), parsed and compared, which is how
//! read-your-writes knows whether a replica has applied a session's last write.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row, Value};
use shardgate_config::{Endpoint, Shard};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// `ER_PARSE_ERROR`: the server does not know the statement (`SHOW SLAVE STATUS` on MySQL 8.4).
const ER_PARSE_ERROR: u16 = 1064;

/// How long closing a broken control connection may take before it is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// How often and how strictly endpoints are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSettings {
    /// Time between the end of one check and the start of the next (`health_check_interval_ms`).
    pub interval: Duration,
    /// A replica further behind than this leaves rotation (`max_lag_seconds`).
    pub max_lag: Duration,
    /// How long connecting and logging in may take.
    pub connect_timeout: Duration,
    /// How long each statement of a check may take.
    pub query_timeout: Duration,
    /// Good checks in a row that bring an endpoint back into rotation (at least 1).
    pub rise: u32,
    /// Bad checks in a row that take an endpoint out of rotation (at least 1).
    pub fall: u32,
    /// Sent on every check; empty to skip it (the status statements still prove liveness).
    pub validation_query: String,
    /// TLS as the proxy's own backend connections use it (`[backend] tls`): an account
    /// created `REQUIRE SSL` is checked over TLS too.
    pub tls: shardgate_config::BackendTls,
}

impl Default for HealthSettings {
    /// Checks every second, 5 s of lag allowed, 1 s timeouts, `rise` 2, `fall` 1.
    fn default() -> Self {
        HealthSettings {
            interval: Duration::from_secs(1),
            max_lag: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            query_timeout: Duration::from_secs(1),
            rise: 2,
            fall: 1,
            validation_query: "SELECT 1".to_owned(),
            tls: shardgate_config::BackendTls::Disabled,
        }
    }
}

/// The account the monitor logs in with. On MariaDB ≥ 10.5.9 it needs `SLAVE MONITOR` (or
/// `ALL PRIVILEGES`) on replicas for `SHOW SLAVE STATUS`; no database is selected.
#[derive(Clone, PartialEq, Eq)]
pub struct MonitorAccount {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for MonitorAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorAccount")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Whether an endpoint is its shard's primary or one of its replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Takes the writes; checked for liveness only.
    Primary,
    /// Takes reads; checked for liveness, replication threads, lag and GTID position.
    Replica,
}

impl Role {
    /// `"primary"` or `"replica"` (the `role` metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
        }
    }
}

/// One endpoint to watch: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MonitorTarget {
    /// The shard's name.
    pub shard: String,
    pub role: Role,
    pub endpoint: Endpoint,
}

impl fmt::Display for MonitorTarget {
    /// `s0 replica 127.0.0.1:3307`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.shard, self.role.as_str(), self.endpoint)
    }
}

impl MonitorTarget {
    /// Every endpoint of `shards`: each shard's primary, then its replicas, in config order.
    pub fn of_shards(shards: &[Shard]) -> Vec<MonitorTarget> {
        let mut out = Vec::new();
        for shard in shards {
            out.push(MonitorTarget {
                shard: shard.name.clone(),
                role: Role::Primary,
                endpoint: shard.primary.clone(),
            });
            out.extend(shard.replicas.iter().map(|r| MonitorTarget {
                shard: shard.name.clone(),
                role: Role::Replica,
                endpoint: r.clone(),
            }));
        }
        out
    }
}

/// What the last check of one endpoint found. Published as a whole after every check.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointHealth {
    /// The endpoint this describes.
    pub target: Arc<MonitorTarget>,
    /// Checks finished so far (0: not checked yet; the endpoint is then out of rotation).
    pub checks: u64,
    /// The server answered the last check (connected, validation query ran).
    pub up: bool,
    /// Whether reads may be sent here, with hysteresis (see [`HealthSettings::rise`] and
    /// [`HealthSettings::fall`]). For a primary it follows `up` only.
    pub in_rotation: bool,
    /// `Seconds_Behind_Master`; `None` when unknown (NULL: the SQL thread is stopped) or for
    /// a primary.
    pub lag: Option<Duration>,
    /// `Slave_IO_Running = Yes` (`None` for a primary or an unreachable replica).
    pub io_running: Option<bool>,
    /// `Slave_SQL_Running = Yes` (`None` for a primary or an unreachable replica).
    pub sql_running: Option<bool>,
    /// The GTIDs applied: `Gtid_Slave_Pos` (`@@gtid_slave_pos`) on a replica,
    /// `@@gtid_binlog_pos` on a primary; `None` when unknown. It only grows between checks,
    /// so an old snapshot that covers a GTID is still right.
    pub gtid_position: Option<GtidPosition>,
    /// `@@read_only` of a primary (`true` there suggests a failover happened); `None` for a
    /// replica or when unknown.
    pub read_only: Option<bool>,
    /// When the last check finished (`None` before the first).
    pub last_check: Option<Instant>,
    /// How long the last check took.
    pub check_duration: Duration,
    /// Why the last check was bad; `None` when it was good.
    pub last_error: Option<String>,
    /// Good checks in a row (0 after a bad one).
    pub good_streak: u32,
    /// Bad checks in a row (0 after a good one).
    pub bad_streak: u32,
}

impl EndpointHealth {
    /// The state before the first check: down, out of rotation, nothing known.
    pub fn unchecked(target: Arc<MonitorTarget>) -> Self {
        EndpointHealth {
            target,
            checks: 0,
            up: false,
            in_rotation: false,
            lag: None,
            io_running: None,
            sql_running: None,
            gtid_position: None,
            read_only: None,
            last_check: None,
            check_duration: Duration::ZERO,
            last_error: None,
            good_streak: 0,
            bad_streak: 0,
        }
    }
}

/// A cheap, clonable view of one endpoint's health.
#[derive(Debug, Clone)]
pub struct HealthHandle {
    target: Arc<MonitorTarget>,
    state: Arc<ArcSwap<EndpointHealth>>,
    checks: watch::Receiver<u64>,
}

impl HealthHandle {
    /// The endpoint watched.
    pub fn target(&self) -> &MonitorTarget {
        &self.target
    }

    /// The latest snapshot (lock-free).
    pub fn snapshot(&self) -> Arc<EndpointHealth> {
        self.state.load_full()
    }

    /// Waits until a check that started after this call has finished, and returns its
    /// snapshot. `None` once the monitor has stopped.
    pub async fn next_check(&self) -> Option<Arc<EndpointHealth>> {
        let mut rx = self.checks.clone();
        // The counter is 2 × checks finished, plus 1 while a check runs. A check running now
        // started before this call: then wait for the one after it.
        let now = *rx.borrow_and_update();
        let target = now + 2 + (now & 1);
        rx.wait_for(|n| *n >= target).await.ok()?;
        Some(self.snapshot())
    }

    /// Waits until a snapshot satisfies `pred` (checked now, then after every check) and
    /// returns it. `None` once the monitor has stopped. Wrap it in a timeout.
    pub async fn wait_for(
        &self,
        mut pred: impl FnMut(&EndpointHealth) -> bool,
    ) -> Option<Arc<EndpointHealth>> {
        let mut rx = self.checks.clone();
        loop {
            rx.borrow_and_update();
            let snap = self.snapshot();
            if pred(&snap) {
                return Some(snap);
            }
            rx.changed().await.ok()?;
        }
    }
}

/// Owns one check task per endpoint; stops them on [`HealthMonitor::shutdown`] or drop.
#[derive(Debug)]
pub struct HealthMonitor {
    handles: Vec<HealthHandle>,
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl HealthMonitor {
    /// Starts checking every target at once. Needs a tokio runtime.
    pub fn spawn(
        targets: impl IntoIterator<Item = MonitorTarget>,
        account: MonitorAccount,
        settings: HealthSettings,
    ) -> HealthMonitor {
        let (stop, _) = watch::channel(false);
        let account = Arc::new(account);
        let settings = Arc::new(settings);
        let mut handles = Vec::new();
        let mut tasks = Vec::new();
        for target in targets {
            let target = Arc::new(target);
            let state = Arc::new(ArcSwap::from_pointee(EndpointHealth::unchecked(
                target.clone(),
            )));
            let (checks_tx, checks_rx) = watch::channel(0u64);
            let task = CheckTask {
                checker: Checker::new(target.clone(), account.clone(), settings.clone()),
                state: state.clone(),
                checks: checks_tx,
                stop: stop.subscribe(),
            };
            tasks.push(tokio::spawn(task.run()));
            handles.push(HealthHandle {
                target,
                state,
                checks: checks_rx,
            });
        }
        HealthMonitor {
            handles,
            tasks,
            stop,
        }
    }

    /// Starts checking every endpoint of `shards` (see [`MonitorTarget::of_shards`]).
    pub fn for_shards(
        shards: &[Shard],
        account: MonitorAccount,
        settings: HealthSettings,
    ) -> HealthMonitor {
        Self::spawn(MonitorTarget::of_shards(shards), account, settings)
    }

    /// One handle per endpoint, in the order given to [`HealthMonitor::spawn`].
    pub fn handles(&self) -> &[HealthHandle] {
        &self.handles
    }

    /// The handle of `endpoint` in `shard`.
    pub fn handle(&self, shard: &str, endpoint: &Endpoint) -> Option<&HealthHandle> {
        self.handles
            .iter()
            .find(|h| h.target.shard == shard && h.target.endpoint == *endpoint)
    }

    /// The handles of `shard`'s replicas, in config order (the index replica choice returns).
    pub fn replicas<'a>(&'a self, shard: &'a str) -> impl Iterator<Item = &'a HealthHandle> {
        self.handles
            .iter()
            .filter(move |h| h.target.shard == shard && h.target.role == Role::Replica)
    }

    /// The latest snapshot of every endpoint, in the order given to [`HealthMonitor::spawn`].
    pub fn snapshots(&self) -> Vec<Arc<EndpointHealth>> {
        self.handles.iter().map(HealthHandle::snapshot).collect()
    }

    /// Waits until every endpoint has finished a check that started after this call.
    pub async fn next_round(&self) -> Vec<Arc<EndpointHealth>> {
        let waits = self.handles.iter().map(|h| async move {
            // `None` only when the task is gone; its last snapshot is the best there is.
            match h.next_check().await {
                Some(s) => s,
                None => h.snapshot(),
            }
        });
        futures_util::future::join_all(waits).await
    }

    /// Waits until every endpoint has been checked at least once.
    pub async fn first_round(&self) -> Vec<Arc<EndpointHealth>> {
        let waits = self.handles.iter().map(|h| async move {
            match h.wait_for(|s| s.checks > 0).await {
                Some(s) => s,
                None => h.snapshot(),
            }
        });
        futures_util::future::join_all(waits).await
    }

    /// Stops every check task and waits for them to close their connections.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The loop of one endpoint: check, publish, sleep.
struct CheckTask {
    checker: Checker,
    state: Arc<ArcSwap<EndpointHealth>>,
    checks: watch::Sender<u64>,
    stop: watch::Receiver<bool>,
}

impl CheckTask {
    async fn run(mut self) {
        let settings = self.checker.settings.clone();
        let mut rotation = Rotation::default();
        let mut checks = 0u64;
        loop {
            if *self.stop.borrow() {
                break;
            }
            // Odd while a check runs, even between checks (see `HealthHandle::next_check`).
            self.checks.send_replace(2 * checks + 1);
            let started = Instant::now();
            let obs = tokio::select! {
                obs = self.checker.check() => obs,
                _ = self.stop.changed() => break,
            };
            let finished = Instant::now();
            checks += 1;
            let good = obs.is_good(&self.checker.target, &settings);
            rotation.observe(good.is_ok(), settings.rise, settings.fall);
            let was = self.state.load();
            if was.in_rotation != rotation.in_rotation || was.up != obs.up {
                tracing::info!(
                    endpoint = %self.checker.target,
                    up = obs.up,
                    in_rotation = rotation.in_rotation,
                    reason = good.as_ref().err().map(String::as_str).unwrap_or("healthy"),
                    "endpoint health changed"
                );
            }
            self.state.store(Arc::new(EndpointHealth {
                target: self.checker.target.clone(),
                checks,
                up: obs.up,
                in_rotation: rotation.in_rotation,
                lag: obs.lag,
                io_running: obs.io_running,
                sql_running: obs.sql_running,
                gtid_position: obs.gtid_position,
                read_only: obs.read_only,
                last_check: Some(finished),
                check_duration: finished - started,
                last_error: good.err(),
                good_streak: rotation.good_streak,
                bad_streak: rotation.bad_streak,
            }));
            self.checks.send_replace(2 * checks);
            tokio::select! {
                _ = tokio::time::sleep(settings.interval) => {}
                _ = self.stop.changed() => break,
            }
        }
        self.checker.close().await;
        // Wake waiters: the monitor is gone.
        drop(self.checks);
    }
}

/// In or out of rotation, with hysteresis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Rotation {
    in_rotation: bool,
    good_streak: u32,
    bad_streak: u32,
    checked: bool,
}

impl Rotation {
    /// Counts one check. The first check decides directly (a server found healthy at start-up
    /// takes reads at once); after that it takes `fall` bad checks in a row to leave and
    /// `rise` good ones to come back.
    fn observe(&mut self, good: bool, rise: u32, fall: u32) {
        if good {
            self.good_streak = self.good_streak.saturating_add(1);
            self.bad_streak = 0;
        } else {
            self.bad_streak = self.bad_streak.saturating_add(1);
            self.good_streak = 0;
        }
        if !self.checked {
            self.checked = true;
            self.in_rotation = good;
        } else if self.in_rotation && self.bad_streak >= fall.max(1) {
            self.in_rotation = false;
        } else if !self.in_rotation && self.good_streak >= rise.max(1) {
            self.in_rotation = true;
        }
    }
}

/// What one check saw.
#[derive(Debug, Clone, Default, PartialEq)]
struct Observation {
    up: bool,
    lag: Option<Duration>,
    io_running: Option<bool>,
    sql_running: Option<bool>,
    gtid_position: Option<GtidPosition>,
    read_only: Option<bool>,
    /// Set when the server could not be checked (then `up` is false), or when the replica's
    /// status could not be read.
    error: Option<String>,
    /// `Slave_IO_State`-style detail for a replication thread that is not running.
    replication_detail: Option<String>,
}

impl Observation {
    fn down(error: String) -> Self {
        Observation {
            error: Some(error),
            ..Observation::default()
        }
    }

    /// `Ok` if the endpoint may take reads, else why not.
    fn is_good(&self, target: &MonitorTarget, settings: &HealthSettings) -> Result<(), String> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if !self.up {
            return Err("down".to_owned());
        }
        if target.role == Role::Primary {
            return Ok(());
        }
        let detail = || {
            self.replication_detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        };
        if self.io_running != Some(true) {
            return Err(format!("replication IO thread not running{}", detail()));
        }
        if self.sql_running != Some(true) {
            return Err(format!("replication SQL thread not running{}", detail()));
        }
        match self.lag {
            None => Err("replication lag unknown (Seconds_Behind_Master is NULL)".to_owned()),
            Some(lag) if lag > settings.max_lag => Err(format!(
                "replication lag {} s exceeds max {} s",
                lag.as_secs(),
                settings.max_lag.as_secs_f64()
            )),
            Some(_) => Ok(()),
        }
    }
}

/// Which statement shows replication status on this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusStatement {
    Slave,
    Replica,
}

impl StatusStatement {
    fn sql(self) -> &'static str {
        match self {
            StatusStatement::Slave => "SHOW SLAVE STATUS",
            StatusStatement::Replica => "SHOW REPLICA STATUS",
        }
    }
}

/// Why one step of a check failed.
enum StepError {
    /// The server sent an error; the connection is still usable.
    Server(mysql_async::ServerError),
    /// No answer in time; the connection must be dropped.
    Timeout(Duration),
    /// The connection broke (closed, reset, protocol error); it must be dropped.
    Broken(String),
}

impl StepError {
    fn message(&self, what: &str) -> String {
        match self {
            StepError::Server(e) => {
                format!("{what}: error {} ({}): {}", e.code, e.state, e.message)
            }
            StepError::Timeout(t) => format!("{what}: no answer within {} ms", t.as_millis()),
            StepError::Broken(m) => format!("{what}: {m}"),
        }
    }
}

/// Runs `fut` under `timeout`, sorting its failure.
async fn step<T>(
    timeout: Duration,
    fut: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, StepError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(mysql_async::Error::Server(e))) => Err(StepError::Server(e)),
        Ok(Err(e)) => Err(StepError::Broken(e.to_string())),
        Err(_) => Err(StepError::Timeout(timeout)),
    }
}

/// A check that could not finish on its connection (which is then dropped).
struct ConnFailed {
    message: String,
    /// The connection broke rather than timed out: a fresh one may well work.
    broken: bool,
}

impl ConnFailed {
    fn new(e: StepError, what: &str) -> Self {
        ConnFailed {
            broken: matches!(e, StepError::Broken(_)),
            message: e.message(what),
        }
    }
}

/// Checks one endpoint over a control connection it keeps between checks.
struct Checker {
    target: Arc<MonitorTarget>,
    account: Arc<MonitorAccount>,
    settings: Arc<HealthSettings>,
    conn: Option<Conn>,
    status_statement: StatusStatement,
}

impl Checker {
    fn new(
        target: Arc<MonitorTarget>,
        account: Arc<MonitorAccount>,
        settings: Arc<HealthSettings>,
    ) -> Self {
        Checker {
            target,
            account,
            settings,
            conn: None,
            status_statement: StatusStatement::Slave,
        }
    }

    fn opts(&self) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname(self.target.endpoint.host.clone())
            .tcp_port(self.target.endpoint.port)
            .user(Some(self.account.user.clone()))
            .pass(Some(self.account.password.clone()))
            // Never switch to the server's Unix socket: check what the proxy uses.
            .prefer_socket(false)
            .tcp_nodelay(true)
            // Known up front, so connecting does not cost a `SELECT @@…` round trip.
            .max_allowed_packet(Some(16 << 20))
            .wait_timeout(Some(28_800))
            .stmt_cache_size(0)
    }

    /// A control connection, over TLS as `[backend] tls` asks (with `preferred`, in plain text
    /// to a server that offers no TLS, as the pool's connections go).
    async fn connect(&self) -> Result<Conn, mysql_async::Error> {
        use shardgate_config::BackendTls as Mode;
        let plain = self.opts();
        let ssl = mysql_async::SslOpts::default();
        let ssl = match &self.settings.tls {
            Mode::Disabled => return Conn::new(plain).await,
            Mode::Preferred | Mode::Required => ssl.with_danger_accept_invalid_certs(true),
            Mode::VerifyCa(ca) => ssl
                .with_root_certs(vec![ca.clone().into()])
                .with_disable_built_in_roots(true)
                .with_danger_skip_domain_validation(true),
            Mode::VerifyIdentity(ca) => ssl
                .with_root_certs(vec![ca.clone().into()])
                .with_disable_built_in_roots(true),
        };
        match Conn::new(plain.clone().ssl_opts(ssl)).await {
            Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            )) if self.settings.tls == Mode::Preferred => Conn::new(plain).await,
            other => other,
        }
    }

    /// One check: on the kept connection, or a new one. A kept connection that turns out
    /// broken (the server restarted, or closed it) gets one retry on a fresh connection, so
    /// a server that is fine is not reported down for a stale socket. Bounded by about
    /// `2 × connect_timeout + 3 × query_timeout`.
    async fn check(&mut self) -> Observation {
        let reused = self.conn.is_some();
        match self.check_once().await {
            Err(f) if reused && f.broken => {
                tracing::debug!(endpoint = %self.target, error = %f.message, "control connection broke; reconnecting");
                self.check_once()
                    .await
                    .unwrap_or_else(|f| Observation::down(f.message))
            }
            result => result.unwrap_or_else(|f| Observation::down(f.message)),
        }
    }

    async fn check_once(&mut self) -> Result<Observation, ConnFailed> {
        if self.conn.is_none() {
            let conn = step(self.settings.connect_timeout, self.connect())
                .await
                // A fresh connection that fails is no reason to retry.
                .map_err(|e| ConnFailed {
                    broken: false,
                    message: e.message("cannot connect"),
                })?;
            self.conn = Some(conn);
        }
        // The connection stays in `self.conn` while in use: if the check is abandoned (on
        // shutdown), `close` still closes it under a timeout.
        let Some(conn) = self.conn.as_mut() else {
            unreachable!("connected above")
        };
        let result = run_check(
            conn,
            &self.target,
            &self.settings,
            &mut self.status_statement,
        )
        .await;
        if result.is_err() {
            if let Some(conn) = self.conn.take() {
                discard(conn);
            }
        }
        result
    }

    /// Closes the control connection (on shutdown).
    async fn close(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.disconnect()).await;
        }
    }
}

/// The statements of a check on an open connection; `Err` when the connection timed out or
/// broke.
async fn run_check(
    conn: &mut Conn,
    target: &MonitorTarget,
    settings: &HealthSettings,
    status_statement: &mut StatusStatement,
) -> Result<Observation, ConnFailed> {
    let timeout = settings.query_timeout;
    if !settings.validation_query.is_empty() {
        match step(timeout, conn.query_drop(&settings.validation_query)).await {
            Ok(()) => {}
            Err(e @ StepError::Server(_)) => {
                // The server answers but refuses the query: keep the connection.
                return Ok(Observation::down(e.message("validation query failed")));
            }
            Err(e) => return Err(ConnFailed::new(e, "validation query failed")),
        }
    }
    match target.role {
        Role::Primary => check_primary(conn, timeout).await,
        Role::Replica => check_replica(conn, timeout, status_statement).await,
    }
}

async fn check_primary(conn: &mut Conn, timeout: Duration) -> Result<Observation, ConnFailed> {
    let mut obs = Observation {
        up: true,
        ..Observation::default()
    };
    let sql = "SELECT @@global.gtid_binlog_pos, @@global.read_only";
    match step(timeout, conn.query_first::<Row, _>(sql)).await {
        Ok(Some(row)) => {
            let cells = row.unwrap();
            obs.gtid_position = cells
                .first()
                .and_then(text)
                .and_then(|s| s.parse::<GtidPosition>().ok());
            obs.read_only = cells.get(1).and_then(text).map(|s| s != "0");
        }
        Ok(None) => {}
        // Not MariaDB (no `gtid_binlog_pos`): nothing to learn, the primary is still up.
        Err(StepError::Server(_)) => {}
        Err(e) => return Err(ConnFailed::new(e, "reading the GTID position")),
    }
    Ok(obs)
}

async fn check_replica(
    conn: &mut Conn,
    timeout: Duration,
    statement: &mut StatusStatement,
) -> Result<Observation, ConnFailed> {
    let mut result = step(timeout, conn.query_first::<Row, _>(statement.sql())).await;
    if let Err(StepError::Server(e)) = &result {
        if e.code == ER_PARSE_ERROR && *statement == StatusStatement::Slave {
            *statement = StatusStatement::Replica;
            result = step(timeout, conn.query_first::<Row, _>(statement.sql())).await;
        }
    }
    let row = match result {
        Ok(Some(row)) => row,
        Ok(None) => {
            return Ok(Observation {
                up: true,
                error: Some(format!("not replicating ({} is empty)", statement.sql())),
                ..Observation::default()
            })
        }
        Err(e @ StepError::Server(_)) => {
            let mut msg = e.message(statement.sql());
            msg.push_str(" (the monitor account needs the SLAVE MONITOR privilege)");
            return Ok(Observation {
                up: true,
                error: Some(msg),
                ..Observation::default()
            });
        }
        Err(e) => return Err(ConnFailed::new(e, statement.sql())),
    };
    let status = ReplicaStatus::from_row(&row);
    let mut obs = Observation {
        up: true,
        lag: status.lag,
        io_running: Some(status.io_running),
        sql_running: Some(status.sql_running),
        replication_detail: status.detail(),
        ..Observation::default()
    };
    obs.gtid_position = match status.gtid_slave_pos {
        Some(pos) => pos.parse().ok(),
        None => {
            let sql = "SELECT @@global.gtid_slave_pos";
            match step(timeout, conn.query_first::<Option<String>, _>(sql)).await {
                Ok(v) => v.flatten().and_then(|s| s.parse().ok()),
                // Not MariaDB: no GTID position, read-your-writes falls back to the primary.
                Err(StepError::Server(_)) => None,
                Err(e) => return Err(ConnFailed::new(e, "reading @@gtid_slave_pos")),
            }
        }
    };
    Ok(obs)
}

/// Closes a connection that timed out or broke, in the background and under a timeout, so a
/// hung server never holds the check loop (dropping a `Conn` would spawn an unbounded close).
fn discard(conn: Conn) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.disconnect()).await;
    });
}

/// The columns of `SHOW SLAVE STATUS` (or `SHOW REPLICA STATUS`) the monitor uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ReplicaStatus {
    io_running: bool,
    sql_running: bool,
    io_state: Option<String>,
    lag: Option<Duration>,
    gtid_slave_pos: Option<String>,
    last_io_error: Option<String>,
    last_sql_error: Option<String>,
}

impl ReplicaStatus {
    fn from_row(row: &Row) -> Self {
        let columns = row.columns_ref();
        let get = |names: &[&str]| -> Option<String> {
            let idx = columns
                .iter()
                .position(|c| names.iter().any(|n| c.name_str().eq_ignore_ascii_case(n)))?;
            row.as_ref(idx).and_then(text)
        };
        Self::from_fields(get)
    }

    /// Reads the fields through `get`, which takes the column names to try (the MariaDB
    /// spelling first, MySQL 8's `Replica`/`Source` spelling second).
    fn from_fields(get: impl Fn(&[&str]) -> Option<String>) -> Self {
        let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        ReplicaStatus {
            io_running: get(&["Slave_IO_Running", "Replica_IO_Running"]).as_deref() == Some("Yes"),
            sql_running: get(&["Slave_SQL_Running", "Replica_SQL_Running"]).as_deref()
                == Some("Yes"),
            io_state: non_empty(get(&["Slave_IO_State", "Replica_IO_State"])),
            lag: get(&["Seconds_Behind_Master", "Seconds_Behind_Source"])
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            gtid_slave_pos: get(&["Gtid_Slave_Pos"]),
            last_io_error: non_empty(get(&["Last_IO_Error"])),
            last_sql_error: non_empty(get(&["Last_SQL_Error"])),
        }
    }

    /// What to tell the operator when a thread is not running.
    fn detail(&self) -> Option<String> {
        let parts: Vec<String> = [
            self.io_state.as_ref().map(|s| format!("IO state: {s}")),
            self.last_io_error
                .as_ref()
                .map(|s| format!("Last_IO_Error: {s}")),
            self.last_sql_error
                .as_ref()
                .map(|s| format!("Last_SQL_Error: {s}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// A cell as text; `None` for NULL.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// GTID positions

/// One MariaDB GTID: `domain-server-seqno`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gtid {
    pub domain: u32,
    pub server_id: u32,
    pub seqno: u64,
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server_id, self.seqno)
    }
}

impl FromStr for Gtid {
    type Err = GtidParseError;

    /// Parses `0-1-42`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| GtidParseError {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = s.trim().split('-');
        let (Some(domain), Some(server_id), Some(seqno), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err("expected domain-server-seqno"));
        };
        Ok(Gtid {
            domain: domain.parse().map_err(|_| err("bad domain id"))?,
            server_id: server_id.parse().map_err(|_| err("bad server id"))?,
            seqno: seqno.parse().map_err(|_| err("bad sequence number"))?,
        })
    }
}

/// A string that is not a GTID or GTID position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GTID position {input:?}: {reason}")]
pub struct GtidParseError {
    pub input: String,
    pub reason: String,
}

/// A GTID position: the last GTID of each replication domain, as in `@@gtid_binlog_pos`,
/// `@@gtid_slave_pos` or `@@last_gtid` (`0-1-42,1-2-7`; empty for nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPosition {
    domains: BTreeMap<u32, Gtid>,
}

impl GtidPosition {
    /// The empty position (covered by every position).
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a position string (same as `str::parse`).
    pub fn parse(s: &str) -> Result<Self, GtidParseError> {
        s.parse()
    }

    /// No domain at all.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// The last GTID of `domain`.
    pub fn get(&self, domain: u32) -> Option<Gtid> {
        self.domains.get(&domain).copied()
    }

    /// The GTIDs, one per domain, by domain.
    pub fn iter(&self) -> impl Iterator<Item = Gtid> + '_ {
        self.domains.values().copied()
    }

    /// Whether everything `other` contains has been applied here: every domain of `other` is
    /// present with a sequence number at least as high. (Server ids are not compared: with
    /// `gtid_strict_mode` sequence numbers grow within a domain across failovers.)
    pub fn covers(&self, other: &GtidPosition) -> bool {
        other.domains.iter().all(|(domain, theirs)| {
            self.domains
                .get(domain)
                .is_some_and(|ours| ours.seqno >= theirs.seqno)
        })
    }

    /// Whether `gtid` has been applied here.
    pub fn contains(&self, gtid: &Gtid) -> bool {
        self.domains
            .get(&gtid.domain)
            .is_some_and(|ours| ours.seqno >= gtid.seqno)
    }

    /// Records `gtid`, keeping the higher sequence number of its domain.
    pub fn advance(&mut self, gtid: Gtid) {
        let slot = self.domains.entry(gtid.domain).or_insert(gtid);
        if gtid.seqno > slot.seqno {
            *slot = gtid;
        }
    }

    /// Records every GTID of `other` (the result covers both).
    pub fn merge(&mut self, other: &GtidPosition) {
        for gtid in other.iter() {
            self.advance(gtid);
        }
    }
}

impl From<Gtid> for GtidPosition {
    fn from(gtid: Gtid) -> Self {
        let mut pos = GtidPosition::new();
        pos.advance(gtid);
        pos
    }
}

impl FromIterator<Gtid> for GtidPosition {
    /// Keeps the highest sequence number per domain.
    fn from_iter<I: IntoIterator<Item = Gtid>>(iter: I) -> Self {
        let mut pos = GtidPosition::new();
        for gtid in iter {
            pos.advance(gtid);
        }
        pos
    }
}

impl FromStr for GtidPosition {
    type Err = GtidParseError;

    /// Parses `0-1-42,1-2-7` (whitespace around the GTIDs allowed; empty for no GTID). A
    /// domain may appear once.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut domains = BTreeMap::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let gtid: Gtid = part.parse().map_err(|e: GtidParseError| GtidParseError {
                input: s.to_owned(),
                reason: format!("{part:?}: {}", e.reason),
            })?;
            if domains.insert(gtid.domain, gtid).is_some() {
                return Err(GtidParseError {
                    input: s.to_owned(),
                    reason: format!("domain {} appears twice", gtid.domain),
                });
            }
        }
        Ok(GtidPosition { domains })
    }
}

impl fmt::Display for GtidPosition {
    /// The MariaDB form, `0-1-42,1-2-7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, gtid) in self.domains.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{gtid}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pos(s: &str) -> GtidPosition {
        s.parse().unwrap()
    }

    #[test]
    fn parses_mariadb_positions() {
        let p = pos("0-1-42,1-2-7");
        assert_eq!(
            p.get(0),
            Some(Gtid {
                domain: 0,
                server_id: 1,
                seqno: 42
            })
        );
        assert_eq!(p.get(1).map(|g| g.seqno), Some(7));
        assert_eq!(p.get(2), None);
        assert_eq!(p.to_string(), "0-1-42,1-2-7");
        // Domains come out in order, whatever order they came in.
        assert_eq!(pos(" 1-2-7 ,\n0-1-42").to_string(), "0-1-42,1-2-7");
        assert!(pos("").is_empty());
        assert!(pos("  ").is_empty());
        assert_eq!(
            pos("1-101-18446744073709551615").get(1).unwrap().seqno,
            u64::MAX
        );
    }

    #[test]
    fn rejects_malformed_positions() {
        for bad in [
            "0-1",
            "0-1-2-3",
            "a-1-2",
            "0-1-x",
            "-1-2",
            "0-1-42,0-2-43",
            "0-1--2",
        ] {
            let e = bad.parse::<GtidPosition>().unwrap_err();
            assert_eq!(e.input, bad);
        }
        let e = "0-1-42,0-2-43".parse::<GtidPosition>().unwrap_err();
        assert!(e.to_string().contains("domain 0 appears twice"), "{e}");
    }

    #[test]
    fn covers_compares_per_domain_seqno() {
        let replica = pos("0-1-42,1-2-7");
        assert!(replica.covers(&pos("0-1-42")));
        assert!(replica.covers(&pos("0-1-41")));
        assert!(!replica.covers(&pos("0-1-43")));
        assert!(replica.covers(&pos("1-2-7,0-1-1")));
        // A domain the replica has never seen is not covered.
        assert!(!replica.covers(&pos("2-3-1")));
        // Server ids do not matter (a failover keeps the domain's sequence).
        assert!(replica.covers(&pos("0-9-40")));
        assert!(replica.covers(&GtidPosition::new()));
        assert!(!GtidPosition::new().covers(&replica));
        assert!(replica.contains(&"1-2-6".parse().unwrap()));
        assert!(!replica.contains(&"1-2-8".parse().unwrap()));
    }

    #[test]
    fn advance_and_merge_keep_the_highest_seqno() {
        let mut p = pos("0-1-5");
        p.advance("0-1-3".parse().unwrap());
        assert_eq!(p.to_string(), "0-1-5");
        p.advance("0-2-9".parse().unwrap());
        assert_eq!(p.to_string(), "0-2-9");
        p.merge(&pos("1-1-1,0-1-8"));
        assert_eq!(p.to_string(), "0-2-9,1-1-1");
        let q: GtidPosition = ["0-1-3", "0-1-7", "2-1-1"]
            .iter()
            .map(|s| s.parse::<Gtid>().unwrap())
            .collect();
        assert_eq!(q.to_string(), "0-1-7,2-1-1");
    }

    #[test]
    fn rotation_leaves_after_fall_and_returns_after_rise() {
        let mut r = Rotation::default();
        r.observe(true, 2, 1);
        assert!(
            r.in_rotation,
            "first good check puts it in rotation at once"
        );
        r.observe(false, 2, 1);
        assert!(!r.in_rotation);
        r.observe(true, 2, 1);
        assert!(!r.in_rotation, "one good check is not enough with rise 2");
        r.observe(false, 2, 1);
        r.observe(true, 2, 1);
        assert!(!r.in_rotation, "a bad check resets the good streak");
        r.observe(true, 2, 1);
        assert!(r.in_rotation);

        let mut r = Rotation::default();
        r.observe(true, 1, 3);
        r.observe(false, 1, 3);
        r.observe(false, 1, 3);
        assert!(r.in_rotation, "two bad checks are not enough with fall 3");
        r.observe(true, 1, 3);
        r.observe(false, 1, 3);
        r.observe(false, 1, 3);
        assert!(r.in_rotation, "a good check resets the bad streak");
        r.observe(false, 1, 3);
        assert!(!r.in_rotation);
        assert_eq!((r.good_streak, r.bad_streak), (0, 3));

        let mut r = Rotation::default();
        r.observe(false, 2, 1);
        assert!(!r.in_rotation, "first bad check keeps it out");
        // rise/fall 0 behave like 1.
        r.observe(true, 0, 0);
        assert!(r.in_rotation);
        r.observe(false, 0, 0);
        assert!(!r.in_rotation);
    }

    fn target(role: Role) -> MonitorTarget {
        MonitorTarget {
            shard: "s0".into(),
            role,
            endpoint: Endpoint {
                host: "127.0.0.1".into(),
                port: 3307,
            },
        }
    }

    fn replica_obs(io: bool, sql: bool, lag: Option<u64>) -> Observation {
        Observation {
            up: true,
            io_running: Some(io),
            sql_running: Some(sql),
            lag: lag.map(Duration::from_secs),
            ..Observation::default()
        }
    }

    #[test]
    fn replica_is_good_only_with_both_threads_and_known_small_lag() {
        let s = HealthSettings::default();
        let t = target(Role::Replica);
        assert!(replica_obs(true, true, Some(0)).is_good(&t, &s).is_ok());
        assert!(replica_obs(true, true, Some(5)).is_good(&t, &s).is_ok());
        let e = replica_obs(true, true, Some(6))
            .is_good(&t, &s)
            .unwrap_err();
        assert_eq!(e, "replication lag 6 s exceeds max 5 s");
        let e = replica_obs(true, true, None).is_good(&t, &s).unwrap_err();
        assert!(e.contains("NULL"), "{e}");
        let e = replica_obs(true, false, None).is_good(&t, &s).unwrap_err();
        assert!(e.contains("SQL thread"), "{e}");
        let e = replica_obs(false, true, Some(0))
            .is_good(&t, &s)
            .unwrap_err();
        assert!(e.contains("IO thread"), "{e}");
        let e = Observation::down("cannot connect: refused".into())
            .is_good(&t, &s)
            .unwrap_err();
        assert_eq!(e, "cannot connect: refused");
        // A primary only has to answer.
        let p = Observation {
            up: true,
            ..Observation::default()
        };
        assert!(p.is_good(&target(Role::Primary), &s).is_ok());
        assert!(p.is_good(&t, &s).is_err());
    }

    /// A `get` for [`ReplicaStatus::from_fields`] over name/value pairs.
    fn columns<'a>(cols: &'a [(&'a str, &'a str)]) -> impl Fn(&[&str]) -> Option<String> + 'a {
        move |names| {
            cols.iter()
                .find(|(k, _)| names.contains(k))
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn reads_mariadb_and_mysql_status_columns() {
        let mariadb = [
            ("Slave_IO_Running", "Yes"),
            ("Slave_SQL_Running", "No"),
            ("Slave_IO_State", "Waiting for master to send event"),
            ("Seconds_Behind_Master", "3"),
            ("Gtid_Slave_Pos", "1-101-5"),
            ("Last_IO_Error", ""),
            ("Last_SQL_Error", "Duplicate entry"),
        ];
        let st = ReplicaStatus::from_fields(columns(&mariadb));
        assert!(st.io_running && !st.sql_running);
        assert_eq!(st.lag, Some(Duration::from_secs(3)));
        assert_eq!(st.gtid_slave_pos.as_deref(), Some("1-101-5"));
        assert_eq!(st.last_io_error, None);
        assert_eq!(
            st.detail().unwrap(),
            "IO state: Waiting for master to send event; Last_SQL_Error: Duplicate entry"
        );
        let mysql = [
            ("Replica_IO_Running", "Connecting"),
            ("Replica_SQL_Running", "Yes"),
            ("Seconds_Behind_Source", "12"),
        ];
        let st = ReplicaStatus::from_fields(columns(&mysql));
        assert!(!st.io_running && st.sql_running);
        assert_eq!(st.lag, Some(Duration::from_secs(12)));
        assert_eq!(st.gtid_slave_pos, None);
    }

    fn arb_position() -> impl Strategy<Value = GtidPosition> {
        prop::collection::btree_map(0u32..6, (1u32..5, 0u64..50), 0..5).prop_map(|m| {
            m.into_iter()
                .map(|(domain, (server_id, seqno))| Gtid {
                    domain,
                    server_id,
                    seqno,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(p in arb_position()) {
            prop_assert_eq!(p.to_string().parse::<GtidPosition>().unwrap(), p);
        }

        #[test]
        fn covers_is_reflexive_and_transitive(
            a in arb_position(), b in arb_position(), c in arb_position()
        ) {
            prop_assert!(a.covers(&a));
            prop_assert!(a.covers(&GtidPosition::new()));
            if a.covers(&b) && b.covers(&c) {
                prop_assert!(a.covers(&c));
            }
        }

        #[test]
        fn merge_covers_both_and_nothing_more(a in arb_position(), b in arb_position()) {
            let mut m = a.clone();
            m.merge(&b);
            prop_assert!(m.covers(&a));
            prop_assert!(m.covers(&b));
            // The least such position: anything covering a and b covers the merge.
            let mut big = b.clone();
            big.merge(&a);
            prop_assert!(big.covers(&m) && m.covers(&big));
        }

        #[test]
        fn covers_matches_per_gtid_containment(a in arb_position(), b in arb_position()) {
            prop_assert_eq!(a.covers(&b), b.iter().all(|g| a.contains(&g)));
        }

        #[test]
        fn advancing_never_uncovers(a in arb_position(), domain in 0u32..6, seqno in 0u64..60) {
            let mut after = a.clone();
            after.advance(Gtid { domain, server_id: 1, seqno });
            prop_assert!(after.covers(&a));
        }
    }
}
