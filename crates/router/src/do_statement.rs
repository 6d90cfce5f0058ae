//! `DO expr, …` (evaluate, discard the values), which the SQL parser does not read, over
//! sharded tables. It is planned as `SELECT expr, …`: where that runs on one shard, the `DO`
//! goes there as written. Elsewhere, a `DO` of assignments only (`DO @n := (SELECT COUNT(*)
//! FROM t)`) means `SET @n = (SELECT COUNT(*) FROM t)`, and is planned as that (its subqueries
//! first, typed as MariaDB types the assignment); any other `DO` across shards is refused
//! naming it.

use shardgate_config::Topology;

use crate::{Plan, Route, RouteError, SqlMode, Syntax};

/// The plan of `sql` when it is a `DO` statement (`None` otherwise).
pub(crate) fn plan(
    sql: &str,
    topology: &Topology,
    syntax: Syntax,
) -> Option<Result<Plan, RouteError>> {
    let b = sql.as_bytes();
    let at = crate::lex::skip_space(b, 0);
    let word = b.get(at..at + 2)?;
    if !word.eq_ignore_ascii_case(b"do")
        || b.get(at + 2)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$')
    {
        return None;
    }
    let rest = sql[at + 2..].trim().trim_end_matches(';').trim_end();
    Some(match crate::plan_sql(&format!("SELECT {rest}"), topology, syntax) {
        Ok(select) if select.rewritten.is_none() && matches!(select.route, Route::Shard(_)) => {
            Ok(Plan::new(select.kind, select.route))
        }
        _ => match assignments(rest, syntax) {
            Some(set) => crate::plan_sql(&set, topology, syntax),
            None => Err(RouteError::NotSupported(format!(
                "`DO {rest}` reads rows of several shards, which only `DO @v := …` assignments (run as SET) may: not supported by shardgate"
            ))),
        },
    })
}

/// `SET @a = e1, @b = e2` for `@a := e1, @b := e2`; `None` unless every item is an assignment
/// to a user variable.
fn assignments(list: &str, syntax: Syntax) -> Option<String> {
    let backslash = !syntax.sql_mode.contains(SqlMode::NO_BACKSLASH_ESCAPES);
    let b = list.as_bytes();
    let mut set = Vec::new();
    for item in crate::lex::top_level_items(b, 0..b.len(), backslash) {
        let text = list.get(item)?;
        let (name, value) = text.split_once(":=")?;
        let name = name.trim_end();
        let plain = name.len() > 1
            && name.starts_with('@')
            && name[1..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'.');
        if !plain || value.trim().is_empty() {
            return None;
        }
        set.push(format!("{name} = {}", value.trim()));
    }
    Some(format!("SET {}", set.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_become_a_set() {
        let s = Syntax::DEFAULT;
        assert_eq!(
            assignments("@y := (SELECT COUNT(*) FROM t), @z:=f(1, 2)", s).as_deref(),
            Some("SET @y = (SELECT COUNT(*) FROM t), @z = f(1, 2)")
        );
        assert_eq!(assignments("@y := 1, SLEEP(0)", s), None);
        assert_eq!(assignments("@@x := 1", s), None);
        assert_eq!(assignments("(SELECT 1)", s), None);
    }

    #[test]
    fn a_do_statement_is_planned_as_its_select() {
        let t =
            crate::test_topology::two_shards("[[tables]]\nname = \"users\"\nshard_key = \"id\"\n");
        let s = Syntax::DEFAULT;
        let one = plan("DO (SELECT COUNT(*) FROM users WHERE id = 3)", &t, s);
        assert!(
            matches!(
                one,
                Some(Ok(Plan {
                    route: Route::Shard(_),
                    ..
                }))
            ),
            "{one:?}"
        );
        let set = plan("do @n := (SELECT COUNT(*) FROM users);", &t, s);
        assert!(
            matches!(set, Some(Err(RouteError::SubqueriesFirst(_)))),
            "{set:?}"
        );
        let other = plan("DO (SELECT COUNT(*) FROM users)", &t, s);
        assert!(
            matches!(other, Some(Err(RouteError::NotSupported(_)))),
            "{other:?}"
        );
        assert!(plan("DOT 1", &t, s).is_none());
        assert!(plan("SELECT 1", &t, s).is_none());
    }
}
