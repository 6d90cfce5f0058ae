//! Expressions over the aggregate outputs, evaluated by the merge: HAVING, and select items
//! (or ORDER BY terms) that compute with aggregates (`SUM(a) / COUNT(*)`).

use super::*;

/// A HAVING literal as a merge value (MariaDB's types: integers, exact decimals, doubles
/// with an exponent, strings); `None` for literals the shards had better compute.
pub(crate) fn literal_value(v: &Value) -> Option<MergeValue> {
    Some(match v {
        Value::Number(n, _) => {
            if let Ok(i) = n.parse::<i64>() {
                MergeValue::Int(i)
            } else if let Ok(u) = n.parse::<u64>() {
                MergeValue::UInt(u)
            } else if n.contains(['e', 'E']) {
                MergeValue::double(n.parse().ok()?)
            } else {
                MergeValue::Decimal(Decimal::parse(n.as_bytes())?)
            }
        }
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
            MergeValue::bytes(s.clone().into_bytes())
        }
        Value::Null => MergeValue::Null,
        Value::Boolean(b) => MergeValue::Int(i64::from(*b)),
        _ => return None,
    })
}

/// `l op r` as the merge evaluates it: logic, comparisons and arithmetic; `None` for another
/// operator.
pub(crate) fn merged_binary(op: &BinaryOperator, l: Merged, r: Merged) -> Option<Merged> {
    use BinaryOperator as B;
    Some(match op {
        B::And => Merged::and(l, r),
        B::Or => Merged::or(l, r),
        B::Eq => Merged::cmp(CompareOp::Eq, l, r),
        B::Spaceship => Merged::cmp(CompareOp::NullSafeEq, l, r),
        B::NotEq => Merged::cmp(CompareOp::Ne, l, r),
        B::Lt => Merged::cmp(CompareOp::Lt, l, r),
        B::LtEq => Merged::cmp(CompareOp::Le, l, r),
        B::Gt => Merged::cmp(CompareOp::Gt, l, r),
        B::GtEq => Merged::cmp(CompareOp::Ge, l, r),
        B::Plus => Merged::arith(ArithOp::Add, l, r),
        B::Minus => Merged::arith(ArithOp::Sub, l, r),
        B::Multiply => Merged::arith(ArithOp::Mul, l, r),
        B::Divide => Merged::arith(ArithOp::Div, l, r),
        _ => return None,
    })
}

/// `x [NOT] BETWEEN lo AND hi`.
pub(crate) fn merged_between(x: Merged, lo: Merged, hi: Merged, negated: bool) -> Merged {
    let between = Merged::and(
        Merged::cmp(CompareOp::Ge, x.clone(), lo),
        Merged::cmp(CompareOp::Le, x, hi),
    );
    if negated {
        !between
    } else {
        between
    }
}

/// A call's arguments when they are plain expressions (no named argument, `DISTINCT` or
/// clause).
fn plain_args(f: &Function) -> Option<Vec<&Expr>> {
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() || f.over.is_some() {
        return None;
    }
    list.args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect()
}

/// An integer constant (`2`, `-2`).
fn integer_literal(e: &Expr) -> Option<i64> {
    match strip(e) {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => integer_literal(expr)?.checked_neg(),
        _ => None,
    }
}

/// Where a merged expression stands, which decides what a bare name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// HAVING: a name may be a select-list alias.
    Having,
    /// The select list or ORDER BY: names are the tables' columns.
    Computed,
}

impl<'a> ScatterBuilder<'a> {
    /// HAVING over the aggregate's outputs. `v` is the verbatim-parsed condition (what the
    /// shards compute), `n` the same parsed normally (literal values).
    pub(super) fn having(&mut self, v: &Expr, n: &Expr) -> Result<Merged, RouteError> {
        self.merged(v, n, Scope::Having)
    }

    /// `v` over the aggregate's outputs, as the merge evaluates it.
    pub(super) fn merged(
        &mut self,
        v: &Expr,
        n: &Expr,
        scope: Scope,
    ) -> Result<Merged, RouteError> {
        let unsupported = |this: &Self| {
            this.refuse(match scope {
                Scope::Having => format!("HAVING `{v}` cannot be evaluated by the merge"),
                Scope::Computed => format!(
                    "`{v}` computes with an aggregate in a way the merge cannot evaluate (it evaluates + - * / and comparisons over aggregates)"
                ),
            })
        };
        // Literals first: they need no shard column.
        if let (Expr::Value(_), Expr::Value(nv)) = (strip(v), strip(n)) {
            if matches!(nv.value, Value::Placeholder(_)) {
                return Err(self.refuse("a parameter (`?`) in HAVING is not supported"));
            }
            if let Some(value) = literal_value(&nv.value) {
                return Ok(Merged::Literal(value));
            }
        }
        if let (Scope::Having, Expr::Identifier(id)) = (scope, strip(v)) {
            if !id.value.starts_with('@') {
                return self.having_name(v, id).map(Merged::Column);
            }
        }
        let pushable = match scope {
            Scope::Having => self.pushable(v)?,
            Scope::Computed => !scan(v, self.table)?,
        };
        if pushable {
            return Ok(Merged::Column(self.group_level_output(v)));
        }
        if let Some((func, f)) = aggregate_call(v, self.table)? {
            if func == AggFn::Avg && !self.raw {
                // The quotient with the digits MariaDB carries into arithmetic over it (the
                // AVG output itself is rounded to its scale).
                let (sum, count) = (renamed(&f, "SUM"), renamed(&f, "COUNT"));
                let (sum_name, count_name) = (sum.to_string(), count.to_string());
                let sum = Aggregate::Sum(self.cols.expr(&sum));
                let count = Aggregate::Count(self.cols.expr(&count));
                let sum = self.output(sum, sum_name);
                let count = self.output(count, count_name);
                return Ok(Merged::arith(
                    ArithOp::Div,
                    Merged::Column(sum),
                    Merged::Column(count),
                ));
            }
            return Ok(Merged::Column(self.expr_output(v)?));
        }
        match (v, n) {
            (Expr::Nested(v), Expr::Nested(n)) => self.merged(v, n, scope),
            (
                Expr::BinaryOp { left, op, right },
                Expr::BinaryOp {
                    left: nl,
                    right: nr,
                    ..
                },
            ) => {
                let (l, r) = (
                    self.merged(left, nl, scope)?,
                    self.merged(right, nr, scope)?,
                );
                merged_binary(op, l, r).ok_or_else(|| unsupported(self))
            }
            (Expr::UnaryOp { op, expr }, Expr::UnaryOp { expr: ne, .. }) => {
                let inner = self.merged(expr, ne, scope)?;
                Ok(match op {
                    UnaryOperator::Not => !inner,
                    UnaryOperator::Minus => Merged::Neg(Box::new(inner)),
                    UnaryOperator::Plus => inner,
                    _ => return Err(unsupported(self)),
                })
            }
            (Expr::IsNull(e), Expr::IsNull(ne)) => {
                Ok(Merged::IsNull(Box::new(self.merged(e, ne, scope)?)))
            }
            (Expr::IsNotNull(e), Expr::IsNotNull(ne)) => {
                Ok(Merged::IsNotNull(Box::new(self.merged(e, ne, scope)?)))
            }
            (
                Expr::Between {
                    expr,
                    negated,
                    low,
                    high,
                },
                Expr::Between {
                    expr: ne,
                    low: nlow,
                    high: nhigh,
                    ..
                },
            ) => {
                let x = self.merged(expr, ne, scope)?;
                let lo = self.merged(low, nlow, scope)?;
                let hi = self.merged(high, nhigh, scope)?;
                Ok(merged_between(x, lo, hi, *negated))
            }
            (
                Expr::InList {
                    expr,
                    list,
                    negated,
                },
                Expr::InList {
                    expr: ne,
                    list: nlist,
                    ..
                },
            ) if !list.is_empty() && list.len() == nlist.len() => {
                let x = self.merged(expr, ne, scope)?;
                let mut any: Option<Merged> = None;
                for (value, nvalue) in list.iter().zip(nlist) {
                    let eq =
                        Merged::cmp(CompareOp::Eq, x.clone(), self.merged(value, nvalue, scope)?);
                    any = Some(match any {
                        None => eq,
                        Some(prev) => Merged::or(prev, eq),
                    });
                }
                let any = any.expect("list is not empty");
                Ok(if *negated { !any } else { any })
            }
            (Expr::Function(f), Expr::Function(nf)) => {
                let (Some(name), Some(args), Some(nargs)) =
                    (function_name(f), plain_args(f), plain_args(nf))
                else {
                    return Err(unsupported(self));
                };
                if args.len() != nargs.len() {
                    return Err(unsupported(self));
                }
                let merged = |this: &mut Self, k: usize| this.merged(args[k], nargs[k], scope);
                Ok(match (name.as_str(), args.len()) {
                    ("round", 1) => Merged::Round {
                        arg: Box::new(merged(self, 0)?),
                        places: 0,
                        truncate: false,
                    },
                    ("round" | "truncate", 2) => {
                        let Some(places) = integer_literal(nargs[1]) else {
                            return Err(unsupported(self));
                        };
                        Merged::Round {
                            arg: Box::new(merged(self, 0)?),
                            places,
                            truncate: name == "truncate",
                        }
                    }
                    ("coalesce", 1..) | ("ifnull", 2) => Merged::Coalesce(
                        (0..args.len())
                            .map(|k| merged(self, k))
                            .collect::<Result<_, _>>()?,
                    ),
                    ("abs", 1) => Merged::Abs(Box::new(merged(self, 0)?)),
                    _ => return Err(unsupported(self)),
                })
            }
            _ => Err(unsupported(self)),
        }
    }

    /// The select items whose alias is `name`.
    pub(super) fn aliased(&self, name: &str) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| {
                self.items[i]
                    .alias
                    .is_some_and(|a| a.value.eq_ignore_ascii_case(name))
            })
            .collect()
    }

    /// A bare name in HAVING: an alias or selected column first, else a table column.
    pub(super) fn having_name(&mut self, e: &Expr, id: &Ident) -> Result<usize, RouteError> {
        let aliased: Vec<usize> = self.aliased(&id.value);
        if let Some(i) = self.one_of(&aliased, &id.value, "HAVING")? {
            let grouped_by_name = self.group_exprs().iter().any(|g| {
                matches!(strip(g), Expr::Identifier(g) if g.value.eq_ignore_ascii_case(&id.value))
            });
            let same_column = self.items[i]
                .expr
                .and_then(column_ref)
                .is_some_and(|c| c.eq_ignore_ascii_case(&id.value));
            if grouped_by_name && !same_column {
                return Err(self.refuse(format!(
                    "HAVING `{}` may name the alias or the GROUP BY column of that name",
                    id.value
                )));
            }
            return Ok(self.item_start(i));
        }
        let unaliased = (0..self.items.len()).find(|&i| {
            self.items[i].alias.is_none()
                && self.items[i]
                    .expr
                    .and_then(column_ref)
                    .is_some_and(|c| c.eq_ignore_ascii_case(&id.value))
        });
        match unaliased {
            Some(i) => Ok(self.item_start(i)),
            None => Ok(self.group_level_output(e)),
        }
    }
}
