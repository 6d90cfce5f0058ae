//! Checking a table's `lookups = [{ column = "email", unique = true }]`.

use std::collections::HashMap;

use toml::Spanned;

use crate::auto_increment::identifier_problem;
use crate::error::Diagnostics;
use crate::schema::LookupSchema;
use crate::Lookup;

/// The lookup table of `column` of `table` when the config names none.
pub fn default_lookup_table(table: &str, column: &str) -> String {
    format!("{table}_{column}_lookup")
}

/// Checks the `lookups` of table `name` (shard key `shard_key`) at config key `key`.
pub(crate) fn lookups(
    schema: &Spanned<Vec<Spanned<LookupSchema>>>,
    name: &str,
    shard_key: &str,
    key: &str,
    d: &mut Diagnostics<'_>,
) -> Option<Vec<Lookup>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in schema.get_ref().iter().enumerate() {
        let at = format!("{key}.lookups[{i}]");
        let lookup = item.get_ref();
        let column = match &lookup.column {
            None => {
                let message = "missing column (the column looked up), e.g. lookups = [{ column = \"email\", unique = true }]";
                d.at(item.span(), format!("{at}.column"), message);
                None
            }
            Some(c) => {
                let lower = c.get_ref().to_ascii_lowercase();
                let problem = identifier_problem(c.get_ref())
                    .map(|p| format!("column {:?} {p}", c.get_ref()))
                    .or_else(|| (lower == shard_key).then(|| format!("column {:?} is the shard key: rows are found by it without a lookup", c.get_ref())))
                    .or_else(|| out.iter().any(|l: &Lookup| l.column == lower).then(|| format!("column {:?} has a lookup already", c.get_ref())));
                match problem {
                    Some(message) => {
                        d.at(c.span(), format!("{at}.column"), message);
                        None
                    }
                    None => Some(lower),
                }
            }
        };
        let table = match (&lookup.table, &column) {
            (Some(t), _) => match identifier_problem(t.get_ref()) {
                Some(problem) => {
                    let message = format!("table {:?} {problem}", t.get_ref());
                    d.at(t.span(), format!("{at}.table"), message);
                    None
                }
                None => Some(t.get_ref().clone()),
            },
            (None, Some(column)) => {
                let table = default_lookup_table(name, column);
                match identifier_problem(&table) {
                    Some(problem) => {
                        let message = format!("the lookup table's name {table:?} {problem}: name one with table = \"…\"");
                        d.at(item.span(), format!("{at}.table"), message);
                        None
                    }
                    None => Some(table),
                }
            }
            (None, None) => None,
        };
        match (column, table) {
            (Some(column), Some(table)) => out.push(Lookup {
                column,
                unique: lookup.unique.as_ref().is_some_and(|u| *u.get_ref()),
                write_only: lookup.write_only.as_ref().is_some_and(|w| *w.get_ref()),
                table,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

/// A lookup table lives on the default shard beside unsharded tables: it must not be a
/// configured table, nor another lookup's table (`tables`: lower-cased configured names).
pub(crate) fn lookup_tables_apart<'a>(
    lookups: impl Iterator<Item = (&'a str, &'a [Lookup])>,
    tables: &HashMap<String, usize>,
    d: &mut Diagnostics<'_>,
) {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (table, table_lookups) in lookups {
        for lookup in table_lookups {
            let lower = lookup.table.to_ascii_lowercase();
            let key = format!("tables.{table}.lookups.{}", lookup.column);
            if tables.contains_key(&lower) {
                let message = format!(
                    "lookup table {:?} names a configured table: the lookup is a table of its own on the default shard",
                    lookup.table
                );
                d.error(None, key, message);
            } else if let Some(other) = seen.insert(lower, key.clone()) {
                let message = format!(
                    "lookup table {:?} is also the table of {other}",
                    lookup.table
                );
                d.error(None, key, message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    fn config(lookups: &str) -> Result<crate::Topology, crate::ConfigErrors> {
        crate::parse(
            &format!(
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
[[tables]]
name = "users"
shard_key = "id"
{lookups}
[[tables]]
name = "orders"
shard_key = "user_id"
"#
            ),
            "t.toml",
        )
    }

    #[test]
    fn a_lookup_is_read() {
        let t = config(r#"lookups = [{ column = "Email", unique = true }, { column = "phone", write_only = true, table = "ph" }]"#).unwrap();
        let rule = t.table("users").unwrap();
        assert!(t.has_lookups);
        assert_eq!(rule.lookups.len(), 2);
        assert_eq!(rule.lookups[0].column, "email");
        assert!(rule.lookups[0].unique && !rule.lookups[0].write_only);
        assert_eq!(rule.lookups[0].table, "users_email_lookup");
        assert_eq!(rule.lookups[1].table, "ph");
        assert!(!rule.lookups[1].unique && rule.lookups[1].write_only);
        assert!(!config("").unwrap().has_lookups);
    }

    #[test]
    fn bad_lookups_are_named() {
        let message = |l: &str| config(l).unwrap_err().to_string();
        assert!(message(r#"lookups = [{ column = "id" }]"#).contains("is the shard key"));
        assert!(message(r#"lookups = [{ unique = true }]"#).contains("missing column"));
        assert!(message(r#"lookups = [{ column = "a-b" }]"#).contains("not a plain identifier"));
        assert!(message(r#"lookups = [{ column = "e" }, { column = "E" }]"#)
            .contains("has a lookup already"));
        assert!(message(r#"lookups = [{ column = "e", table = "orders" }]"#)
            .contains("names a configured table"));
        assert!(message(
            r#"lookups = [{ column = "e", table = "x" }, { column = "f", table = "X" }]"#
        )
        .contains("also the table of"));
        assert!(message(r#"lookups = [{ column = "e", uniq = true }]"#).contains("uniq"));
    }
}
