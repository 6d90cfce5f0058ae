//! ORDER BY terms: where each points by MariaDB's rules (a position, an alias, a selected column, an expression).

use super::*;

impl<'a> ScatterBuilder<'a> {
    pub(super) fn order_terms(&self) -> &'a [OrderByExpr] {
        match self.query.order_by.as_ref().map(|o| &o.kind) {
            Some(OrderByKind::Expressions(terms)) => terms,
            _ => &[],
        }
    }

    /// Select-list items a bare name refers to in ORDER BY: by alias, or unaliased columns.
    pub(super) fn items_named(&self, name: &str) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| {
                let item = &self.items[i];
                match (item.alias, item.expr) {
                    (Some(alias), _) => alias.value.eq_ignore_ascii_case(name),
                    (None, Some(e)) => column_ref(e).is_some_and(|c| c.eq_ignore_ascii_case(name)),
                    (None, None) => false,
                }
            })
            .collect()
    }

    /// One item out of several candidates, when they are all the same expression.
    pub(super) fn one_of(
        &self,
        candidates: &[usize],
        name: &str,
        clause: &str,
    ) -> Result<Option<usize>, RouteError> {
        match candidates {
            [] => Ok(None),
            [first, rest @ ..] => {
                let same = rest
                    .iter()
                    .all(|&j| self.items[j].expr == self.items[*first].expr);
                if same {
                    Ok(Some(*first))
                } else {
                    Err(self.refuse(format!("`{name}` in {clause} is ambiguous")))
                }
            }
        }
    }

    /// The unaliased or aliased item that is the same column as the column reference `e`
    /// (in a join: written with the same qualifier).
    pub(super) fn item_same_column(&self, e: &Expr) -> Option<usize> {
        let column = column_ref(e)?;
        self.items.iter().position(|item| {
            item.expr.is_some_and(|x| {
                if self.only_table {
                    column_ref(x).is_some_and(|c| c.eq_ignore_ascii_case(column))
                } else {
                    same_qualified_column(x, e)
                }
            })
        })
    }

    /// An alias (of an item that is not the same-named column) that `e` mentions: the shards
    /// could not resolve it inside a hidden column, or would take a table column instead.
    pub(super) fn alias_in(&self, e: &Expr) -> Option<String> {
        let mut found = None;
        let _ = visit_expressions(e, |x| {
            if let Expr::Identifier(id) = x {
                if self.is_foreign_alias(&id.value) {
                    found = Some(id.value.clone());
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        found
    }

    pub(super) fn is_foreign_alias(&self, name: &str) -> bool {
        self.items.iter().any(|item| {
            item.alias
                .is_some_and(|a| a.value.eq_ignore_ascii_case(name))
                && item
                    .expr
                    .and_then(column_ref)
                    .is_none_or(|c| !c.eq_ignore_ascii_case(name))
        })
    }

    /// Where ORDER BY term `e` points, by MariaDB's rules: a number is a position, a bare
    /// name an alias or selected column first, an expression equal to a selected one that item.
    pub(super) fn order_target(&self, e: &'a Expr) -> Result<Target<'a>, RouteError> {
        let inner = strip(e);
        match inner {
            Expr::Value(v) => Ok(match &v.value {
                Value::Number(n, _) => match n.parse::<usize>() {
                    Ok(p) if p >= 1 => Target::Position(p - 1),
                    Ok(_) => {
                        return Err(self.refuse(format!("ORDER BY position {n} does not exist")))
                    }
                    Err(_) => Target::Skip,
                },
                _ => Target::Skip,
            }),
            Expr::Identifier(id) if !id.value.starts_with('@') => {
                let candidates = self.items_named(&id.value);
                Ok(match self.one_of(&candidates, &id.value, "ORDER BY")? {
                    Some(i) => Target::Item(i),
                    None => Target::Expr(e),
                })
            }
            Expr::CompoundIdentifier(_) if column_ref(inner).is_some() => {
                Ok(match self.item_same_column(inner) {
                    Some(i) => Target::Item(i),
                    None => Target::Expr(e),
                })
            }
            _ => {
                let same = self
                    .items
                    .iter()
                    .position(|item| item.expr.is_some_and(|x| strip(x) == inner));
                if let Some(i) = same {
                    return Ok(Target::Item(i));
                }
                if let Some(alias) = self.alias_in(e) {
                    return Err(self.refuse(format!(
                        "ORDER BY `{e}` uses the alias `{alias}` inside an expression"
                    )));
                }
                Ok(Target::Expr(e))
            }
        }
    }

    pub(super) fn direction(term: &OrderByExpr) -> bool {
        matches!(term.options.sort, Some(OrderBySort::Desc))
    }
}
