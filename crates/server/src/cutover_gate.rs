//! The write hold of a resharding cutover (issue #15): while the serving topology is swapped
//! for a migration's target, statements that write keys changing owner wait here, before
//! their command picks its runtime, and then run planned on whatever serves after the hold
//! (the target after a swap, the old topology after an abandoned cutover).
//!
//! A statement is held when the serving and the target topology route it to different shards
//! (a write of one key that moves, or a split INSERT some of whose rows move), or when its
//! shards cannot be told from its text (a prepared write, a write to every shard, a statement
//! the planner refuses) and it names a moving table. Writes whose keys stay are never held,
//! nor reads, nor transaction control (a COMMIT ends the transactions the cutover waits for).
//!
//! A transaction that began before the hold is not held: the cutover waits for it to end
//! (holding its next write would only make both wait until the bound). Each transaction takes
//! the gate's [`TransactionMark`] as it begins; closing the gate puts a new mark in place,
//! and the old one, kept by the hold, counts the transactions begun before.
//!
//! When no cutover is under way, a command pays one atomic load (`holding`).

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use shardgate_config::Topology;
use shardgate_router::{Route, StatementKind, Syntax};
use tokio::sync::watch;

use crate::errors::ClientError;

/// How long past the hold's bound a held statement still waits for the cutover to let it go
/// (the cutover abandons itself at the bound; this only covers a cutover that is stuck).
const GRACE: Duration = Duration::from_secs(2);

/// The proxy's gate.
#[derive(Debug, Default)]
pub(crate) struct CutoverGate {
    holding: AtomicBool,
    hold: Mutex<Option<Arc<Hold>>>,
    /// What transactions beginning now take.
    mark: ArcSwap<TransactionMark>,
}

/// Held by every transaction begun between two closings of the gate.
#[derive(Debug, Default)]
pub(crate) struct TransactionMark;

/// One cutover's hold.
#[derive(Debug)]
pub(crate) struct Hold {
    serving: Arc<Topology>,
    target: Arc<Topology>,
    /// The tables whose keys move, lower-cased.
    tables: HashSet<String>,
    /// The mark of the transactions begun before the hold (and this one).
    begun_before: Arc<TransactionMark>,
    /// True once the hold ends.
    released: watch::Sender<bool>,
    deadline: Instant,
    /// Statements held, and the longest wait (microseconds).
    held: AtomicU64,
    longest_wait_us: AtomicU64,
}

impl CutoverGate {
    /// A cutover holds writes now (the hot path's one check).
    #[inline]
    pub fn holding(&self) -> bool {
        self.holding.load(Ordering::SeqCst)
    }

    /// The mark of a transaction beginning now.
    pub fn transaction_begins(&self) -> Arc<TransactionMark> {
        self.mark.load_full()
    }

    /// Starts holding the writes `hold` describes.
    pub fn close(&self, hold: Arc<Hold>) {
        self.mark.store(Arc::default());
        *self.hold.lock().unwrap_or_else(|e| e.into_inner()) = Some(hold);
        self.holding.store(true, Ordering::SeqCst);
    }

    /// Lets every held statement go.
    pub fn open(&self) {
        self.holding.store(false, Ordering::SeqCst);
        let hold = self.hold.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(hold) = hold {
            hold.released.send_replace(true);
        }
    }

    fn current(&self) -> Option<Arc<Hold>> {
        self.hold.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits while the statement `text` of a command must be held (never in a transaction
    /// begun before the hold, whose `transaction` mark tells); an error for the client when
    /// the hold outlived its bound.
    pub async fn pass(
        &self,
        text: Option<&str>,
        syntax: Syntax,
        transaction: Option<&Arc<TransactionMark>>,
    ) -> Result<(), ClientError> {
        let (Some(hold), Some(text)) = (self.current(), text) else {
            return Ok(());
        };
        if transaction.is_some_and(|mark| Arc::ptr_eq(mark, &hold.begun_before)) {
            return Ok(());
        }
        if !hold.holds(text, syntax) {
            return Ok(());
        }
        let started = Instant::now();
        let mut released = hold.released.subscribe();
        let waited =
            tokio::time::timeout_at((hold.deadline + GRACE).into(), released.wait_for(|r| *r))
                .await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        hold.held.fetch_add(1, Ordering::Relaxed);
        hold.longest_wait_us.fetch_max(micros, Ordering::Relaxed);
        match waited {
            Ok(_) => Ok(()),
            // ER_LOCK_WAIT_TIMEOUT: retryable, as a lock wait is.
            Err(_) => Err(ClientError::new(
                1205,
                b"HY000",
                "a resharding cutover held this write beyond [resharding] cutover_hold_ms; retry the statement",
            )),
        }
    }
}

/// The shards a route runs on, by name; `None` when the text does not tell.
fn shards_of<'t>(route: &Route, topology: &'t Topology) -> Option<BTreeSet<&'t str>> {
    let name = |i: usize| topology.shards.get(i).map(|s| s.name.as_str());
    match route {
        Route::Shard(i) => Some(BTreeSet::from([name(*i)?])),
        Route::Split(parts) => parts.iter().map(|(i, _)| name(*i)).collect(),
        _ => None,
    }
}

impl Hold {
    /// The hold of a cutover from `serving` to `target` through `gate` (whose transactions
    /// begun so far it counts).
    pub fn new(
        gate: &CutoverGate,
        serving: Arc<Topology>,
        target: Arc<Topology>,
        tables: impl IntoIterator<Item = String>,
        bound: Duration,
    ) -> Arc<Hold> {
        Arc::new(Hold {
            begun_before: gate.transaction_begins(),
            serving,
            target,
            tables: tables.into_iter().map(|t| t.to_ascii_lowercase()).collect(),
            released: watch::Sender::new(false),
            deadline: Instant::now() + bound,
            held: AtomicU64::new(0),
            longest_wait_us: AtomicU64::new(0),
        })
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Every transaction begun before the hold has ended.
    pub fn earlier_transactions_ended(&self) -> bool {
        Arc::strong_count(&self.begun_before) == 1
    }

    /// Statements held so far, and the longest any waited.
    pub fn figures(&self) -> (u64, Duration) {
        (
            self.held.load(Ordering::Relaxed),
            Duration::from_micros(self.longest_wait_us.load(Ordering::Relaxed)),
        )
    }

    /// Whether `sql` must wait for the cutover.
    pub fn holds(&self, sql: &str, syntax: Syntax) -> bool {
        let names_moving_table = || {
            let lower = sql.to_ascii_lowercase();
            self.tables.iter().any(|t| lower.contains(t.as_str()))
        };
        let Ok(before) = shardgate_router::plan_sql(sql, &self.serving, syntax) else {
            return names_moving_table();
        };
        if !matches!(
            before.kind,
            StatementKind::Write | StatementKind::LockingRead
        ) {
            return false;
        }
        let after = shardgate_router::plan_sql(sql, &self.target, syntax).ok();
        let before_shards = shards_of(&before.route, &self.serving);
        let after_shards = after.and_then(|a| shards_of(&a.route, &self.target).map(|s| (s, a)));
        match (before_shards, after_shards) {
            (Some(before), Some((after, _))) => before != after,
            _ => names_moving_table(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `accounts` on a ring of `names`, `plain` unsharded.
    fn topology(names: &[&str]) -> Arc<Topology> {
        let mut text = String::from(
            "[server]\nlisten = \"127.0.0.1:6033\"\n[[users]]\nname = \"app\"\npassword = \"app\"\n\
             [backend]\nuser = \"u\"\npassword = \"p\"\ndatabase = \"app\"\n",
        );
        for (i, name) in names.iter().enumerate() {
            text += &format!(
                "[[shards]]\nname = \"{name}\"\nprimary = \"127.0.0.1:{}\"\n",
                3300 + i
            );
        }
        text +=
            "[[tables]]\nname = \"accounts\"\nshard_key = \"id\"\nstrategy = \"consistent_hash\"\n";
        Arc::new(shardgate_config::parse(&text, "t.toml").expect("valid config"))
    }

    fn hold(gate: &CutoverGate) -> Arc<Hold> {
        Hold::new(
            gate,
            topology(&["s0", "s1"]),
            topology(&["s0", "s1", "s2"]),
            ["accounts".to_owned()],
            Duration::from_millis(10),
        )
    }

    /// A key the split moves to s2, and one that stays.
    fn keys(hold: &Hold) -> (i64, i64) {
        let owner = |t: &Topology, id: i64| {
            let rule = t.table("accounts").unwrap();
            let i = rule
                .shard_for(&shardgate_ring::KeyValue::Int(i128::from(id)))
                .unwrap();
            t.shards[i].name.clone()
        };
        let moving = (1..).find(|id| owner(&hold.target, *id) == "s2").unwrap();
        let staying = (1..)
            .find(|id| owner(&hold.target, *id) == owner(&hold.serving, *id))
            .unwrap();
        (moving, staying)
    }

    #[test]
    fn only_writes_of_moving_keys_are_held() {
        let hold = hold(&CutoverGate::default());
        let (moving, staying) = keys(&hold);
        let syntax = Syntax::DEFAULT;
        let held = |sql: String| hold.holds(&sql, syntax);
        assert!(held(format!(
            "UPDATE accounts SET n = 1 WHERE id = {moving}"
        )));
        assert!(held(format!("DELETE FROM accounts WHERE id = {moving}")));
        assert!(held(format!("INSERT INTO accounts (id) VALUES ({moving})")));
        assert!(held(format!(
            "INSERT INTO accounts (id) VALUES ({staying}), ({moving})"
        )));
        assert!(held(format!(
            "SELECT * FROM accounts WHERE id = {moving} FOR UPDATE"
        )));
        assert!(!held(format!(
            "UPDATE accounts SET n = 1 WHERE id = {staying}"
        )));
        assert!(!held(format!(
            "INSERT INTO accounts (id) VALUES ({staying})"
        )));
        assert!(!held(format!("SELECT * FROM accounts WHERE id = {moving}")));
        assert!(!held("UPDATE plain SET n = 1".to_owned()));
        assert!(!held("COMMIT".to_owned()));
        // The shards cannot be told: held when a moving table is named.
        assert!(held("UPDATE accounts SET n = n + 1".to_owned()));
        assert!(held("UPDATE accounts SET n = 1 WHERE id = ?".to_owned()));
    }

    #[tokio::test]
    async fn a_held_statement_goes_when_the_gate_opens() {
        let gate = Arc::new(CutoverGate::default());
        assert!(!gate.holding());
        let hold = hold(&gate);
        let (moving, _) = keys(&hold);
        gate.close(hold.clone());
        assert!(gate.holding());
        let sql = format!("DELETE FROM accounts WHERE id = {moving}");
        let waiting = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.pass(Some(&sql), Syntax::DEFAULT, None).await })
        };
        tokio::task::yield_now().await;
        gate.open();
        assert_eq!(waiting.await.unwrap(), Ok(()));
        assert!(!gate.holding());
    }

    #[tokio::test]
    async fn a_statement_held_beyond_the_bound_gets_a_retryable_error() {
        let gate = CutoverGate::default();
        let hold = hold(&gate);
        let (moving, _) = keys(&hold);
        gate.close(hold.clone());
        let sql = format!("DELETE FROM accounts WHERE id = {moving}");
        let refused = gate.pass(Some(&sql), Syntax::DEFAULT, None).await;
        assert_eq!(refused.unwrap_err().code, 1205);
        assert_eq!(hold.figures().0, 1);
    }

    #[tokio::test]
    async fn a_transaction_begun_before_the_hold_passes_and_is_waited_for() {
        let gate = CutoverGate::default();
        let earlier = gate.transaction_begins();
        let hold = hold(&gate);
        let (moving, _) = keys(&hold);
        gate.close(hold.clone());
        let later = gate.transaction_begins();
        assert!(!hold.earlier_transactions_ended());
        let sql = format!("DELETE FROM accounts WHERE id = {moving}");
        let passed = gate.pass(Some(&sql), Syntax::DEFAULT, Some(&earlier));
        assert_eq!(passed.await, Ok(()));
        assert_eq!(hold.figures().0, 0);
        // One begun during the hold waits like any statement (here past the bound).
        let held = gate.pass(Some(&sql), Syntax::DEFAULT, Some(&later));
        assert_eq!(held.await.unwrap_err().code, 1205);
        drop(earlier);
        assert!(hold.earlier_transactions_ended());
    }
}
