//! `UPDATE IGNORE t …` and `UPDATE LOW_PRIORITY t …`: sqlparser reads the modifier as the
//! table's name and the table as its alias, so the statement would be planned as one on an
//! unknown table (the default shard alone), silently missing the rows of other shards and a
//! table's lookups. Such a reading whose "alias" is a sharded or reference table is refused.

use shardgate_config::Topology;
use sqlparser::ast::{TableFactor, Update};

use crate::RouteError;

/// Refuses `u` when its table is really a modifier and its alias the table.
pub(crate) fn check(u: &Update, topology: &Topology) -> Result<(), RouteError> {
    let TableFactor::Table {
        name,
        alias: Some(alias),
        ..
    } = &u.table.relation
    else {
        return Ok(());
    };
    let [part] = name.0.as_slice() else {
        return Ok(());
    };
    let Some(ident) = part.as_ident().filter(|i| i.quote_style.is_none()) else {
        return Ok(());
    };
    let modifier = ident.value.to_ascii_uppercase();
    if !matches!(modifier.as_str(), "IGNORE" | "LOW_PRIORITY") {
        return Ok(());
    }
    let table = &alias.name.value;
    if topology.table(table).is_none() && !topology.is_reference(table) {
        return Ok(());
    }
    Err(RouteError::NotSupported(format!(
        "UPDATE {modifier} on `{table}`: shardgate's SQL parser does not read UPDATE's {modifier} modifier (it would take it for the table); run the UPDATE without it"
    )))
}

#[cfg(test)]
mod tests {
    use crate::{plan_sql, RouteError, Syntax};

    fn topology() -> shardgate_config::Topology {
        shardgate_config::parse(
            r#"
default_shard = "s0"
[[users]]
name = "app"
password = "pw"
[backend]
user = "u"
password = "p"
database = "app"
[[shards]]
name = "s0"
primary = "127.0.0.1:3306"
[[shards]]
name = "s1"
primary = "127.0.0.1:3307"
[[tables]]
name = "users"
shard_key = "id"
"#,
            "t.toml",
        )
        .unwrap()
    }

    #[test]
    fn a_modifier_read_as_the_table_is_refused_for_sharded_tables() {
        let t = topology();
        for sql in [
            "UPDATE IGNORE users SET name = 'n' WHERE id = 7",
            "update low_priority users set name = 'n'",
        ] {
            assert!(
                matches!(plan_sql(sql, &t, Syntax::DEFAULT), Err(RouteError::NotSupported(m)) if m.contains("modifier")),
                "{sql}"
            );
        }
        // Unsharded tables live on the default shard, where the statement goes as written.
        assert!(plan_sql("UPDATE IGNORE other SET a = 1", &t, Syntax::DEFAULT).is_ok());
        // A table really named so, and an alias.
        assert!(plan_sql("UPDATE `ignore` users SET a = 1", &t, Syntax::DEFAULT).is_ok());
        assert!(plan_sql(
            "UPDATE users u SET name = 'n' WHERE id = 7",
            &t,
            Syntax::DEFAULT
        )
        .is_ok());
    }
}
