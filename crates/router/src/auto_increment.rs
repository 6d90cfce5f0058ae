//! INSERTs that leave a table's `auto_increment` column to the proxy: which rows need a
//! generated id, and the statement's text with the ids written in.
//!
//! A row needs an id when the column is missing from the statement, or given as `NULL`,
//! `DEFAULT`, or `0` (unless the session's `sql_mode` has `NO_AUTO_VALUE_ON_ZERO`), as
//! MariaDB decides for an AUTO_INCREMENT column. The text is edited at token positions, never
//! re-rendered, so everything else in it stays as written.

use std::ops::Range;

use shardgate_config::{AutoIncrement, TableRule, Topology};
use sqlparser::ast::{
    AssignmentTarget, Expr, Insert, ObjectName, SetExpr, Spanned, TableObject, Value,
};
use sqlparser::tokenizer::Location;

use crate::rewrite::Offsets;
use crate::shard_key::base_name;
use crate::{RouteError, SqlMode, Syntax};

/// The ids an INSERT needs, and where they go in its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedIds {
    /// The table, as the config names it.
    pub table: String,
    /// Its `auto_increment` settings (which sequence, how many ids a reservation takes).
    pub auto_increment: AutoIncrement,
    /// The edits, in text order; those that write an id take the next one.
    edits: Vec<Edit>,
    /// Each row's id in text order, when rows name the column: some may give their own.
    pub rows: Vec<RowId>,
}

/// Where a row's id comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowId {
    /// The proxy's sequence.
    Generated,
    /// The row itself: its value, when it reads as an integer (`given_ids.rs`).
    Given(Option<u64>),
}

impl GeneratedIds {
    /// Whether some rows give their own ids, which move the sequence (`given_ids.rs`).
    pub fn gives(&self) -> bool {
        self.rows.iter().any(|r| matches!(r, RowId::Given(_)))
    }
}

/// One change to the statement's text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Edit {
    /// The column name, first in the column list: "`id`, " at this offset.
    Column(usize),
    /// A row's id, first in its row: "N, " at this offset.
    RowValue(usize),
    /// `INSERT … SET` without the column: "`id` = N, " at this offset.
    Assignment(usize),
    /// `NULL`, `DEFAULT` or `0` where the id goes: replaced by N.
    Replace(Range<usize>),
}

impl Edit {
    fn at(&self) -> usize {
        match self {
            Edit::Column(at) | Edit::RowValue(at) | Edit::Assignment(at) => *at,
            Edit::Replace(range) => range.start,
        }
    }
}

impl GeneratedIds {
    /// How many ids the statement needs (one per row that gets one).
    pub fn count(&self) -> usize {
        self.edits
            .iter()
            .filter(|e| !matches!(e, Edit::Column(_)))
            .count()
    }

    /// `sql` with `ids` (at least [`count`](Self::count), in row order) written in.
    pub fn fill(&self, sql: &str, ids: &[u64]) -> String {
        let column = format!("`{}`", self.auto_increment.column.replace('`', "``"));
        let mut out = String::with_capacity(sql.len() + ids.len() * 22 + column.len());
        let mut ids = ids.iter();
        let mut next = || ids.next().copied().unwrap_or_default();
        let mut copied = 0;
        for edit in &self.edits {
            out.push_str(&sql[copied..edit.at()]);
            copied = edit.at();
            match edit {
                Edit::Column(_) => out.push_str(&format!("{column}, ")),
                Edit::RowValue(_) => out.push_str(&format!("{}, ", next())),
                Edit::Assignment(_) => out.push_str(&format!("{column} = {}, ", next())),
                Edit::Replace(range) => {
                    out.push_str(&next().to_string());
                    copied = range.end;
                }
            }
        }
        out.push_str(&sql[copied..]);
        out
    }
}

/// How `shardgate route --sql` and `SHOW SHARDGATE ROUTE FOR` show such an INSERT.
impl std::fmt::Display for GeneratedIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "write → {} generated id(s) for `{}`.`{}` from sequence {}, then the shard(s) the rows map to",
            self.count(),
            self.table,
            self.auto_increment.column,
            self.auto_increment.sequence
        )
    }
}

/// Refuses an INSERT some of whose rows need a generated id with
/// [`RouteError::InsertNeedsIds`], which carries where the ids go in `sql` (the text `ins` was
/// parsed from): the session takes the ids and plans the text with them written in.
pub(crate) fn check(
    ins: &Insert,
    sql: &str,
    topology: &Topology,
    syntax: Syntax,
) -> Result<(), RouteError> {
    let Some((rule, ai)) = auto_table(ins, topology) else {
        return Ok(());
    };
    let edits = edits(ins, sql, ai, syntax)?;
    if edits.is_empty() {
        return Ok(());
    }
    Err(RouteError::InsertNeedsIds(Box::new(GeneratedIds {
        table: rule.name.clone(),
        auto_increment: ai.clone(),
        rows: row_ids(ins, ai, syntax),
        edits,
    })))
}

/// Each VALUES row's id source, when the column list names the column (else none: every row's
/// id is generated).
fn row_ids(ins: &Insert, ai: &AutoIncrement, syntax: Syntax) -> Vec<RowId> {
    let zero_is_value = syntax.sql_mode.contains(SqlMode::NO_AUTO_VALUE_ON_ZERO);
    let Some(SetExpr::Values(values)) = ins.source.as_deref().map(|q| q.body.as_ref()) else {
        return Vec::new();
    };
    let Some(at) = ins.columns.iter().position(|c| is_column(c, ai)) else {
        return Vec::new();
    };
    (values.rows.iter())
        .map(|row| match row.content.get(at) {
            Some(v) if generates(v, zero_is_value) => RowId::Generated,
            Some(v) => RowId::Given(crate::given_ids::given_id(v, zero_is_value)),
            None => RowId::Given(None),
        })
        .collect()
}

/// Where the ids of the rows of `ins` that leave `ai.column` to the proxy go, in text order.
fn edits(
    ins: &Insert,
    sql: &str,
    ai: &AutoIncrement,
    syntax: Syntax,
) -> Result<Vec<Edit>, RouteError> {
    let zero_is_value = syntax.sql_mode.contains(SqlMode::NO_AUTO_VALUE_ON_ZERO);
    let mut offsets = Offsets::new(sql);
    let mut at = |location: Location| {
        offsets.at(location).ok_or_else(|| {
            RouteError::NotSupported(
                "shardgate could not find where to write the generated ids in this INSERT".into(),
            )
        })
    };
    let mut edits = Vec::new();
    if ins.columns.is_empty() && !ins.assignments.is_empty() {
        match ins.assignments.iter().find(|a| names(&a.target, ai)) {
            Some(a) if generates(&a.value, zero_is_value) => {
                edits.push(Edit::Replace(value_range(&a.value, &mut at)?));
            }
            Some(_) => {}
            None => edits.push(Edit::Assignment(at(ins.assignments[0]
                .target
                .span()
                .start)?)),
        }
    } else if let Some(SetExpr::Values(values)) = ins.source.as_deref().map(|q| q.body.as_ref()) {
        // Without a column list the session writes the table's columns in and plans again;
        // INSERT … SELECT is the planner's to answer.
        let Some(first) = ins.columns.first() else {
            return Ok(edits);
        };
        match ins.columns.iter().position(|c| is_column(c, ai)) {
            Some(pos) => {
                for row in &values.rows {
                    match row.content.get(pos) {
                        Some(value) if generates(value, zero_is_value) => {
                            edits.push(Edit::Replace(value_range(value, &mut at)?));
                        }
                        _ => {}
                    }
                }
            }
            None => {
                edits.push(Edit::Column(at(first.span().start)?));
                for row in &values.rows {
                    edits.push(Edit::RowValue(at(row.opening_token.0.span.end)?));
                }
            }
        }
    }
    edits.sort_by_key(Edit::at);
    Ok(edits)
}

/// The target's rule and `auto_increment`, when it is a table with one.
pub(crate) fn auto_table<'t>(
    ins: &Insert,
    topology: &'t Topology,
) -> Option<(&'t TableRule, &'t AutoIncrement)> {
    let TableObject::TableName(name) = &ins.table else {
        return None;
    };
    let rule = topology.table(&base_name(name)?)?;
    Some((rule, rule.auto_increment.as_ref()?))
}

pub(crate) fn is_column(name: &ObjectName, ai: &AutoIncrement) -> bool {
    base_name(name).is_some_and(|c| c == ai.column)
}

pub(crate) fn names(target: &AssignmentTarget, ai: &AutoIncrement) -> bool {
    matches!(target, AssignmentTarget::ColumnName(n) if is_column(n, ai))
}

/// Whether MariaDB would generate an id for `value` in an AUTO_INCREMENT column.
pub(crate) fn generates(value: &Expr, zero_is_value: bool) -> bool {
    match value {
        Expr::Value(v) => match &v.value {
            Value::Null => true,
            Value::Number(n, _) => !zero_is_value && n.parse::<f64>().is_ok_and(|n| n == 0.0),
            _ => false,
        },
        Expr::Identifier(id) => {
            id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default")
        }
        _ => false,
    }
}

/// The byte range of a value's text.
fn value_range(
    value: &Expr,
    at: &mut impl FnMut(Location) -> Result<usize, RouteError>,
) -> Result<Range<usize>, RouteError> {
    let span = value.span();
    let (start, end) = (at(span.start)?, at(span.end)?);
    if start >= end {
        return Err(RouteError::NotSupported(
            "shardgate could not find where to write the generated ids in this INSERT".into(),
        ));
    }
    Ok(start..end)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn topology() -> Topology {
        crate::test_topology::two_shards(
            r#"
[[tables]]
name = "users"
shard_key = "id"
auto_increment = { column = "id", sequence = "users_seq" }
[[tables]]
name = "orders"
shard_key = "user_id"
auto_increment = { column = "id", sequence = "orders_seq", cache = 10 }
[[tables]]
name = "plain"
shard_key = "id"
"#,
        )
    }

    fn filled(sql: &str, syntax: Syntax) -> Option<(usize, String)> {
        let ids = match crate::plan_sql(sql, &topology(), syntax) {
            Err(RouteError::InsertNeedsIds(ids)) => ids,
            _ => return None,
        };
        let values: Vec<u64> = (0..ids.count() as u64).map(|i| 1000 + i).collect();
        Some((ids.count(), ids.fill(sql, &values)))
    }

    fn fill(sql: &str) -> Option<(usize, String)> {
        filled(sql, Syntax::DEFAULT)
    }

    #[test]
    fn rows_giving_their_own_ids_are_told_apart() {
        let rows = |sql: &str| match crate::plan_sql(sql, &topology(), Syntax::DEFAULT) {
            Err(RouteError::InsertNeedsIds(ids)) => (ids.gives(), ids.rows.clone()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            rows("INSERT INTO users (id, name) VALUES (NULL, 'a'), (1000, 'b'), ('7', 'c'), (1 + 1, 'd'), (0, 'e')"),
            (
                true,
                vec![
                    RowId::Generated,
                    RowId::Given(Some(1000)),
                    RowId::Given(Some(7)),
                    RowId::Given(None),
                    RowId::Generated,
                ]
            )
        );
        assert_eq!(
            rows("INSERT INTO users (name) VALUES ('a'), ('b')"),
            (false, vec![])
        );
    }

    #[test]
    fn a_missing_column_is_written_first() {
        assert_eq!(
            fill("INSERT INTO users (email, name) VALUES ('a', 'b')"),
            Some((
                1,
                "INSERT INTO users (`id`, email, name) VALUES (1000, 'a', 'b')".into()
            ))
        );
        assert_eq!(
            fill("insert into users(name) values('x'),\n ( 'y' )"),
            Some((
                2,
                "insert into users(`id`, name) values(1000, 'x'),\n (1001,  'y' )".into()
            ))
        );
    }

    #[test]
    fn executable_comments_keep_their_place() {
        assert_eq!(
            fill("INSERT /*!IGNORE*/ INTO users /* c */ (name) VALUES ('a')"),
            Some((
                1,
                "INSERT /*!IGNORE*/ INTO users /* c */ (`id`, name) VALUES (1000, 'a')".into()
            ))
        );
    }

    #[test]
    fn null_zero_and_default_are_replaced() {
        assert_eq!(
            fill("REPLACE INTO users (id, name) VALUES (NULL, 'a'), (7, 'b'), (0, 'c'), (DEFAULT, 'd')"),
            Some((
                3,
                "REPLACE INTO users (id, name) VALUES (1000, 'a'), (7, 'b'), (1001, 'c'), (1002, 'd')"
                    .into()
            ))
        );
    }

    #[test]
    fn no_auto_value_on_zero_keeps_zero() {
        let syntax = Syntax {
            sql_mode: SqlMode::parse("STRICT_TRANS_TABLES,NO_AUTO_VALUE_ON_ZERO"),
            ..Syntax::DEFAULT
        };
        assert_eq!(filled("INSERT INTO users (id) VALUES (0)", syntax), None);
        assert_eq!(
            filled("INSERT INTO users (id) VALUES (0), (NULL)", syntax),
            Some((1, "INSERT INTO users (id) VALUES (0), (1000)".into()))
        );
    }

    #[test]
    fn insert_set() {
        assert_eq!(
            fill("INSERT INTO users SET name = 'a', email = 'b'"),
            Some((
                1,
                "INSERT INTO users SET `id` = 1000, name = 'a', email = 'b'".into()
            ))
        );
        assert_eq!(
            fill("INSERT INTO users SET id = NULL, name = 'a'"),
            Some((1, "INSERT INTO users SET id = 1000, name = 'a'".into()))
        );
        assert_eq!(fill("INSERT INTO users SET id = 5, name = 'a'"), None);
    }

    #[test]
    fn on_duplicate_key_update_is_kept() {
        assert_eq!(
            fill("INSERT INTO users (name) VALUES ('a') ON DUPLICATE KEY UPDATE name = 'b'"),
            Some((
                1,
                "INSERT INTO users (`id`, name) VALUES (1000, 'a') ON DUPLICATE KEY UPDATE name = 'b'"
                    .into()
            ))
        );
    }

    #[test]
    fn explicit_ids_and_other_tables_need_none() {
        assert_eq!(fill("INSERT INTO users (id, name) VALUES (5, 'a')"), None);
        assert_eq!(fill("INSERT INTO plain (name) VALUES ('a')"), None);
        assert_eq!(fill("SELECT * FROM users"), None);
        assert!(matches!(
            crate::plan_sql(
                "INSERT INTO users VALUES (NULL, 'a')",
                &topology(),
                Syntax::DEFAULT
            ),
            Err(RouteError::InsertWithoutColumns { .. })
        ));
    }

    #[test]
    fn a_column_besides_the_shard_key() {
        assert_eq!(
            fill("INSERT INTO orders (user_id, amount) VALUES (3, 1.5)"),
            Some((
                1,
                "INSERT INTO orders (`id`, user_id, amount) VALUES (1000, 3, 1.5)".into()
            ))
        );
    }

    #[test]
    fn multi_byte_text_keeps_its_characters() {
        assert_eq!(
            fill("INSERT INTO users (name, id) VALUES ('é€', NULL)"),
            Some((1, "INSERT INTO users (name, id) VALUES ('é€', 1000)".into()))
        );
    }

    proptest::proptest! {
        /// Whatever the rows hold (quotes, newlines, multi-byte text) and whichever rows leave
        /// the id out, the filled text plans as an INSERT whose rows carry exactly the ids
        /// given, in row order, next to their own values.
        #[test]
        fn filled_text_holds_each_id_in_its_row(
            rows in proptest::collection::vec(("[a-z'é\n ]{0,8}", proptest::option::of(1u64..1000)), 1..12),
            with_column in proptest::bool::ANY,
        ) {
            let t = topology();
            let quote = |v: &str| format!("'{}'", v.replace('\'', "''"));
            let sql = if with_column {
                let values: Vec<String> = rows
                    .iter()
                    .map(|(name, id)| format!("({}, {})", id.map_or("NULL".to_owned(), |i| i.to_string()), quote(name)))
                    .collect();
                format!("INSERT INTO users (id, name) VALUES {}", values.join(",\n"))
            } else {
                let values: Vec<String> = rows.iter().map(|(name, _)| format!("({})", quote(name))).collect();
                format!("INSERT INTO users (name) VALUES {}", values.join(", "))
            };
            let needed = rows.iter().filter(|(_, id)| !with_column || id.is_none()).count();
            let ids = match crate::plan_sql(&sql, &t, Syntax::DEFAULT) {
                Err(RouteError::InsertNeedsIds(ids)) => ids,
                other => {
                    proptest::prop_assert_eq!(needed, 0, "{:?}", other);
                    return Ok(());
                }
            };
            proptest::prop_assert_eq!(ids.count(), needed);
            let generated: Vec<u64> = (0..needed as u64).map(|i| 5000 + i).collect();
            let filled = ids.fill(&sql, &generated);
            let parsed = crate::lex::parse(&filled, Syntax::DEFAULT).unwrap();
            let sqlparser::ast::Statement::Insert(ins) = &parsed[0] else { panic!("{filled}") };
            let pos = ins.columns.iter().position(|c| base_name(c).as_deref() == Some("id")).unwrap();
            let Some(SetExpr::Values(values)) = ins.source.as_deref().map(|q| q.body.as_ref()) else { panic!("{filled}") };
            let mut next = generated.iter();
            for ((_, id), row) in rows.iter().zip(&values.rows) {
                let expected = match (with_column, id) {
                    (true, Some(id)) => *id,
                    _ => *next.next().unwrap(),
                };
                proptest::prop_assert_eq!(row.content[pos].to_string(), expected.to_string());
            }
            proptest::prop_assert!(crate::plan_sql(&filled, &t, Syntax::DEFAULT).is_ok());
        }
    }

    #[test]
    fn the_planner_refuses_rows_without_ids() {
        let t = topology();
        let plan = |sql: &str| crate::plan_sql(sql, &t, Syntax::DEFAULT);
        assert!(matches!(
            plan("INSERT INTO users (name) VALUES ('a')"),
            Err(RouteError::InsertNeedsIds(_))
        ));
        assert!(matches!(
            plan("INSERT INTO users (id, name) VALUES (NULL, 'a')"),
            Err(RouteError::InsertNeedsIds(_))
        ));
        assert!(plan("INSERT INTO users (id, name) VALUES (3, 'a')").is_ok());
        assert!(plan("INSERT INTO users (id, name) VALUES (?, ?)").is_ok());
    }
}
