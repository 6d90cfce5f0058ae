//! Database names in the client's character set. MariaDB reads a `USE` name (and COM_INIT_DB's)
//! in the session's `character_set_client` and keeps it as UTF-8. So does the proxy: a name
//! that is not plain ASCII is entered with the client's bytes on a connection holding the
//! session's variables, and the session keeps the UTF-8 name the server reports back
//! (`HEX(DATABASE())`). Connections are taken there with the UTF-8 bytes read as UTF-8,
//! whatever character set the session uses (`enter_utf8`).

use shardgate_backend::{BackendConn, BackendError};
use shardgate_protocol::{Command, ProtocolError};

use crate::state::{expect_ok, query_text};

/// The name's bytes as written in `USE name` / ``USE `name` `` (after spaces and comments), or
/// `None` for any other text.
pub(crate) fn use_name(text: &[u8]) -> Option<Vec<u8>> {
    let text = shardgate_router::after_comments(text);
    let rest = text
        .get(3..)
        .filter(|_| text[..3].eq_ignore_ascii_case(b"use"))?;
    if !rest.first()?.is_ascii_whitespace() {
        return None;
    }
    let rest = rest.trim_ascii();
    let rest = rest.strip_suffix(b";").unwrap_or(rest).trim_ascii_end();
    match rest.strip_prefix(b"`") {
        Some(quoted) => {
            let inner = quoted.strip_suffix(b"`")?;
            let mut name = Vec::with_capacity(inner.len());
            let mut bytes = inner.iter();
            while let Some(&b) = bytes.next() {
                if b == b'`' && bytes.next() != Some(&b'`') {
                    return None;
                }
                name.push(b);
            }
            Some(name)
        }
        None if !rest.is_empty() && !rest.iter().any(|b| b.is_ascii_whitespace()) => {
            Some(rest.to_vec())
        }
        None => None,
    }
}

/// The session's current database on `conn`, as the UTF-8 name the server keeps.
pub(crate) async fn current_utf8(conn: &mut BackendConn) -> Result<String, BackendError> {
    let hex_name = query_text(conn, b"SELECT HEX(DATABASE()) LIMIT 1").await?;
    hex::decode(&hex_name)
        .ok()
        .and_then(|name| String::from_utf8(name).ok())
        .ok_or_else(|| BackendError::Protocol {
            endpoint: conn.endpoint().to_owned(),
            source: ProtocolError::malformed("DATABASE() is not UTF-8"),
        })
}

/// Enters database `name` (UTF-8) on `conn`, whatever its `character_set_client`: a name that
/// is not ASCII is sent while the connection reads UTF-8, its own character set put back after.
pub(crate) async fn enter_utf8(conn: &mut BackendConn, name: &str) -> Result<(), BackendError> {
    if name.is_ascii() {
        return expect_ok(conn, Command::COM_INIT_DB, name.as_bytes()).await;
    }
    expect_ok(
        conn,
        Command::COM_QUERY,
        b"SET @shardgate_charset = @@character_set_client, character_set_client = utf8mb4",
    )
    .await?;
    let entered = expect_ok(conn, Command::COM_INIT_DB, name.as_bytes()).await;
    let restored = expect_ok(
        conn,
        Command::COM_QUERY,
        b"SET character_set_client = @shardgate_charset, @shardgate_charset = NULL",
    )
    .await;
    if restored.is_err() {
        // Its character set is not the session's any more.
        conn.broken = true;
    }
    entered.and(restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_name_of_a_use_as_written() {
        assert_eq!(use_name(b"USE test").as_deref(), Some(&b"test"[..]));
        assert_eq!(use_name(b"  use\t`a``b` ;").as_deref(), Some(&b"a`b"[..]));
        assert_eq!(
            use_name(b"/* c */ USE \xd4\xc5\xd3\xd4").as_deref(),
            Some(&b"\xd4\xc5\xd3\xd4"[..])
        );
        assert_eq!(use_name(b"USE `a` b"), None);
        assert_eq!(use_name(b"USE a b"), None);
        assert_eq!(use_name(b"USEFUL"), None);
        assert_eq!(use_name(b"SELECT 1"), None);
        assert_eq!(use_name(b"USE `a"), None);
    }
}
