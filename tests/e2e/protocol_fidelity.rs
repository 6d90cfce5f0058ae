//! The protocol as MariaDB speaks it, for what clients negotiate: LOAD DATA LOCAL INFILE
//! streamed through the proxy, MariaDB's extended column metadata, session state tracking,
//! and the capability flags that change what a statement does. Each answer is compared with
//! MariaDB's own, asked directly.

use std::process::Command as Process;

use crate::common::{rows, TestEnv};
use mysql_async::prelude::Queryable;
use shardgate_protocol::client_handshake::{login, BackendLogin};
use shardgate_protocol::{
    CapabilityFlags, Command, MariadbCapabilities, PacketConn, COMMON_CAPABILITIES,
};
use shardgate_sandbox::{BACKEND_PASSWORD, BACKEND_USER, DATABASE, PROXY_PASSWORD, PROXY_USER};
use shardgate_wire::column_definition::split_extended_metadata;
use shardgate_wire::lenenc::read_lenenc_int;
use tokio::net::TcpStream;

const ADMIN: &str = "\n[[users]]\nname = \"ops\"\npassword = \"ops-secret\"\nadmin = true\n";

/// Runs a program off the async workers; its output, or a panic naming what failed.
async fn run(mut command: Process) -> std::process::Output {
    let what = format!("{command:?}");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn python(script: &str) -> Process {
    let mut command = Process::new("python3");
    command.arg("-c").arg(script);
    command
}

/// The `mariadb` CLI connected to `port` as `user`, running `sql`.
fn cli(port: u16, user: &str, password: &str, args: &[&str], sql: &str) -> Process {
    let mut command = Process::new("mariadb");
    command
        .args(["--protocol=TCP", "-h", "127.0.0.1", "-P", &port.to_string()])
        .arg(format!("-u{user}"))
        .arg(format!("-p{password}"))
        .args(args)
        .arg(DATABASE)
        .args(["-e", sql]);
    command
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Where `shard`'s primary listens (shard 0 is the default one: unsharded tables live there).
fn primary_port(env: &TestEnv, shard: usize) -> u16 {
    env.sandbox.shards()[shard].primary.port
}

/// A raw client logged in to `port` with `capabilities` and MariaDB's extended `mariadb`
/// ones, so the answers' bytes can be compared.
async fn raw_client(
    port: u16,
    user: &str,
    password: &str,
    capabilities: CapabilityFlags,
    mariadb: MariadbCapabilities,
) -> PacketConn<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut conn = PacketConn::new(stream);
    let credentials = BackendLogin {
        user,
        password,
        native_stage1: None,
        database: Some(DATABASE),
        capabilities,
        mariadb_capabilities: mariadb,
    };
    login(&mut conn, &credentials).await.expect("raw login");
    conn
}

/// The basic capabilities and CLIENT_DEPRECATE_EOF, which [`answer`] expects.
fn basic() -> CapabilityFlags {
    COMMON_CAPABILITIES | CapabilityFlags::CLIENT_DEPRECATE_EOF
}

/// Every packet of the answer to one command (one result set at most).
async fn answer(conn: &mut PacketConn<TcpStream>, command: Command, arg: &[u8]) -> Vec<Vec<u8>> {
    conn.reset_seq();
    let mut packet = vec![command as u8];
    packet.extend_from_slice(arg);
    conn.write_packet(&packet).await.unwrap();
    let first = conn.read_packet().await.unwrap().to_vec();
    let columns = match first[0] {
        0x00 | 0xFF => return vec![first],
        _ => read_lenenc_int(&first).unwrap().0,
    };
    let mut out = vec![first];
    for _ in 0..columns {
        out.push(conn.read_packet().await.unwrap().to_vec());
    }
    loop {
        let p = conn.read_packet().await.unwrap().to_vec();
        let end = p[0] == 0xFF || (p[0] == 0xFE && p.len() < 0xFF_FFFF);
        out.push(p);
        if end {
            return out;
        }
    }
}

async fn query(conn: &mut PacketConn<TcpStream>, sql: &str) -> Vec<Vec<u8>> {
    answer(conn, Command::COM_QUERY, sql.as_bytes()).await
}

/// The column definitions of a result set's answer.
fn definitions(answer: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let n = read_lenenc_int(&answer[0]).unwrap().0 as usize;
    answer[1..=n].to_vec()
}

/// The rows of a result set's answer, as sent.
fn row_packets(answer: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let n = read_lenenc_int(&answer[0]).unwrap().0 as usize;
    answer[n + 1..answer.len() - 1].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_data_local_infile_streams_the_clients_file_to_the_shard() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    for table in ["audit", "audit_direct", "audit_py", "audit_py_direct"] {
        conn.query_drop(format!(
            "CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(64), note TEXT)"
        ))
        .await
        .unwrap();
    }
    // About 7 MB, in lines of every length up to 220 bytes.
    let path = env.sandbox.dir().join("audit.tsv");
    let mut file = String::new();
    for i in 0..60_000u32 {
        let note: String = (0..i % 200)
            .map(|k| (b'a' + (k % 26) as u8) as char)
            .collect();
        file.push_str(&format!("{i}\tname {i} é\t{note}\n"));
    }
    std::fs::write(&path, &file).unwrap();
    let path = path.display().to_string();
    let load = |table: &str| {
        format!("LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} CHARACTER SET utf8mb4")
    };

    // The mariadb CLI, through the proxy and directly.
    let through = cli(
        env.port,
        PROXY_USER,
        PROXY_PASSWORD,
        &["--local-infile=1"],
        &load("audit"),
    );
    stdout(&run(through).await);
    let direct = cli(
        primary_port(&env, 0),
        BACKEND_USER,
        BACKEND_PASSWORD,
        &["--local-infile=1"],
        &load("audit_direct"),
    );
    stdout(&run(direct).await);

    // PyMySQL with local_infile=True: the same rows, the same answer; and a PyMySQL client
    // that did not allow local files gets MariaDB's own error, and nothing is loaded.
    let script = |port: u16, user: &str, password: &str, table: &str| {
        format!(
            r#"
import pymysql
c = pymysql.connect(host="127.0.0.1", port={port}, user="{user}", password="{password}", database="{DATABASE}", local_infile=True, autocommit=True)
cur = c.cursor()
n = cur.execute("{load}")
print(n, c._result.message)
plain = pymysql.connect(host="127.0.0.1", port={port}, user="{user}", password="{password}", database="{DATABASE}", autocommit=True)
try:
    plain.cursor().execute("LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table}")
except pymysql.err.OperationalError as e:
    print(e.args[0], e.args[1])
cur = plain.cursor()
cur.execute("SELECT COUNT(*) FROM {table}")
print(cur.fetchone()[0])
# Inside a transaction: loaded on the transaction's connection, gone with its rollback.
cur = c.cursor()
cur.execute("CREATE TABLE {table}_tx LIKE {table}")
c.begin()
cur.execute("{load_tx}")
cur.execute("SELECT COUNT(*) FROM {table}_tx")
print(cur.fetchone()[0])
c.rollback()
cur.execute("SELECT COUNT(*) FROM {table}_tx")
print(cur.fetchone()[0])
"#,
            load = load(table),
            load_tx = load(&format!("{table}_tx")),
        )
    };
    let via_proxy = stdout(
        &run(python(&script(
            env.port,
            PROXY_USER,
            PROXY_PASSWORD,
            "audit_py",
        )))
        .await,
    );
    let directly = stdout(
        &run(python(&script(
            primary_port(&env, 0),
            BACKEND_USER,
            BACKEND_PASSWORD,
            "audit_py_direct",
        )))
        .await,
    );
    assert_eq!(via_proxy, directly);
    assert!(via_proxy.starts_with("60000 "), "{via_proxy}");
    assert!(via_proxy.ends_with("\n60000\n60000\n0\n"), "{via_proxy}");
    assert!(via_proxy.contains("4166 The used command is not allowed because the MariaDB server or client has disabled the local infile capability"), "{via_proxy}");

    // Every copy holds exactly what a direct load holds.
    let mut primary = env.connect_primary(0).await;
    let checksums = rows(
        &mut primary,
        "CHECKSUM TABLE audit, audit_direct, audit_py, audit_py_direct",
    )
    .await;
    let sums: Vec<_> = checksums.iter().map(|r| r[1].clone()).collect();
    assert!(sums.iter().all(|s| *s == sums[0]), "{checksums:?}");
    assert_eq!(
        rows(
            &mut primary,
            "SELECT COUNT(*), SUM(LENGTH(note)) FROM audit"
        )
        .await,
        rows(
            &mut primary,
            "SELECT COUNT(*), SUM(LENGTH(note)) FROM audit_direct"
        )
        .await
    );
    // And the proxy serves what was loaded.
    assert_eq!(
        rows(&mut conn, "SELECT COUNT(*) FROM audit").await[0][0].as_deref(),
        Some("60000")
    );
    drop((conn, primary));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_data_into_sharded_and_reference_tables_is_refused_before_it_runs() {
    let env = TestEnv::start_with(
        2,
        0,
        "\n[[tables]]\nname = \"countries\"\nreference = true\n",
    )
    .await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE TABLE countries (code CHAR(2) PRIMARY KEY, name VARCHAR(64))")
        .await
        .unwrap();
    let path = env.sandbox.dir().join("rows.tsv");
    std::fs::write(&path, "1\ta@x\tA\t2024-01-01 00:00:00\n").unwrap();
    // PyMySQL sends a file when asked for one: a refusal must come before any request.
    let script = format!(
        r#"
import pymysql
c = pymysql.connect(host="127.0.0.1", port={port}, user="{PROXY_USER}", password="{PROXY_PASSWORD}", database="{DATABASE}", local_infile=True, autocommit=True)
for sql in ["LOAD DATA LOCAL INFILE '{path}' INTO TABLE users",
            "LOAD DATA LOCAL INFILE '{path}' REPLACE INTO TABLE app.countries",
            "LOAD XML LOCAL INFILE '{path}' INTO TABLE orders"]:
    try:
        c.cursor().execute(sql)
        print("loaded")
    except pymysql.err.MySQLError as e:
        print(e.args[0], e.args[1])
"#,
        port = env.port,
        path = path.display()
    );
    let out = stdout(&run(python(&script)).await);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("1235 LOAD DATA LOCAL INFILE into sharded table `users`")
            && lines[0].contains("split by shard key `id`"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("1235 LOAD DATA LOCAL INFILE into reference table `countries`"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("1235 LOAD XML LOCAL INFILE into sharded table `orders`"),
        "{out}"
    );
    for shard in 0..2 {
        let mut primary = env.connect_primary(shard).await;
        let counts = rows(
            &mut primary,
            "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM countries)",
        )
        .await;
        assert_eq!(counts, vec![vec![Some("0".into()), Some("0".into())]]);
    }
    drop(conn);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_metadata_describes_json_uuid_and_inet_columns_as_mariadb_does() {
    let env = TestEnv::start_with(2, 0, ADMIN).await;
    let mut conn = env.connect().await;
    for sql in [
        "CREATE TABLE devices (id INT PRIMARY KEY, doc JSON, tag UUID, addr INET6, addr4 INET4)",
        "INSERT INTO devices VALUES (1, '{\"a\": 1}', '123e4567-e89b-12d3-a456-426655440000', '::1', '10.0.0.1')",
        "ALTER TABLE users ADD COLUMN tag UUID NULL, ADD COLUMN doc JSON NULL, ADD COLUMN addr INET6 NULL",
    ] {
        conn.query_drop(sql).await.unwrap();
    }
    for id in 1..=8 {
        conn.query_drop(format!(
            "INSERT INTO users (id, email, tag, doc, addr) VALUES ({id}, 'u{id}@x', \
             '00000000-0000-0000-0000-00000000000{id}', '{{\"n\": {id}}}', '::{id}')"
        ))
        .await
        .unwrap();
    }
    assert!((1..=8).any(|id| env.shard_of("users", id) == 0));
    assert!((1..=8).any(|id| env.shard_of("users", id) == 1));

    let extended = MariadbCapabilities::MARIADB_CLIENT_EXTENDED_METADATA;
    let mut proxy = raw_client(env.port, PROXY_USER, PROXY_PASSWORD, basic(), extended).await;
    let mut directs = Vec::new();
    for shard in 0..2 {
        let port = primary_port(&env, shard);
        directs.push(raw_client(port, BACKEND_USER, BACKEND_PASSWORD, basic(), extended).await);
    }

    // One shard: forwarded as MariaDB sent it.
    let sql = "SELECT id, doc, tag, addr, addr4 FROM devices";
    let through = query(&mut proxy, sql).await;
    let direct = query(&mut directs[0], sql).await;
    assert_eq!(through, direct);
    let types: Vec<Vec<u8>> = definitions(&direct)
        .iter()
        .map(|d| split_extended_metadata(d).unwrap().1)
        .collect();
    assert_eq!(
        types,
        [
            &b""[..],
            b"\x01\x04json",
            b"\x00\x04uuid",
            b"\x00\x05inet6",
            b"\x00\x05inet4"
        ]
    );

    // Merged over both shards: the definitions one server gives, the rows of both.
    for sql in [
        "SELECT id, doc, tag, addr FROM users ORDER BY id",
        "SELECT MIN(tag), MAX(addr), COUNT(*), MIN(doc), SUM(id) FROM users",
        "SELECT email, MAX(tag), COUNT(*) FROM users GROUP BY email ORDER BY email",
    ] {
        let through = query(&mut proxy, sql).await;
        let direct = query(&mut directs[0], sql).await;
        assert_eq!(definitions(&through), definitions(&direct), "{sql}");
    }
    let sql = "SELECT id, doc, tag, addr FROM users ORDER BY id";
    let mut expected = Vec::new();
    for direct in &mut directs {
        expected.extend(row_packets(&query(direct, sql).await));
    }
    let id = |row: &Vec<u8>| -> u64 {
        let len = row[0] as usize;
        std::str::from_utf8(&row[1..1 + len])
            .unwrap()
            .parse()
            .unwrap()
    };
    expected.sort_by_key(id);
    assert_eq!(row_packets(&query(&mut proxy, sql).await), expected);

    // Result sets the proxy writes itself carry the (empty) extended metadata too.
    let mut admin = raw_client(env.port, "ops", "ops-secret", basic(), extended).await;
    let tables = query(&mut admin, "SHOW SHARDGATE TABLES").await;
    for definition in definitions(&tables) {
        assert_eq!(split_extended_metadata(&definition).unwrap().1, b"");
    }
    assert!(!row_packets(&tables).is_empty());

    // The mariadb CLI asks for the extended metadata and shows it.
    let sql = "SELECT doc, tag FROM users ORDER BY id LIMIT 1";
    let shown = stdout(
        &run(cli(
            env.port,
            PROXY_USER,
            PROXY_PASSWORD,
            &["--column-type-info", "-t"],
            sql,
        ))
        .await,
    );
    let direct = stdout(
        &run(cli(
            primary_port(&env, 0),
            BACKEND_USER,
            BACKEND_PASSWORD,
            &["--column-type-info", "-t"],
            "SELECT doc, tag FROM users ORDER BY id LIMIT 1",
        ))
        .await,
    );
    assert!(
        shown.contains("BLOB (format=json)") && shown.contains("STRING (type=uuid)"),
        "{shown}"
    );
    let described = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("Type:") || l.starts_with("Field"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(described(&shown), described(&direct));
    drop(conn);
    env.stop().await;
}

/// A PyMySQL client asking for session state tracking: every OK, EOF and ERR packet it reads,
/// in hex, one per line, for a session of SETs, USEs and reads (the user, host and port given).
fn tracked_session(port: u16, user: &str, password: &str, other_shard_id: u64) -> String {
    format!(
        r#"
import pymysql
from pymysql.constants import CLIENT
seen = []
read = pymysql.connections.Connection._read_packet
def record(self, packet_type=pymysql.protocol.MysqlPacket):
    packet = read(self, packet_type)
    data = packet.get_all_data()
    if data[:1] in (b"\x00", b"\xfe", b"\xff"):
        seen.append(data.hex())
    return packet
pymysql.connections.Connection._read_packet = record
c = pymysql.connect(host="127.0.0.1", port={port}, user="{user}", password="{password}", database="{DATABASE}", autocommit=True, client_flag=CLIENT.SESSION_TRACK)
cur = c.cursor()
for sql in ["SET character_set_client = latin1", "SET NAMES utf8mb4", "SET time_zone = '+01:00'",
            "SET @x = 1", "USE {DATABASE}", "SELECT 1",
            "SELECT COUNT(*) FROM users WHERE id = {other_shard_id}",
            "SET session_track_state_change = 1", "SET @y = 2", "USE {DATABASE}",
            "SET autocommit = 0", "SET autocommit = 1", "SET session_track_system_variables = 'time_zone,sql_mode'",
            "SET sql_mode = 'TRADITIONAL'", "SET time_zone = DEFAULT", "SET NAMES latin1"]:
    cur.execute(sql)
    cur.fetchall()
c.select_db("{DATABASE}")
c.ping(reconnect=False)
print("\n".join(seen))
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_changes_are_reported_as_mariadb_reports_them() {
    let env = TestEnv::start(2, 0).await;
    // A read on shard 1 makes the proxy bring a connection there to the session's variables:
    // what that replay changes must not reach the client.
    let other = (1..).find(|id| env.shard_of("users", *id) == 1).unwrap() as u64;
    let via_proxy = stdout(
        &run(python(&tracked_session(
            env.port,
            PROXY_USER,
            PROXY_PASSWORD,
            other,
        )))
        .await,
    );
    let direct = stdout(
        &run(python(&tracked_session(
            primary_port(&env, 0),
            BACKEND_USER,
            BACKEND_PASSWORD,
            other,
        )))
        .await,
    );
    assert_eq!(
        via_proxy.lines().collect::<Vec<_>>(),
        direct.lines().collect::<Vec<_>>()
    );
    // The comparison means something: the login's schema, `character_set_client`, and the
    // schema with the state-change flag after `USE`.
    assert!(
        direct.lines().next().unwrap().ends_with("0006010403617070"),
        "{direct}"
    );
    assert!(
        direct.contains("146368617261637465725f7365745f636c69656e74066c6174696e31"),
        "{direct}"
    );
    assert!(direct.contains("09010403617070020131"), "{direct}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capability_flags_change_what_statements_do_as_on_mariadb() {
    let env = TestEnv::start(2, 0).await;
    let mut conn = env.connect().await;
    conn.query_drop("CREATE PROCEDURE rows_out() SELECT 1 AS one")
        .await
        .unwrap();
    conn.query_drop("CREATE PROCEDURE no_rows() DO 1")
        .await
        .unwrap();
    conn.query_drop("CREATE TABLE notes (id INT)")
        .await
        .unwrap();
    let (proxy_port, direct_port) = (env.port, primary_port(&env, 0));
    let pair = |caps: CapabilityFlags| async move {
        let none = MariadbCapabilities::empty();
        (
            raw_client(proxy_port, PROXY_USER, PROXY_PASSWORD, caps, none).await,
            raw_client(direct_port, BACKEND_USER, BACKEND_PASSWORD, caps, none).await,
        )
    };

    // Without CLIENT_MULTI_RESULTS a procedure may not return a result set (1312).
    let single =
        basic() - CapabilityFlags::CLIENT_MULTI_RESULTS - CapabilityFlags::CLIENT_PS_MULTI_RESULTS;
    let (mut proxy, mut direct) = pair(single).await;
    for sql in ["CALL rows_out()", "CALL no_rows()"] {
        assert_eq!(
            query(&mut proxy, sql).await,
            query(&mut direct, sql).await,
            "{sql}"
        );
    }
    let refused = query(&mut proxy, "CALL rows_out()").await;
    assert_eq!(u16::from_le_bytes([refused[0][1], refused[0][2]]), 1312);

    // CLIENT_IGNORE_SPACE turns sql_mode IGNORE_SPACE on (`COUNT (*)` is COUNT), until a reset.
    let (mut proxy, mut direct) = pair(basic() | CapabilityFlags::CLIENT_IGNORE_SPACE).await;
    for sql in [
        "SELECT COUNT (*) FROM notes",
        "SELECT @@sql_mode",
        "SELECT COUNT (*) FROM users WHERE id = 7",
    ] {
        assert_eq!(
            query(&mut proxy, sql).await,
            query(&mut direct, sql).await,
            "{sql}"
        );
    }
    assert!(
        String::from_utf8_lossy(&query(&mut proxy, "SELECT @@sql_mode").await[2])
            .contains("IGNORE_SPACE")
    );
    for conn in [&mut proxy, &mut direct] {
        answer(conn, Command::COM_RESET_CONNECTION, b"").await;
    }
    for sql in ["SELECT @@sql_mode", "SELECT COUNT (*) FROM notes"] {
        assert_eq!(
            query(&mut proxy, sql).await,
            query(&mut direct, sql).await,
            "{sql}"
        );
    }
    drop(conn);
    env.stop().await;
}
