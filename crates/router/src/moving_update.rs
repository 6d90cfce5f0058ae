//! An UPDATE that changes the shard key of its rows (`UPDATE orders SET user_id = 9 WHERE id =
//! 7`; ORMs write every column back, the key included): a row whose new key belongs to another
//! shard must move there. After Vitess, which deletes and re-inserts such rows in one
//! transaction. The session (`server/src/moving_update.rs`) runs, in one transaction over the
//! shards it touches (the client's own when it has one):
//!
//! 1. `SELECT <shard key>, <primary key> FROM t WHERE … [ORDER BY … LIMIT …] FOR UPDATE` on
//!    the shards the WHERE routes to (merged across them for a LIMIT): the rows it changes,
//!    locked ([`LimitedWrite`]'s first step);
//! 2. on each shard holding some, the UPDATE as written narrowed to them (`… AND (<key>,
//!    <primary key>) IN (…)`): MariaDB evaluates its SET (assignments in order, conversions,
//!    `ON UPDATE` columns, warnings) as one server would;
//! 3. the rows read back by primary key, each stored column in a form that is written back
//!    bit for bit ([`Transport`]);
//! 4. a row whose new key belongs to another shard is deleted where it was (on every shard
//!    first) and inserted on that shard.
//!
//! A row whose key stays on its shard does not move: an ORM writing the same key back costs the
//! locking SELECT. When the WHERE pins one shard and each key assigned is a literal of that
//! shard, nothing can move and the UPDATE is routed as any other ([`plan`]) — unless the table
//! has lookups: every changed row's lookup values then map to its new key, whose lookup rows
//! the session writes (under the lookups' lock, before the rows commit) from step 3's rows.

use shardgate_config::{TableRule, Topology};
use shardgate_ring::{KeyValue, ShardId};
use sqlparser::ast::{AssignmentTarget, Expr, SetExpr, Spanned, Statement, TableFactor, Update};

use crate::copy_sql::{string_literal, Transport};
use crate::limited_write::{Clauses, LimitedWrite};
use crate::materialize::quote;
use crate::rewrite::Offsets;
use crate::shard_key::{base_name, TableRef};
use crate::{Plan, Route, RouteError, Syntax};

/// One row of step 1 (each cell an SQL literal): the shard key, then the primary key's other
/// columns.
pub type NamedRow = Vec<Vec<u8>>;

/// The steps of an UPDATE that changes shard keys (see the module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovingUpdate {
    /// Steps 1 and 2: the rows it changes, read first, and the UPDATE narrowed to them.
    pub rows: LimitedWrite,
    /// The statement's traits, for the session.
    pub traits: crate::StatementTraits,
    /// The table as the statement names it (`app.orders`).
    name: String,
    /// The table's name as written, and its database when the statement names one.
    table: String,
    database: Option<String>,
    /// The shard key column, as the table names it.
    key: String,
    /// The columns a moved row is written with: every stored (not generated) one, in table
    /// order, each with how its values travel,
    columns: Vec<(String, Transport)>,
    /// and as `information_schema` lists them (`name type, …`): a shard that lists others
    /// has a table the schema cache does not know (a move would lose their values).
    signature: String,
    /// Each PRIMARY KEY column, with where its value after the UPDATE comes from,
    primary: Vec<(String, PrimaryAfter)>,
    /// and its position in `columns`.
    primary_at: Vec<usize>,
    /// The table's lookups: each changed row's values map to its new key.
    lookups: Vec<LookupColumn>,
    /// The shard key is an integer (its lookup rows hold its digits).
    integer_key: bool,
}

/// A lookup of the table, and where its column is among the columns read back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LookupColumn {
    lookup: shardgate_config::Lookup,
    /// Its position in `MovingUpdate::columns`.
    at: usize,
    /// The character set of a string column (its values travel as hex), `None` for others.
    charset: Option<String>,
}

/// A primary-key column's value after the UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PrimaryAfter {
    /// Unchanged: the cell of step 1's row at this position.
    Cell(usize),
    /// The literal the UPDATE assigns (as written).
    Assigned(String),
}

/// Whether UPDATE `u` is one the proxy moves rows for: one table, no joins, one column per
/// assignment.
pub(crate) fn single_table(u: &Update) -> bool {
    u.table.joins.is_empty()
        && u.from.is_none()
        && matches!(u.table.relation, TableFactor::Table { .. })
        && (u.assignments.iter()).all(|a| matches!(a.target, AssignmentTarget::ColumnName(_)))
}

/// Whether `target` assigns column `column` (lower-cased) of `table`.
fn assigns(target: &AssignmentTarget, table: &TableRef<'_>, column: &str) -> bool {
    match target {
        AssignmentTarget::ColumnName(n) => {
            base_name(n).is_some_and(|c| c == column)
                && (n.0.len() == 1
                    || (n.0.iter().rev().nth(1))
                        .and_then(|p| p.as_ident())
                        .is_some_and(|q| table.is_named(q)))
        }
        AssignmentTarget::Tuple(_) => true,
    }
}

/// Whether `target` assigns `table`'s shard key.
pub(crate) fn assigns_key(target: &AssignmentTarget, table: &TableRef<'_>) -> bool {
    assigns(target, table, &table.rule.shard_key)
}

/// UPDATE `stmt` (text `sql`) when it assigns the shard key of its one sharded table: `routed`
/// (its route as if it did not) when no row can change shards, else the steps that move them
/// (`Err(MovingUpdate)`), or why not. `None` for any other statement.
pub(crate) fn plan(
    sql: &str,
    syntax: Syntax,
    stmt: &Statement,
    topology: &Topology,
    routed: Result<Plan, RouteError>,
) -> Option<Result<Plan, RouteError>> {
    let Statement::Update(u) = stmt else {
        return None;
    };
    if !single_table(u) {
        return None;
    }
    let TableFactor::Table { name, alias, .. } = &u.table.relation else {
        return None;
    };
    let rule = topology.table(&base_name(name)?)?;
    let table = TableRef::new(
        rule,
        rule.name.to_ascii_lowercase(),
        alias.as_ref().map(|a| a.name.value.to_ascii_lowercase()),
        topology,
    );
    let keys: Vec<&Expr> = (u.assignments.iter())
        .filter(|a| assigns_key(&a.target, &table))
        .map(|a| &a.value)
        .collect();
    if keys.is_empty() {
        return None;
    }
    Some(steps(sql, syntax, u, name, &table, &keys, topology, routed))
}

#[allow(clippy::too_many_arguments)]
fn steps(
    sql: &str,
    syntax: Syntax,
    u: &Update,
    name: &sqlparser::ast::ObjectName,
    table: &TableRef<'_>,
    keys: &[&Expr],
    topology: &Topology,
    routed: Result<Plan, RouteError>,
) -> Result<Plan, RouteError> {
    let rule = table.rule;
    let refuse = |how: &'static str| RouteError::ShardKeyUpdate {
        table: rule.name.clone(),
        key: rule.shard_key.clone(),
        how,
    };
    let limit = match routed {
        // Every key assigned is a literal of the one shard the rows are on: none moves (with
        // lookups, their rows still map the values to the new keys: the steps write them).
        Ok(_) if !rule.lookups.is_empty() => None,
        Ok(plan) => {
            let stays = |shard: ShardId| {
                keys.iter().all(|k| {
                    crate::shard_key::literal(k)
                        .and_then(|value| rule.shard_for(&value).ok())
                        .is_some_and(|s| s == shard)
                })
            };
            if matches!(plan.route, Route::Shard(shard) if stays(shard)) {
                return Ok(plan);
            }
            None
        }
        // Its rows on several shards, of which a LIMIT takes some.
        Err(RouteError::LimitedWrite(_)) => u.limit.as_ref(),
        Err(e) => return Err(e),
    };
    if ignores(sql, u) {
        return Err(refuse(
            "with UPDATE IGNORE: a moved row that a unique key refuses on its new shard cannot be skipped as MariaDB skips it; leave IGNORE out",
        ));
    }
    let clauses = Clauses {
        verb: "UPDATE",
        purpose: "that changes the shard key",
        from: &u.table,
        selection: u.selection.as_ref(),
        order_by: &u.order_by,
        limit,
    };
    let rows = crate::limited_write::plan(sql, syntax, &clauses, topology)?;
    let (_, columns) = clauses.table(topology)?;
    let named = rows.columns();
    let mut offsets = Offsets::new(sql);
    let mut primary = Vec::new();
    for column in columns.primary_key() {
        let lower = column.to_ascii_lowercase();
        let assigned = (u.assignments.iter())
            .rev()
            .find(|a| assigns(&a.target, table, &lower));
        let after = match assigned {
            None => PrimaryAfter::Cell(
                named
                    .iter()
                    .position(|c| c.eq_ignore_ascii_case(column))
                    .expect("step 1 selects every primary-key column"),
            ),
            Some(a) => {
                // A string as its value written afresh: adjacent literals (`'ü' 'mlaut'`) are
                // one value whose span is the first's.
                let no_backslash_escapes = syntax
                    .sql_mode
                    .contains(crate::SqlMode::NO_BACKSLASH_ESCAPES);
                let text = match crate::shard_key::literal(&a.value) {
                    Some(KeyValue::Str(s)) => std::str::from_utf8(s)
                        .ok()
                        .map(|s| string_literal(s, no_backslash_escapes)),
                    Some(KeyValue::Int(_)) => offsets.expr_text(&a.value).map(str::to_owned),
                    None => None,
                }
                    .ok_or_else(|| {
                        refuse("with UPDATE that sets a primary-key column to an expression: the rows could not be found again to move them; set it to a literal")
                    })?;
                PrimaryAfter::Assigned(text)
            }
        };
        primary.push((column.to_owned(), after));
    }
    let mut signature = Vec::new();
    let stored: Vec<(String, Transport)> = columns
        .columns
        .iter()
        .filter(|c| !matches!(c.default, shardgate_schema::ColumnDefault::Generated(_)))
        .map(|c| {
            let data_type = c.column_type.split(['(', ' ']).next().unwrap_or_default();
            signature.push(format!("{} {data_type}", c.name));
            (c.name.clone(), Transport::of(data_type))
        })
        .collect();
    let mut lookups = Vec::new();
    for lookup in &rule.lookups {
        let at = (stored.iter())
            .position(|(c, _)| c.eq_ignore_ascii_case(&lookup.column))
            .ok_or_else(|| {
                refuse("whose lookup column is generated: its lookup rows could not be written")
            })?;
        let charset = match stored[at].1 {
            Transport::Text => None,
            Transport::Hex => Some(
                (columns.column(&lookup.column))
                    .and_then(|c| c.collation.as_deref())
                    .and_then(|c| c.split('_').next())
                    .unwrap_or("binary")
                    .to_owned(),
            ),
            _ => {
                return Err(refuse(
                    "whose lookup column is a FLOAT, BIT or TIMESTAMP: its lookup rows could not be written exactly",
                ))
            }
        };
        lookups.push(LookupColumn {
            lookup: lookup.clone(),
            at,
            charset,
        });
    }
    let primary_at = (primary.iter())
        .map(|(p, _)| stored.iter().position(|(c, _)| c == p))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| refuse("whose PRIMARY KEY has a generated column: the rows could not be found again to move them"))?;
    let parts: Vec<&str> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.as_str()))
        .collect();
    let (database, table_name) = match parts.as_slice() {
        [db, t] => (Some((*db).to_owned()), (*t).to_owned()),
        _ => (None, parts.last().copied().unwrap_or_default().to_owned()),
    };
    Err(RouteError::MovingUpdate(Box::new(MovingUpdate {
        key: named[0].clone(),
        rows,
        traits: crate::StatementTraits::of(sql.as_bytes(), syntax),
        name: name.to_string(),
        table: table_name,
        database,
        columns: stored,
        signature: signature.join(", "),
        primary,
        primary_at,
        lookups,
        integer_key: rule.key_type == shardgate_config::ShardKeyType::Integer,
    })))
}

/// `UPDATE … IGNORE …`: the modifier the parser does not see (`lex::drop_dml_modifiers`).
fn ignores(sql: &str, u: &Update) -> bool {
    let mut offsets = Offsets::new(sql);
    let Some(table_at) = offsets.at(u.table.relation.span().start) else {
        return true;
    };
    sql[..table_at]
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w.eq_ignore_ascii_case("IGNORE"))
}

impl MovingUpdate {
    /// The plan the session begins the statement with: a write over tables, with the
    /// statement's traits.
    pub fn plan(&self) -> Plan {
        let mut plan = Plan::new(crate::StatementKind::Write, Route::Broadcast(Vec::new()));
        plan.traits = self.traits;
        plan.uses_tables = true;
        plan
    }

    /// The table's placement in `topology`.
    fn rule<'t>(&self, topology: &'t Topology) -> Result<&'t TableRule, String> {
        (topology.table(&self.table))
            .ok_or_else(|| format!("`{}` is no longer a sharded table", self.table))
    }

    /// The shard a row of step 1 is on: its shard key's.
    pub fn source_shard(
        &self,
        topology: &Topology,
        row: &[Vec<u8>],
        syntax: Syntax,
    ) -> Result<ShardId, String> {
        let literal = row.first().ok_or("an empty row")?;
        let text = std::str::from_utf8(literal).map_err(|_| "a key that is not text")?;
        let parsed;
        let value = if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            KeyValue::Str(literal)
        } else {
            parsed = crate::lex::parse(&format!("SELECT {text}"), syntax)
                .map_err(|e| format!("the key {text}: {e}"))?;
            let expr = match parsed.first() {
                Some(Statement::Query(q)) => match q.body.as_ref() {
                    SetExpr::Select(s) => match s.projection.first() {
                        Some(sqlparser::ast::SelectItem::UnnamedExpr(e)) => Some(e),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            };
            expr.and_then(crate::shard_key::literal)
                .ok_or_else(|| format!("the key {text} is no shard-key value"))?
        };
        (self.rule(topology)?.shard_for(&value)).map_err(|e| e.to_string())
    }

    /// The shard a row belongs on after the UPDATE, from its key's text (`None`: NULL).
    pub fn new_shard(&self, topology: &Topology, key: Option<&[u8]>) -> Result<ShardId, String> {
        let key = key.ok_or_else(|| format!("its shard key `{}` became NULL", self.key))?;
        (self.rule(topology)?.shard_for(&KeyValue::Str(key))).map_err(|e| e.to_string())
    }

    /// Step 2 on one shard: the UPDATE narrowed to `rows`, that shard's rows of step 1.
    pub fn narrowed(&self, rows: &[NamedRow]) -> Result<Vec<u8>, String> {
        self.rows.with_rows(rows)
    }

    /// `(<primary key>) IN (…)`: `rows` of step 1 as they are after the UPDATE.
    fn after_update(&self, rows: &[NamedRow]) -> String {
        let tuple = self.primary.len() > 1;
        let names: Vec<String> = self.primary.iter().map(|(c, _)| quote(c)).collect();
        let mut out = match tuple {
            true => format!("({}) IN (", names.join(", ")),
            false => format!("{} IN (", names[0]),
        };
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let cells: Vec<String> = (self.primary.iter())
                .map(|(_, after)| match after {
                    PrimaryAfter::Cell(at) => String::from_utf8_lossy(&row[*at]).into_owned(),
                    PrimaryAfter::Assigned(text) => text.clone(),
                })
                .collect();
            match tuple {
                true => out.push_str(&format!("({})", cells.join(", "))),
                false => out.push_str(&cells[0]),
            }
        }
        out.push(')');
        out
    }

    /// Step 3 on one shard: its `rows` read back, the shard key first, then each column
    /// [`MovingUpdate::insert_row`] writes. Written after `\n`: the client's text before it may
    /// end in a comment.
    pub fn read_back(&self, rows: &[NamedRow]) -> String {
        let reads: Vec<String> = (self.columns.iter())
            .map(|(c, transport)| transport.read_expr(&quote(c)))
            .collect();
        format!(
            "SELECT {}, {} FROM {}\nWHERE {} LIMIT 18446744073709551615",
            quote(&self.key),
            reads.join(", "),
            self.name,
            self.after_update(rows)
        )
    }

    /// Appends the primary key of a row read back (`cell(i)`: its `i`-th cell, the key at 0)
    /// as a literal, `(…)` for several columns, for [`MovingUpdate::delete`].
    pub fn primary_literal<'c>(
        &self,
        cell: impl Fn(usize) -> Result<Option<&'c [u8]>, String>,
        out: &mut String,
    ) -> Result<(), String> {
        let tuple = self.primary_at.len() > 1;
        if tuple {
            out.push('(');
        }
        for (i, &at) in self.primary_at.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.columns[at].1.write_literal(cell(at + 1)?, out)?;
        }
        if tuple {
            out.push(')');
        }
        Ok(())
    }

    /// Step 4, where the rows were: the rows of `primary` (literals of
    /// [`MovingUpdate::primary_literal`], comma-separated) deleted.
    pub fn delete(&self, primary: &str) -> String {
        let names: Vec<String> = self.primary.iter().map(|(c, _)| quote(c)).collect();
        let names = match names.len() {
            1 => names[0].clone(),
            _ => format!("({})", names.join(", ")),
        };
        format!(
            "SET STATEMENT time_zone = '+00:00' FOR DELETE FROM {}\nWHERE {names} IN ({primary})",
            self.name
        )
    }

    /// Step 4, where they go: an INSERT's text up to its rows.
    pub fn insert_head(&self) -> String {
        let names: Vec<String> = self.columns.iter().map(|(c, _)| quote(c)).collect();
        format!(
            "SET STATEMENT sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00' FOR INSERT INTO {} ({}) VALUES ",
            self.name,
            names.join(", ")
        )
    }

    /// Appends one row read back (`cell(i)`: its `i`-th cell, the key at 0) as `(…)`.
    pub fn insert_row<'c>(
        &self,
        cell: impl Fn(usize) -> Result<Option<&'c [u8]>, String>,
        out: &mut String,
    ) -> Result<(), String> {
        out.push('(');
        for (i, (_, transport)) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            transport.write_literal(cell(i + 1)?, out)?;
        }
        out.push(')');
        Ok(())
    }

    /// What may not see rows move, one row of three cells: the foreign keys that reference the
    /// table (a DELETE would cascade to, or be refused by, rows that stay) and its INSERT /
    /// DELETE triggers (a move would fire them), each a list of names or NULL, and its stored
    /// columns (see [`MovingUpdate::known_columns`]).
    pub fn dependents_query(&self, no_backslash_escapes: bool) -> String {
        let schema = match &self.database {
            Some(db) => string_literal(db, no_backslash_escapes),
            None => "DATABASE()".to_owned(),
        };
        let table = string_literal(&self.table, no_backslash_escapes);
        format!(
            "SET STATEMENT group_concat_max_len = 1048576 FOR SELECT (SELECT GROUP_CONCAT(CONCAT(TABLE_NAME, '.', CONSTRAINT_NAME)) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = {schema} AND REFERENCED_TABLE_NAME = {table}), (SELECT GROUP_CONCAT(TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {schema} AND EVENT_OBJECT_TABLE = {table} AND EVENT_MANIPULATION <> 'UPDATE'), (SELECT GROUP_CONCAT(CONCAT(COLUMN_NAME, ' ', DATA_TYPE) ORDER BY ORDINAL_POSITION SEPARATOR ', ') FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {table} AND IS_GENERATED = 'NEVER')"
        )
    }

    /// Whether the table has lookups, whose rows [`MovingUpdate::lookup_entries`] gives.
    pub fn has_lookups(&self) -> bool {
        !self.lookups.is_empty()
    }

    /// The lookup rows of a row read back (`cell(i)`: its `i`-th cell, the key at 0): each of
    /// its lookup values with its new key (none for NULL). Literals the lookup table compares
    /// as the data table does: a string by its bytes in its column's character set.
    pub fn lookup_entries<'c>(
        &self,
        cell: impl Fn(usize) -> Result<Option<&'c [u8]>, String>,
    ) -> Result<Vec<crate::LookupEntry>, String> {
        let key = cell(0)?.ok_or_else(|| format!("its shard key `{}` became NULL", self.key))?;
        let key = match (self.integer_key, std::str::from_utf8(key)) {
            (true, Ok(digits)) if digits.parse::<i128>().is_ok() => digits.to_owned(),
            _ => format!("CAST(X'{}' AS BINARY)", hex_of(key)),
        };
        let mut entries = Vec::with_capacity(self.lookups.len());
        for l in &self.lookups {
            let Some(value) = cell(l.at + 1)? else {
                continue;
            };
            let mut literal = String::new();
            match &l.charset {
                Some(charset) => {
                    let hex = std::str::from_utf8(value)
                        .ok()
                        .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                        .ok_or("a lookup value that is not hex")?;
                    literal = format!("_{charset} X'{hex}'");
                }
                None => self.columns[l.at]
                    .1
                    .write_literal(Some(value), &mut literal)?,
            }
            entries.push(crate::LookupEntry {
                lookup: l.lookup.clone(),
                value: literal,
                key: key.clone(),
            });
        }
        Ok(entries)
    }

    /// The stored columns (`name type, …`) the moved rows are read and written with.
    pub fn known_columns(&self) -> &str {
        &self.signature
    }

    /// The table's name as written.
    pub fn table(&self) -> &str {
        &self.table
    }
}

impl std::fmt::Display for MovingUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "UPDATE that changes shard key `{}` of `{}`, in one transaction: first `{}` (merged in the proxy; at most merge_max_rows rows), then on each shard holding some the UPDATE of those rows by ({}), then the rows read back by primary key; a row whose new key belongs to another shard is deleted there and inserted on that shard",
            self.key,
            self.table,
            self.rows.select,
            self.rows.columns().join(", ")
        )
    }
}

/// `bytes` as hex digits.
fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02X}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLES: &str = "[[tables]]\nname = \"users\"\nshard_key = \"id\"\n[[tables]]\nname = \"orders\"\nshard_key = \"user_id\"\n";

    fn topology() -> Topology {
        with_tables(TABLES)
    }

    fn with_tables(tables: &str) -> Topology {
        let t = crate::test_topology::two_shards(tables);
        let row = |table: &str, column: &str, ordinal: u64, ty: &str, primary_key: bool| {
            shardgate_schema::ColumnRow {
                table: table.into(),
                column: column.into(),
                ordinal,
                column_type: ty.into(),
                collation: None,
                default: shardgate_schema::ColumnDefault::Null,
                primary_key,
            }
        };
        let mut generated = row("orders", "doubled", 5, "int(11)", false);
        generated.default = shardgate_schema::ColumnDefault::Generated("`amount` * 2".into());
        let ticket = t.schema.begin_load();
        t.schema.install_all(
            ticket,
            shardgate_schema::SchemaStatus {
                schema: shardgate_schema::Schema::from_rows([
                    row("users", "id", 1, "int(11)", true),
                    row("users", "name", 2, "varchar(20)", false),
                    row("orders", "id", 1, "bigint(20) unsigned", true),
                    row("orders", "user_id", 2, "int(11)", false),
                    row("orders", "amount", 3, "float", false),
                    row("orders", "at", 4, "timestamp(3)", false),
                    generated,
                ]),
                ..Default::default()
            },
        );
        t
    }

    fn planned(sql: &str, t: &Topology) -> Result<crate::Plan, RouteError> {
        crate::plan_sql(sql, t, Syntax::default())
    }

    fn moving(sql: &str, t: &Topology) -> MovingUpdate {
        match planned(sql, t) {
            Err(RouteError::MovingUpdate(m)) => *m,
            other => panic!("{sql}: {other:?}"),
        }
    }

    /// Some key on `shard`.
    fn key_on(t: &Topology, shard: ShardId) -> i128 {
        let rule = t.table("orders").unwrap();
        (0..100)
            .find(|k| rule.shard_for(&KeyValue::Int(*k)).unwrap() == shard)
            .unwrap()
    }

    #[test]
    fn a_key_written_back_to_its_own_shard_routes_as_any_update() {
        let t = topology();
        let (k0, k1) = (key_on(&t, 0), key_on(&t, 1));
        let same = format!("UPDATE orders SET user_id = {k0}, amount = 3 WHERE user_id = {k0}");
        assert_eq!(planned(&same, &t).unwrap().route, Route::Shard(0));
        let other = format!("UPDATE orders SET user_id = {k1} WHERE user_id = {k0}");
        let m = moving(&other, &t);
        assert_eq!(
            m.rows.select,
            format!("SELECT `user_id`, `id` FROM orders WHERE user_id = {k0}\nFOR UPDATE")
        );
        // An expression, or no key in the WHERE: rows may move.
        moving(
            &format!("UPDATE orders SET user_id = user_id + 1 WHERE user_id = {k0}"),
            &t,
        );
        moving("UPDATE orders SET user_id = 5, amount = 3 WHERE id = 7", &t);
    }

    #[test]
    fn the_steps_name_rows_by_key_and_primary_key() {
        let t = topology();
        let m = moving(
            "UPDATE orders o SET o.user_id = 5 WHERE amount > 3 -- why\n",
            &t,
        );
        assert_eq!(
            m.source_shard(&t, &[b"5".to_vec(), b"9".to_vec()], Syntax::default()),
            Ok(t.table("orders")
                .unwrap()
                .shard_for(&KeyValue::Int(5))
                .unwrap())
        );
        let rows = vec![
            vec![b"4".to_vec(), b"9".to_vec()],
            vec![b"6".to_vec(), b"10".to_vec()],
        ];
        assert_eq!(
            String::from_utf8(m.narrowed(&rows).unwrap()).unwrap(),
            "UPDATE orders o SET o.user_id = 5\nWHERE (amount > 3 -- why\n) AND (`user_id`, `id`) IN ((4, 9), (6, 10))"
        );
        // The generated column is neither read nor written; FLOAT and TIMESTAMP travel exactly.
        assert_eq!(
            m.read_back(&rows),
            "SELECT `user_id`, `id`, `user_id`, CAST(`amount` AS DOUBLE), UNIX_TIMESTAMP(`at`) FROM orders\nWHERE `id` IN (9, 10) LIMIT 18446744073709551615"
        );
        let mut out = m.insert_head();
        let cells: [Option<&[u8]>; 5] = [
            Some(b"5"),
            Some(b"9"),
            Some(b"5"),
            Some(b"1.5"),
            Some(b"1700000000.125"),
        ];
        m.insert_row(|i| Ok(cells[i]), &mut out).unwrap();
        let mut primary = String::new();
        m.primary_literal(|i| Ok(cells[i]), &mut primary).unwrap();
        assert_eq!(
            m.delete(&primary),
            "SET STATEMENT time_zone = '+00:00' FOR DELETE FROM orders\nWHERE `id` IN ('9')"
        );
        assert_eq!(
            out,
            "SET STATEMENT sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00' FOR INSERT INTO orders (`id`, `user_id`, `amount`, `at`) VALUES ('9','5','1.5',FROM_UNIXTIME(1700000000.125))"
        );
        assert_eq!(
            m.new_shard(&t, None).unwrap_err(),
            "its shard key `user_id` became NULL"
        );
    }

    #[test]
    fn a_primary_key_assigned_a_literal_finds_its_rows_by_it() {
        let t = topology();
        let (k0, k1) = (key_on(&t, 0), key_on(&t, 1));
        let m = moving(
            &format!("UPDATE users SET id = '{k1}', name = 'x' WHERE id = {k0}"),
            &t,
        );
        let rows = vec![vec![k0.to_string().into_bytes()]];
        let after = format!("WHERE `id` IN ('{k1}')");
        assert!(m
            .read_back(&rows)
            .ends_with(&format!("{after} LIMIT 18446744073709551615")));

        // A string key read back from the step-1 literal.
        assert!(m
            .source_shard(&t, &[b"'3'".to_vec()], Syntax::default())
            .is_ok());
    }

    #[test]
    fn what_cannot_move_is_refused_naming_why() {
        let t = topology();
        let refused = |sql: &str| match planned(sql, &t) {
            Err(e @ RouteError::ShardKeyUpdate { .. }) => e.to_string(),
            other => panic!("{sql}: {other:?}"),
        };
        assert!(refused("UPDATE users SET id = id + 1 WHERE id = 3").contains("expression"));
        assert!(refused("UPDATE IGNORE orders SET user_id = 5 WHERE id = 3").contains("IGNORE"));
        assert!(refused(
            "UPDATE users u JOIN orders o ON o.user_id = u.id SET o.user_id = 9 WHERE u.id = 7"
        )
        .contains("multi-table"));
        // Other statements are not this module's.
        assert!(planned("UPDATE orders SET amount = 1 WHERE id = 3", &t).is_ok());
    }

    #[test]
    fn lookup_rows_map_each_changed_rows_values_to_its_new_key() {
        let t = with_tables(
            "[[tables]]\nname = \"users\"\nshard_key = \"id\"\nlookups = [{ column = \"name\", unique = true }]\n",
        );
        // Even a key written back to its own shard takes the steps: the lookup maps the value
        // to the new key.
        let (k0, k0b) = {
            let rule = t.table("users").unwrap();
            let mut on = (0..100).filter(|k| rule.shard_for(&KeyValue::Int(*k)).unwrap() == 0);
            (on.next().unwrap(), on.next().unwrap())
        };
        let m = moving(&format!("UPDATE users SET id = {k0b} WHERE id = {k0}"), &t);
        assert!(m.has_lookups());
        let cells: [Option<&[u8]>; 3] = [Some(b"-7"), Some(b"-7"), Some(b"C3A9")];
        let entries = m.lookup_entries(|i| Ok(cells[i])).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].value.as_str(), entries[0].key.as_str()),
            ("_binary X'C3A9'", "-7")
        );
        // NULL is in no lookup.
        let cells: [Option<&[u8]>; 3] = [Some(b"-7"), Some(b"-7"), None];
        assert!(m.lookup_entries(|i| Ok(cells[i])).unwrap().is_empty());
    }

    #[test]
    fn the_dependents_query_names_the_table_as_written() {
        let t = topology();
        let m = moving("UPDATE app.Orders SET user_id = 5 WHERE id = 3", &t);
        let q = m.dependents_query(false);
        assert!(
            q.contains("UNIQUE_CONSTRAINT_SCHEMA = 'app' AND REFERENCED_TABLE_NAME = 'Orders'"),
            "{q}"
        );
        assert!(q.contains("EVENT_MANIPULATION <> 'UPDATE'"), "{q}");
        assert_eq!(
            m.known_columns(),
            "id bigint, user_id int, amount float, at timestamp"
        );
    }
}
