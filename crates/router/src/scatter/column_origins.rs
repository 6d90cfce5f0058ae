//! Where each column of a scatter's answer comes from (table and column), for the column definitions the client gets.

use super::*;

/// Where each column of the shard statement's select list comes from (see [`ColumnOrigin`]).
pub(super) fn column_origins(
    stmt: &Statement,
    tables: &[TableRef<'_>],
    only_table: bool,
    stars: &[(usize, Vec<StarColumn>)],
) -> Vec<ColumnOrigin> {
    let Some((_, select)) = query_parts(stmt) else {
        return Vec::new();
    };
    let column = |e: &Expr| -> Option<ColumnOrigin> {
        let (table, name) = match e {
            Expr::Identifier(id) if only_table => (&tables[0], id),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qualifier = &parts[parts.len() - 2];
                (
                    tables.iter().find(|t| t.is_named(qualifier))?,
                    &parts[parts.len() - 1],
                )
            }
            _ => return None,
        };
        Some(ColumnOrigin::Column {
            table: table.name.clone(),
            column: name.value.clone(),
        })
    };
    let origin = |e: &Expr| {
        if let Some(origin) = column(e) {
            return origin;
        }
        // `CAST(x AS CHAR)` has the connection's collation, which the column reports.
        if let Expr::Cast { data_type, .. } = e {
            let text = data_type.to_string().to_ascii_uppercase();
            return match text.contains("CHARACTER SET") || text.contains("CHARSET") {
                true => ColumnOrigin::Expression,
                false => ColumnOrigin::Constant,
            };
        }
        if let Expr::Function(f) = e {
            let name = f.name.to_string();
            if name.eq_ignore_ascii_case("min") || name.eq_ignore_ascii_case("max") {
                if let FunctionArguments::List(list) = &f.args {
                    if let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice()
                    {
                        if let Some(origin) = column(arg) {
                            return origin;
                        }
                    }
                }
            }
        }
        let mut columns = Vec::new();
        let mut known = true;
        let _ = visit_expressions(e, |x| {
            match x {
                Expr::Identifier(_) | Expr::CompoundIdentifier(_) => match column(x) {
                    Some(ColumnOrigin::Column { table, column }) => columns.push((table, column)),
                    _ => known = false,
                },
                // An explicit collation or character set: not the columns'.
                Expr::Collate { .. }
                | Expr::Cast { .. }
                | Expr::Convert { .. }
                | Expr::Prefixed { .. } => known = false,
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
        match (known, columns.is_empty()) {
            (false, _) => ColumnOrigin::Expression,
            (true, true) => ColumnOrigin::Constant,
            (true, false) => ColumnOrigin::Derived(columns),
        }
    };
    let mut stars = stars.iter();
    let mut origins = Vec::with_capacity(select.projection.len());
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                origins.push(origin(e))
            }
            // An expanded `*`: one table column per shard column.
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => match stars.next() {
                Some((_, columns)) => {
                    origins.extend(columns.iter().map(|c| ColumnOrigin::Column {
                        table: c.table.clone(),
                        column: c.name.clone(),
                    }))
                }
                None => origins.push(ColumnOrigin::Expression),
            },
            _ => origins.push(ColumnOrigin::Expression),
        }
    }
    origins
}
