//! `*` and `t.*` in a select list, expanded to the columns MariaDB puts in their place, from
//! the schema cache: a table's columns in table order; for `*` over `JOIN … USING` /
//! `NATURAL JOIN`, the joined columns once, first, then the other columns of each side.
//!
//! The expansion is the planner's expectation, not a fact: the plan carries it
//! ([`crate::StarCheck`]) and the executor compares it with the column definitions the shards
//! send, so a schema changed behind the proxy's back is refused, never merged by the wrong
//! column.

use shardgate_schema::SchemaStatus;
use sqlparser::ast::{
    JoinConstraint, JoinOperator, ObjectName, SelectItem, TableFactor, TableWithJoins,
};

use crate::shard_key::base_name;

/// One column of an expanded `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StarColumn {
    /// The table it comes from (lower-cased base name).
    pub table: String,
    /// The name the statement calls that table by (its alias, or its name); a column a
    /// `USING` / `NATURAL` join merges is the left side's.
    pub qualifier: String,
    pub name: String,
}

/// Why a `*` cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StarError {
    /// The cache does not hold these tables (lower-cased): read them and plan again.
    Unknown(Vec<String>),
    /// A form the expansion does not model.
    Refused(String),
    /// The cache says the shards define `table` differently (`why`).
    Disagrees { table: String, why: String },
}

/// A table of the FROM list: the name the statement calls it by, and its columns.
struct Factor {
    exposed: String,
    table: String,
    columns: Vec<String>,
}

/// The columns `item` (a `*` or `t.*`) stands for over `from`.
pub(crate) fn expand(
    item: &SelectItem,
    from: &[TableWithJoins],
    schema: &SchemaStatus,
) -> Result<Vec<StarColumn>, StarError> {
    let chains = factors(from, schema)?;
    match item {
        SelectItem::QualifiedWildcard(kind, _) => {
            let name = match kind {
                sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(n) => n,
                _ => return Err(StarError::Refused("this form of `t.*`".into())),
            };
            let qualifier = last_part(name)?;
            let factor = chains
                .iter()
                .flat_map(|(first, joins)| {
                    std::iter::once(first).chain(joins.iter().map(|(f, _)| f))
                })
                .find(|f| f.exposed.eq_ignore_ascii_case(&qualifier))
                .ok_or_else(|| {
                    StarError::Refused(format!("`{qualifier}.*` names no table of the FROM list"))
                })?;
            Ok(columns_of(factor))
        }
        SelectItem::Wildcard(_) => {
            let mut all = Vec::new();
            for (first, joins) in &chains {
                let mut joined = columns_of(first);
                for (right, how) in joins {
                    joined = join(joined, right, how)?;
                }
                all.extend(joined);
            }
            Ok(all)
        }
        _ => Err(StarError::Refused("not a `*`".into())),
    }
}

/// How a join after the first table of a chain combines columns.
enum JoinColumns {
    /// Every column of both sides.
    All,
    /// `USING (these)`.
    Using(Vec<String>),
    /// Every column name both sides have.
    Natural,
}

fn columns_of(f: &Factor) -> Vec<StarColumn> {
    f.columns
        .iter()
        .map(|c| StarColumn {
            table: f.table.clone(),
            qualifier: f.exposed.clone(),
            name: c.clone(),
        })
        .collect()
}

/// The columns of `left` joined to `right`: MariaDB's order for `USING`/`NATURAL` is the
/// joined columns in the left side's order, then the left side's others, then the right's.
fn join(
    left: Vec<StarColumn>,
    right: &Factor,
    how: &JoinColumns,
) -> Result<Vec<StarColumn>, StarError> {
    let common: Vec<String> = match how {
        JoinColumns::All => {
            let mut all = left;
            all.extend(columns_of(right));
            return Ok(all);
        }
        JoinColumns::Using(names) => names.clone(),
        JoinColumns::Natural => left
            .iter()
            .filter(|l| {
                right
                    .columns
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&l.name))
            })
            .map(|l| l.name.clone())
            .collect(),
    };
    let is_common = |name: &str| common.iter().any(|c| c.eq_ignore_ascii_case(name));
    let mut joined: Vec<StarColumn> = Vec::new();
    for l in left.iter().filter(|l| is_common(&l.name)) {
        joined.push(l.clone());
    }
    if joined.len() != common.len() {
        return Err(StarError::Refused(format!(
            "a USING column the left side of the join to `{}` does not have exactly once",
            right.exposed
        )));
    }
    joined.extend(left.into_iter().filter(|l| !is_common(&l.name)));
    joined.extend(
        columns_of(right)
            .into_iter()
            .filter(|r| !is_common(&r.name)),
    );
    Ok(joined)
}

type Chain = (Factor, Vec<(Factor, JoinColumns)>);

fn factors(from: &[TableWithJoins], schema: &SchemaStatus) -> Result<Vec<Chain>, StarError> {
    let mut unknown = Vec::new();
    let mut factor = |relation: &TableFactor| -> Result<Option<Factor>, StarError> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = relation
        else {
            return Err(StarError::Refused(
                "`*` over a derived table, table function or nested join".into(),
            ));
        };
        let table =
            base_name(name).ok_or_else(|| StarError::Refused("this form of table name".into()))?;
        let exposed = match alias {
            Some(a) => a.name.value.clone(),
            None => last_part(name)?,
        };
        if let Some(d) = schema.disagreement(&table) {
            return Err(StarError::Disagrees {
                why: format!(
                    "the shards define table `{table}` differently ({}), so its columns are not known",
                    d.what
                ),
                table,
            });
        }
        match schema.schema.table(&table) {
            Some(columns) => Ok(Some(Factor {
                exposed,
                table,
                columns: columns.names().map(str::to_owned).collect(),
            })),
            None => {
                if !unknown.contains(&table) {
                    unknown.push(table);
                }
                Ok(None)
            }
        }
    };
    let mut chains = Vec::new();
    for twj in from {
        let first = factor(&twj.relation)?;
        let mut joins = Vec::new();
        for j in &twj.joins {
            let right = factor(&j.relation)?;
            let how = join_columns(&j.join_operator)?;
            joins.extend(right.map(|r| (r, how)));
        }
        if let Some(first) = first {
            chains.push((first, joins));
        }
    }
    match unknown.is_empty() {
        true => Ok(chains),
        false => Err(StarError::Unknown(unknown)),
    }
}

fn join_columns(operator: &JoinOperator) -> Result<JoinColumns, StarError> {
    use JoinOperator as J;
    let constraint = match operator {
        J::Join(c)
        | J::Inner(c)
        | J::CrossJoin(c)
        | J::StraightJoin(c)
        | J::Left(c)
        | J::LeftOuter(c) => c,
        J::Right(c) | J::RightOuter(c) => match c {
            JoinConstraint::Using(_) | JoinConstraint::Natural => {
                return Err(StarError::Refused(
                    "`*` over a RIGHT JOIN with USING or NATURAL".into(),
                ))
            }
            c => c,
        },
        _ => return Err(StarError::Refused("`*` over this kind of join".into())),
    };
    Ok(match constraint {
        JoinConstraint::Using(names) => {
            JoinColumns::Using(names.iter().map(last_part).collect::<Result<Vec<_>, _>>()?)
        }
        JoinConstraint::Natural => JoinColumns::Natural,
        _ => JoinColumns::All,
    })
}

fn last_part(name: &ObjectName) -> Result<String, StarError> {
    match name.0.last() {
        Some(sqlparser::ast::ObjectNamePart::Identifier(id)) => Ok(id.value.clone()),
        _ => Err(StarError::Refused("this form of name".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardgate_schema::{ColumnRow, Schema};
    use sqlparser::ast::{SetExpr, Statement};
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn schema() -> SchemaStatus {
        let row = |t: &str, c: &str, n: u64| ColumnRow {
            table: t.into(),
            column: c.into(),
            ordinal: n,
            column_type: "int".into(),
            collation: None,
            default: shardgate_schema::ColumnDefault::Null,
            primary_key: c == "id",
        };
        SchemaStatus {
            schema: Schema::from_rows([
                row("users", "id", 1),
                row("users", "name", 2),
                row("users", "region", 3),
                row("orders", "order_id", 1),
                row("orders", "id", 2),
                row("orders", "region", 3),
                row("orders", "total", 4),
            ]),
            ..SchemaStatus::default()
        }
    }

    /// The expansion of each `*` item of `sql`, as `table.column` strings.
    fn expanded(sql: &str, schema: &SchemaStatus) -> Result<Vec<Vec<String>>, StarError> {
        let stmt = Parser::parse_sql(&MySqlDialect {}, sql).unwrap().remove(0);
        let Statement::Query(q) = stmt else { panic!() };
        let SetExpr::Select(s) = *q.body else {
            panic!()
        };
        s.projection
            .iter()
            .filter(|i| {
                matches!(
                    i,
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
                )
            })
            .map(|i| {
                expand(i, &s.from, schema).map(|cols| {
                    cols.iter()
                        .map(|c| format!("{}.{}", c.table, c.name))
                        .collect()
                })
            })
            .collect()
    }

    #[test]
    fn a_star_lists_a_tables_columns_in_table_order() {
        assert_eq!(
            expanded("SELECT * FROM Users", &schema()).unwrap(),
            [["users.id", "users.name", "users.region"]]
        );
        assert_eq!(
            expanded(
                "SELECT o.*, u.* FROM users u JOIN orders o ON o.id = u.id",
                &schema()
            )
            .unwrap(),
            vec![
                vec![
                    "orders.order_id",
                    "orders.id",
                    "orders.region",
                    "orders.total"
                ],
                vec!["users.id", "users.name", "users.region"],
            ]
        );
        assert_eq!(
            expanded("SELECT * FROM users u, orders o", &schema()).unwrap()[0].len(),
            7
        );
    }

    #[test]
    fn using_and_natural_put_the_joined_columns_first_once() {
        assert_eq!(
            expanded("SELECT * FROM users JOIN orders USING (id)", &schema()).unwrap(),
            [[
                "users.id",
                "users.name",
                "users.region",
                "orders.order_id",
                "orders.region",
                "orders.total"
            ]]
        );
        assert_eq!(
            expanded("SELECT * FROM orders NATURAL JOIN users", &schema()).unwrap(),
            [[
                "orders.id",
                "orders.region",
                "orders.order_id",
                "orders.total",
                "users.name"
            ]]
        );
        assert!(matches!(
            expanded(
                "SELECT * FROM users RIGHT JOIN orders USING (id)",
                &schema()
            ),
            Err(StarError::Refused(_))
        ));
    }

    #[test]
    fn unknown_and_disagreeing_tables_are_reported() {
        assert_eq!(
            expanded(
                "SELECT * FROM users JOIN items ON 1 JOIN carts ON 1",
                &schema()
            ),
            Err(StarError::Unknown(vec!["items".into(), "carts".into()]))
        );
        let mut s = schema();
        s.disagreements.push(shardgate_schema::Disagreement {
            table: "users".into(),
            shard: "s1".into(),
            what: "missing on shard s1".into(),
        });
        assert!(matches!(
            expanded("SELECT * FROM users", &s),
            Err(StarError::Disagrees { table, why }) if table == "users" && why.contains("missing on shard s1")
        ));
        assert!(matches!(
            expanded("SELECT x.* FROM users", &schema()),
            Err(StarError::Refused(_))
        ));
    }
}
