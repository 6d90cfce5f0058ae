//! `CONNECTION_ID()` through a pool: the backend connection a statement runs on has its own
//! thread id, so the session's id (the one the proxy's handshake gave the client) is set on
//! it first as `pseudo_thread_id`, which is what MariaDB's `CONNECTION_ID()` returns.

/// Whether the statement may read the connection's id: `CONNECTION_ID()` or
/// `@@pseudo_thread_id` (a cheap scan: a false positive only costs the statement that sets it).
pub fn reads_connection_id(sql: &[u8]) -> bool {
    const FUNCTION: &[u8] = b"connection_id";
    const VARIABLE: &[u8] = b"pseudo_thread_id";
    // `connection_id` has `_` at offset 10, `pseudo_thread_id` at 6: look only where the text
    // has one.
    let at_offset = |at: usize, offset: usize, name: &[u8]| {
        at.checked_sub(offset)
            .and_then(|start| sql.get(start..start + name.len()))
            .is_some_and(|w| w.eq_ignore_ascii_case(name))
    };
    memchr::memchr_iter(b'_', sql)
        .any(|at| at_offset(at, 10, FUNCTION) || at_offset(at, 6, VARIABLE))
}

/// The statement that gives a backend connection the session's id `id`.
pub fn set_connection_id(id: u32) -> String {
    format!("SET SESSION pseudo_thread_id = {id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_function_and_the_variable_in_any_case() {
        assert!(reads_connection_id(b"SELECT CONNECTION_ID()"));
        assert!(reads_connection_id(b"select connection_id() + 1"));
        assert!(reads_connection_id(b"SELECT @@pseudo_thread_id"));
        assert!(reads_connection_id(b"KILL QUERY Connection_Id()"));
        assert!(!reads_connection_id(b"SELECT 1"));
        assert!(!reads_connection_id(b"SELECT last_insert_id()"));
        assert!(!reads_connection_id(b"SELECT _id FROM t"));
        assert_eq!(set_connection_id(7), "SET SESSION pseudo_thread_id = 7");
    }
}
