//! INSERTs that give a table's `auto_increment` column its value. MariaDB moves a table's
//! AUTO_INCREMENT past the largest id an INSERT gives, so the ids it generates later do not
//! collide with it (fixtures loaded with their ids, then rows created); the proxy moves the
//! table's sequence past it likewise (`server/src/sequences.rs`), before the INSERT runs — or,
//! when other rows of the statement take generated ids, row after row (`RowId`).
//!
//! Read: integer literals (in any form an integer key is read in: `500`, `'500'`, `5e2`); a
//! prepared statement's execution is read with its parameters written in. Not read:
//! expressions, `INSERT … SELECT`.

use shardgate_config::{AutoIncrement, ShardKeyType, Topology};
use sqlparser::ast::{Expr, Insert, SetExpr, Statement};

use crate::auto_increment::{auto_table, generates, is_column, names};
use crate::shard_key::{key_source, KeySource, OwnedKey};
use crate::{SqlMode, Syntax};

/// The largest id an INSERT gives its table's `auto_increment` column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenIds {
    /// The table, as the config names it.
    pub table: String,
    pub auto_increment: AutoIncrement,
    pub max: u64,
}

/// Whether `ins` names its table's `auto_increment` column with a value in some row, so that
/// running it must read the ids it gives ([`given_ids`]); a property of the statement's
/// template, kept by cached plans.
pub(crate) fn may_give(ins: &Insert, topology: &Topology) -> bool {
    let Some((_, ai)) = auto_table(ins, topology) else {
        return false;
    };
    match ins.source.as_deref().map(|q| q.body.as_ref()) {
        Some(SetExpr::Values(_)) => ins.columns.iter().any(|c| is_column(c, ai)),
        None => ins.assignments.iter().any(|a| names(&a.target, ai)),
        _ => false,
    }
}

/// The largest id INSERT `sql` gives its table's `auto_increment` column explicitly (not
/// `NULL`, `DEFAULT` or `0`, which generate one), if it gives any that reads as an integer.
pub fn given_ids(sql: &str, syntax: Syntax, topology: &Topology) -> Option<GivenIds> {
    let statements = crate::lex::parse(sql, syntax).ok()?;
    let [Statement::Insert(ins)] = statements.as_slice() else {
        return None;
    };
    let (rule, ai) = auto_table(ins, topology)?;
    let zero_is_value = syntax.sql_mode.contains(SqlMode::NO_AUTO_VALUE_ON_ZERO);
    let id = |value: &Expr| given_id(value, zero_is_value);
    let max = match ins.source.as_deref().map(|q| q.body.as_ref()) {
        Some(SetExpr::Values(values)) => {
            let at = ins.columns.iter().position(|c| is_column(c, ai))?;
            (values.rows.iter())
                .filter_map(|row| row.content.get(at).and_then(id))
                .max()
        }
        None => (ins.assignments.iter())
            .find(|a| names(&a.target, ai))
            .and_then(|a| id(&a.value)),
        _ => None,
    }?;
    Some(GivenIds {
        table: rule.name.clone(),
        auto_increment: ai.clone(),
        max,
    })
}

/// The id `value` gives an AUTO_INCREMENT column, when it gives one that reads as an integer.
pub(crate) fn given_id(value: &Expr, zero_is_value: bool) -> Option<u64> {
    let i = match key_source(value, ShardKeyType::Integer)? {
        _ if generates(value, zero_is_value) => return None,
        KeySource::Value(OwnedKey::Int(i)) => i,
        KeySource::Value(OwnedKey::Str(text)) => shardgate_ring::parse_integer(&text).ok()?,
        KeySource::Param(_) => return None,
    };
    u64::try_from(i).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `users` with an `auto_increment` id, `plain` without.
    fn topology() -> Topology {
        crate::auto_increment::tests::topology()
    }

    fn max(sql: &str, syntax: Syntax) -> Option<u64> {
        given_ids(sql, syntax, &topology()).map(|g| g.max)
    }

    #[test]
    fn the_largest_id_given_is_read() {
        let d = Syntax::DEFAULT;
        assert_eq!(
            max(
                "INSERT INTO users (id, name) VALUES (7, 'a'), (500, 'b'), (NULL, 'c')",
                d
            ),
            Some(500)
        );
        assert_eq!(
            max("INSERT INTO users (name, id) VALUES ('a', '42')", d),
            Some(42)
        );
        assert_eq!(max("REPLACE INTO users SET name = 'a', id = 9", d), Some(9));
        assert_eq!(max("INSERT INTO users (id) VALUES (5e2)", d), Some(500));
        // Generated, negative, a parameter, an expression, another table, no id: none.
        assert_eq!(
            max(
                "INSERT INTO users (id, name) VALUES (NULL, 'a'), (0, 'b'), (DEFAULT, 'c')",
                d
            ),
            None
        );
        assert_eq!(max("INSERT INTO users (id) VALUES (-3)", d), None);
        assert_eq!(max("INSERT INTO users (id) VALUES (?)", d), None);
        assert_eq!(max("INSERT INTO users (id) VALUES (1 + 1)", d), None);
        assert_eq!(max("INSERT INTO plain (id) VALUES (7)", d), None);
        assert_eq!(max("INSERT INTO users (name) VALUES ('a')", d), None);
        // 0 is a value under NO_AUTO_VALUE_ON_ZERO (and below every id).
        let zero = Syntax {
            sql_mode: SqlMode::parse("NO_AUTO_VALUE_ON_ZERO"),
            ..Syntax::DEFAULT
        };
        assert_eq!(max("INSERT INTO users (id) VALUES (0)", zero), Some(0));
    }

    #[test]
    fn plans_of_inserts_naming_the_column_say_so() {
        let t = topology();
        let gives = |sql: &str| crate::plan_sql(sql, &t, Syntax::DEFAULT).map(|p| p.gives_ids);
        assert_eq!(
            gives("INSERT INTO users (id, name) VALUES (7, 'a')").ok(),
            Some(true)
        );
        assert_eq!(
            gives("INSERT INTO users SET id = 7, name = 'a'").ok(),
            Some(true)
        );
        assert_eq!(gives("INSERT INTO plain (id) VALUES (7)").ok(), Some(false));
        assert_eq!(gives("SELECT * FROM users WHERE id = 7").ok(), Some(false));
    }
}
