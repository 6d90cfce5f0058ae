//! A pool of backend connections to one endpoint, bounded by `max_size`.
//!
//! Idle connections are kept newest-last and handed out by flavor (see [`Flavor`]); when all
//! `max_size` connections exist and none of the wanted flavor is idle, an idle one of another
//! flavor is closed to make room. Waiters are woken when a connection comes back.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use shardgate_config::{Endpoint, PoolSettings};
use shardgate_protocol::Command;
use tokio::sync::Notify;

use crate::conn::{BackendConn, Credentials, Flavor};
use crate::BackendError;

/// An idle connection older than this is checked for a close by the server before reuse
/// (one non-blocking read); busier connections skip the syscall.
const STALE_CHECK_AFTER: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
struct Inner {
    /// Boxed so that a checkout and a return move a pointer, not the whole connection.
    idle: VecDeque<Box<BackendConn>>,
    /// Connections that exist: idle, in use, or being opened.
    total: usize,
}

#[derive(Debug)]
pub struct Pool {
    endpoint: Endpoint,
    label: Arc<str>,
    settings: PoolSettings,
    creds: Arc<Credentials>,
    /// `[backend] tls`, ready to connect with.
    tls: crate::TlsSetup,
    inner: Mutex<Inner>,
    returned: Notify,
    /// Checkouts waiting for a connection to come back.
    waiting: AtomicUsize,
}

/// How a pool's connections are used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Checked out, or being opened.
    pub in_use: usize,
    pub idle: usize,
    /// Checkouts waiting because every connection is in use.
    pub waiting: usize,
}

/// Counts one waiting checkout for as long as it lives (also when the wait is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a checkout does when it finds room: reuse an idle connection or open one.
enum Next {
    Reuse(Box<BackendConn>),
    Open,
}

impl Pool {
    /// A pool for `endpoint`; `label` names it in errors and logs (e.g. `s0 primary 127.0.0.1:3306`).
    pub fn new(
        endpoint: Endpoint,
        label: String,
        settings: PoolSettings,
        user: &str,
        password: &str,
        database: &str,
        tls: crate::TlsSetup,
    ) -> Arc<Self> {
        let creds = Credentials {
            user: user.to_owned(),
            password: password.to_owned(),
            native_stage1: None,
            database: database.to_owned(),
        };
        Self::logging_in_as(endpoint, label, settings, creds, tls)
    }

    /// A pool whose connections log in with `creds` (a pass-through account's, say).
    pub fn logging_in_as(
        endpoint: Endpoint,
        label: String,
        settings: PoolSettings,
        creds: Credentials,
        tls: crate::TlsSetup,
    ) -> Arc<Self> {
        let pool = Arc::new(Pool {
            endpoint,
            label: label.into(),
            settings,
            creds: Arc::new(creds),
            tls,
            inner: Mutex::new(Inner::default()),
            returned: Notify::new(),
            waiting: AtomicUsize::new(0),
        });
        tokio::spawn(maintain(Arc::downgrade(&pool)));
        pool
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Connections in use and idle, and checkouts waiting, right now.
    pub fn stats(&self) -> PoolStats {
        let inner = self.inner.lock().expect("pool lock");
        PoolStats {
            in_use: inner.total - inner.idle.len(),
            idle: inner.idle.len(),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }

    /// Closes every idle connection: after one broke, its siblings (opened before the same
    /// backend restart or failure) are suspect too.
    pub fn discard_idle(&self) {
        let mut inner = self.inner.lock().expect("pool lock");
        let n = inner.idle.len();
        inner.idle.clear();
        inner.total -= n;
        drop(inner);
        self.returned.notify_waiters();
    }

    /// `idle`: how long it has been since `conn` was last used, at `now`.
    fn expired(&self, conn: &BackendConn, now: Instant, idle: Duration) -> bool {
        conn.broken
            || idle >= self.settings.idle_timeout
            || now.duration_since(conn.created) >= self.settings.max_lifetime
    }

    /// Checks a connection out, waiting up to `checkout_timeout` for one to be free.
    pub async fn get(self: &Arc<Self>, flavor: Flavor) -> Result<PooledConn, BackendError> {
        self.get_timed(flavor).await.0
    }

    /// [`Pool::get`], with how long the checkout waited for a free connection or for a new one
    /// to open: zero, without reading the clock, when an idle one was at hand.
    pub async fn get_timed(
        self: &Arc<Self>,
        flavor: Flavor,
    ) -> (Result<PooledConn, BackendError>, Duration) {
        let mut waited: Option<(Instant, Instant)> = None;
        let result = self.take(flavor, &mut waited).await;
        let waited = waited.map_or(Duration::ZERO, |(started, _)| started.elapsed());
        (result, waited)
    }

    /// Checks a connection out; `waited`: when the first wait (or opening) began, and the
    /// deadline of waits (the clock is read only when one starts).
    async fn take(
        self: &Arc<Self>,
        flavor: Flavor,
        waited: &mut Option<(Instant, Instant)>,
    ) -> Result<PooledConn, BackendError> {
        loop {
            let next = match self.take_next(flavor) {
                Some(next) => next,
                None => {
                    // Registered before the second look, so a return in between is not missed;
                    // the first look stays free of the registration's lock.
                    let returned = self.returned.notified();
                    tokio::pin!(returned);
                    returned.as_mut().enable();
                    if let Some(next) = self.take_next(flavor) {
                        next
                    } else {
                        let (started, deadline) = *waited.get_or_insert_with(|| {
                            let now = Instant::now();
                            (now, now + self.settings.checkout_timeout)
                        });
                        let _waiting = Waiting::new(&self.waiting);
                        if tokio::time::timeout_at(deadline.into(), returned)
                            .await
                            .is_err()
                        {
                            return Err(self.exhausted(started));
                        }
                        continue;
                    }
                }
            };
            match next {
                Next::Reuse(mut conn) => {
                    let now = Instant::now();
                    let idle = now.duration_since(conn.last_used);
                    let stale = idle >= STALE_CHECK_AFTER && conn.closed_by_peer();
                    let valid = !stale
                        && !self.expired(&conn, now, idle)
                        && (idle < self.settings.validation_interval
                            || self.validate(&mut conn).await);
                    if valid {
                        return Ok(self.lend(conn));
                    }
                    self.forget_one();
                }
                Next::Open => {
                    waited.get_or_insert_with(|| {
                        let now = Instant::now();
                        (now, now + self.settings.checkout_timeout)
                    });
                    return match self.open(flavor).await {
                        Ok(conn) => Ok(self.lend(Box::new(conn))),
                        Err(e) => {
                            self.forget_one();
                            Err(e)
                        }
                    };
                }
            }
        }
    }

    /// Takes an idle connection of `flavor`, or a slot to open one; `None`: every slot is in use.
    fn take_next(&self, flavor: Flavor) -> Option<Next> {
        let mut inner = self.inner.lock().expect("pool lock");
        if let Some(i) = inner.idle.iter().rposition(|c| c.flavor == flavor) {
            Some(Next::Reuse(inner.idle.remove(i).expect("index in range")))
        } else if inner.total < self.settings.max_size {
            inner.total += 1;
            Some(Next::Open)
        } else if let Some(other) = inner.idle.pop_front() {
            drop(other); // its slot goes to the new connection
            Some(Next::Open)
        } else {
            None
        }
    }

    fn exhausted(&self, started: Instant) -> BackendError {
        BackendError::PoolExhausted {
            endpoint: self.label.to_string(),
            waited_ms: started.elapsed().as_millis(),
            max_size: self.settings.max_size,
        }
    }

    /// Sends the validation query on a connection that sat idle: a server that does not answer
    /// within `connect_timeout` (hung, stopped, or gone without closing the socket) loses it.
    async fn validate(&self, conn: &mut BackendConn) -> bool {
        let query = self.settings.validation_query.as_bytes();
        let answer = tokio::time::timeout(
            self.settings.connect_timeout,
            conn.execute(Command::COM_QUERY, query),
        );
        match answer.await {
            Ok(Ok(shardgate_protocol::response::Finish::Ok { .. })) => true,
            Ok(_) => false,
            Err(_) => {
                tracing::info!(endpoint = %self.label, "a pooled connection did not answer its validation query: discarded");
                false
            }
        }
    }

    /// How long opening a connection (or validating one) may take.
    pub fn connect_timeout(&self) -> Duration {
        self.settings.connect_timeout
    }

    /// A new connection to the endpoint outside the pool (not counted in `max_size`), for
    /// work that must not wait for a pooled one: KILL while every connection is busy.
    pub async fn open_unpooled(&self) -> Result<BackendConn, BackendError> {
        self.open(Flavor::common()).await
    }

    async fn open(&self, flavor: Flavor) -> Result<BackendConn, BackendError> {
        let timeout = self.settings.connect_timeout;
        let tls = match &self.tls {
            Ok(tls) => tls.as_ref(),
            // Never a plain connection in place of the TLS one the config asks for.
            Err(e) => {
                return Err(BackendError::Connect {
                    endpoint: self.label.to_string(),
                    source: shardgate_protocol::ProtocolError::Unsupported(format!(
                        "[backend] tls: {e}"
                    )),
                })
            }
        };
        match tokio::time::timeout(
            timeout,
            BackendConn::connect(
                &self.endpoint,
                self.label.clone(),
                &self.creds,
                flavor,
                self.settings.max_prepared_statements,
                tls,
            ),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(BackendError::ConnectTimeout {
                endpoint: self.label.to_string(),
                timeout_ms: timeout.as_millis(),
            }),
        }
    }

    fn lend(self: &Arc<Self>, conn: Box<BackendConn>) -> PooledConn {
        conn.leases.fetch_add(1, Ordering::SeqCst);
        PooledConn {
            conn: Some(conn),
            pool: self.clone(),
        }
    }

    pub(crate) fn forget_one(&self) {
        self.inner.lock().expect("pool lock").total -= 1;
        self.returned.notify_one();
    }

    fn give_back(&self, conn: Box<BackendConn>) {
        conn.leases.fetch_add(1, Ordering::SeqCst);
        let reusable = !conn.broken && !conn.in_transaction();
        {
            let mut inner = self.inner.lock().expect("pool lock");
            if reusable {
                inner.idle.push_back(conn);
            } else {
                inner.total -= 1;
            }
        }
        self.returned.notify_one();
    }

    /// Drops idle connections past their idle timeout or lifetime and tops up `min_idle`.
    async fn tend(&self) {
        let now = Instant::now();
        let (expired, missing) = {
            let mut inner = self.inner.lock().expect("pool lock");
            let before = inner.idle.len();
            inner
                .idle
                .retain(|c| !self.expired(c, now, now.duration_since(c.last_used)));
            let expired = before - inner.idle.len();
            inner.total -= expired;
            let missing = self
                .settings
                .min_idle
                .saturating_sub(inner.idle.len())
                .min(self.settings.max_size - inner.total);
            inner.total += missing;
            (expired, missing)
        };
        if expired > 0 {
            self.returned.notify_waiters();
        }
        for _ in 0..missing {
            match self.open(Flavor::common()).await {
                Ok(conn) => self.give_back(Box::new(conn)),
                Err(e) => {
                    self.forget_one();
                    tracing::debug!(endpoint = %self.label, error = %e, "min_idle connection failed");
                }
            }
        }
    }
}

async fn maintain(pool: Weak<Pool>) {
    let period = match pool.upgrade() {
        Some(p) => {
            (p.settings.idle_timeout / 4).clamp(Duration::from_millis(250), Duration::from_secs(30))
        }
        None => return,
    };
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        pool.tend().await;
    }
}

/// A checked-out connection; goes back to its pool when dropped (or is closed if unusable).
#[derive(Debug)]
pub struct PooledConn {
    conn: Option<Box<BackendConn>>,
    pool: Arc<Pool>,
}

impl PooledConn {
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl Deref for PooledConn {
    type Target = BackendConn;
    fn deref(&self) -> &BackendConn {
        self.conn.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut BackendConn {
        self.conn.as_mut().expect("present until drop")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            match conn.cut_off {
                true => self.pool.reap(conn),
                false => self.pool.give_back(conn),
            }
        }
    }
}
