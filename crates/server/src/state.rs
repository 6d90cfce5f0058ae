//! Session state the proxy keeps for a client and applies to each backend connection it uses.

use std::hash::{Hash, Hasher};

use mysql_common::collations::{Collation, CollationId};
use shardgate_backend::{BackendConn, BackendError};
use shardgate_collation::Charset;
use shardgate_merge::ColumnMeta;
use shardgate_protocol::response::Finish;
use shardgate_protocol::{Command, ProtocolError, UTF8MB4_GENERAL_CI};
use shardgate_wire::column_definition::split_extended_metadata;
use shardgate_wire::text_row::text_cell;

/// The value side of `SET name = <value>`, as written.
fn assigned_value(sql: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(sql).ok()?;
    Some(text.rsplit('=').next()?.trim())
}

/// The string `SET name = <value>` assigns: a value kept by value (`_cs X'…'`) decoded, or the
/// quoted literal (or bare word) it was set to.
fn assigned_string(sql: &[u8]) -> Option<String> {
    let value = assigned_value(sql)?;
    if let Some(at) = value.find("X'") {
        let hex = value[at + 2..].split('\'').next()?;
        return String::from_utf8(hex::decode(hex).ok()?).ok();
    }
    Some(value.trim_matches(|c| c == '\'' || c == '"').to_owned())
}

/// The character set a client's text is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCharset {
    /// MariaDB's name for it, lower case (`utf8mb4`, `latin1`, `default`).
    pub name: String,
    /// How the proxy reads it.
    pub charset: Charset,
    /// Whether the connection's character set is the client's with its default collation
    /// (`SET NAMES cs`): a literal reads as `_cs X'…'` of its bytes.
    pub literals_as_introduced: bool,
}

impl ClientCharset {
    fn utf8mb4() -> ClientCharset {
        ClientCharset {
            name: "utf8mb4".to_owned(),
            charset: Charset::Utf8,
            literals_as_introduced: true,
        }
    }

    /// The character set the last of `vars` that sets one sets.
    fn of(vars: &[(String, Vec<u8>)]) -> ClientCharset {
        let unquoted = |s: &str| {
            s.trim_matches(|c| c == '\'' || c == '"' || c == '`')
                .to_owned()
        };
        let mut name = None;
        let mut literals_as_introduced = true;
        for (var, sql) in vars {
            let words = || {
                let text = String::from_utf8_lossy(sql).to_ascii_lowercase();
                text.split_whitespace().map(unquoted).collect::<Vec<_>>()
            };
            match var.as_str() {
                "character_set_client" => {
                    name = Some(
                        assigned_string(sql)
                            .unwrap_or_default()
                            .to_ascii_lowercase(),
                    );
                    literals_as_introduced = false;
                }
                // `SET NAMES cs [COLLATE c]`, kept as written.
                v if v == "names" || v.starts_with("set names") => {
                    let words = words();
                    let set = words.get(2).cloned().unwrap_or_default();
                    literals_as_introduced = match (words.get(3), words.get(4)) {
                        (None, _) => true,
                        (Some(collate), Some(collation)) if collate == "collate" => {
                            match Charset::named(&set) {
                                Charset::SingleByte(s) => s.default_collation == collation,
                                _ => false,
                            }
                        }
                        _ => false,
                    };
                    name = Some(set);
                }
                // `SET CHARACTER SET cs`, `SET CHARSET cs`: the connection's is the database's.
                v if v.starts_with("set character set") || v.starts_with("set charset") => {
                    name = Some(words().last().cloned().unwrap_or_default());
                    literals_as_introduced = false;
                }
                "character_set_connection" | "collation_connection" => {
                    literals_as_introduced = false;
                }
                _ => {}
            }
        }
        match name {
            None => ClientCharset {
                literals_as_introduced,
                ..ClientCharset::utf8mb4()
            },
            Some(name) => {
                let name = unquoted(&name);
                ClientCharset {
                    charset: Charset::named(&name),
                    name,
                    literals_as_introduced,
                }
            }
        }
    }

    /// The single-byte set whose literals a statement may be written with in ASCII
    /// (`shardgate_router::ascii_literals`): the client's, when the connection's is the same.
    pub fn literal_set(&self) -> Option<&'static shardgate_collation::SingleByte> {
        match self.charset {
            Charset::SingleByte(set) if self.literals_as_introduced => Some(set),
            _ => None,
        }
    }

    /// Whether the client's text is UTF-8 (or bytes a string column reads as UTF-8).
    pub fn is_utf8(&self) -> bool {
        self.charset == Charset::Utf8
    }
}

/// The variables fingerprint of a connection that carries state no session accounts for:
/// it is reset before any session uses it again.
pub const DIRTY: u64 = u64::MAX;

/// The database and session variables of one client session.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub database: String,
    pub autocommit: bool,
    /// (name, statement that applies it), in the order they were last assigned.
    vars: Vec<(String, Vec<u8>)>,
    /// Identifies `vars`; 0 means "server defaults", which fresh backend connections have.
    fingerprint: u64,
    /// The character set the client's text is in, as `vars` set it.
    client_charset: ClientCharset,
}

impl SessionState {
    /// A fresh session; a client collation other than the backends' default becomes `SET NAMES`.
    pub fn new(database: String, collation: u8) -> Self {
        let mut state = SessionState {
            database,
            autocommit: true,
            vars: Vec::new(),
            fingerprint: 0,
            client_charset: ClientCharset::utf8mb4(),
        };
        if collation != UTF8MB4_GENERAL_CI {
            let c = Collation::resolve(CollationId::from(u16::from(collation)));
            if c.id() != CollationId::UNKNOWN_COLLATION_ID {
                let sql = format!("SET NAMES {} COLLATE {}", c.charset(), c.collation());
                state.apply([("names".to_owned(), sql.into_bytes())]);
            }
        }
        state
    }

    /// Records assignments; a later one to the same name replaces (and moves after) the earlier.
    pub fn apply(&mut self, vars: impl IntoIterator<Item = (String, Vec<u8>)>) {
        for (name, sql) in vars {
            self.vars.retain(|(n, _)| *n != name);
            self.vars.push((name, sql));
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.vars.hash(&mut h);
        self.fingerprint = h.finish().clamp(1, DIRTY - 1);
        self.client_charset = ClientCharset::of(&self.vars);
    }

    /// The character set the client's text is in (`SET NAMES`, `SET CHARACTER SET`,
    /// `character_set_client`, the handshake's collation).
    pub fn client_charset(&self) -> &ClientCharset {
        &self.client_charset
    }

    /// The client's statement text (or string) as characters, for planning: bytes its
    /// character set has no character for read as U+FFFD.
    pub fn read_text<'a>(&self, bytes: &'a [u8]) -> std::borrow::Cow<'a, str> {
        match self.client_charset.charset {
            Charset::Utf8 => shardgate_router::utf8::lossy(bytes),
            charset => charset.read_lossy(bytes),
        }
    }

    /// The statement that last set session variable `name` (lower-case, e.g. `sql_mode`).
    pub fn var_text(&self, name: &str) -> Option<&[u8]> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, sql)| sql.as_slice())
    }

    /// The string the session's `name` holds: a value kept by value (`_cs X'…'`) decoded, or
    /// the quoted literal it was set to.
    pub fn var_string(&self, name: &str) -> Option<String> {
        assigned_string(self.var_text(name)?)
    }

    /// The value side of the session's `SET name = <value>`, as written.
    fn var_value(&self, name: &str) -> Option<&str> {
        assigned_value(self.var_text(name)?)
    }

    /// Whether the session set boolean variable `name` on (`1`, `ON`, `TRUE`).
    pub fn var_on(&self, name: &str) -> bool {
        self.var_value(name).is_some_and(|v| {
            let v = v.trim_matches('\'');
            v == "1" || v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("true")
        })
    }

    /// The value a `SET SESSION name = <number>` gave, if the session set it to a number.
    pub fn var_number(&self, name: &str) -> Option<u64> {
        self.var_value(name)?.parse().ok()
    }

    /// Whether the session limits SELECTs (`sql_select_limit` set to anything but its default).
    pub fn select_limit_set(&self) -> bool {
        self.var_text("sql_select_limit").is_some()
            && !self
                .var_value("sql_select_limit")
                .is_some_and(|v| v.eq_ignore_ascii_case("DEFAULT"))
            && self.var_number("sql_select_limit") != Some(u64::MAX)
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Brings `conn` to this session's database and variables (resetting it first if it carries
    /// another session's variables).
    pub async fn sync(&self, conn: &mut BackendConn) -> Result<(), BackendError> {
        // Leaving a database starts the connection over: before its variables.
        if self.database.is_empty() {
            self.sync_database(conn).await?;
        }
        self.sync_variables(conn).await?;
        self.sync_database(conn).await
    }

    /// Brings `conn` to this session's database (`""`: none, as after a `DROP DATABASE` of
    /// it; a session leaving it that way has no variables to lose on the connection yet, see
    /// [`SessionState::sync`]).
    pub async fn sync_database(&self, conn: &mut BackendConn) -> Result<(), BackendError> {
        if conn.database.as_deref() == Some(self.database.as_str()) {
            return Ok(());
        }
        if self.database.is_empty() {
            return conn.leave_database().await;
        }
        crate::database_name::enter_utf8(conn, &self.database).await?;
        conn.database = Some(self.database.clone());
        Ok(())
    }

    /// Brings a connection the session keeps (a transaction's, temporary tables') to a `USE`
    /// since it was pinned. Leaving for no database would start the connection over, losing
    /// what it is kept for: a statement on it gets MariaDB's answer for no database then.
    pub async fn follow_database_pinned(
        &self,
        conn: &mut BackendConn,
    ) -> Result<(), crate::errors::ClientError> {
        if self.database.is_empty() && conn.database.as_deref() != Some("") {
            return Err(crate::errors::ClientError::new(
                1046,
                b"3D000",
                "No database selected",
            ));
        }
        (self.sync_database(conn).await).map_err(|e| crate::errors::ClientError::from(&e))
    }

    /// Brings `conn` to this session's variables, whatever its database.
    pub async fn sync_variables(&self, conn: &mut BackendConn) -> Result<(), BackendError> {
        if conn.vars_fingerprint != self.fingerprint {
            if conn.vars_fingerprint != 0 {
                expect_ok(conn, Command::COM_RESET_CONNECTION, b"").await?;
                // The reset also closed the connection's prepared statements.
                conn.statements.clear();
                conn.vars_fingerprint = 0;
                conn.database = None;
            }
            if !self.vars.is_empty() {
                let sql: Vec<&[u8]> = self.vars.iter().map(|(_, sql)| sql.as_slice()).collect();
                expect_ok(conn, Command::COM_QUERY, &sql.join(&b';')).await?;
            }
            conn.vars_fingerprint = self.fingerprint;
        }
        Ok(())
    }
}

/// Runs a control command; a server error comes back as `Err` (the connection stays usable).
pub async fn expect_ok(
    conn: &mut BackendConn,
    command: Command,
    arg: &[u8],
) -> Result<(), BackendError> {
    run_ok(conn, command, arg).await.map(|_warnings| ())
}

/// Like [`expect_ok`], with the warning count of the OK.
pub async fn run_ok(
    conn: &mut BackendConn,
    command: Command,
    arg: &[u8],
) -> Result<u16, BackendError> {
    let finish = conn.execute(command, arg).await?;
    ok_warnings(conn, finish)
}

/// Like [`run_ok`], with the session state changes the OK reports (to a client that tracks
/// them): what the command changed, for the OK the proxy writes in its place.
pub async fn run_ok_tracked(
    conn: &mut BackendConn,
    command: Command,
    arg: &[u8],
) -> Result<(u16, Vec<u8>), BackendError> {
    let (finish, session_state) = conn.execute_tracked(command, arg).await?;
    Ok((ok_warnings(conn, finish)?, session_state))
}

/// The warning count of an OK; an error otherwise.
fn ok_warnings(conn: &mut BackendConn, finish: Finish) -> Result<u16, BackendError> {
    match finish {
        Finish::Ok { warnings, .. } => Ok(warnings),
        Finish::Err(e) => Err(BackendError::Protocol {
            endpoint: conn.endpoint().to_owned(),
            source: ProtocolError::Server(e),
        }),
        Finish::LocalInfile => {
            conn.broken = true;
            Err(BackendError::Protocol {
                endpoint: conn.endpoint().to_owned(),
                source: ProtocolError::Unsupported("LOAD DATA LOCAL".into()),
            })
        }
    }
}

/// Reads back what the statement just run on `conn` left there (user variables `assigns`,
/// and `LAST_INSERT_ID()` when it may have read or set it) and keeps it in the session;
/// returns the variables' replay statements.
pub async fn read_back_into(
    state: &mut SessionState,
    last_insert_id: &mut u64,
    assigns: &[String],
    reads_last_insert_id: bool,
    conn: &mut BackendConn,
) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
    if assigns.is_empty() && !reads_last_insert_id {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = assigns.iter().map(String::as_str).collect();
    let back = read_back(conn, reads_last_insert_id, &names).await?;
    if let Some(id) = back.last_insert_id {
        *last_insert_id = id;
    }
    if !back.vars.is_empty() {
        let synced = conn.vars_fingerprint == state.fingerprint();
        state.apply(back.vars.iter().cloned());
        // The connection holds exactly the session's variables now.
        if synced {
            conn.vars_fingerprint = state.fingerprint();
        }
    }
    Ok(back.vars)
}

/// [`read_back_into`] after a statement whose answer already reached the client: a connection
/// that cannot answer is retired (and logged) instead of failing the statement.
pub async fn read_back_or_retire(
    state: &mut SessionState,
    last_insert_id: &mut u64,
    assigns: &[String],
    reads_last_insert_id: bool,
    conn: &mut BackendConn,
) -> Vec<(String, Vec<u8>)> {
    match read_back_into(state, last_insert_id, assigns, reads_last_insert_id, conn).await {
        Ok(vars) => vars,
        Err(e) => {
            tracing::warn!(error = %e, "could not read back the statement's user variables");
            conn.broken = true;
            Vec::new()
        }
    }
}

/// What a statement left on its connection that the session keeps: `LAST_INSERT_ID()` (when
/// `last_insert_id`) and the values of user variables `names` (`@x`).
pub struct ReadBack {
    pub last_insert_id: Option<u64>,
    /// Each variable as a statement that sets it to its value again, with its type: see
    /// [`replay_literal`].
    pub vars: Vec<(String, Vec<u8>)>,
}

/// Reads back what a statement left on `conn` (see [`ReadBack`]). Each variable is read with
/// its bytes (`HEX`) and collation, so a string keeps its character set.
pub async fn read_back(
    conn: &mut BackendConn,
    last_insert_id: bool,
    names: &[&str],
) -> Result<ReadBack, BackendError> {
    if names.is_empty() && !last_insert_id {
        return Ok(ReadBack {
            last_insert_id: None,
            vars: Vec::new(),
        });
    }
    let mut items: Vec<String> = Vec::with_capacity(3 * names.len() + 1);
    if last_insert_id {
        items.push("LAST_INSERT_ID()".into());
    }
    for name in names {
        items.extend([
            (*name).to_owned(),
            format!("HEX({name})"),
            format!("COLLATION({name})"),
        ]);
    }
    // An explicit LIMIT: the session's sql_select_limit must not hide the row.
    let query = format!("SELECT {} LIMIT 1", items.join(", "));
    let broken = |conn: &mut BackendConn, why: &str| {
        conn.broken = true;
        BackendError::Protocol {
            endpoint: conn.endpoint().to_owned(),
            source: ProtocolError::malformed(why.to_owned()),
        }
    };
    let columns = match conn.query_rows(query.as_bytes()).await? {
        shardgate_backend::QueryHead::Columns(columns) => columns,
        shardgate_backend::QueryHead::Done(_) => {
            return Err(broken(conn, "reading user variables back"))
        }
    };
    let Ok(Ok(row)) = conn.next_row().await else {
        return Err(broken(conn, "reading user variables back"));
    };
    if !matches!(conn.next_row().await, Ok(Err(_))) {
        return Err(broken(conn, "reading user variables back"));
    }
    let first_var = usize::from(last_insert_id);
    let extended_metadata = conn.flavor.extended_metadata();
    let last_insert_id = match last_insert_id {
        true => {
            let cell = text_cell(&row, 0).map_err(|e| broken(conn, &e.to_string()))?;
            let id = cell.and_then(|c| std::str::from_utf8(c).ok()?.parse().ok());
            Some(id.ok_or_else(|| broken(conn, "reading LAST_INSERT_ID() back"))?)
        }
        false => None,
    };
    let mut values = Vec::with_capacity(names.len());
    for (n, name) in names.iter().enumerate() {
        let at = first_var + 3 * n;
        let cells = (|| {
            let definition = columns.get(at)?;
            let meta = match extended_metadata {
                true => ColumnMeta::from_definition(&split_extended_metadata(definition)?.0),
                false => ColumnMeta::from_definition(definition),
            };
            let meta = meta.ok()?;
            let text = |i: usize| text_cell(&row, at + i).ok();
            let (value, hex, collation) = (text(0)?, text(1)?, text(2)?);
            let collation = std::str::from_utf8(collation.unwrap_or(b"binary")).ok()?;
            replay_literal(&meta, value, hex, collation)
        })();
        let Some(literal) = cells else {
            return Err(broken(conn, "reading user variables back"));
        };
        values.push((
            (*name).to_owned(),
            format!("SET {name} = {literal}").into_bytes(),
        ));
    }
    Ok(ReadBack {
        last_insert_id,
        vars: values,
    })
}

/// A literal that gives a variable `value` (as `SELECT @x` printed it, typed by `meta`) again
/// with the same type (see [`typed_literal`]), a string from its bytes (`hex`) in `collation`.
fn replay_literal(
    meta: &ColumnMeta,
    value: Option<&[u8]>,
    hex: Option<&[u8]>,
    collation: &str,
) -> Option<String> {
    typed_literal(meta.kind(), value, collation, || {
        let hex = std::str::from_utf8(hex?).ok()?;
        let charset = collation.split('_').next().unwrap_or(collation);
        Some(match collation {
            "binary" => format!("_binary X'{hex}'"),
            _ => format!("_{charset} X'{hex}' COLLATE {collation}"),
        })
    })
}

/// A literal that gives a user variable the value of a result cell (`value`, in the text
/// protocol under `meta`: a string in the result's character set) with the type MariaDB's
/// assignment from that column gives it: YEAR and BIT values are integers, temporal values
/// strings in `latin1_swedish_ci` (MariaDB's character set for numbers and times as text),
/// other strings in `collation` (`COLLATION()` of the column). `None` for a FLOAT, whose text
/// is not its value.
pub(crate) fn value_literal(
    meta: &ColumnMeta,
    value: Option<&[u8]>,
    collation: &str,
) -> Option<String> {
    use shardgate_merge::ValueKind;
    let bit_value;
    let (kind, value, collation) = match meta.kind() {
        ValueKind::Float => return None,
        ValueKind::Year => (ValueKind::Int, value, collation),
        ValueKind::Bit => {
            let bits = value.map(|b| b.iter().fold(0u64, |n, &byte| n << 8 | u64::from(byte)));
            bit_value = bits.map(|n| n.to_string());
            let kind = match bits.is_some_and(|n| i64::try_from(n).is_err()) {
                true => ValueKind::UInt,
                false => ValueKind::Int,
            };
            (kind, bit_value.as_deref().map(str::as_bytes), collation)
        }
        ValueKind::Date | ValueKind::DateTime | ValueKind::Time => {
            (meta.kind(), value, "latin1_swedish_ci")
        }
        kind => (kind, value, collation),
    };
    typed_literal(kind, value, collation, || {
        let hex = hex::encode_upper(value?);
        let charset = collation.split('_').next().unwrap_or(collation);
        let result = mysql_common::collations::Collation::resolve(
            mysql_common::collations::CollationId::from(meta.charset),
        );
        let result_charset = result.charset();
        Some(match collation {
            "binary" => format!("_binary X'{hex}'"),
            // Binary results (`character_set_results = NULL`) are the column's own bytes.
            _ if meta.charset == 63 || result_charset == charset => {
                format!("_{charset} X'{hex}' COLLATE {collation}")
            }
            _ => format!("CONVERT(_{result_charset} X'{hex}' USING {charset}) COLLATE {collation}"),
        })
    })
}

/// A literal of `value` typed as `kind`, so no escaping or re-evaluation can change it: an
/// integer as written (`CAST(… AS UNSIGNED)` when unsigned), a decimal with its scale, a
/// double with an exponent, NULL as a NULL of that type; other values are strings in
/// `collation`, written by `string`.
fn typed_literal(
    kind: shardgate_merge::ValueKind,
    value: Option<&[u8]>,
    collation: &str,
    string: impl FnOnce() -> Option<String>,
) -> Option<String> {
    use shardgate_merge::ValueKind;
    // Numbers are ASCII; a string's value is taken from its bytes instead.
    let text = value.map(|v| std::str::from_utf8(v).unwrap_or_default());
    let charset = collation.split('_').next().unwrap_or(collation);
    Some(match (kind, text) {
        (ValueKind::Int, Some(t)) => t.to_owned(),
        (ValueKind::Int, None) => "CAST(NULL AS SIGNED)".into(),
        (ValueKind::UInt, t) => format!("CAST({} AS UNSIGNED)", t.unwrap_or("NULL")),
        (ValueKind::Decimal, Some(t)) => {
            let scale = t.split_once('.').map_or(0, |(_, f)| f.len());
            format!("CAST({t} AS DECIMAL(65, {scale}))")
        }
        (ValueKind::Decimal, None) => "CAST(NULL AS DECIMAL(65, 30))".into(),
        (ValueKind::Double | ValueKind::Float, Some(t)) if t.contains(['e', 'E']) => t.to_owned(),
        (ValueKind::Double | ValueKind::Float, Some(t)) => format!("{t}e0"),
        (ValueKind::Double | ValueKind::Float, None) => "CAST(NULL AS DOUBLE)".into(),
        (_, None) if collation == "binary" => "NULL".into(),
        (_, None) => format!("CONVERT(NULL USING {charset}) COLLATE {collation}"),
        (_, Some(_)) => string()?,
    })
}

/// The first column of the one row `sql` answers on `conn`, as text (NULL as empty).
pub async fn query_text(conn: &mut BackendConn, sql: &[u8]) -> Result<String, BackendError> {
    let broken = |conn: &mut BackendConn| {
        conn.broken = true;
        BackendError::Protocol {
            endpoint: conn.endpoint().to_owned(),
            source: ProtocolError::malformed(format!(
                "unexpected answer to {}",
                String::from_utf8_lossy(sql)
            )),
        }
    };
    match conn.query_rows(sql).await? {
        shardgate_backend::QueryHead::Columns(_) => {}
        // The server's refusal, as it gave it (the connection stays usable).
        shardgate_backend::QueryHead::Done(shardgate_protocol::response::Finish::Err(e)) => {
            return Err(BackendError::Protocol {
                endpoint: conn.endpoint().to_owned(),
                source: ProtocolError::Server(e),
            })
        }
        shardgate_backend::QueryHead::Done(_) => return Err(broken(conn)),
    }
    let Ok(Ok(row)) = conn.next_row().await else {
        return Err(broken(conn));
    };
    if !matches!(conn.next_row().await, Ok(Err(_))) {
        return Err(broken(conn));
    }
    let cell = text_cell(&row, 0).map_err(|_| broken(conn))?;
    Ok(String::from_utf8_lossy(cell.unwrap_or_default()).into_owned())
}

/// A statement's whole (small) result: its column definitions (none for an OK) and rows.
pub type Answer = (Vec<bytes::BytesMut>, Vec<bytes::Bytes>);

/// `sql`'s result, rows held; the server's refusal as it gave it.
pub async fn result_rows(
    conn: &mut BackendConn,
    sql: &[u8],
) -> Result<Result<Answer, shardgate_protocol::ServerErr>, BackendError> {
    use shardgate_protocol::response::Finish;
    let heads = match conn.query_rows(sql).await? {
        shardgate_backend::QueryHead::Columns(heads) => heads,
        shardgate_backend::QueryHead::Done(Finish::Err(e)) => return Ok(Err(e)),
        shardgate_backend::QueryHead::Done(_) => return Ok(Ok((Vec::new(), Vec::new()))),
    };
    let mut rows = Vec::new();
    loop {
        match conn.next_row().await? {
            Ok(row) => rows.push(row),
            Err(Finish::Err(e)) => return Ok(Err(e)),
            Err(_) => return Ok(Ok((heads, rows))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charset_after(handshake: u8, sets: &[(&str, &str)]) -> String {
        let mut state = SessionState::new("app".into(), handshake);
        for (name, sql) in sets {
            state.apply([(name.to_string(), sql.as_bytes().to_vec())]);
        }
        state.client_charset().name.clone()
    }

    #[test]
    fn the_client_charset_is_the_last_one_set() {
        assert_eq!(charset_after(UTF8MB4_GENERAL_CI, &[]), "utf8mb4");
        // latin1_swedish_ci (8) in the handshake.
        assert_eq!(charset_after(8, &[]), "latin1");
        assert_eq!(
            charset_after(8, &[("names", "SET NAMES 'cp1251' COLLATE cp1251_bin")]),
            "cp1251"
        );
        let character_set = ("set character set koi8r", "SET CHARACTER SET koi8r");
        let client = (
            "character_set_client",
            "SET SESSION character_set_client = latin2",
        );
        assert_eq!(charset_after(45, &[character_set, client]), "latin2");
        assert_eq!(charset_after(45, &[client, character_set]), "koi8r");
        // A value read back from the server (`SET character_set_client = @cs`).
        let computed = (
            "character_set_client",
            "SET SESSION character_set_client = _utf8mb4 X'6C6174696E31'",
        );
        assert_eq!(charset_after(45, &[computed]), "latin1");
        let state = SessionState::new("app".into(), 8);
        assert_eq!(state.read_text(b"SELECT 'Caf\xe9'"), "SELECT 'Café'");
    }
}
