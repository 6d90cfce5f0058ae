//! Every error a client can see, mapped once to a MySQL error code, SQLSTATE and message.

use shardgate_backend::BackendError;
use shardgate_protocol::{ProtocolError, ServerErr};
use shardgate_ring::RingError;
use shardgate_router::RouteError;

use crate::lookup_table::LookupError;
use crate::migration_error::MigrationError;
use crate::sequence_table::SequenceError;

/// ER_NOT_SUPPORTED_YET: a statement the proxy understands but cannot run across shards.
const NOT_SUPPORTED: (u16, &[u8; 5]) = (1235, b"42000");

/// An error to send to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub code: u16,
    pub state: [u8; 5],
    pub message: String,
    /// A server's message that is not UTF-8, as it sent it (see `ServerErr::raw_message`).
    pub raw_message: Option<Box<[u8]>>,
}

impl ClientError {
    pub fn new(code: u16, state: &[u8; 5], message: impl Into<String>) -> Self {
        ClientError {
            code,
            state: *state,
            message: message.into(),
            raw_message: None,
        }
    }

    /// The error as shard `name`'s: its message prefixed with the shard.
    pub(crate) fn on_shard(self, name: &str) -> Self {
        ClientError {
            message: format!("shard {name}: {}", self.message),
            ..self
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // A server's message goes as the server sent it, unless the proxy reworded it.
        let message = match &self.raw_message {
            Some(raw) if String::from_utf8_lossy(raw) == self.message => &raw[..],
            _ => self.message.as_bytes(),
        };
        shardgate_wire::packets::err(self.code, &self.state, message)
    }
}

impl From<ServerErr> for ClientError {
    fn from(e: ServerErr) -> Self {
        ClientError {
            code: e.code,
            state: e.state,
            message: e.message,
            raw_message: e.raw_message,
        }
    }
}

impl From<&RouteError> for ClientError {
    fn from(e: &RouteError) -> Self {
        let (code, state) = match e {
            RouteError::BadKey { source, .. } => match source.as_ref() {
                RingError::NotAnInteger(_) => (1366, b"22007"),
                RingError::NoRange(_) => (1526, b"HY000"),
                _ => NOT_SUPPORTED,
            },
            // ER_INCORRECT_GLOBAL_LOCAL_VAR
            RouteError::SessionOnly(_) => (1228, b"HY000"),
            // The default shard could not be read: not a refusal of the statement.
            RouteError::ViewsNeeded => (1105, b"HY000"),
            _ => NOT_SUPPORTED,
        };
        ClientError::new(code, state, e.to_string())
    }
}

/// Reserving generated ids or creating a sequence: the backend's error, or what is missing.
impl From<&SequenceError> for ClientError {
    fn from(e: &SequenceError) -> Self {
        match e {
            SequenceError::Backend(b) => ClientError::from(b),
            // ER_NO_SUCH_TABLE
            SequenceError::Missing { .. } => ClientError::new(1146, b"42S02", e.to_string()),
            SequenceError::Server { error, .. } => {
                ClientError::new(error.code, &error.state, e.to_string())
            }
            _ => ClientError::new(1105, b"HY000", e.to_string()),
        }
    }
}

/// Reading or writing a lookup index: a duplicate of a unique value, the backend's error, or
/// what is missing.
impl From<&LookupError> for ClientError {
    fn from(e: &LookupError) -> Self {
        match e {
            LookupError::Backend(b) => ClientError::from(b),
            // ER_DUP_ENTRY, as MariaDB names a unique key's duplicate.
            LookupError::Duplicate { .. } => ClientError::new(1062, b"23000", e.to_string()),
            // ER_NO_SUCH_TABLE
            LookupError::Missing { .. } => ClientError::new(1146, b"42S02", e.to_string()),
            // ER_OUT_OF_SORTMEMORY, as a merge past its bound.
            LookupError::TooManyRows { .. } => ClientError::new(1038, b"HY001", e.to_string()),
            LookupError::Server { error, .. } => {
                ClientError::new(error.code, &error.state, e.to_string())
            }
            _ => ClientError::new(1105, b"HY000", e.to_string()),
        }
    }
}

/// A resharding statement or migration that failed.
impl From<&MigrationError> for ClientError {
    fn from(e: &MigrationError) -> Self {
        let (code, state): (u16, &[u8; 5]) = match e {
            // ER_PARSE_ERROR
            MigrationError::Statement(_) => (1064, b"42000"),
            // ER_WRONG_ARGUMENTS: no migration of that id.
            MigrationError::Unknown(_) => (1210, b"HY000"),
            MigrationError::NotAResharding(_) | MigrationError::NoPrimaryKey(_) => NOT_SUPPORTED,
            // ER_UNKNOWN_ERROR, the message naming the cause: a file, a state, a shard.
            _ => (1105, b"HY000"),
        };
        ClientError::new(code, state, e.to_string())
    }
}

impl From<&BackendError> for ClientError {
    fn from(e: &BackendError) -> Self {
        if let Some(server) = e.server_error() {
            return ClientError::from(server.clone());
        }
        match e {
            BackendError::Protocol {
                endpoint,
                source: ProtocolError::Deadline,
            }
            | BackendError::Connect {
                endpoint,
                source: ProtocolError::Deadline,
            } => statement_timeout(endpoint),
            // ER_CONNECT_TO_FOREIGN_DATA_SOURCE: the proxy could not reach a backend.
            BackendError::Connect { .. } | BackendError::ConnectTimeout { .. } => {
                ClientError::new(1429, b"HY000", e.to_string())
            }
            // ER_CON_COUNT_ERROR
            BackendError::PoolExhausted { .. } => ClientError::new(1040, b"08004", e.to_string()),
            // ER_NET_READ_ERROR: the backend connection broke mid-command.
            BackendError::Protocol { .. } => ClientError::new(1158, b"08S01", e.to_string()),
        }
    }
}

/// ER_STATEMENT_TIMEOUT, MariaDB's answer to a statement past its `max_statement_time`: here
/// a statement past its bound (`statement_time.rs`) on the backend `endpoint` (its label names
/// the shard).
pub(crate) fn statement_timeout(endpoint: &str) -> ClientError {
    ClientError::new(
        1969,
        b"70100",
        format!("Query execution was interrupted (max_statement_time exceeded) on {endpoint}"),
    )
}

/// [`statement_timeout`] on a connection kept for the session (its transaction's) that could
/// not be stopped: it was closed, and with it the transaction and what the session kept on
/// its connections.
pub(crate) fn statement_timeout_lost(endpoint: &str) -> ClientError {
    ClientError::new(
        1969,
        b"70100",
        format!("Query execution was interrupted (max_statement_time exceeded) on {endpoint}; the server did not stop the statement, so its connection was closed: the transaction was rolled back"),
    )
}

/// The answer to a client whose packet the proxy refused before closing its connection, as
/// MariaDB answers it: ER_NET_PACKET_TOO_LARGE for one over `max_allowed_packet`.
pub(crate) fn refused_packet(e: &ProtocolError) -> Option<ClientError> {
    match e {
        ProtocolError::TooLarge { .. } => Some(ClientError::new(
            1153,
            b"08S01",
            "Got a packet bigger than 'max_allowed_packet' bytes",
        )),
        _ => None,
    }
}

/// ER_UNKNOWN_COM_ERROR for commands the proxy does not handle.
pub fn unknown_command(command: u8) -> ClientError {
    ClientError::new(
        1047,
        b"08S01",
        format!(
            "shardgate does not support command 0x{command:02x} ({})",
            command_name(command)
        ),
    )
}

fn command_name(command: u8) -> &'static str {
    match command {
        0x12 => "COM_BINLOG_DUMP",
        0x0a => "COM_PROCESS_INFO",
        0x0d => "COM_DEBUG",
        0x1c => "COM_FETCH",
        _ => "unknown",
    }
}

/// A statement shardgate must rewrite (split, scatter, fill in values) but whose text is not
/// UTF-8: rewriting would go through a lossy copy and change the client's bytes.
/// ER_OPERAND_COLUMNS: a subquery (or a SELECT the proxy reads rows of) with other than one
/// column where one is expected.
pub(crate) fn operand_columns() -> ClientError {
    ClientError::new(1241, b"21000", "Operand should contain 1 column(s)")
}

/// A statement the proxy must rewrite (or run in steps) whose text it did not read as the
/// client's bytes: not UTF-8 in a UTF-8 session, or in the session's other `charset`.
pub(crate) fn not_utf8_rewrite(charset: &crate::state::ClientCharset) -> ClientError {
    let why = match charset.is_utf8() {
        true => "this one holds bytes that are not UTF-8".to_owned(),
        false => format!("this connection's character set is {}", charset.name),
    };
    ClientError::new(
        1235,
        b"42000",
        format!("shardgate must rewrite this statement, which it can only do for UTF-8 text ({why}); send it in utf8mb4 (SET NAMES utf8mb4) or split it by shard yourself"),
    )
}

/// A statement whose steps (subqueries or keys computed first, …) gave a text that needed
/// steps again, more times than any statement the planner writes in steps does.
pub(crate) fn rewritten_too_often() -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        "shardgate ran this statement in steps, and the text its steps gave needed steps again; this is not supported by shardgate",
    )
}

/// 1235 for `what`, a statement MariaDB runs after committing the open transaction (its
/// implicit commit), which across shards would be a commit the client did not ask for.
pub(crate) fn implicit_commit_refused(what: &str) -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        format!(
            "{what} inside a transaction is not supported by shardgate: COMMIT or ROLLBACK first"
        ),
    )
}

/// ER_OUT_OF_RESOURCES for a statement answered across shards from copies of its tables
/// (`materialize.rs`) whose copies passed `[server] <setting>`.
pub(crate) fn materialize_bound(setting: &str, bound: u64, unit: &str) -> ClientError {
    ClientError::new(
        1038,
        b"HY001",
        format!("Out of memory: the rows copied to answer this statement across shards passed [server] {setting} = {bound} {unit}; narrow the statement with conditions on its tables"),
    )
}

/// ER_DUP_ENTRY while copying a sharded table's rows from several shards: two shards hold a
/// value of one of its unique keys (each enforces its keys only for its own rows).
pub(crate) fn copy_duplicate(table: &str, message: &str) -> ClientError {
    ClientError::new(
        1062,
        b"23000",
        format!("rows of sharded table `{table}` from different shards share a value of a unique key, which each shard enforces only for its own rows, so the statement cannot be answered across shards: {message}"),
    )
}

/// `information_schema.PROCESSLIST` by a user without `admin = true`: it lists the servers'
/// threads, every session's backend connections with their statements, which a MariaDB account
/// without the PROCESS privilege would not see (SHOW PROCESSLIST lists the proxy's sessions).
pub(crate) fn server_threads_refused() -> ClientError {
    ClientError::new(
        1227,
        b"42000",
        "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation",
    )
}

/// A statement reads LAST_INSERT_ID() after an INSERT failed (see
/// `Session::last_insert_id_unknown`).
pub(crate) fn last_insert_id_unknown() -> ClientError {
    ClientError::new(
        1235,
        b"42000",
        "LAST_INSERT_ID() after a failed INSERT is not known to shardgate (MariaDB may have moved it to an id generated before the failing row); it is known again after an INSERT that succeeds",
    )
}

/// ER_PARSE_ERROR, worded as the server words it, for `text` that the server stops reading at
/// offset `at`: "near" the rest of the text (cut to 77 bytes and `...` when longer than 80),
/// and the line it starts on.
pub(crate) fn syntax_error_near(
    text: &[u8],
    at: usize,
    syntax: shardgate_router::Syntax,
) -> ClientError {
    let rest = &text[at.min(text.len())..];
    let near = if rest.len() > 80 {
        // Cut between characters.
        let mut cut = 77;
        while cut > 0 && rest[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        format!("{}...", String::from_utf8_lossy(&rest[..cut]))
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    let line = 1 + memchr::memchr_iter(b'\n', &text[..at.min(text.len())]).count();
    // MariaDB's version ids are 10.0 (100000) and up, MySQL's below.
    let server = match syntax.server_version >= 100_000 {
        true => "MariaDB",
        false => "MySQL",
    };
    ClientError::new(
        1064,
        b"42000",
        format!("You have an error in your SQL syntax; check the manual that corresponds to your {server} server version for the right syntax to use near '{near}' at line {line}"),
    )
}

/// ER_WRONG_ARGUMENTS: an EXECUTE whose USING values do not match its statement's `?`.
pub(crate) fn wrong_execute_arguments() -> ClientError {
    ClientError::new(1210, b"HY000", "Incorrect arguments to EXECUTE")
}

/// ER_UNKNOWN_STMT_HANDLER: a statement name the session has not prepared, given to `command`
/// (`EXECUTE`, `DEALLOCATE PREPARE`).
pub(crate) fn unknown_statement_name(name: &str, command: &str) -> ClientError {
    ClientError::new(
        1243,
        b"HY000",
        format!("Unknown prepared statement handler ({name}) given to {command}"),
    )
}

/// ER_UNSUPPORTED_PS: a statement that cannot be prepared (PREPARE, EXECUTE … inside one).
pub(crate) fn not_preparable() -> ClientError {
    ClientError::new(
        1295,
        b"HY000",
        "This command is not supported in the prepared statement protocol yet",
    )
}

impl From<&crate::catch_up::CatchUpError> for ClientError {
    fn from(e: &crate::catch_up::CatchUpError) -> Self {
        use crate::catch_up::CatchUpError as E;
        match e {
            // The target's own code, with the statement and target named.
            E::TargetRefused { error, .. } => {
                ClientError::new(error.code, &error.state, e.to_string())
            }
            // ER_MASTER_FATAL_ERROR_READING_BINLOG, as a replica reports a dump it cannot read.
            E::DumpRefused { .. } | E::Binlog { .. } => {
                ClientError::new(1236, b"HY000", e.to_string())
            }
            E::Requirement { .. } => {
                ClientError::new(NOT_SUPPORTED.0, NOT_SUPPORTED.1, e.to_string())
            }
            // ER_CONNECT_TO_FOREIGN_DATA_SOURCE: a server could not be reached or went silent.
            E::Connection(_) | E::Silent(..) => ClientError::new(1429, b"HY000", e.to_string()),
            E::Table { .. } | E::UnknownTarget(_) | E::NotRunning(_) => {
                ClientError::new(1105, b"HY000", e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_message_in_another_character_set_is_relayed_as_sent() {
        // `sjis` bytes, as MariaDB words a message for an sjis client.
        let mut packet = vec![0xFF, 0x28, 0x04, b'#'];
        packet.extend_from_slice(b"42000near '\x81_0143'");
        packet.extend_from_slice(&[0x81, b'_']);
        let server = shardgate_wire::packets::parse_err(&packet).unwrap();
        assert!(server.message.contains('\u{FFFD}'));
        let relayed = ClientError::from(server.clone());
        assert_eq!(relayed.encode(), packet);
        // Reworded by the proxy: its text.
        let mut named = ClientError::from(server);
        named.message = format!("shard s1: {}", named.message);
        assert!(String::from_utf8(named.encode()[9..].to_vec()).is_ok());
    }

    #[test]
    fn syntax_errors_quote_the_text_as_mariadb_does() {
        let syntax = shardgate_router::Syntax::DEFAULT;
        let near = |text: &str, at: usize| syntax_error_near(text.as_bytes(), at, syntax).message;
        assert_eq!(
            near("SELECT 1; DROP TABLE t", 10),
            "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'DROP TABLE t' at line 1"
        );
        assert!(near("select 1;\r\n\tselect 2", 12).ends_with("near 'select 2' at line 2"));
        // 80 bytes are quoted whole; longer texts are cut at 77 bytes between characters.
        let quoted = |text: &str| {
            let message = near(text, 0);
            let start = message.find("near '").unwrap() + 6;
            let end = message.rfind("' at line").unwrap();
            message[start..end].to_owned()
        };
        assert_eq!(quoted(&"b".repeat(80)), "b".repeat(80));
        assert_eq!(quoted(&"b".repeat(81)), format!("{}...", "b".repeat(77)));
        assert_eq!(quoted(&"é".repeat(40)), "é".repeat(40));
        assert_eq!(quoted(&"é".repeat(41)), format!("{}...", "é".repeat(38)));
        assert_eq!(syntax_error_near(b"x", 1, syntax).code, 1064);
    }

    #[test]
    fn catch_up_errors_keep_the_servers_codes_or_say_what_failed() {
        use crate::catch_up::CatchUpError;
        let server = |code| ServerErr {
            code,
            state: *b"23000",
            message: "refused".into(),
            raw_message: None,
        };
        let target = CatchUpError::TargetRefused {
            target: "s2".into(),
            statement: "REPLACE INTO t VALUES (1)".into(),
            error: server(1062),
        };
        let mapped = ClientError::from(&target);
        assert_eq!((mapped.code, &mapped.state), (1062, b"23000"));
        assert!(mapped.message.contains("target s2 refused `REPLACE INTO t"));
        let dump = CatchUpError::DumpRefused {
            source_shard: "s0".into(),
            error: server(1236),
        };
        assert_eq!(ClientError::from(&dump).code, 1236);
        let requirement = CatchUpError::Requirement {
            source_shard: "s0".into(),
            what: "binlog_row_image is MINIMAL".into(),
        };
        assert_eq!(ClientError::from(&requirement).code, 1235);
    }
}
