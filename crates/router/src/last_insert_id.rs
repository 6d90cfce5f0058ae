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

/// Whether `sql` reads the session's `LAST_INSERT_ID()` value, not only sets it: a call
/// without an argument, or `@@identity` / `@@last_insert_id`. `LAST_INSERT_ID(expr)` returns
/// `expr` and reads nothing. Text that cannot be read is taken to.
pub fn reads_last_insert_id_value(sql: &[u8], syntax: crate::Syntax) -> bool {
    let variable = memchr::memmem::find_iter(sql, b"@@").any(|at| {
        let rest = &sql[at + 2..];
        let rest = match rest.get(..8) {
            Some(p) if p.eq_ignore_ascii_case(b"session.") => &rest[8..],
            _ => rest,
        };
        [b"identity".as_slice(), b"last_insert_id"]
            .iter()
            .any(|name| {
                rest.get(..name.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(name))
            })
    });
    if variable {
        return true;
    }
    let Some(tokens) = crate::lex::read_tokens(sql, syntax) else {
        return true;
    };
    crate::lex::calls_function(&tokens, "last_insert_id", false)
}

/// Whether `sql` is an INSERT or REPLACE of at most one row: `VALUES (…)` with one row,
/// `SET …`, or a SELECT of no table (`SELECT 1, 2 [FROM DUAL]`). When such a statement fails,
/// MariaDB leaves `LAST_INSERT_ID()` as it was: the function tells the first id generated for
/// a row that was written, and the one row was not (`ON DUPLICATE KEY UPDATE` included: a
/// failing update writes nothing either). A statement of several rows may have written some
/// before failing.
pub fn inserts_one_row(sql: &str, syntax: crate::Syntax) -> bool {
    use sqlparser::ast::{SetExpr, Statement, TableFactor};
    let Ok(statements) = crate::lex::parse(sql, syntax) else {
        return false;
    };
    let [Statement::Insert(insert)] = statements.as_slice() else {
        return false;
    };
    match insert.source.as_deref().map(|q| q.body.as_ref()) {
        None => !insert.assignments.is_empty(),
        Some(SetExpr::Values(values)) => values.rows.len() == 1,
        Some(SetExpr::Select(select)) => match select.from.as_slice() {
            [] => true,
            [only] => {
                only.joins.is_empty()
                    && matches!(&only.relation, TableFactor::Table { name, .. }
                        if name.to_string().eq_ignore_ascii_case("dual"))
            }
            _ => false,
        },
        Some(_) => false,
    }
}

/// Whether MariaDB raises error `code` while it reads and checks an INSERT, before it writes
/// any row: such a failure leaves `LAST_INSERT_ID()` as it was, whatever the rows.
pub fn fails_before_rows(code: u16) -> bool {
    matches!(
        code,
        1044 // ER_DBACCESS_DENIED_ERROR
            | 1049 // ER_BAD_DB_ERROR
            | 1052 // ER_NON_UNIQ_ERROR
            | 1054 // ER_BAD_FIELD_ERROR
            | 1064 // ER_PARSE_ERROR
            | 1110 // ER_FIELD_SPECIFIED_TWICE
            | 1136 // ER_WRONG_VALUE_COUNT_ON_ROW
            | 1142 // ER_TABLEACCESS_DENIED_ERROR
            | 1143 // ER_COLUMNACCESS_DENIED_ERROR
            | 1146 // ER_NO_SUCH_TABLE
            | 1364 // ER_NO_DEFAULT_FOR_FIELD
    )
}

/// The statement that gives a backend connection the session's `LAST_INSERT_ID()`.
pub fn set_last_insert_id(value: u64) -> String {
    format!("DO LAST_INSERT_ID({value})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_last_insert_id_reads_no_value() {
        let reads = |sql: &str| reads_last_insert_id_value(sql.as_bytes(), crate::Syntax::DEFAULT);
        assert!(!reads("INSERT INTO t (id) VALUES (LAST_INSERT_ID(5))"));
        assert!(!reads("UPDATE t SET n = LAST_INSERT_ID(n + 1)"));
        assert!(reads("SELECT LAST_INSERT_ID()"));
        assert!(reads("SELECT last_insert_id ( )"));
        assert!(reads(
            "INSERT INTO c (p) VALUES (LAST_INSERT_ID(7)), (LAST_INSERT_ID())"
        ));
        assert!(reads("SELECT @@identity"));
        assert!(reads("SELECT @@session.last_insert_id"));
        assert!(!reads("SELECT 'last_insert_id()'"));
    }

    #[test]
    fn finds_the_function_in_any_case() {
        assert!(reads_last_insert_id(b"SELECT Last_Insert_Id()"));
        assert!(!reads_last_insert_id(b"SELECT 1"));
        assert!(reads_last_insert_id(b"SELECT @@IDENTITY"));
        assert!(reads_last_insert_id(b"SELECT @@session.identity"));
        assert!(reads_last_insert_id(b"SELECT @@last_insert_id"));
        assert_eq!(set_last_insert_id(7), "DO LAST_INSERT_ID(7)");
    }

    #[test]
    fn tells_one_row_inserts() {
        let syntax = crate::Syntax::default();
        for sql in [
            "INSERT INTO t VALUES (1)",
            "insert into t (a, b) values (NULL, 'x')",
            "INSERT t SET i = 254",
            "REPLACE INTO t VALUES (1, 2)",
            "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 2",
            "INSERT t1 SELECT 1, 9, 70 FROM DUAL ON DUPLICATE KEY UPDATE c = c + 1",
            "INSERT INTO t SELECT 1",
        ] {
            assert!(inserts_one_row(sql, syntax), "{sql}");
        }
        for sql in [
            "INSERT INTO t VALUES (1), (2)",
            "INSERT INTO t SELECT * FROM u",
            "INSERT INTO t SELECT 1 UNION SELECT 2",
            "SELECT 1",
            "INSERT INTO",
        ] {
            assert!(!inserts_one_row(sql, syntax), "{sql}");
        }
    }
}
