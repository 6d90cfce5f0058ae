//! The builder of a scattered SELECT: the shard statement and the merge, from the verbatim and the normally parsed trees; the statement as the shards run it.

use super::*;

/// Makes the shard SELECT `sql_tree` a SELECT DISTINCT.
pub(super) fn set_distinct(sql_tree: &mut Statement) {
    if let Statement::Query(q) = sql_tree {
        if let SetExpr::Select(s) = q.body.as_mut() {
            s.distinct = Some(Distinct::Distinct);
        }
    }
}

/// How many `?` parameters a statement has.
pub(super) fn placeholders(stmt: &Statement) -> usize {
    let mut count = 0;
    let _ = visit_expressions(stmt, |e| {
        if let Expr::Value(v) = e {
            count += usize::from(matches!(v.value, Value::Placeholder(_)));
        }
        ControlFlow::<()>::Continue(())
    });
    count
}

/// Renders the shard statement. Its `?` parameters must be the client's, in the client's
/// order (the executor binds the client's values to them); then they are written back as `?`.
pub(super) fn finish_placeholders(
    mut stmt: Statement,
    params: usize,
    table: &TableRef<'_>,
) -> Result<String, RouteError> {
    let rendered = stmt.to_string();
    if params == 0 {
        return Ok(rendered);
    }
    let seen = placeholders(&stmt);
    // Check the order in the text (the tree's visiting order need not be the text's).
    let in_text: Vec<String> = Tokenizer::new(&MySqlDialect {}, &rendered)
        .tokenize()
        .map(|tokens| {
            tokens
                .into_iter()
                .filter_map(|t| match t {
                    Token::Placeholder(p) => Some(p),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<String> = (0..in_text.len()).map(|i| format!("?{i}")).collect();
    if in_text != expected || seen != params || in_text.len() != params {
        return Err(refuse(
            "SELECT",
            table,
            "a parameter (`?`) outside the WHERE clause and the plain select-list items is not supported (the shards' statement would drop, repeat or move it); give it as a literal",
        ));
    }
    let _ = visit_expressions_mut(&mut stmt, |e| {
        if let Expr::Value(v) = e {
            if let Value::Placeholder(p) = &mut v.value {
                *p = "?".into();
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(stmt.to_string())
}

impl<'a> ScatterBuilder<'a> {
    pub(super) fn new(
        sql: &str,
        syntax: Syntax,
        table: &'a TableRef<'a>,
        only_table: bool,
        (query, select): (&'a Query, &'a Select),
        (normal_query, normal): (&'a Query, &'a Select),
    ) -> Result<Self, RouteError> {
        let normal_order = match normal_query.order_by.as_ref().map(|o| &o.kind) {
            Some(OrderByKind::Expressions(terms)) => terms.as_slice(),
            _ => &[],
        };
        let texts = select_list_texts(sql, syntax, select.projection.len());
        let mut items = Vec::with_capacity(select.projection.len());
        let mut first_star = None;
        for (i, (item, nitem)) in select.projection.iter().zip(&normal.projection).enumerate() {
            let (expr, nexpr, alias) = match (item, nitem) {
                (SelectItem::UnnamedExpr(e), SelectItem::UnnamedExpr(n)) => (e, n, None),
                (
                    SelectItem::ExprWithAlias { expr, alias },
                    SelectItem::ExprWithAlias { expr: n, .. },
                ) => (expr, n, Some(alias)),
                (SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..), _) => {
                    first_star.get_or_insert(i);
                    items.push(Item {
                        expr: None,
                        alias: None,
                        name: "*".into(),
                        named_by_text: false,
                    });
                    continue;
                }
                _ => {
                    return Err(refuse(
                        "SELECT",
                        table,
                        format!("the select-list item `{item}` is not supported"),
                    ))
                }
            };
            let (name, named_by_text) = match (alias, name_rule(nexpr)) {
                (Some(alias), _) => (alias.value.clone(), false),
                (None, Some(name)) => (name, false),
                (None, None) => {
                    let text = texts.as_ref().and_then(|t| t.get(i)).ok_or_else(|| {
                        refuse(
                            "SELECT",
                            table,
                            "shardgate cannot tell the column names of this select list apart",
                        )
                    })?;
                    (text.clone(), true)
                }
            };
            items.push(Item {
                expr: Some(expr),
                alias,
                name: truncate_name(name),
                named_by_text,
            });
        }
        let grouped = matches!(&select.group_by, GroupByExpr::Expressions(g, _) if !g.is_empty());
        Ok(ScatterBuilder {
            table,
            only_table,
            query,
            select,
            normal,
            normal_order,
            items,
            first_star,
            topology: None,
            expanded: None,
            cols: Columns::default(),
            outputs: Vec::new(),
            names: Vec::new(),
            grouped,
            raw: false,
            computed: Vec::new(),
        })
    }

    pub(super) fn refuse(&self, what: impl std::fmt::Display) -> RouteError {
        refuse("SELECT", self.table, what)
    }

    pub(super) fn build(mut self) -> Result<Built, RouteError> {
        // Refuse what cannot be merged before choosing a shape.
        let mut aggregates = false;
        for item in &self.items {
            if let Some(e) = item.expr {
                aggregates |= scan(e, self.table)?;
            }
        }
        for term in self.order_terms() {
            aggregates |= scan(&term.expr, self.table)?;
        }
        if let Some(having) = &self.select.having {
            aggregates |= scan(having, self.table)?;
        }
        let sort_keys = self.order_terms().iter().map(|t| &t.expr);
        if let Some(e) = sort_keys.chain(self.group_exprs()).find(|e| has_collate(e)) {
            return Err(self.refuse(format!(
                "ORDER BY or GROUP BY `{e}` with COLLATE is not supported (the merge compares by the result's collation)"
            )));
        }
        for g in self.group_exprs() {
            if scan(g, self.table)? {
                return Err(
                    self.refuse(format!("GROUP BY `{g}`: an aggregate cannot be grouped on"))
                );
            }
        }
        let (offset, limit) = self.limit()?;
        if aggregates || self.grouped {
            self.raw = self.needs_raw_values()?;
            self.build_aggregate(offset, limit)
        } else if matches!(self.select.distinct, Some(Distinct::Distinct)) {
            self.build_distinct(offset, limit)
        } else {
            self.build_plain(offset, limit)
        }
    }

    /// `LIMIT n [OFFSET m]` / `LIMIT m, n` as (offset, limit).
    pub(super) fn limit(&self) -> Result<(u64, Option<u64>), RouteError> {
        let number = |e: &Expr| -> Result<u64, RouteError> {
            match e {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n.parse().ok(),
                    _ => None,
                },
                _ => None,
            }
            .ok_or_else(|| {
                self.refuse("LIMIT must be given as numbers (not parameters or expressions)")
            })
        };
        match &self.query.limit_clause {
            None => Ok((0, None)),
            Some(LimitClause::LimitOffset {
                limit: Some(limit),
                offset,
                limit_by,
            }) if limit_by.is_empty() => {
                let offset = offset.as_ref().map(|o| number(&o.value)).transpose()?;
                Ok((offset.unwrap_or(0), Some(number(limit)?)))
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                Ok((number(offset)?, Some(number(limit)?)))
            }
            Some(_) => Err(self.refuse("this form of LIMIT is not supported")),
        }
    }

    /// Pushes the visible items as the first shard columns, aliased where the shards would
    /// otherwise name them differently from what the client's statement would.
    pub(super) fn push_visible_items(&mut self) {
        for (i, item) in self.items.iter().enumerate() {
            let key = item.expr.map(|e| strip(e).to_string());
            if let Some(Some(columns)) = self.expanded.as_ref().map(|e| &e[i]) {
                let star = self.select.projection[i].clone();
                self.cols.push_star(star, columns.clone());
                continue;
            }
            let shard_item = match (item.expr, item.alias) {
                (None, _) => self.select.projection[i].clone(),
                (Some(expr), Some(alias)) => SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: alias.clone(),
                },
                (Some(expr), None) if item.named_by_text && expr.to_string() != item.name => {
                    SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias: Ident::with_quote('`', item.name.clone()),
                    }
                }
                (Some(expr), None) => SelectItem::UnnamedExpr(expr.clone()),
            };
            self.cols.push(shard_item, key);
        }
    }

    /// The shard statement: the verbatim query with this select list, GROUP BY `group_by`
    /// (shard columns, by position) if given, ORDER BY `order` (by position), LIMIT
    /// `limit`, and HAVING only if `keep_having`.
    pub(super) fn shard_statement(
        &self,
        group_by: Option<&[usize]>,
        order: &[SortKey],
        limit: Option<u64>,
        keep_having: bool,
    ) -> Statement {
        let position = |c: usize| Expr::value(Value::Number((c + 1).to_string(), false));
        let mut select = self.select.clone();
        select.projection = self.cols.items.clone();
        if let Some(group_by) = group_by {
            select.group_by =
                GroupByExpr::Expressions(group_by.iter().map(|&c| position(c)).collect(), vec![]);
            // The shards group; DISTINCT over groups that include every group column is a no-op.
            select.distinct = None;
        }
        if !keep_having {
            select.having = None;
        }
        let mut query = self.query.clone();
        query.body = Box::new(SetExpr::Select(Box::new(select)));
        query.order_by = (!order.is_empty()).then(|| OrderBy {
            kind: OrderByKind::Expressions(
                order
                    .iter()
                    .map(|k| OrderByExpr {
                        expr: position(k.column),
                        options: OrderByOptions {
                            sort: k.descending.then_some(OrderBySort::Desc),
                            nulls_first: None,
                        },
                        with_fill: None,
                    })
                    .collect(),
            ),
            interpolate: None,
        });
        query.limit_clause = limit.map(|n| LimitClause::LimitOffset {
            limit: Some(Expr::value(Value::Number(n.to_string(), false))),
            offset: None,
            limit_by: vec![],
        });
        Statement::Query(Box::new(query))
    }
}
