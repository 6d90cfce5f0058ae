//! Finding shard-key values in WHERE clauses and INSERT rows, and the shards they map to.

use std::collections::BTreeSet;

use shardgate_collation::Charset;
use shardgate_config::{ShardKeyType, TableRule, Topology};
use shardgate_ring::{KeyValue, ShardId};
use sqlparser::ast::{
    BinaryOperator, Expr, Ident, ObjectName, ObjectNamePart, TableAlias, TableFactor,
    UnaryOperator, Value,
};

use crate::colocated::strip_nested;
use crate::RouteError;

/// A sharded table as a statement refers to it.
#[derive(Debug, Clone)]
pub(crate) struct TableRef<'t> {
    pub rule: &'t TableRule,
    /// Name used in SQL (lower-cased), and alias if any.
    pub name: String,
    pub alias: Option<String>,
    /// Rows with keys MariaDB calls equal live on one shard (`key_placement`): its key pins
    /// reads and co-locates. A loose key is no key to the planner: it scatters.
    pub keys_exact: bool,
}

impl<'t> TableRef<'t> {
    pub(crate) fn new(
        rule: &'t TableRule,
        name: String,
        alias: Option<String>,
        topology: &Topology,
    ) -> Self {
        TableRef {
            rule,
            name,
            alias,
            keys_exact: crate::key_placement::keys_exact(rule, topology),
        }
    }
}

impl TableRef<'_> {
    /// Whether `qualifier` (the part before `.column`) names this table.
    pub(crate) fn is_named(&self, qualifier: &Ident) -> bool {
        match &self.alias {
            Some(a) => qualifier.value.eq_ignore_ascii_case(a),
            None => qualifier.value.eq_ignore_ascii_case(&self.name),
        }
    }

    /// Whether `expr` is this table's shard-key column, placed exactly (a loose key is none);
    /// unqualified names count when the table is the only one in its query.
    pub(crate) fn is_key_column(&self, expr: &Expr, only_table: bool) -> bool {
        if !self.keys_exact {
            return false;
        }
        match expr {
            Expr::Identifier(id) => {
                only_table && id.value.eq_ignore_ascii_case(&self.rule.shard_key)
            }
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                parts[parts.len() - 1]
                    .value
                    .eq_ignore_ascii_case(&self.rule.shard_key)
                    && self.is_named(&parts[parts.len() - 2])
            }
            Expr::Nested(inner) => self.is_key_column(inner, only_table),
            _ => false,
        }
    }

    pub fn shard_of(&self, value: &KeyValue<'_>) -> Result<ShardId, RouteError> {
        self.rule
            .shard_for(value)
            .map_err(|source| RouteError::BadKey {
                table: self.rule.name.clone(),
                key: self.rule.shard_key.clone(),
                source: Box::new(source),
            })
    }
}

/// A plain reference to a table — no table-function arguments, hints, partitions, version,
/// sample or JSON path —: its name and alias.
pub(crate) fn plain_table(factor: &TableFactor) -> Option<(&ObjectName, Option<&TableAlias>)> {
    let TableFactor::Table {
        name,
        alias,
        args: None,
        with_hints,
        version: None,
        with_ordinality: false,
        partitions,
        json_path: None,
        sample: None,
        index_hints,
    } = factor
    else {
        return None;
    };
    let plain = with_hints.is_empty() && partitions.is_empty() && index_hints.is_empty();
    plain.then_some((name, alias.as_ref()))
}

/// The last part of an object name, lower-cased (`app.users` → `users`).
pub(crate) fn base_name(name: &ObjectName) -> Option<String> {
    match name.0.last()? {
        ObjectNamePart::Identifier(id) => Some(id.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// A shard-key value known only when a prepared statement executes, or a literal one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Value(OwnedKey),
    /// The 0-based position of a `?` parameter in the statement text.
    Param(usize),
}

/// An owned shard-key value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedKey {
    Int(i128),
    Str(Vec<u8>),
}

impl OwnedKey {
    pub fn as_key(&self) -> KeyValue<'_> {
        match self {
            OwnedKey::Int(i) => KeyValue::Int(*i),
            OwnedKey::Str(s) => KeyValue::Str(s),
        }
    }
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Value(OwnedKey::Int(i)) => write!(f, "{i}"),
            KeySource::Value(OwnedKey::Str(s)) => write!(f, "'{}'", String::from_utf8_lossy(s)),
            KeySource::Param(i) => write!(f, "?{}", i + 1),
        }
    }
}

/// The parameter number of a placeholder numbered by [`crate::planner`] (`?0`, `?1`, …).
pub(crate) fn param_index(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => p.strip_prefix('?')?.parse().ok(),
            _ => None,
        },
        Expr::Nested(inner) => param_index(inner),
        _ => None,
    }
}

/// A literal or a parameter usable as a value of a shard key of type `key_type`: the forms of
/// [`literal`], strings written otherwise — with a character set introducer (`_utf8mb4'k'`,
/// `_binary X'6B'`), national (`N'k'`), with a `COLLATE` clause (which does not change the
/// value), in hexadecimal (`X'6B35'`) — and hexadecimal numbers (`0x2A`: 42 for an integer
/// key, the string `'*'` for a string key, as MariaDB reads it where each is wanted); for an
/// integer key also the other number forms whose value is an integer ([`integral_number`]).
pub(crate) fn key_source(expr: &Expr, key_type: ShardKeyType) -> Option<KeySource> {
    if let Some(i) = param_index(expr) {
        return Some(KeySource::Param(i));
    }
    if let Some(value) = literal(expr) {
        return Some(KeySource::Value(match value {
            KeyValue::Int(i) => OwnedKey::Int(i),
            KeyValue::Str(s) => OwnedKey::Str(s.to_vec()),
        }));
    }
    if key_type == ShardKeyType::Integer {
        if let Some(i) = integral_number(expr) {
            return Some(KeySource::Value(OwnedKey::Int(i)));
        }
    }
    match expr {
        Expr::Collate { expr, .. } | Expr::Nested(expr) => key_source(expr, key_type),
        Expr::Value(v) => match &v.value {
            Value::NationalStringLiteral(s) if !s.contains('\u{FFFD}') => {
                string_key(s.as_bytes().to_vec(), key_type)
            }
            Value::HexStringLiteral(digits) => string_key(hex_bytes(digits)?, key_type),
            Value::Number(n, _) if n.starts_with("0x") => {
                let bytes = hex_bytes(&n[2..])?;
                Some(KeySource::Value(match key_type {
                    ShardKeyType::String => OwnedKey::Str(bytes),
                    // At most 8 bytes: a longer one is out of any integer column's range.
                    ShardKeyType::Integer if bytes.len() <= 8 => {
                        OwnedKey::Int(bytes.iter().fold(0i128, |n, &b| n << 8 | i128::from(b)))
                    }
                    ShardKeyType::Integer => return None,
                }))
            }
            _ => None,
        },
        Expr::Prefixed { prefix, value } => {
            let bytes = match value.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                        s.as_bytes().to_vec()
                    }
                    Value::HexStringLiteral(digits) => hex_bytes(digits)?,
                    _ => return None,
                },
                _ => return None,
            };
            // The column holds the text converted from the introducer's character set: the
            // same bytes for UTF-8 and binary, and for ASCII in any other. Hexadecimal bytes
            // (`_latin1 X'E9'`, as a legacy client's parameters are written in) are read in
            // it; a quoted string's are the statement's, already read as characters.
            let charset = prefix.value.strip_prefix('_')?;
            let charset = Charset::named(charset);
            if charset == Charset::Utf8 || bytes.is_ascii() {
                return string_key(bytes, key_type);
            }
            let Expr::Value(v) = value.as_ref() else {
                return None;
            };
            if !matches!(v.value, Value::HexStringLiteral(_)) {
                return None;
            }
            let text = charset.read(&bytes)?;
            string_key(text.into_owned().into_bytes(), key_type)
        }
        _ => None,
    }
}

/// The values a row comparison gives a key column: `(a, key) = (1, 7)` gives `[7]`, `(a, key)
/// IN ((1, 7), (2, 8))` gives `[7, 8]` (MariaDB compares rows column by column). `None` when
/// `columns` is not a row naming the key (`is_key`) or a row is not one of its width.
pub(crate) fn row_key_values<'e>(
    columns: &Expr,
    rows: impl IntoIterator<Item = &'e Expr>,
    is_key: impl Fn(&Expr) -> bool,
) -> Option<Vec<&'e Expr>> {
    let Expr::Tuple(columns) = strip_nested(columns) else {
        return None;
    };
    let i = columns.iter().position(is_key)?;
    (rows.into_iter())
        .map(|row| match strip_nested(row) {
            Expr::Tuple(values) if values.len() == columns.len() => Some(&values[i]),
            _ => None,
        })
        .collect()
}

/// A string written in a form [`literal`] does not read, as a key. For an integer key only a
/// plain integer: what MariaDB makes of another string there (an error, a warning, a rounded
/// or truncated number) depends on the statement and the session, which a refusal leaves to
/// the plain string literals' handling.
fn string_key(bytes: Vec<u8>, key_type: ShardKeyType) -> Option<KeySource> {
    match key_type {
        ShardKeyType::Integer if shardgate_ring::parse_integer(&bytes).is_err() => None,
        _ => Some(KeySource::Value(OwnedKey::Str(bytes))),
    }
}

/// A number literal in another form than a decimal integer whose value is an integer, as an
/// integer column reads it and compares with it: a decimal with a zero fraction (`615.0`, as
/// Python writes a float), a double that is an integer below 2^53 (`6.15e2`), a bit value
/// (`b'1001100111'`, `0b1001100111`), signed or parenthesized. Others (`615.5`, which MariaDB
/// rounds by the literal's type) are not keys.
fn integral_number(expr: &Expr) -> Option<i128> {
    match expr {
        Expr::Nested(inner) => integral_number(inner),
        Expr::UnaryOp { op, expr } => match op {
            UnaryOperator::Minus => integral_number(expr)?.checked_neg(),
            UnaryOperator::Plus => integral_number(expr),
            _ => None,
        },
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => {
                if let Some(bits) = n.strip_prefix("0b") {
                    return bit_value(bits);
                }
                if n.contains(['e', 'E']) {
                    let x: f64 = n.parse().ok()?;
                    let exact = x.is_finite() && x.fract() == 0.0 && x.abs() < 2f64.powi(53);
                    return exact.then_some(x as i128);
                }
                let (whole, fraction) = n.split_once('.')?;
                if !fraction.bytes().all(|b| b == b'0') {
                    return None;
                }
                match whole {
                    "" => Some(0),
                    _ => whole.parse().ok(),
                }
            }
            Value::SingleQuotedByteStringLiteral(bits) => bit_value(bits),
            _ => None,
        },
        _ => None,
    }
}

/// The number binary digits stand for (a bit value literal: at most 64 bits).
fn bit_value(digits: &str) -> Option<i128> {
    let digits = digits.trim_start_matches('0');
    if digits.len() > 64 || !digits.bytes().all(|b| b == b'0' || b == b'1') {
        return None;
    }
    match digits {
        "" => Some(0),
        _ => u64::from_str_radix(digits, 2).ok().map(i128::from),
    }
}

/// The bytes of hexadecimal digits (an odd count has a leading zero, as MariaDB reads `0x123`).
fn hex_bytes(digits: &str) -> Option<Vec<u8>> {
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits.to_owned()
    };
    (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(padded.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What a WHERE clause says about one table's shard key.
#[derive(Debug, Clone)]
pub(crate) enum Constraint {
    /// Rows can only be on these shards.
    Shards(BTreeSet<ShardId>),
    /// Rows are on the shard(s) of these keys, some of them parameters.
    Deferred(Vec<KeySource>),
}

/// A literal usable as a shard-key value. Numbers count only in decimal integer form: what
/// `1.5`, `4.2e1`, `0x2A` or `0b101` mean depends on the column they meet (a string column
/// compares them as numbers, or as binary strings), so they pin no shard.
pub(crate) fn literal(expr: &Expr) -> Option<KeyValue<'_>> {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse::<i128>().ok().map(KeyValue::Int),
            // U+FFFD stands for bytes the session's character set has no character for
            // (`Charset::read_lossy`): such a string places nothing.
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s)
                if !s.contains('\u{FFFD}') =>
            {
                Some(KeyValue::Str(s.as_bytes()))
            }
            Value::Boolean(b) => Some(KeyValue::Int(i128::from(*b))),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal(expr)? {
            KeyValue::Int(i) => Some(KeyValue::Int(-i)),
            KeyValue::Str(_) => None,
        },
        // `+552` is 552; `+'552'` a number made of a string, whose value the key's type decides.
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => match literal(expr)? {
            KeyValue::Int(i) => Some(KeyValue::Int(i)),
            KeyValue::Str(_) => None,
        },
        Expr::Nested(inner) => literal(inner),
        _ => None,
    }
}

/// The top-level AND-ed conditions of `expr`, in order. Iterative: a chain of thousands of
/// ANDs must not exhaust the stack.
pub(crate) fn conjuncts<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    let mut pending = vec![expr];
    while let Some(expr) = pending.pop() {
        match expr {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::And,
                right,
            } => {
                pending.push(right);
                pending.push(left);
            }
            Expr::Nested(inner) => pending.push(inner),
            other => out.push(other),
        }
    }
}

/// What a WHERE clause says about `table`'s shard key, from top-level AND-ed `key = value`
/// and `key IN (values)` conditions (values: literals or parameters); `None` when nothing.
pub(crate) fn constraint_in_where(
    selection: Option<&Expr>,
    table: &TableRef<'_>,
    only_table: bool,
) -> Result<Option<Constraint>, RouteError> {
    let Some(selection) = selection else {
        return Ok(None);
    };
    let mut parts = Vec::new();
    conjuncts(selection, &mut parts);
    let mut literal_shards: Option<BTreeSet<ShardId>> = None;
    let mut deferred: Option<Vec<KeySource>> = None;
    for part in parts {
        let sources: Vec<KeySource> = match part {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => {
                let key_type = table.rule.key_type;
                let value = if table.is_key_column(left, only_table) {
                    key_source(right, key_type)
                } else if table.is_key_column(right, only_table) {
                    key_source(left, key_type)
                } else {
                    None
                };
                // `(user_id, id) = (7, 1)`: the key's value is at its place in the row.
                let is_key = |c: &Expr| table.is_key_column(c, only_table);
                let value = value.or_else(|| {
                    let [v] = (row_key_values(left, [&**right], is_key))
                        .or_else(|| row_key_values(right, [&**left], is_key))?[..]
                    else {
                        return None;
                    };
                    key_source(v, key_type)
                });
                match value {
                    Some(v) => vec![v],
                    None => continue,
                }
            }
            Expr::InList {
                expr,
                list,
                negated: false,
            } if table.is_key_column(expr, only_table) => {
                let key_type = table.rule.key_type;
                match (list.iter().map(|e| key_source(e, key_type))).collect::<Option<Vec<_>>>() {
                    Some(values) => values,
                    None => continue,
                }
            }
            // `(user_id, id) IN ((7, 1), (3, 2))`: each row's value at the key's place.
            Expr::InList {
                expr,
                list,
                negated: false,
            } => {
                let Some(values) =
                    row_key_values(expr, list, |c| table.is_key_column(c, only_table))
                else {
                    continue;
                };
                let key_type = table.rule.key_type;
                match (values.iter().map(|v| key_source(v, key_type))).collect::<Option<Vec<_>>>() {
                    Some(values) => values,
                    None => continue,
                }
            }
            _ => continue,
        };
        let by_key = |s: &KeySource| match s {
            KeySource::Value(v) => crate::plan::compares_by_key(table.rule.key_type, v),
            KeySource::Param(_) => true,
        };
        if !sources.iter().all(by_key) {
            continue;
        }
        if sources.iter().any(|s| matches!(s, KeySource::Param(_))) {
            // A literal condition on the same key is enough on its own; keep the first
            // parameter condition for when there is none.
            deferred.get_or_insert(sources);
            continue;
        }
        let shards = sources
            .iter()
            .map(|s| match s {
                KeySource::Value(v) => table.shard_of(&v.as_key()),
                KeySource::Param(_) => unreachable!("handled above"),
            })
            .collect::<Result<BTreeSet<_>, _>>();
        let shards = match shards {
            Ok(shards) => shards,
            // `id = 1.0`, `id = '1abc'`: MariaDB converts these; every shard can evaluate the
            // condition itself, so the condition just does not narrow the shards.
            Err(RouteError::BadKey { source, .. })
                if matches!(*source, shardgate_ring::RingError::NotAnInteger(_)) =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        literal_shards = Some(match literal_shards {
            None => shards,
            Some(prev) => prev.intersection(&shards).copied().collect(),
        });
    }
    Ok(literal_shards
        .map(Constraint::Shards)
        .or(deferred.map(Constraint::Deferred)))
}

/// Names of shards, for messages.
pub(crate) fn shard_names(topology: &Topology, shards: &BTreeSet<ShardId>) -> String {
    shards
        .iter()
        .map(|s| topology.shards[*s].name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
