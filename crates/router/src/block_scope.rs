//! The table references of one query block, and which of them a column names: a qualified
//! column by its qualifier (an alias, or the table's name), an unqualified one as MariaDB
//! resolves it (`column_owner.rs`: the one table of the block whose cached columns have it).
//! Every reference of the block counts, nested joins' too, so that a name is never given to
//! one table while another of the block might have it; a CTE's reference (by an unqualified
//! name the statement's CTEs hold) is no base table, whatever table shares its name.

use shardgate_config::Topology;
use shardgate_schema::SchemaStatus;
use std::cell::RefCell;
use std::ops::ControlFlow;

use sqlparser::ast::{Expr, ObjectNamePart, Query, Select, TableFactor, Visit, Visitor};

use crate::column_owner::{owner, Columns, Owner};
use crate::shard_key::base_name;

/// One table reference of a block.
struct Reference<'q> {
    factor: &'q TableFactor,
    /// A base table's lower-cased name (`None`: a derived table, a function …).
    table: Option<String>,
    /// What qualifies its columns: its alias, else its name's last part.
    qualifier: Option<String>,
}

/// The table references of one query block.
pub(crate) struct BlockScope<'q> {
    references: Vec<Reference<'q>>,
    /// Tables whose columns the cache should hold but lacks, met while resolving names.
    missing: RefCell<Vec<String>>,
}

impl<'q> BlockScope<'q> {
    /// The references of `select`, in a statement whose CTEs are named `ctes`.
    pub(crate) fn of(select: &'q Select, ctes: &[String]) -> Self {
        let mut references = Vec::new();
        for from in &select.from {
            add(&from.relation, ctes, &mut references);
            for join in &from.joins {
                add(&join.relation, ctes, &mut references);
            }
        }
        BlockScope {
            references,
            missing: RefCell::new(Vec::new()),
        }
    }

    /// The tables whose columns an unqualified name needed and the cache lacks (for the
    /// caller to have them read: `RouteError::SchemaNeeded`).
    pub(crate) fn missing(&self) -> Vec<String> {
        self.missing.borrow().clone()
    }

    /// The position of `factor` (one of this block's) among the references.
    pub(crate) fn position(&self, factor: &TableFactor) -> Option<usize> {
        self.references
            .iter()
            .position(|r| std::ptr::eq(r.factor, factor))
    }

    /// The reference at `position`.
    pub(crate) fn factor(&self, position: usize) -> &'q TableFactor {
        self.references[position].factor
    }

    /// The lower-cased name of the base table at `position` (not a CTE's, a derived table's …).
    pub(crate) fn table(&self, position: usize) -> Option<&str> {
        self.references[position].table.as_deref()
    }

    /// The reference `column` (a column expression) names, when that is certain.
    pub(crate) fn owner(
        &self,
        column: &Expr,
        topology: &Topology,
        schema: &SchemaStatus,
    ) -> Option<usize> {
        match self.resolve(column, topology, schema) {
            Owner::Table(i) => Some(i),
            Owner::Absent | Owner::Unknown => None,
        }
    }

    /// Whether `column` certainly names no reference of this block (an enclosing block's).
    pub(crate) fn is_outer(
        &self,
        column: &Expr,
        topology: &Topology,
        schema: &SchemaStatus,
    ) -> bool {
        self.resolve(column, topology, schema) == Owner::Absent
    }

    fn resolve(&self, column: &Expr, topology: &Topology, schema: &SchemaStatus) -> Owner {
        match column {
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                let mut named = self.references.iter().enumerate().filter(|(_, r)| {
                    r.qualifier
                        .as_ref()
                        .is_some_and(|q| q.eq_ignore_ascii_case(&parts[0].value))
                });
                match (named.next(), named.next()) {
                    (Some((i, _)), None) => Owner::Table(i),
                    (None, _) if self.references.iter().all(|r| r.qualifier.is_some()) => {
                        Owner::Absent
                    }
                    _ => Owner::Unknown,
                }
            }
            // A variable (`@v`), not a column.
            Expr::Identifier(id) if id.value.starts_with('@') => Owner::Unknown,
            Expr::Identifier(id) => {
                let scope: Vec<Columns<'_>> = self
                    .references
                    .iter()
                    .map(|r| match &r.table {
                        Some(table) => Columns::Table(table),
                        None => Columns::Some(&[]),
                    })
                    .collect();
                owner(
                    &id.value,
                    &scope,
                    topology,
                    schema,
                    &mut self.missing.borrow_mut(),
                )
            }
            _ => Owner::Unknown,
        }
    }
}

/// The column of `columns` a column expression names (by its last part), once the caller
/// knows which table it is (`BlockScope::owner`).
pub(crate) fn named_column<'c>(
    column: &Expr,
    columns: &'c shardgate_schema::TableColumns,
) -> Option<&'c shardgate_schema::Column> {
    match column {
        Expr::Identifier(id) => columns.column(&id.value),
        Expr::CompoundIdentifier(parts) => parts.last().and_then(|p| columns.column(&p.value)),
        _ => None,
    }
}

/// The names of every CTE `query` defines, at any depth.
pub(crate) fn cte_names(query: &Query) -> Vec<String> {
    let mut names = Vec::new();
    let _ = visit_queries(query, |q| {
        if let Some(with) = &q.with {
            names.extend(with.cte_tables.iter().map(|c| c.alias.name.value.clone()));
        }
        ControlFlow::<()>::Continue(())
    });
    names
}

fn visit_queries(query: &Query, mut f: impl FnMut(&Query) -> ControlFlow<()>) -> ControlFlow<()> {
    struct Queries<F>(F);
    impl<F: FnMut(&Query) -> ControlFlow<()>> Visitor for Queries<F> {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            (self.0)(query)
        }
    }
    query.visit(&mut Queries(&mut f))
}

fn add<'q>(factor: &'q TableFactor, ctes: &[String], out: &mut Vec<Reference<'q>>) {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            let last = match name.0.last() {
                Some(ObjectNamePart::Identifier(id)) => Some(id.value.clone()),
                _ => None,
            };
            let cte = name.0.len() == 1
                && last
                    .as_ref()
                    .is_some_and(|l| ctes.iter().any(|c| c.eq_ignore_ascii_case(l)));
            out.push(Reference {
                factor,
                table: base_name(name).filter(|_| !cte),
                qualifier: alias.as_ref().map(|a| a.name.value.clone()).or(last),
            });
        }
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            add(&table_with_joins.relation, ctes, out);
            for join in &table_with_joins.joins {
                add(&join.relation, ctes, out);
            }
        }
        TableFactor::Derived { alias, .. } => out.push(Reference {
            factor,
            table: None,
            qualifier: alias.as_ref().map(|a| a.name.value.clone()),
        }),
        other => out.push(Reference {
            factor: other,
            table: None,
            qualifier: None,
        }),
    }
}
