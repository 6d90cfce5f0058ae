//! The aggregate functions a scatter merges, and how each becomes a merge [`Aggregate`].
//!
//! COUNT, SUM, MIN, MAX, AVG, `BIT_AND`/`BIT_OR`/`BIT_XOR` and the `STDDEV`/`VARIANCE` family
//! (from `COUNT(x)`, `SUM(x)`, `VAR_POP(x)` and `MIN(x)` for the type) combine from per-shard
//! partials (the shards group). `COUNT`/`SUM`/`AVG(DISTINCT …)` and `GROUP_CONCAT` cannot: one
//! shard cannot tell which values another also has, and an ordered concatenation needs every
//! value. A statement with one of those is planned *raw* (its `STDDEV`/`VARIANCE` too, from
//! exact moments of the values): the shards send the group columns and the aggregates' arguments
//! of every row (no GROUP BY), sorted by the group columns, and the merge computes every
//! aggregate of the statement from those values, one group at a time (as Vitess does for its
//! distinct aggregates). When every aggregate ignores duplicates (DISTINCT ones, MIN, MAX,
//! `BIT_AND`, `BIT_OR`), the shards de-duplicate their rows first (`SELECT DISTINCT`).

use shardgate_merge::{Aggregate, BitOp, GroupConcatSpec, SortKey, VarianceKind};
use sqlparser::ast::{
    BinaryOperator, CastKind, DataType, DuplicateTreatment, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentClause, FunctionArguments, Ident, ObjectName, OrderByExpr,
    OrderBySort, Value,
};

/// An aggregate function the merge computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFn {
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Bit(BitOp),
    Variance(VarianceKind),
    CountDistinct,
    SumDistinct,
    AvgDistinct,
    GroupConcat,
}

impl AggFn {
    /// The function `name` (lower case) called with `distinct` or not; `None` for a name that
    /// is not an aggregate the merge knows.
    pub(crate) fn by_name(name: &str, distinct: bool) -> Option<AggFn> {
        Some(match (name, distinct) {
            ("count", false) => AggFn::Count,
            ("count", true) => AggFn::CountDistinct,
            ("sum", false) => AggFn::Sum,
            ("sum", true) => AggFn::SumDistinct,
            ("avg", false) => AggFn::Avg,
            ("avg", true) => AggFn::AvgDistinct,
            // MIN/MAX of distinct values are MIN/MAX.
            ("min", _) => AggFn::Min,
            ("max", _) => AggFn::Max,
            ("group_concat", _) => AggFn::GroupConcat,
            ("bit_and", false) => AggFn::Bit(BitOp::And),
            ("bit_or", false) => AggFn::Bit(BitOp::Or),
            ("bit_xor", false) => AggFn::Bit(BitOp::Xor),
            ("std" | "stddev" | "stddev_pop", false) => {
                AggFn::Variance(VarianceKind::PopulationStddev)
            }
            ("stddev_samp", false) => AggFn::Variance(VarianceKind::SampleStddev),
            ("variance" | "var_pop", false) => AggFn::Variance(VarianceKind::Population),
            ("var_samp", false) => AggFn::Variance(VarianceKind::Sample),
            _ => return None,
        })
    }

    /// Whether the merge needs every row's values (no partial combines exactly).
    pub(crate) fn needs_raw_values(self) -> bool {
        matches!(
            self,
            AggFn::CountDistinct | AggFn::SumDistinct | AggFn::AvgDistinct | AggFn::GroupConcat
        )
    }

    /// Whether this aggregate, over several arguments (`COUNT(DISTINCT a, b)`, `GROUP_CONCAT`).
    pub(crate) fn takes_several(self) -> bool {
        matches!(self, AggFn::CountDistinct | AggFn::GroupConcat)
    }
}

/// `f` called `name` instead (`STD(x)` → `COUNT(x)`), for a shard column.
fn renamed(f: &Function, name: &str) -> Expr {
    let mut g = f.clone();
    g.name = ObjectName::from(vec![Ident::new(name)]);
    Expr::Function(g)
}

/// The argument expressions of `f` (`*` is none).
fn arguments(f: &Function) -> Vec<&Expr> {
    let FunctionArguments::List(list) = &f.args else {
        return vec![];
    };
    list.args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect()
}

/// `GROUP_CONCAT`'s ORDER BY and SEPARATOR; `Err` names a clause the merge cannot follow.
fn group_concat_clauses(f: &Function) -> Result<(&[OrderByExpr], Vec<u8>), String> {
    let FunctionArguments::List(list) = &f.args else {
        return Err("GROUP_CONCAT without arguments".into());
    };
    let mut order: &[OrderByExpr] = &[];
    let mut separator = b",".to_vec();
    for clause in &list.clauses {
        match clause {
            FunctionArgumentClause::OrderBy(terms) => order = terms,
            FunctionArgumentClause::Separator(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                    separator = s.clone().into_bytes()
                }
                other => return Err(format!("GROUP_CONCAT(… SEPARATOR {other})")),
            },
            other => return Err(format!("GROUP_CONCAT(… {other})")),
        }
    }
    for term in order {
        if term.options.nulls_first.is_some() || term.with_fill.is_some() {
            return Err(format!("GROUP_CONCAT(… ORDER BY {term})"));
        }
        if matches!(&term.expr, Expr::Value(v) if matches!(v.value, Value::Number(..))) {
            return Err("GROUP_CONCAT(… ORDER BY a position)".into());
        }
    }
    Ok((order, separator))
}

/// Checks the clauses inside an aggregate call's parentheses: only GROUP_CONCAT has any.
pub(crate) fn check_clauses(func: AggFn, f: &Function) -> Result<(), String> {
    let FunctionArguments::List(list) = &f.args else {
        return Ok(());
    };
    if func == AggFn::GroupConcat {
        return group_concat_clauses(f).map(|_| ());
    }
    if list.clauses.is_empty() {
        Ok(())
    } else {
        Err("a clause inside the call".into())
    }
}

/// Whether `f` was called with DISTINCT.
pub(crate) fn is_distinct(f: &Function) -> bool {
    matches!(&f.args, FunctionArguments::List(l)
        if matches!(l.duplicate_treatment, Some(DuplicateTreatment::Distinct)))
}

/// The merge output of `func` called as `f`. `column` gives the shard column computing an
/// expression; `raw`: the shards send row values (see the module comment), not partials.
pub(crate) fn output(
    func: AggFn,
    f: &Function,
    raw: bool,
    column: &mut dyn FnMut(&Expr) -> usize,
) -> Result<Aggregate, String> {
    let args = arguments(f);
    let first = |column: &mut dyn FnMut(&Expr) -> usize| -> Result<usize, String> {
        match args.as_slice() {
            [e] => Ok(column(e)),
            _ => Err(format!("{f} takes one argument")),
        }
    };
    let call = Expr::Function(f.clone());
    Ok(match (func, raw) {
        (AggFn::Count, true) if args.is_empty() => Aggregate::CountRows,
        (AggFn::Count, true) => Aggregate::CountValues(first(column)?),
        (AggFn::Sum, true) => Aggregate::SumValues(first(column)?),
        (AggFn::Avg, true) => Aggregate::AvgValues(first(column)?),
        (AggFn::Min, true) => Aggregate::Min(first(column)?),
        (AggFn::Max, true) => Aggregate::Max(first(column)?),
        (AggFn::Bit(op), true) => {
            // The integer MariaDB folds (`val_int`): a cast on the shard.
            let [e] = args.as_slice() else {
                return Err(format!("{f} takes one argument"));
            };
            let cast = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new((*e).clone()),
                data_type: DataType::Signed,
                format: None,
            };
            Aggregate::Bit {
                op,
                column: column(&cast),
            }
        }
        (AggFn::Bit(op), false) => Aggregate::Bit {
            op,
            column: column(&call),
        },
        (AggFn::Variance(kind), true) => Aggregate::Variance {
            kind,
            column: first(column)?,
        },
        (AggFn::Variance(kind), false) => {
            if args.len() != 1 {
                return Err(format!("{f} takes one argument"));
            }
            // VAR_POP as a full double (`+ 0e0` drops the fixed decimals it prints with).
            let full = Expr::BinaryOp {
                left: Box::new(renamed(f, "VAR_POP")),
                op: BinaryOperator::Plus,
                right: Box::new(Expr::value(Value::Number("0e0".into(), false))),
            };
            Aggregate::VarianceParts {
                kind,
                count: column(&renamed(f, "COUNT")),
                sum: column(&renamed(f, "SUM")),
                pop_variance: column(&full),
                typed: column(&renamed(f, "MIN")),
            }
        }
        (AggFn::CountDistinct, _) => {
            if args.is_empty() {
                return Err("COUNT(DISTINCT *)".into());
            }
            Aggregate::CountDistinct(args.iter().map(|e| column(e)).collect())
        }
        (AggFn::SumDistinct, _) => Aggregate::SumDistinct(first(column)?),
        (AggFn::AvgDistinct, _) => Aggregate::AvgDistinct(first(column)?),
        (AggFn::GroupConcat, _) => {
            let (order, separator) = group_concat_clauses(f)?;
            if args.is_empty() {
                return Err("GROUP_CONCAT without arguments".into());
            }
            let args: Vec<usize> = args.iter().map(|e| column(e)).collect();
            let order = order
                .iter()
                .map(|t| SortKey {
                    column: column(&t.expr),
                    descending: t.options.sort == Some(OrderBySort::Desc),
                })
                .collect();
            Aggregate::GroupConcat(Box::new(GroupConcatSpec {
                args,
                distinct: is_distinct(f),
                order,
                separator,
            }))
        }
        (AggFn::Count | AggFn::Sum | AggFn::Avg | AggFn::Min | AggFn::Max, false) => {
            unreachable!("partial COUNT/SUM/MIN/MAX/AVG are planned by the scatter builder")
        }
    })
}

/// Whether the shards may send each distinct row once: every aggregate ignores duplicates.
pub(crate) fn ignores_duplicates(outputs: &[Aggregate]) -> bool {
    outputs.iter().all(|o| match o {
        Aggregate::First(_)
        | Aggregate::Min(_)
        | Aggregate::Max(_)
        | Aggregate::CountDistinct(_)
        | Aggregate::SumDistinct(_)
        | Aggregate::AvgDistinct(_) => true,
        Aggregate::Bit { op, .. } => *op != BitOp::Xor,
        Aggregate::GroupConcat(spec) => spec.distinct,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn call(sql: &str) -> Function {
        let e = Parser::new(&MySqlDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap();
        match e {
            Expr::Function(f) => f,
            other => panic!("{other:?}"),
        }
    }

    fn planned(sql: &str, raw: bool) -> (Aggregate, Vec<String>) {
        let f = call(sql);
        let name = f.name.to_string().to_ascii_lowercase();
        let func = AggFn::by_name(&name, is_distinct(&f)).unwrap();
        let mut cols: Vec<String> = Vec::new();
        let agg = output(func, &f, raw, &mut |e| {
            let t = e.to_string();
            cols.iter().position(|c| *c == t).unwrap_or_else(|| {
                cols.push(t);
                cols.len() - 1
            })
        })
        .unwrap();
        (agg, cols)
    }

    #[test]
    fn plans_each_function() {
        assert_eq!(
            planned("COUNT(DISTINCT a, b)", true),
            (
                Aggregate::CountDistinct(vec![0, 1]),
                vec!["a".into(), "b".into()]
            )
        );
        assert_eq!(planned("COUNT(*)", true).0, Aggregate::CountRows);
        assert_eq!(
            planned("BIT_OR(x)", false),
            (
                Aggregate::Bit {
                    op: BitOp::Or,
                    column: 0
                },
                vec!["BIT_OR(x)".into()]
            )
        );
        assert_eq!(planned("BIT_XOR(x)", true).1, vec!["CAST(x AS SIGNED)"]);
        let (agg, cols) = planned(
            "GROUP_CONCAT(DISTINCT a ORDER BY b DESC SEPARATOR ';')",
            true,
        );
        assert_eq!(
            agg,
            Aggregate::GroupConcat(Box::new(GroupConcatSpec {
                args: vec![0],
                distinct: true,
                order: vec![SortKey::desc(1)],
                separator: b";".to_vec(),
            }))
        );
        assert_eq!(cols, vec!["a", "b"]);
        assert_eq!(
            planned("STDDEV_SAMP(x)", true).0,
            Aggregate::Variance {
                kind: VarianceKind::SampleStddev,
                column: 0
            }
        );
        let (agg, cols) = planned("STD(x)", false);
        assert_eq!(
            agg,
            Aggregate::VarianceParts {
                kind: VarianceKind::PopulationStddev,
                count: 0,
                sum: 1,
                pop_variance: 2,
                typed: 3
            }
        );
        assert_eq!(
            cols,
            vec!["COUNT(x)", "SUM(x)", "VAR_POP(x) + 0e0", "MIN(x)"]
        );
        assert!(!AggFn::by_name("variance", false)
            .unwrap()
            .needs_raw_values());
        assert!(AggFn::by_name("std", true).is_none());
        assert!(!AggFn::by_name("bit_or", false).unwrap().needs_raw_values());
        assert!(AggFn::by_name("count", true).unwrap().needs_raw_values());
    }

    #[test]
    fn refuses_clauses_it_cannot_follow() {
        let f = call("GROUP_CONCAT(a ORDER BY 1)");
        assert!(check_clauses(AggFn::GroupConcat, &f).is_err());
        let f = call("GROUP_CONCAT(a ORDER BY b SEPARATOR '-')");
        assert!(check_clauses(AggFn::GroupConcat, &f).is_ok());
    }

    #[test]
    fn duplicates_matter_only_to_some() {
        assert!(ignores_duplicates(&[
            Aggregate::First(0),
            Aggregate::CountDistinct(vec![1]),
            Aggregate::Bit {
                op: BitOp::Or,
                column: 2
            }
        ]));
        assert!(!ignores_duplicates(&[Aggregate::CountRows]));
        assert!(!ignores_duplicates(&[Aggregate::Bit {
            op: BitOp::Xor,
            column: 0
        }]));
    }
}
