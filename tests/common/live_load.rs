//! Issue #15's live load and final-state checker: clients writing and reading through a proxy
//! while a migration runs, each knowing exactly what its keys must hold, and a checker that
//! reads every shard's primary directly and proves where each row is and what it holds.
//!
//! Every client owns a disjoint slice of the keys of both tables and runs a deterministic mix
//! over them: inserts, updates (some in a transaction that reads the row under lock first),
//! deletes and point reads (which must answer what the model says). It keeps its own model of
//! its keys, changed only once the proxy acknowledged a statement (a COMMIT). A statement that
//! fails with a documented retryable error (1205: lock wait or a cutover's hold, 1213:
//! deadlock) changed nothing and is run again; one whose outcome is unknown (the connection
//! lost, e.g. the proxy killed, or an unexpected error) leaves its key *uncertain* — the client
//! touches it no more and the checker accepts the row before or after it, as found on the
//! shards. A transaction that fails before its COMMIT changed nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use shardgate_config::Topology;
use shardgate_sandbox::Sandbox;

/// The table placed on a ring and the one placed by key ranges; the same columns.
pub const TABLES: [&str; 2] = ["items", "ledger"];

/// Each table's definition (run on every serving shard's primary).
pub fn create_table(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (id BIGINT PRIMARY KEY, version INT NOT NULL, client INT NOT NULL, \
         note VARCHAR(64) NULL, amount DECIMAL(12,2) NULL)"
    )
}

const COLUMNS: &str = "id, version, client, note, amount";

/// Server errors after which the statement changed nothing and may run again.
pub const RETRYABLE: [u16; 2] = [1205, 1213];

/// A statement gets no answer in this long: counted and treated as a lost connection.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A row as the text protocol returns it, `id` first.
pub type Row = Vec<Option<String>>;

/// A row's identity: its table and key.
pub type Key = (&'static str, i64);

/// The expected content of some keys.
pub type Model = BTreeMap<Key, Row>;

/// How many clients over how many keys (`1..=keys` of each table).
#[derive(Clone, Copy)]
pub struct LoadSpec {
    pub clients: usize,
    pub keys: i64,
    /// A pause after each statement, so the load leaves the migration some of the machine.
    pub pace: Duration,
}

impl Default for LoadSpec {
    fn default() -> Self {
        LoadSpec {
            clients: 8,
            keys: 2000,
            pace: Duration::from_millis(2),
        }
    }
}

/// A small deterministic generator (splitmix64): the same client runs the same statements.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// The rows of the text protocol as strings (`NULL` as `None`).
pub fn text_rows(rows: Vec<mysql_async::Row>) -> Vec<Row> {
    rows.into_iter()
        .map(|row| {
            (0..row.len())
                .map(|i| match row.as_ref(i) {
                    Some(mysql_async::Value::NULL) | None => None,
                    Some(mysql_async::Value::Bytes(b)) => {
                        Some(String::from_utf8_lossy(b).into_owned())
                    }
                    Some(v) => Some(v.as_sql(true)),
                })
                .collect()
        })
        .collect()
}

fn literal(value: &Option<String>) -> String {
    match value {
        None => "NULL".to_owned(),
        Some(text) => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
    }
}

/// The row a client writes for `id` at its `n`th statement (`version` as given).
fn row_for(id: i64, version: i64, client: usize, n: u64) -> Row {
    let note = (n % 5 != 0).then(|| format!("c{client} n{n} o'k ü"));
    let amount = (n % 7 != 0).then(|| format!("{}.{:02}", n % 10_000, n % 100));
    vec![
        Some(id.to_string()),
        Some(version.to_string()),
        Some(client.to_string()),
        note,
        amount,
    ]
}

/// The update of `key` to `new`: the version relative, so a write applied twice would show.
fn update_sql((table, id): Key, new: &Row) -> String {
    format!(
        "UPDATE {table} SET version = version + 1, note = {}, amount = {} WHERE id = {id}",
        literal(&new[3]),
        literal(&new[4])
    )
}

/// The client owning key `id`.
fn owner_of(id: i64, clients: usize) -> usize {
    ((id - 1) % clients as i64) as usize
}

/// Writes every even key of both tables through `conn` (in batches, so in transactions over
/// the shards); the model of what was written.
pub async fn seed(conn: &mut Conn, spec: &LoadSpec) -> Model {
    let mut model = Model::new();
    for table in TABLES {
        let ids: Vec<i64> = (1..=spec.keys).filter(|id| id % 2 == 0).collect();
        for chunk in ids.chunks(250) {
            let rows: Vec<Row> = (chunk.iter())
                .map(|&id| row_for(id, 1, owner_of(id, spec.clients), id as u64))
                .collect();
            let values: Vec<String> = (rows.iter())
                .map(|row| {
                    let values: Vec<String> = row.iter().map(literal).collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            conn.query_drop(format!(
                "INSERT INTO {table} ({COLUMNS}) VALUES {}",
                values.join(", ")
            ))
            .await
            .unwrap();
            for row in rows {
                model.insert((table, row[0].as_deref().unwrap().parse().unwrap()), row);
            }
        }
    }
    model
}

/// What the clients saw.
#[derive(Default)]
pub struct Figures {
    /// Statement attempts (with BEGIN, COMMIT and retries).
    pub statements: u64,
    pub reads: u64,
    pub writes: u64,
    /// Errors by code (`2013` for a lost connection, `timeout` for no answer), retried or not.
    pub errors: BTreeMap<String, u64>,
    /// Errors that are not documented as retryable, with their messages (the first 20).
    pub unexpected: Vec<String>,
    /// Wrong answers: a point read that differs from the model, an unexpected affected-rows
    /// count (the first 20).
    pub wrong: Vec<String>,
    /// The slowest statement attempt the clients waited for, what it was and when (since the
    /// load started).
    pub max_latency: Duration,
    pub max_latency_statement: String,
    pub max_latency_at: Duration,
    /// Statement attempts slower than 100 ms and than 1 s.
    pub slower_than_100ms: u64,
    pub slower_than_1s: u64,
    pub reconnects: u64,
    /// The longest a client waited for a new connection after losing one (a proxy restart).
    pub max_reconnect_wait: Duration,
}

impl Figures {
    fn merge(&mut self, other: Figures) {
        self.statements += other.statements;
        self.reads += other.reads;
        self.writes += other.writes;
        for (code, count) in other.errors {
            *self.errors.entry(code).or_default() += count;
        }
        self.unexpected.extend(other.unexpected);
        self.unexpected.truncate(20);
        self.wrong.extend(other.wrong);
        self.wrong.truncate(20);
        if other.max_latency > self.max_latency {
            self.max_latency = other.max_latency;
            self.max_latency_statement = other.max_latency_statement;
            self.max_latency_at = other.max_latency_at;
        }
        self.slower_than_100ms += other.slower_than_100ms;
        self.slower_than_1s += other.slower_than_1s;
        self.reconnects += other.reconnects;
        self.max_reconnect_wait = self.max_reconnect_wait.max(other.max_reconnect_wait);
    }

    fn error(&mut self, code: impl Into<String>) {
        *self.errors.entry(code.into()).or_default() += 1;
    }
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} statements sent ({} point reads, {} writes); errors by code: {:?}; {} reconnects (the longest after {:?}); \
             max latency {:?} at {:?} ({}); attempts over 100 ms: {}, over 1 s: {}",
            self.statements,
            self.reads,
            self.writes,
            self.errors,
            self.reconnects,
            self.max_reconnect_wait,
            self.max_latency,
            self.max_latency_at,
            self.max_latency_statement,
            self.slower_than_100ms,
            self.slower_than_1s
        )
    }
}

/// What a load leaves: the expected rows, the keys whose last write has an unknown outcome
/// (the row before it and after it), and the figures.
pub struct LoadReport {
    pub expected: Model,
    /// Every key a write was sent for.
    pub written: BTreeSet<Key>,
    pub uncertain: BTreeMap<Key, [Option<Row>; 2]>,
    pub figures: Figures,
}

impl LoadReport {
    fn of(expected: Model) -> LoadReport {
        LoadReport {
            expected,
            written: BTreeSet::new(),
            uncertain: BTreeMap::new(),
            figures: Figures::default(),
        }
    }

    /// Fails on a wrong answer or an error not documented as retryable.
    pub fn assert_clean(&self) {
        assert!(self.figures.wrong.is_empty(), "{:#?}", self.figures.wrong);
        assert!(
            self.figures.unexpected.is_empty(),
            "{:#?}",
            self.figures.unexpected
        );
    }
}

/// Clients running until stopped.
pub struct LiveLoad {
    stop: Arc<AtomicBool>,
    statements: Arc<AtomicU64>,
    clients: Vec<tokio::task::JoinHandle<LoadReport>>,
}

impl LiveLoad {
    /// Starts `spec.clients` clients on `opts` (a proxy), from the rows `seeded`.
    pub async fn start(opts: Opts, spec: LoadSpec, seeded: &Model) -> LiveLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let statements = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut clients = Vec::new();
        for id in 0..spec.clients {
            let model: Model = (seeded.iter())
                .filter(|((_, key), _)| owner_of(*key, spec.clients) == id)
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            let conn = super::connect_when_up(&opts).await;
            let client = Client {
                id,
                spec,
                opts: opts.clone(),
                conn,
                draw: Draw(id as u64 + 1),
                report: LoadReport::of(model),
                started,
                statements: statements.clone(),
            };
            clients.push(tokio::spawn(client.run(stop.clone())));
        }
        LiveLoad {
            stop,
            statements,
            clients,
        }
    }

    /// Statements acknowledged or failed so far, over all clients.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Waits until `more` statements ran from now.
    pub async fn run_for(&self, more: u64) {
        let until = self.statements() + more;
        while self.statements() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the clients after their statement under way; what they leave.
    pub async fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        let mut report = LoadReport::of(Model::new());
        for client in self.clients {
            let client = client.await.expect("a load client");
            report.expected.extend(client.expected);
            report.written.extend(client.written);
            report.uncertain.extend(client.uncertain);
            report.figures.merge(client.figures);
        }
        report
    }
}

/// How one attempt at a statement ended.
enum Answer {
    /// Its rows (none for a write) and affected rows.
    Done(Vec<Row>, u64),
    /// A documented retryable error: the statement changed nothing.
    Retryable,
    /// Another error.
    Failed,
    /// The connection was lost (or the answer never came) and is replaced.
    Lost,
}

/// How an autocommitted write ended.
enum Outcome {
    Applied(u64),
    Unknown,
}

struct Client {
    id: usize,
    spec: LoadSpec,
    opts: Opts,
    conn: Conn,
    draw: Draw,
    /// This client's keys: `expected` is its model.
    report: LoadReport,
    started: Instant,
    statements: Arc<AtomicU64>,
}

impl Client {
    async fn run(mut self, stop: Arc<AtomicBool>) -> LoadReport {
        let slice = self.spec.keys / self.spec.clients as i64;
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let table = TABLES[usize::from(self.draw.below(10) >= 6)];
            let id = self.id as i64
                + 1
                + self.spec.clients as i64 * self.draw.below(slice as u64) as i64;
            let key = (table, id);
            let choice = self.draw.below(100);
            if self.report.uncertain.contains_key(&key) {
                continue;
            }
            match self.report.expected.get(&key).cloned() {
                None => {
                    let row = row_for(id, 1, self.id, n);
                    let values: Vec<String> = row.iter().map(literal).collect();
                    let sql = format!(
                        "INSERT INTO {table} ({COLUMNS}) VALUES ({})",
                        values.join(", ")
                    );
                    self.write(key, &sql, None, Some(row)).await;
                }
                Some(old) if choice < 10 => {
                    let version: i64 = old[1].as_deref().unwrap().parse().unwrap();
                    let new = row_for(id, version + 1, self.id, n);
                    self.update_in_transaction(key, old, new).await;
                }
                Some(old) if choice < 45 => {
                    let version: i64 = old[1].as_deref().unwrap().parse().unwrap();
                    let new = row_for(id, version + 1, self.id, n);
                    let sql = update_sql(key, &new);
                    self.write(key, &sql, Some(old), Some(new)).await;
                }
                Some(old) if choice < 65 => {
                    let sql = format!("DELETE FROM {table} WHERE id = {id}");
                    self.write(key, &sql, Some(old), None).await;
                }
                Some(old) => self.read(key, old).await,
            }
            self.statements.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.spec.pace).await;
        }
        self.report
    }

    /// Runs a write of one row (`before` → `after`) until it is applied, or its outcome is
    /// unknown; the model follows.
    async fn write(&mut self, key: Key, sql: &str, before: Option<Row>, after: Option<Row>) {
        self.report.figures.writes += 1;
        self.report.written.insert(key);
        match self.run_write(sql).await {
            Outcome::Applied(affected) => {
                if affected != 1 {
                    self.wrong(format!("{sql}: {affected} rows affected, 1 expected"));
                }
                match after {
                    Some(row) => self.report.expected.insert(key, row),
                    None => self.report.expected.remove(&key),
                };
            }
            Outcome::Unknown => {
                self.report.expected.remove(&key);
                self.report.uncertain.insert(key, [before, after]);
            }
        }
    }

    /// Runs one statement once: its rows and affected rows, or how it failed (counted; an
    /// unexpected error recorded; a lost connection replaced).
    async fn attempt(&mut self, sql: &str) -> Answer {
        let started = Instant::now();
        let answer = tokio::time::timeout(
            STATEMENT_TIMEOUT,
            self.conn.query::<mysql_async::Row, _>(sql),
        )
        .await;
        self.timed(sql, started.elapsed());
        match answer {
            Ok(Ok(rows)) => Answer::Done(text_rows(rows), self.conn.affected_rows()),
            Ok(Err(mysql_async::Error::Server(e))) => {
                self.report.figures.error(e.code.to_string());
                if RETRYABLE.contains(&e.code) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return Answer::Retryable;
                }
                self.unexpected(format!("{sql}: {} {}", e.code, e.message));
                Answer::Failed
            }
            Ok(Err(e)) => {
                self.report.figures.error("2013");
                eprintln!("load client {}: connection lost at `{sql}`: {e}", self.id);
                self.reconnect().await;
                Answer::Lost
            }
            Err(_) => {
                self.report.figures.error("timeout");
                self.unexpected(format!("{sql}: no answer in {STATEMENT_TIMEOUT:?}"));
                self.reconnect().await;
                Answer::Lost
            }
        }
    }

    /// An autocommitted write, run again while it fails with a retryable error.
    async fn run_write(&mut self, sql: &str) -> Outcome {
        loop {
            match self.attempt(sql).await {
                Answer::Done(_, affected) => return Outcome::Applied(affected),
                Answer::Retryable => continue,
                Answer::Failed | Answer::Lost => return Outcome::Unknown,
            }
        }
    }

    /// An update in a transaction that reads the row under lock first. A failure before the
    /// COMMIT leaves the row as it was (the transaction never committed); a failure of the
    /// COMMIT leaves its outcome unknown.
    async fn update_in_transaction(&mut self, key: Key, old: Row, new: Row) {
        self.report.figures.writes += 1;
        self.report.written.insert(key);
        let (table, id) = key;
        let statements = [
            "BEGIN".to_owned(),
            format!("SELECT {COLUMNS} FROM {table} WHERE id = {id} FOR UPDATE"),
            update_sql(key, &new),
        ];
        'transaction: loop {
            for sql in &statements {
                match self.attempt(sql).await {
                    Answer::Done(rows, affected) => {
                        if sql.ends_with("FOR UPDATE") && rows != [old.clone()] {
                            self.wrong(format!("{sql}: {rows:?}, expected {old:?}"));
                        }
                        if sql.starts_with("UPDATE") && affected != 1 {
                            self.wrong(format!("{sql}: {affected} rows affected, 1 expected"));
                        }
                    }
                    Answer::Retryable => {
                        self.attempt("ROLLBACK").await;
                        continue 'transaction;
                    }
                    Answer::Failed => {
                        self.attempt("ROLLBACK").await;
                        return;
                    }
                    Answer::Lost => return,
                }
            }
            break;
        }
        match self.attempt("COMMIT").await {
            Answer::Done(..) => {
                self.report.expected.insert(key, new);
            }
            Answer::Retryable | Answer::Failed | Answer::Lost => {
                self.report.expected.remove(&key);
                self.report.uncertain.insert(key, [Some(old), Some(new)]);
            }
        }
    }

    /// A point read through the proxy, which must answer what the model says.
    async fn read(&mut self, key: Key, expected: Row) {
        self.report.figures.reads += 1;
        let (table, id) = key;
        let sql = format!("SELECT {COLUMNS} FROM {table} WHERE id = {id}");
        loop {
            match self.attempt(&sql).await {
                Answer::Done(rows, _) => {
                    if rows != [expected.clone()] {
                        self.wrong(format!("{sql}: {rows:?}, expected {expected:?}"));
                    }
                    return;
                }
                Answer::Failed => return,
                Answer::Retryable | Answer::Lost => continue,
            }
        }
    }

    fn timed(&mut self, sql: &str, took: Duration) {
        self.report.figures.statements += 1;
        if took > Duration::from_millis(100) {
            self.report.figures.slower_than_100ms += 1;
        }
        if took > Duration::from_secs(1) {
            self.report.figures.slower_than_1s += 1;
        }
        if took > self.report.figures.max_latency {
            self.report.figures.max_latency = took;
            self.report.figures.max_latency_statement = sql.to_owned();
            self.report.figures.max_latency_at = self.started.elapsed().saturating_sub(took);
        }
    }

    fn wrong(&mut self, what: String) {
        if self.report.figures.wrong.len() < 20 {
            self.report
                .figures
                .wrong
                .push(format!("client {}: {what}", self.id));
        }
    }

    fn unexpected(&mut self, what: String) {
        if self.report.figures.unexpected.len() < 20 {
            self.report
                .figures
                .unexpected
                .push(format!("client {}: {what}", self.id));
        }
    }

    /// A new connection, waiting (up to a minute) for a proxy that restarts.
    async fn reconnect(&mut self) {
        let started = Instant::now();
        self.conn = super::connect_when_up(&self.opts).await;
        let figures = &mut self.report.figures;
        figures.reconnects += 1;
        figures.max_reconnect_wait = figures.max_reconnect_wait.max(started.elapsed());
    }
}

/// What the checker found: rows per table on each shard (by name).
pub struct Placed {
    pub rows: BTreeMap<(&'static str, String), usize>,
}

impl fmt::Display for Placed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let listed: Vec<String> = (self.rows.iter())
            .map(|((table, shard), n)| format!("{table} on {shard}: {n}"))
            .collect();
        write!(f, "{}", listed.join(", "))
    }
}

/// Reads every row of both tables on every shard's primary of `sandbox` (also the shards
/// `topology` does not serve) and checks: each row is on the shard `topology` places its key
/// on, once; the uncertain keys hold their row before or after the write whose outcome was
/// unknown; the rows equal the expected ones, compared whole and by a checksum the servers
/// compute over the shards' rows and over the expected rows; the replicas hold what their
/// primaries hold.
pub async fn check(sandbox: &Sandbox, topology: &Topology, load: &LoadReport) -> Placed {
    let mut found = Model::new();
    let (mut misplaced, mut duplicated) = (Vec::new(), Vec::new());
    let mut placed = Placed {
        rows: BTreeMap::new(),
    };
    for shard in sandbox.shards() {
        let mut conn = Conn::new(Opts::from(shard.primary.backend_opts()))
            .await
            .unwrap();
        for table in TABLES {
            let sql = format!("SELECT {COLUMNS} FROM {table} ORDER BY id");
            let rows = match conn.query::<mysql_async::Row, _>(&sql).await {
                Ok(rows) => text_rows(rows),
                // A shard the table was never created on.
                Err(mysql_async::Error::Server(e)) if e.code == 1146 => continue,
                Err(e) => panic!("{} {sql}: {e}", shard.name),
            };
            placed.rows.insert((table, shard.name.clone()), rows.len());
            let rule = topology.table(table).expect("a sharded table");
            for row in rows {
                let id: i64 = row[0].as_deref().unwrap().parse().unwrap();
                let owner = rule
                    .shard_for(&shardgate_ring::KeyValue::Int(i128::from(id)))
                    .unwrap();
                let owner = &topology.shards[owner].name;
                if *owner != shard.name {
                    misplaced.push(format!("{table} {id} on {}, owned by {owner}", shard.name));
                }
                if found.insert((table, id), row).is_some() {
                    duplicated.push(format!("{table} {id}"));
                }
            }
        }
    }
    assert!(
        misplaced.is_empty(),
        "rows on the wrong shard: {misplaced:?}"
    );
    assert!(
        duplicated.is_empty(),
        "rows on several shards: {duplicated:?}"
    );

    let mut expected = load.expected.clone();
    for (key, candidates) in &load.uncertain {
        let row = found.get(key).cloned();
        assert!(
            candidates.contains(&row),
            "{key:?} after a write of unknown outcome: {row:?}, neither of {candidates:?}"
        );
        if let Some(row) = row {
            expected.insert(*key, row);
        }
    }
    let missing: Vec<&Key> = expected.keys().filter(|k| !found.contains_key(k)).collect();
    let extra: Vec<&Key> = found.keys().filter(|k| !expected.contains_key(k)).collect();
    let different: Vec<(&Row, &Row)> = (expected.iter())
        .filter_map(|(k, want)| {
            found
                .get(k)
                .filter(|got| *got != want)
                .map(|got| (want, got))
        })
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && different.is_empty(),
        "missing {}: {:?}; extra {}: {:?}; different {} (expected, found): {:?}",
        missing.len(),
        &missing[..missing.len().min(10)],
        extra.len(),
        &extra[..extra.len().min(10)],
        different.len(),
        &different[..different.len().min(10)]
    );

    for table in TABLES {
        assert_eq!(
            checksum_on_shards(sandbox, topology, table).await,
            checksum_of_expected(sandbox, table, &expected).await,
            "{table}: (rows, checksum) on the shards and of the expected rows"
        );
    }
    placed
}

/// A checksum of a set of rows: their count and the XOR of each row's CRC32.
fn checksum_sql(table: &str) -> String {
    format!(
        "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS(0x1f, id, version, client, \
         IFNULL(note, 0x00), IFNULL(amount, 0x00)))), 0) FROM {table}"
    )
}

/// The checksum of `table`'s rows on `instance`.
async fn checksum_on(instance: &shardgate_sandbox::Instance, table: &str) -> (u64, u64) {
    let mut conn = Conn::new(Opts::from(instance.backend_opts()))
        .await
        .unwrap();
    let sum = conn.query_first(checksum_sql(table)).await.unwrap();
    sum.unwrap()
}

/// The checksum of `table`'s rows on the shards `topology` serves, computed by each primary;
/// each replica of those shards (once it applied what its primary wrote) holds the same.
async fn checksum_on_shards(sandbox: &Sandbox, topology: &Topology, table: &str) -> (u64, u64) {
    sandbox
        .wait_replicas_synced(Duration::from_secs(60))
        .await
        .unwrap();
    let (mut count, mut xor) = (0, 0);
    for config in &topology.shards {
        let shard = sandbox.shard(&config.name).expect("a shard of the sandbox");
        let (rows, sum) = checksum_on(&shard.primary, table).await;
        for replica in &shard.replicas {
            assert_eq!(
                checksum_on(replica, table).await,
                (rows, sum),
                "{table}: (rows, checksum) on {} and on its primary",
                replica.name
            );
        }
        count += rows;
        xor ^= sum;
    }
    (count, xor)
}

/// The same checksum over the expected rows of `table`, loaded into a temporary table on the
/// first shard's primary, so the server computes both.
async fn checksum_of_expected(sandbox: &Sandbox, table: &str, expected: &Model) -> (u64, u64) {
    let mut conn = Conn::new(Opts::from(sandbox.shards()[0].primary.backend_opts()))
        .await
        .unwrap();
    let copy = format!("expected_{table}");
    conn.query_drop(create_table(&copy).replace("CREATE TABLE", "CREATE TEMPORARY TABLE"))
        .await
        .unwrap();
    let rows: Vec<String> = (expected.iter())
        .filter(|((t, _), _)| *t == table)
        .map(|(_, row)| {
            let values: Vec<String> = row.iter().map(literal).collect();
            format!("({})", values.join(", "))
        })
        .collect();
    for chunk in rows.chunks(500) {
        conn.query_drop(format!(
            "INSERT INTO {copy} ({COLUMNS}) VALUES {}",
            chunk.join(", ")
        ))
        .await
        .unwrap();
    }
    let sum: (u64, u64) = conn
        .query_first(checksum_sql(&copy))
        .await
        .unwrap()
        .unwrap();
    conn.query_drop(format!("DROP TEMPORARY TABLE {copy}"))
        .await
        .unwrap();
    sum
}
