//! A small expression tree evaluated over merged rows with MariaDB's semantics (HAVING,
//! computed select-list items).
//!
//! The planner builds it from its SQL AST; it is independent of any parser. NULL propagates
//! through comparisons and arithmetic; `AND`/`OR`/`NOT` use three-valued logic; comparisons
//! and logic return `1`, `0` or NULL. Numbers follow MariaDB's types: integer arithmetic
//! stays `BIGINT` (an overflow is error 1690), anything with a `DECIMAL` is exact, anything
//! with a `DOUBLE` or a string is a `DOUBLE` (decimals: the larger, `+ 4` for `/`). Division
//! by zero is NULL.
//!
//! A `DECIMAL` expression has two precisions in MariaDB, and both are modelled: the scale it
//! declares (`+`/`-`: the larger, `*`: the sum, `/`: the dividend's + 4, at most 38), to
//! which its value is rounded (half away from zero) when shown and when compared; and the
//! digits its value carries into further arithmetic, which for a quotient are more (the long
//! division of `strings/decimal.c` runs to whole 9-digit words and truncates), so that
//! `1/3*3` is `1.0000`, not `0.9999`. Strings compare under the collation of
//! the column they are compared with (`general_ci` between two literals), and are read as
//! numbers when compared with numbers (`'12abc'` = 12).

use std::cmp::Ordering;
use std::fmt;

use bytes::Bytes;

use crate::column::{ColumnMeta, ValueKind};
use crate::compare::compare_values;
use crate::decimal::{Decimal, MAX_SCALE};
use crate::error::{MergeError, Result};
use crate::float_text::NOT_FIXED_DEC;
use crate::row::TextRow;
use crate::temporal::{Date, DateTime, Time};
use crate::value::{string_prefix_f64, Value};
use shardgate_collation::Collation;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<=>` (NULL-safe: `NULL <=> NULL` is 1)
    NullSafeEq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// An expression over the columns of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// The value of a column of the row.
    Column(usize),
    /// A constant.
    Literal(Value),
    /// `left op right`.
    Compare(CompareOp, Box<Expr>, Box<Expr>),
    /// `left AND right`.
    And(Box<Expr>, Box<Expr>),
    /// `left OR right`.
    Or(Box<Expr>, Box<Expr>),
    /// `NOT expr`.
    Not(Box<Expr>),
    /// `expr IS NULL`.
    IsNull(Box<Expr>),
    /// `expr IS NOT NULL`.
    IsNotNull(Box<Expr>),
    /// `left op right`.
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// `-expr`.
    Neg(Box<Expr>),
    /// `ROUND(expr, places)` (`truncate`: `TRUNCATE(expr, places)`) of a `DECIMAL`.
    Round {
        arg: Box<Expr>,
        places: i64,
        truncate: bool,
    },
    /// `COALESCE(…)` / `IFNULL(a, b)`: the first value that is not NULL.
    Coalesce(Vec<Expr>),
    /// `ABS(expr)`.
    Abs(Box<Expr>),
}

/// The type of an expression's values, as MariaDB declares it from its columns' types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    /// A `BIGINT`.
    Int,
    /// A `DECIMAL` with this scale.
    Decimal(u32),
    /// A `DOUBLE` with these decimals.
    Double(u8),
    /// Anything else (strings, temporal values): not computed by the merge's arithmetic.
    Other,
}

impl Expr {
    /// A column reference.
    pub fn col(i: usize) -> Expr {
        Expr::Column(i)
    }

    /// A constant.
    pub fn lit(v: Value) -> Expr {
        Expr::Literal(v)
    }

    /// `left op right`.
    pub fn cmp(op: CompareOp, left: Expr, right: Expr) -> Expr {
        Expr::Compare(op, Box::new(left), Box::new(right))
    }

    /// `left op right`.
    pub fn arith(op: ArithOp, left: Expr, right: Expr) -> Expr {
        Expr::Arith(op, Box::new(left), Box::new(right))
    }

    /// `left AND right`.
    pub fn and(left: Expr, right: Expr) -> Expr {
        Expr::And(Box::new(left), Box::new(right))
    }

    /// `left OR right`.
    pub fn or(left: Expr, right: Expr) -> Expr {
        Expr::Or(Box::new(left), Box::new(right))
    }

    /// The largest column index referenced.
    pub fn max_column(&self) -> Option<usize> {
        self.columns().into_iter().max()
    }

    /// The column indexes referenced, in the order they appear.
    pub fn columns(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect_columns(&mut out);
        out
    }

    fn collect_columns(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Column(i) => out.push(*i),
            Expr::Literal(_) => {}
            Expr::Not(e)
            | Expr::IsNull(e)
            | Expr::IsNotNull(e)
            | Expr::Neg(e)
            | Expr::Abs(e)
            | Expr::Round { arg: e, .. } => e.collect_columns(out),
            Expr::Compare(_, l, r) | Expr::And(l, r) | Expr::Or(l, r) | Expr::Arith(_, l, r) => {
                l.collect_columns(out);
                r.collect_columns(out);
            }
            Expr::Coalesce(args) => args.iter().for_each(|a| a.collect_columns(out)),
        }
    }

    /// The type MariaDB gives the expression over rows of `columns` (what the client is told
    /// its column is); the merge's values are of it.
    pub fn result_type(&self, columns: &[ColumnMeta]) -> ResultType {
        use ResultType as T;
        let numeric = |t: T| match t {
            T::Int => Some(0),
            T::Decimal(d) => Some(d),
            T::Double(d) => Some(u32::from(d)),
            T::Other => None,
        };
        match self {
            Expr::Column(i) => match columns.get(*i).map(ColumnMeta::kind) {
                Some(ValueKind::Int | ValueKind::UInt) => T::Int,
                Some(ValueKind::Decimal) => T::Decimal(u32::from(columns[*i].decimals)),
                Some(ValueKind::Double | ValueKind::Float) => T::Double(columns[*i].decimals),
                _ => T::Other,
            },
            Expr::Literal(v) => match v {
                // NULL takes the type of what it meets; as an integer it adds no decimals.
                Value::Int(_) | Value::UInt(_) | Value::Null => T::Int,
                Value::Decimal(d) => T::Decimal(d.scale()),
                Value::Double { decimals, .. } => T::Double(*decimals),
                _ => T::Other,
            },
            Expr::Compare(..)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::Not(_)
            | Expr::IsNull(_)
            | Expr::IsNotNull(_) => T::Int,
            Expr::Arith(op, l, r) => {
                let (a, b) = (l.result_type(columns), r.result_type(columns));
                let (Some(da), Some(db)) = (numeric(a), numeric(b)) else {
                    return T::Other;
                };
                match (a, b, op) {
                    (T::Double(_), _, _) | (_, T::Double(_), _) => {
                        let d = da.max(db) + if *op == ArithOp::Div { 4 } else { 0 };
                        T::Double(d.min(u32::from(NOT_FIXED_DEC)) as u8)
                    }
                    (T::Int, T::Int, ArithOp::Add | ArithOp::Sub | ArithOp::Mul) => T::Int,
                    _ => T::Decimal(match op {
                        ArithOp::Add | ArithOp::Sub => da.max(db),
                        ArithOp::Mul => (da + db).min(MAX_SCALE),
                        ArithOp::Div => (da + DIV_PRECISION_INCREMENT).min(MAX_SCALE),
                    }),
                }
            }
            Expr::Neg(e) | Expr::Abs(e) => e.result_type(columns),
            Expr::Round { arg, places, .. } => match arg.result_type(columns) {
                T::Decimal(_) => T::Decimal((*places).clamp(0, i64::from(MAX_SCALE)) as u32),
                _ => T::Other,
            },
            Expr::Coalesce(args) => {
                let mut result = T::Int;
                for a in args {
                    result = match (result, a.result_type(columns)) {
                        (T::Int, T::Int) => T::Int,
                        (T::Int, T::Decimal(d)) | (T::Decimal(d), T::Int) => T::Decimal(d),
                        (T::Decimal(x), T::Decimal(y)) => T::Decimal(x.max(y)),
                        _ => return T::Other,
                    };
                }
                result
            }
        }
    }

    /// Checks that every column referenced exists in rows of `columns`, and that every
    /// `ROUND` / `TRUNCATE` rounds a `DECIMAL` (the only kind the merge rounds).
    pub fn check(&self, columns: &[ColumnMeta]) -> Result<()> {
        if let Some(c) = self.max_column().filter(|&c| c >= columns.len()) {
            return Err(MergeError::NoSuchColumn {
                column: c,
                columns: columns.len(),
            });
        }
        self.check_rounding(columns)
    }

    fn check_rounding(&self, columns: &[ColumnMeta]) -> Result<()> {
        match self {
            Expr::Column(_) | Expr::Literal(_) => Ok(()),
            Expr::Round { arg, .. } => match arg.result_type(columns) {
                ResultType::Decimal(_) => arg.check_rounding(columns),
                other => Err(MergeError::Unsupported(format!(
                    "the merge rounds only DECIMAL values, not the {other:?} of `{arg}`"
                ))),
            },
            Expr::Not(e) | Expr::IsNull(e) | Expr::IsNotNull(e) | Expr::Neg(e) | Expr::Abs(e) => {
                e.check_rounding(columns)
            }
            Expr::Compare(_, l, r) | Expr::And(l, r) | Expr::Or(l, r) | Expr::Arith(_, l, r) => {
                l.check_rounding(columns)?;
                r.check_rounding(columns)
            }
            Expr::Coalesce(args) => args.iter().try_for_each(|a| a.check_rounding(columns)),
        }
    }

    /// Evaluates over a row with `columns`: the value as MariaDB shows it (a `DECIMAL`
    /// rounded to the scale the expression declares).
    pub fn eval(&self, row: &TextRow, columns: &[ColumnMeta]) -> Result<Value> {
        Ok(self.evaluate(row, columns)?.shown())
    }

    /// The value with the precision further arithmetic uses, and the declared scale.
    fn evaluate(&self, row: &TextRow, columns: &[ColumnMeta]) -> Result<Typed> {
        let value = match self {
            Expr::Column(i) => {
                let meta = columns.get(*i).ok_or(MergeError::NoSuchColumn {
                    column: *i,
                    columns: columns.len(),
                })?;
                if *i >= row.len() {
                    return Err(MergeError::NoSuchColumn {
                        column: *i,
                        columns: row.len(),
                    });
                }
                row.value(*i, meta)?
            }
            Expr::Literal(v) => v.clone(),
            Expr::Compare(op, l, r) => {
                // Each side as shown: MariaDB rounds a DECIMAL to its declared scale first.
                let (a, b) = (l.eval(row, columns)?, r.eval(row, columns)?);
                let collation = l
                    .collation(columns)
                    .or_else(|| r.collation(columns))
                    .unwrap_or(Collation::GeneralCi);
                compare_result(*op, &a, &b, collation)
            }
            Expr::And(l, r) => {
                let a = l.truth(row, columns)?;
                if a == Some(false) {
                    return Ok(Typed::of(Value::Int(0)));
                }
                match (a, r.truth(row, columns)?) {
                    (_, Some(false)) => Value::Int(0),
                    (Some(true), Some(true)) => Value::Int(1),
                    _ => Value::Null,
                }
            }
            Expr::Or(l, r) => {
                let a = l.truth(row, columns)?;
                if a == Some(true) {
                    return Ok(Typed::of(Value::Int(1)));
                }
                match (a, r.truth(row, columns)?) {
                    (_, Some(true)) => Value::Int(1),
                    (Some(false), Some(false)) => Value::Int(0),
                    _ => Value::Null,
                }
            }
            Expr::Not(e) => match e.truth(row, columns)? {
                Some(b) => Value::Int(i64::from(!b)),
                None => Value::Null,
            },
            Expr::IsNull(e) => Value::Int(i64::from(e.evaluate(row, columns)?.value.is_null())),
            Expr::IsNotNull(e) => Value::Int(i64::from(!e.evaluate(row, columns)?.value.is_null())),
            Expr::Arith(op, l, r) => {
                let (a, b) = (l.evaluate(row, columns)?, r.evaluate(row, columns)?);
                return typed_arith(*op, &a, &b).map_err(|e| self.name_overflow(e));
            }
            Expr::Neg(e) => {
                let v = e.evaluate(row, columns)?;
                return Ok(Typed {
                    value: negate(&v.value).map_err(|err| self.name_overflow(err))?,
                    declared: v.declared,
                });
            }
            Expr::Abs(e) => {
                let v = e.evaluate(row, columns)?;
                let negative = match &v.value {
                    Value::Decimal(d) => d.is_negative(),
                    other => other.as_i128().is_some_and(|i| i < 0),
                };
                if !negative {
                    return Ok(v);
                }
                return Ok(Typed {
                    value: negate(&v.value).map_err(|err| self.name_overflow(err))?,
                    declared: v.declared,
                });
            }
            Expr::Round {
                arg,
                places,
                truncate,
            } => {
                let declared = match self.result_type(columns) {
                    ResultType::Decimal(d) => d,
                    _ => return Err(MergeError::Unsupported(format!("{self} of a non-DECIMAL"))),
                };
                let value = match arg.evaluate(row, columns)?.value {
                    Value::Decimal(d) => Value::Decimal(round_decimal(&d, *places, *truncate)),
                    Value::Null => Value::Null,
                    other => {
                        return Err(MergeError::Unsupported(format!(
                            "{self} of {other:?}, not a DECIMAL"
                        )))
                    }
                };
                return Ok(Typed { value, declared });
            }
            Expr::Coalesce(args) => {
                let mut chosen = Value::Null;
                for a in args {
                    let v = a.evaluate(row, columns)?.value;
                    if !v.is_null() {
                        chosen = v;
                        break;
                    }
                }
                return Ok(match (self.result_type(columns), chosen) {
                    (ResultType::Decimal(declared), Value::Int(i)) => Typed {
                        value: Value::Decimal(Decimal::from(i)),
                        declared,
                    },
                    (ResultType::Decimal(declared), value) => Typed { value, declared },
                    (_, value) => Typed::of(value),
                });
            }
        };
        Ok(Typed::of(value))
    }

    /// SQL truth of the unrounded value (`1/3*0.0000001` is true).
    fn truth(&self, row: &TextRow, columns: &[ColumnMeta]) -> Result<Option<bool>> {
        Ok(truth(&self.evaluate(row, columns)?.value))
    }

    /// `true` when the expression evaluates to true (not false, not NULL): the HAVING test.
    pub fn is_true(&self, row: &TextRow, columns: &[ColumnMeta]) -> Result<bool> {
        Ok(self.truth(row, columns)? == Some(true))
    }

    fn collation(&self, columns: &[ColumnMeta]) -> Option<Collation> {
        match self {
            Expr::Column(i) => columns
                .get(*i)
                .filter(|m| m.kind() == ValueKind::Bytes)
                .map(ColumnMeta::collation),
            _ => None,
        }
    }

    fn name_overflow(&self, e: MergeError) -> MergeError {
        match e {
            MergeError::OutOfRange { type_name, .. } => MergeError::OutOfRange {
                type_name,
                expr: self.to_string(),
            },
            other => other,
        }
    }
}

impl std::ops::Not for Expr {
    type Output = Expr;

    /// `NOT expr`.
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}

impl fmt::Display for Expr {
    /// SQL-like text, columns as `#i` (for error messages).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(i) => write!(f, "#{i}"),
            Expr::Literal(v) => match v.to_text() {
                None => f.write_str("NULL"),
                Some(t) if matches!(v, Value::Bytes(_)) => {
                    write!(f, "'{}'", String::from_utf8_lossy(&t))
                }
                Some(t) => f.write_str(&String::from_utf8_lossy(&t)),
            },
            Expr::Compare(op, l, r) => {
                let op = match op {
                    CompareOp::Eq => "=",
                    CompareOp::NullSafeEq => "<=>",
                    CompareOp::Ne => "<>",
                    CompareOp::Lt => "<",
                    CompareOp::Le => "<=",
                    CompareOp::Gt => ">",
                    CompareOp::Ge => ">=",
                };
                write!(f, "{l} {op} {r}")
            }
            Expr::And(l, r) => write!(f, "({l} AND {r})"),
            Expr::Or(l, r) => write!(f, "({l} OR {r})"),
            Expr::Not(e) => write!(f, "NOT ({e})"),
            Expr::IsNull(e) => write!(f, "{e} IS NULL"),
            Expr::IsNotNull(e) => write!(f, "{e} IS NOT NULL"),
            Expr::Arith(op, l, r) => {
                let op = match op {
                    ArithOp::Add => "+",
                    ArithOp::Sub => "-",
                    ArithOp::Mul => "*",
                    ArithOp::Div => "/",
                };
                write!(f, "{l} {op} {r}")
            }
            Expr::Neg(e) => write!(f, "-{e}"),
            Expr::Abs(e) => write!(f, "ABS({e})"),
            Expr::Round {
                arg,
                places,
                truncate,
            } => {
                let name = if *truncate { "TRUNCATE" } else { "ROUND" };
                write!(f, "{name}({arg}, {places})")
            }
            Expr::Coalesce(args) => {
                let args: Vec<String> = args.iter().map(Expr::to_string).collect();
                write!(f, "COALESCE({})", args.join(", "))
            }
        }
    }
}

/// SQL truth of a value: NULL is unknown, numbers are true when not zero, strings by
/// their numeric prefix.
pub fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Null => None,
        Value::Decimal(d) => Some(!d.is_zero()),
        other => other
            .as_i128()
            .map(|i| i != 0)
            .or_else(|| other.to_f64().map(|f| f != 0.0)),
    }
}

fn is_number(v: &Value) -> bool {
    matches!(
        v,
        Value::Int(_)
            | Value::UInt(_)
            | Value::Decimal(_)
            | Value::Float { .. }
            | Value::Double { .. }
            | Value::Year(_)
            | Value::Bit(_)
    )
}

fn is_floating(v: &Value) -> bool {
    matches!(v, Value::Float { .. } | Value::Double { .. })
}

fn is_temporal(v: &Value) -> bool {
    matches!(v, Value::Date(_) | Value::DateTime(_) | Value::Time(_))
}

/// A string read as the temporal type it is compared with.
fn string_as_temporal(s: &Bytes, like: &Value) -> Option<Value> {
    let t = s.trim_ascii();
    match like {
        Value::Time(_) => Time::parse(t).map(Value::Time),
        _ => DateTime::parse(t)
            .map(Value::DateTime)
            .or_else(|| Date::parse(t).map(Value::Date)),
    }
}

fn cmp_f64(a: &Value, b: &Value) -> Option<Ordering> {
    a.to_f64()?.partial_cmp(&b.to_f64()?)
}

/// MariaDB's comparison of two values; `None` when either is NULL.
pub fn sql_compare(a: &Value, b: &Value, collation: Collation) -> Option<Ordering> {
    if a.is_null() || b.is_null() {
        return None;
    }
    match (a, b) {
        (Value::Bytes(x), Value::Bytes(y)) => Some(collation.compare(x, y)),
        _ if is_number(a) && is_number(b) => {
            if is_floating(a) || is_floating(b) {
                cmp_f64(a, b)
            } else {
                Some(compare_values(a, b, Collation::Binary))
            }
        }
        _ if is_temporal(a) && is_temporal(b) => {
            let same_family = matches!(a, Value::Time(_)) == matches!(b, Value::Time(_));
            if same_family {
                Some(compare_values(a, b, Collation::Binary))
            } else {
                cmp_f64(a, b)
            }
        }
        (Value::Bytes(s), t) if is_temporal(t) => match string_as_temporal(s, t) {
            Some(v) => sql_compare(&v, t, collation),
            None => Some(collation.compare(s, &t.to_text().unwrap_or_default())),
        },
        (t, Value::Bytes(_)) if is_temporal(t) => {
            sql_compare(b, a, collation).map(Ordering::reverse)
        }
        _ => cmp_f64(a, b),
    }
}

fn compare_result(op: CompareOp, a: &Value, b: &Value, collation: Collation) -> Value {
    if op == CompareOp::NullSafeEq {
        let eq = match (a.is_null(), b.is_null()) {
            (true, true) => true,
            (false, false) => sql_compare(a, b, collation) == Some(Ordering::Equal),
            _ => false,
        };
        return Value::Int(i64::from(eq));
    }
    let Some(o) = sql_compare(a, b, collation) else {
        return Value::Null;
    };
    let r = match op {
        CompareOp::Eq | CompareOp::NullSafeEq => o.is_eq(),
        CompareOp::Ne => o.is_ne(),
        CompareOp::Lt => o.is_lt(),
        CompareOp::Le => o.is_le(),
        CompareOp::Gt => o.is_gt(),
        CompareOp::Ge => o.is_ge(),
    };
    Value::Int(i64::from(r))
}

/// An arithmetic operand, as MariaDB types it.
enum Operand {
    Int { v: i128, unsigned: bool },
    Dec(Decimal),
    Dbl { v: f64, decimals: u8 },
}

impl Operand {
    fn of(v: &Value) -> Option<Operand> {
        Some(match v {
            Value::Null => return None,
            Value::Int(i) => Operand::Int {
                v: i128::from(*i),
                unsigned: false,
            },
            Value::UInt(_) | Value::Year(_) | Value::Bit(_) => Operand::Int {
                v: v.as_i128()?,
                unsigned: true,
            },
            Value::Decimal(d) => Operand::Dec(d.clone()),
            Value::Float { value, decimals } => Operand::Dbl {
                v: f64::from(*value),
                decimals: *decimals,
            },
            Value::Double { value, decimals } => Operand::Dbl {
                v: *value,
                decimals: *decimals,
            },
            Value::Bytes(s) => Operand::Dbl {
                v: string_prefix_f64(s),
                decimals: NOT_FIXED_DEC,
            },
            Value::Date(d) => Operand::Int {
                v: i128::from(d.to_number()),
                unsigned: false,
            },
            Value::DateTime(d) => temporal_number(d.to_number(), d.decimals),
            Value::Time(t) => temporal_number(t.to_number(), t.decimals),
        })
    }

    fn decimals(&self) -> u8 {
        match self {
            Operand::Int { .. } => 0,
            Operand::Dec(d) => d.scale().min(u32::from(NOT_FIXED_DEC)) as u8,
            Operand::Dbl { decimals, .. } => *decimals,
        }
    }

    fn f64(&self) -> f64 {
        match self {
            Operand::Int { v, .. } => *v as f64,
            Operand::Dec(d) => d.to_f64(),
            Operand::Dbl { v, .. } => *v,
        }
    }

    fn decimal(&self) -> Decimal {
        match self {
            Operand::Int { v, .. } => Decimal::from(*v),
            Operand::Dec(d) => d.clone(),
            Operand::Dbl { v, .. } => Decimal::from_f64_exact(*v),
        }
    }
}

fn temporal_number((whole, micros): (i64, u32), decimals: u8) -> Operand {
    if decimals == 0 {
        return Operand::Int {
            v: i128::from(whole),
            unsigned: false,
        };
    }
    let frac = i128::from(micros) * if whole < 0 { -1 } else { 1 };
    let d = Decimal::new(i128::from(whole) * 1_000_000 + frac, 6).rescale(u32::from(decimals));
    Operand::Dec(d)
}

fn out_of_range(type_name: &'static str) -> MergeError {
    MergeError::OutOfRange {
        type_name,
        expr: String::new(),
    }
}

fn double_result(v: f64, decimals: u8) -> Result<Value> {
    if !v.is_finite() {
        return Err(out_of_range("DOUBLE"));
    }
    Ok(Value::Double {
        value: v,
        decimals: decimals.min(NOT_FIXED_DEC),
    })
}

fn int_result(v: Option<i128>, unsigned: bool) -> Result<Value> {
    if unsigned {
        v.and_then(|v| u64::try_from(v).ok())
            .map(Value::UInt)
            .ok_or_else(|| out_of_range("BIGINT UNSIGNED"))
    } else {
        v.and_then(|v| i64::try_from(v).ok())
            .map(Value::Int)
            .ok_or_else(|| out_of_range("BIGINT"))
    }
}

/// A value with the scale its expression declares (for a `DECIMAL`; the value itself may
/// carry more digits, which arithmetic keeps and showing rounds away).
struct Typed {
    value: Value,
    declared: u32,
}

impl Typed {
    /// A value as it stands: a `DECIMAL` declares the scale it has.
    fn of(value: Value) -> Typed {
        let declared = match &value {
            Value::Decimal(d) => d.scale(),
            _ => 0,
        };
        Typed { value, declared }
    }

    /// The value as MariaDB shows and compares it.
    fn shown(self) -> Value {
        match self.value {
            Value::Decimal(d) if d.scale() != self.declared => {
                Value::Decimal(d.rescale(self.declared))
            }
            v => v,
        }
    }
}

/// MariaDB holds a `DECIMAL` in 9-digit words, at most 9 of them.
const DIGITS_PER_WORD: u32 = 9;
const MAX_WORDS: u32 = 9;
/// `div_precision_increment` (the planner sends other settings to the shards instead).
const DIV_PRECISION_INCREMENT: u32 = 4;

fn words(digits: u32) -> u32 {
    digits.div_ceil(DIGITS_PER_WORD)
}

/// The fractional digits MariaDB's long division computes `a / b` to, for operands with
/// `a` and `b` of them (`do_div_mod`): both rounded up to whole words, plus what the padding
/// leaves of the increment, rounded up to a word.
fn quotient_scale(a: u32, b: u32) -> u32 {
    let (wa, wb) = (words(a) * DIGITS_PER_WORD, words(b) * DIGITS_PER_WORD);
    let increment = DIV_PRECISION_INCREMENT.saturating_sub((wa - a) + (wb - b));
    words(wa + wb + increment) * DIGITS_PER_WORD
}

/// A result cut to MariaDB's buffer of 9 words: fractional digits go first.
fn fit(d: Decimal) -> Decimal {
    let integer = words(d.integer_digits());
    if integer + words(d.scale()) <= MAX_WORDS {
        return d;
    }
    let keep = MAX_WORDS.saturating_sub(integer) * DIGITS_PER_WORD;
    d.truncate(keep)
}

/// `a op b` over values with their declared scales.
fn typed_arith(op: ArithOp, a: &Typed, b: &Typed) -> Result<Typed> {
    let value = arith_value(op, &a.value, &b.value)?;
    let declared = match op {
        ArithOp::Add | ArithOp::Sub => a.declared.max(b.declared),
        ArithOp::Mul => (a.declared + b.declared).min(MAX_SCALE),
        ArithOp::Div => (a.declared + DIV_PRECISION_INCREMENT).min(MAX_SCALE),
    };
    Ok(Typed { value, declared })
}

/// `d` rounded (half away from zero) or truncated to `places` fractional digits; negative
/// places round to tens, hundreds, … (`ROUND(12345.678, -2)` is `12300`).
fn round_decimal(d: &Decimal, places: i64, truncate: bool) -> Decimal {
    let cut = |d: &Decimal, scale: u32| match truncate {
        true => d.truncate(scale),
        false => d.rescale(scale),
    };
    match u32::try_from(places) {
        Ok(scale) if scale >= d.scale() => d.rescale(scale.min(MAX_SCALE)),
        Ok(scale) => cut(d, scale),
        Err(_) => {
            let unit = Decimal::new(1, 0).mul(&Decimal::from(
                10i128.pow(u32::try_from(places.unsigned_abs()).unwrap_or(38).min(38)),
            ));
            let quotient = match truncate {
                true => d.div_truncate(&unit, 0),
                false => d.div_round(&unit, 0),
            };
            quotient.map_or_else(|| Decimal::zero(0), |q| q.mul(&unit))
        }
    }
}

/// `a op b` with MariaDB's result type, as shown; NULL if either is NULL or on division by
/// zero.
pub fn arith(op: ArithOp, a: &Value, b: &Value) -> Result<Value> {
    Ok(typed_arith(op, &Typed::of(a.clone()), &Typed::of(b.clone()))?.shown())
}

/// `a op b` with the digits MariaDB carries into further arithmetic.
fn arith_value(op: ArithOp, a: &Value, b: &Value) -> Result<Value> {
    let (Some(x), Some(y)) = (Operand::of(a), Operand::of(b)) else {
        return Ok(Value::Null);
    };
    if matches!(x, Operand::Dbl { .. }) || matches!(y, Operand::Dbl { .. }) {
        let dec = x.decimals().max(y.decimals());
        let (p, q) = (x.f64(), y.f64());
        return match op {
            ArithOp::Add => double_result(p + q, dec),
            ArithOp::Sub => double_result(p - q, dec),
            ArithOp::Mul => double_result(p * q, dec),
            ArithOp::Div if q == 0.0 => Ok(Value::Null),
            ArithOp::Div => double_result(p / q, dec.saturating_add(4)),
        };
    }
    if let (Operand::Int { v: p, unsigned: up }, Operand::Int { v: q, unsigned: uq }) = (&x, &y) {
        let unsigned = *up || *uq;
        match op {
            ArithOp::Add => return int_result(p.checked_add(*q), unsigned),
            ArithOp::Sub => return int_result(p.checked_sub(*q), unsigned),
            ArithOp::Mul => return int_result(p.checked_mul(*q), unsigned),
            ArithOp::Div => {}
        }
    }
    let (p, q) = (x.decimal(), y.decimal());
    Ok(match op {
        ArithOp::Add => Value::Decimal(fit(p.add(&q))),
        ArithOp::Sub => Value::Decimal(fit(p.sub(&q))),
        ArithOp::Mul => Value::Decimal(fit(p.mul(&q).truncate(NOT_FIXED_DEC.into()))),
        ArithOp::Div => p
            .div_truncate(&q, quotient_scale(p.scale(), q.scale()))
            .map_or(Value::Null, |d| Value::Decimal(fit(d))),
    })
}

/// `-v`.
pub fn negate(v: &Value) -> Result<Value> {
    Ok(match Operand::of(v) {
        None => Value::Null,
        Some(Operand::Int { v, unsigned }) => match i64::try_from(-v) {
            Ok(n) => Value::Int(n),
            Err(_) if unsigned => Value::Decimal(Decimal::from(-v)),
            Err(_) => return Err(out_of_range("BIGINT")),
        },
        Some(Operand::Dec(d)) => Value::Decimal(d.neg()),
        Some(Operand::Dbl { v, decimals }) => double_result(-v, decimals)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::encode_text_row;
    use mysql_common::constants::{ColumnFlags, ColumnType};

    fn dec(s: &str) -> Value {
        Value::Decimal(Decimal::parse(s.as_bytes()).unwrap())
    }

    fn text(v: &Value) -> String {
        v.to_text()
            .map_or("NULL".into(), |t| String::from_utf8(t).unwrap())
    }

    fn eval(e: &Expr) -> Result<Value> {
        let row = TextRow::parse(Bytes::new(), 0).unwrap();
        e.eval(&row, &[])
    }

    #[test]
    fn arithmetic_types_like_mariadb() {
        use ArithOp::*;
        let cases = [
            (Div, Value::Int(1), Value::Int(3), "0.3333"),
            (Div, Value::Int(2), Value::Int(3), "0.6667"),
            (Div, Value::Int(-2), Value::Int(3), "-0.6667"),
            (Div, dec("1.0"), Value::Int(3), "0.33333"),
            (Div, Value::Int(1), dec("3.00"), "0.3333"),
            (Div, Value::Int(10), Value::Int(4), "2.5000"),
            (Div, Value::Int(1), Value::Int(0), "NULL"),
            (Div, Value::double(1.0), Value::Int(3), "0.3333333333333333"),
            (
                Div,
                Value::Double {
                    value: 1.0,
                    decimals: 2,
                },
                Value::Int(3),
                "0.333333",
            ),
            (Mul, dec("1.10"), dec("1.1"), "1.210"),
            (
                Mul,
                Value::Double {
                    value: 0.5,
                    decimals: 2,
                },
                Value::Double {
                    value: 0.5,
                    decimals: 2,
                },
                "0.25",
            ),
            (Add, Value::Int(1), dec("1.5"), "2.5"),
            (Add, Value::double(0.1), Value::Int(1), "1.1"),
            (Sub, Value::Int(3), Value::Int(5), "-2"),
            (
                Sub,
                Value::UInt(u64::MAX),
                Value::Int(1),
                "18446744073709551614",
            ),
            (Add, Value::bytes("12abc"), Value::Int(1), "13"),
            (Add, Value::Null, Value::Int(1), "NULL"),
        ];
        for (op, a, b, want) in cases {
            let got = arith(op, &a, &b).unwrap();
            assert_eq!(text(&got), want, "{a:?} {op:?} {b:?}");
        }
    }

    /// What MariaDB 10.11 answers for nested quotients: the inner one carries whole 9-digit
    /// words, truncated, into the outer operation; only the shown result is rounded.
    #[test]
    fn quotients_carry_mariadbs_internal_digits_into_further_arithmetic() {
        use ArithOp::*;
        let n = |s: &str| {
            Expr::lit(if s.contains('.') {
                dec(s)
            } else {
                Value::Int(s.parse().unwrap())
            })
        };
        let op = |o, a, b| Expr::arith(o, a, b);
        let third = || op(Div, n("1"), n("3"));
        let cases = [
            (op(Mul, third(), n("3")), "1.0000"),
            (op(Mul, op(Div, n("2"), n("3")), n("3")), "2.0000"),
            (op(Mul, third(), n("3.0")), "1.00000"),
            (op(Div, op(Mul, n("100.00"), n("1")), n("3")), "33.333333"),
            (op(Div, op(Div, n("1"), n("7")), n("7")), "0.02040816"),
            (op(Div, third(), n("3")), "0.11111111"),
            (op(Sub, op(Mul, third(), n("3")), n("1")), "0.0000"),
            (
                op(Mul, op(Div, n("2"), n("3")), n("100000000")),
                "66666666.6000",
            ),
            (op(Mul, third(), third()), "0.11111111"),
            (op(Add, third(), n("0.00000000000001")), "0.33333333300001"),
            (
                op(Mul, op(Div, n("10"), n("3")), n("1.000000000000000")),
                "3.3333333330000000000",
            ),
            (op(Div, n("1.5"), n("7")), "0.21429"),
            (
                op(Mul, op(Div, n("1.5"), n("7")), n("1000000000000")),
                "214285714000.00000",
            ),
            (
                op(Mul, op(Div, n("1.00"), n("3.00")), n("1000000000000000")),
                "333333333333333.333000",
            ),
            (
                op(Mul, op(Div, n("1.000000"), n("3")), n("1000000000000000")),
                "333333333333333.3330000000",
            ),
            (
                op(Mul, op(Div, n("1.0"), n("3.0")), n("1000000000000000")),
                "333333333333333.33300",
            ),
            (
                op(Mul, op(Div, n("1.00000"), n("3")), n("1000000000000000")),
                "333333333000000.000000000",
            ),
            (op(Mul, Expr::Neg(Box::new(third())), n("3")), "-1.0000"),
            (
                Expr::cmp(CompareOp::Eq, op(Mul, third(), n("3")), n("1")),
                "1",
            ),
            (
                Expr::cmp(CompareOp::Lt, op(Mul, third(), n("3")), n("1")),
                "0",
            ),
            (Expr::cmp(CompareOp::Eq, third(), n("0.3333")), "1"),
            (Expr::cmp(CompareOp::Eq, third(), n("0.333333333")), "0"),
            (Expr::cmp(CompareOp::Gt, third(), n("0.3333")), "0"),
        ];
        for (e, want) in cases {
            assert_eq!(text(&eval(&e).unwrap()), want, "{e}");
        }
    }

    /// ROUND, TRUNCATE, COALESCE and ABS as MariaDB 10.11 answers them, over quotients with
    /// their internal digits.
    #[test]
    fn functions_of_quotients_answer_like_mariadb() {
        use ArithOp::*;
        let n = |s: &str| {
            Expr::lit(if s.contains('.') {
                dec(s)
            } else {
                Value::Int(s.parse().unwrap())
            })
        };
        let third = || Expr::arith(Div, n("1"), n("3"));
        let round = |arg: Expr, places: i64, truncate: bool| Expr::Round {
            arg: Box::new(arg),
            places,
            truncate,
        };
        let cases = [
            (round(third(), 6, false), "0.333333"),
            (round(third(), 2, false), "0.33"),
            (
                round(
                    Expr::arith(Mul, Expr::arith(Div, n("2"), n("3")), n("3")),
                    0,
                    false,
                ),
                "2",
            ),
            (round(n("1.25"), 1, false), "1.3"),
            (round(n("-1.25"), 1, false), "-1.3"),
            (round(third(), 0, false), "0"),
            (round(n("12345.678"), -2, false), "12300"),
            (round(Expr::arith(Div, n("2"), n("3")), 6, true), "0.666666"),
            (round(Expr::arith(Div, n("2"), n("3")), 2, true), "0.66"),
            (
                Expr::Coalesce(vec![Expr::lit(Value::Null), third()]),
                "0.3333",
            ),
            (
                Expr::Coalesce(vec![Expr::arith(Mul, third(), n("3")), n("5")]),
                "1.0000",
            ),
            (
                Expr::Coalesce(vec![Expr::lit(Value::Null), n("0"), n("1.50")]),
                "0.00",
            ),
            (
                Expr::Abs(Box::new(Expr::arith(
                    Mul,
                    Expr::arith(Div, n("-1"), n("3")),
                    n("3"),
                ))),
                "1.0000",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(text(&eval(&e).unwrap()), want, "{e}");
        }
        assert_eq!(
            round(third(), 6, false).result_type(&[]),
            ResultType::Decimal(6)
        );
        assert_eq!(round(n("7"), 1, false).result_type(&[]), ResultType::Other);
        assert_eq!(
            Expr::Coalesce(vec![n("1"), n("2.5")]).result_type(&[]),
            ResultType::Decimal(1)
        );
        assert_eq!(
            Expr::arith(Div, n("1"), n("3")).result_type(&[]),
            ResultType::Decimal(4)
        );
        assert_eq!(
            Expr::arith(Mul, n("1"), n("3")).result_type(&[]),
            ResultType::Int
        );
    }

    #[test]
    fn integer_overflow_is_error_1690_naming_the_expression() {
        let e = Expr::arith(
            ArithOp::Add,
            Expr::lit(Value::Int(i64::MAX)),
            Expr::lit(Value::Int(1)),
        );
        let err = eval(&e).unwrap_err();
        assert_eq!(
            err.to_string(),
            "BIGINT value is out of range in '9223372036854775807 + 1'"
        );
        assert_eq!(err.mysql_code(), (1690, "22003"));
        let e = Expr::arith(
            ArithOp::Sub,
            Expr::lit(Value::UInt(1)),
            Expr::lit(Value::Int(2)),
        );
        assert!(matches!(
            eval(&e),
            Err(MergeError::OutOfRange {
                type_name: "BIGINT UNSIGNED",
                ..
            })
        ));
        assert!(eval(&Expr::Neg(Box::new(Expr::lit(Value::Int(i64::MIN))))).is_err());
        assert_eq!(
            text(&eval(&Expr::Neg(Box::new(Expr::lit(Value::UInt(u64::MAX))))).unwrap()),
            "-18446744073709551615"
        );
        let big = Expr::arith(
            ArithOp::Mul,
            Expr::lit(Value::double(1e308)),
            Expr::lit(Value::Int(10)),
        );
        assert!(matches!(
            eval(&big),
            Err(MergeError::OutOfRange {
                type_name: "DOUBLE",
                ..
            })
        ));
    }

    #[test]
    fn three_valued_logic() {
        let t = || Expr::lit(Value::Int(1));
        let f = || Expr::lit(Value::Int(0));
        let n = || Expr::lit(Value::Null);
        let cases = [
            (Expr::and(t(), n()), "NULL"),
            (Expr::and(f(), n()), "0"),
            (Expr::and(n(), f()), "0"),
            (Expr::or(t(), n()), "1"),
            (Expr::or(n(), f()), "NULL"),
            (!n(), "NULL"),
            (!Expr::lit(dec("0.0")), "1"),
            (Expr::IsNull(Box::new(n())), "1"),
            (Expr::IsNotNull(Box::new(n())), "0"),
            (Expr::cmp(CompareOp::Eq, n(), n()), "NULL"),
            (Expr::cmp(CompareOp::NullSafeEq, n(), n()), "1"),
            (Expr::cmp(CompareOp::NullSafeEq, t(), n()), "0"),
            (
                Expr::cmp(
                    CompareOp::Eq,
                    Expr::lit(Value::Int(1)),
                    Expr::lit(dec("1.0")),
                ),
                "1",
            ),
            (
                Expr::cmp(CompareOp::Eq, Expr::lit(Value::bytes("1abc")), t()),
                "1",
            ),
            (
                Expr::cmp(CompareOp::Eq, Expr::lit(Value::bytes("abc")), f()),
                "1",
            ),
            (
                Expr::cmp(
                    CompareOp::Eq,
                    Expr::lit(Value::bytes("A")),
                    Expr::lit(Value::bytes("a ")),
                ),
                "1",
            ),
            (
                Expr::cmp(
                    CompareOp::Lt,
                    Expr::lit(Value::double(0.1)),
                    Expr::lit(dec("0.1")),
                ),
                "0",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(text(&eval(&e).unwrap()), want, "{e}");
        }
    }

    #[test]
    fn evaluates_over_row_columns_with_their_collation() {
        let cols = [
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING)
                .with_charset(45)
                .with_flags(ColumnFlags::BINARY_FLAG),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(2),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_DATE),
        ];
        let payload = Bytes::from(encode_text_row(&[
            Value::bytes("a"),
            dec("10.50"),
            Value::bytes("2024-01-02"),
        ]));
        let row = TextRow::parse(payload, 3).unwrap();
        let bin_eq = Expr::cmp(CompareOp::Eq, Expr::col(0), Expr::lit(Value::bytes("A")));
        assert!(
            !bin_eq.is_true(&row, &cols).unwrap(),
            "utf8mb4_bin column: 'a' <> 'A'"
        );
        let pad = Expr::cmp(CompareOp::Eq, Expr::col(0), Expr::lit(Value::bytes("a  ")));
        assert!(pad.is_true(&row, &cols).unwrap());
        let having = Expr::cmp(
            CompareOp::Gt,
            Expr::arith(ArithOp::Mul, Expr::col(1), Expr::lit(Value::Int(2))),
            Expr::lit(Value::Int(20)),
        );
        assert!(having.is_true(&row, &cols).unwrap());
        let date = Expr::cmp(
            CompareOp::Ge,
            Expr::col(2),
            Expr::lit(Value::bytes("2024-01-01 12:00:00")),
        );
        assert!(date.is_true(&row, &cols).unwrap());
        assert!(Expr::col(3).check(&cols).is_err());
        assert!(Expr::col(3).eval(&row, &cols).is_err());
    }
}
