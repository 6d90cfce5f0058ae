//! `LAST_INSERT_ID()` through a pool: the backend connection a statement runs on is not the
//! one that ran the session's last INSERT, so the session's value is set on it first
//! (`DO LAST_INSERT_ID(n)`), and MariaDB itself evaluates the function: its value, type and
//! column name are the server's own.

/// Whether the statement may read `LAST_INSERT_ID()` (a cheap scan: a false positive only
/// costs the statement that sets it).
pub fn reads_last_insert_id(sql: &[u8]) -> bool {
    const NAME: &[u8] = b"last_insert_id";
    // Every occurrence has `_` at offset 4: look only where the text has one.
    let function = memchr::memchr_iter(b'_', sql).any(|at| {
        at >= 4
            && sql
                .get(at - 4..at - 4 + NAME.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(NAME))
    });
    // `@@identity` (and `@@last_insert_id`, found above) is the same value.
    function
        || memchr::memchr_iter(b'@', sql).any(|at| {
            if sql.get(at + 1) != Some(&b'@') {
                return false;
            }
            let rest = &sql[at + 2..];
            let rest = match rest.get(..8) {
                Some(p) if p.eq_ignore_ascii_case(b"session.") => &rest[8..],
                _ => rest,
            };
            rest.get(..8)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"identity"))
        })
}

/// The statement that gives a backend connection the session's `LAST_INSERT_ID()`.
pub fn set_last_insert_id(value: u64) -> String {
    format!("DO LAST_INSERT_ID({value})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_function_in_any_case() {
        assert!(reads_last_insert_id(b"SELECT Last_Insert_Id()"));
        assert!(!reads_last_insert_id(b"SELECT 1"));
        assert!(reads_last_insert_id(b"SELECT @@IDENTITY"));
        assert!(reads_last_insert_id(b"SELECT @@session.identity"));
        assert!(reads_last_insert_id(b"SELECT @@last_insert_id"));
        assert_eq!(set_last_insert_id(7), "DO LAST_INSERT_ID(7)");
    }
}
