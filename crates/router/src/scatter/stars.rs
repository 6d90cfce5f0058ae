//! `*` and `t.*` items: expanded from the schema cache when the merge must know their columns, and the output positions they stand for.

use super::*;

impl<'a> ScatterBuilder<'a> {
    /// Lets `*` be expanded from `topology`'s schema cache when a plan needs its columns.
    pub(super) fn with_schema(mut self, topology: &'a Topology) -> Self {
        self.topology = Some(topology);
        self
    }

    /// Expands every `*` item from the schema cache; asks for the tables it lacks.
    pub(super) fn expand_stars(&mut self) -> Result<(), RouteError> {
        if self.expanded.is_some() || self.first_star.is_none() {
            return Ok(());
        }
        let Some(topology) = self.topology else {
            return Err(self.refuse(
                "SELECT * needs the table's columns, which are not known here; list the columns",
            ));
        };
        let status = topology.schema.current();
        let mut per_item = Vec::with_capacity(self.items.len());
        let mut unknown: Vec<String> = Vec::new();
        for item in &self.select.projection {
            if !matches!(
                item,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            ) {
                per_item.push(None);
                continue;
            }
            match crate::star::expand(item, &self.select.from, &status) {
                Ok(columns) => per_item.push(Some(columns)),
                Err(StarError::Unknown(tables)) => {
                    for t in tables {
                        if !unknown.contains(&t) {
                            unknown.push(t);
                        }
                    }
                    per_item.push(None);
                }
                Err(StarError::Refused(why)) => {
                    return Err(self.refuse(format!("`{item}` cannot be expanded: {why}")))
                }
                Err(StarError::Disagrees { table, why }) => {
                    return Err(RouteError::SchemaDisagrees {
                        tables: vec![table],
                        refusal: Box::new(
                            self.refuse(format!("`{item}` cannot be expanded: {why}")),
                        ),
                    })
                }
            }
        }
        if !unknown.is_empty() {
            return Err(RouteError::SchemaNeeded { tables: unknown });
        }
        self.expanded = Some(per_item);
        Ok(())
    }

    /// How many columns item `i` stands for (a `*`: its table columns once expanded).
    pub(super) fn item_width(&self, i: usize) -> usize {
        match self.expanded.as_ref().and_then(|e| e[i].as_ref()) {
            Some(columns) => columns.len(),
            None => 1,
        }
    }

    /// The first output column of item `i`: after every column the items before it stand for.
    pub(super) fn item_start(&self, i: usize) -> usize {
        (0..i).map(|j| self.item_width(j)).sum()
    }

    /// The item at output position `p` when it is not inside a `*`.
    pub(super) fn item_at(&self, p: usize) -> Option<usize> {
        (0..self.items.len()).find(|&i| self.item_start(i) == p && self.items[i].expr.is_some())
    }

    /// The shard column of output position `p` when it is a column of an expanded `*`
    /// already in the shard select list.
    pub(super) fn star_shard_column(&self, p: usize) -> Option<usize> {
        let expanded = self.expanded.as_ref()?;
        let mut star = 0;
        for (i, columns) in expanded.iter().enumerate() {
            let Some(columns) = columns else { continue };
            let start = self.item_start(i);
            if (start..start + columns.len()).contains(&p) {
                return Some(self.cols.stars.get(star)?.0 + (p - start));
            }
            star += 1;
        }
        None
    }

    /// How many columns the client sees.
    pub(super) fn visible_width(&self) -> usize {
        self.item_start(self.items.len())
    }

    /// The position of the column `e` (`c` or `t.c`) names among the expanded `*` columns,
    /// when exactly one of them is that column.
    pub(super) fn star_column_named(&self, e: &Expr) -> Option<usize> {
        let (qualifier, id) = match strip(e) {
            Expr::Identifier(id) => (None, id),
            Expr::CompoundIdentifier(parts) if parts.len() == 2 => (Some(&parts[0]), &parts[1]),
            _ => return None,
        };
        let expanded = self.expanded.as_ref()?;
        let mut found = None;
        for (i, columns) in expanded.iter().enumerate() {
            for (k, c) in columns.iter().flatten().enumerate() {
                let same_table =
                    qualifier.is_none_or(|q| q.value.eq_ignore_ascii_case(&c.qualifier));
                if same_table && c.name.eq_ignore_ascii_case(&id.value) {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(self.item_start(i) + k);
                }
            }
        }
        found
    }

    /// Refuses an alias that is also the name of a `*` column: MariaDB's choice between them
    /// is not modelled.
    pub(super) fn check_alias_against_stars(&self, name: &str) -> Result<(), RouteError> {
        let clash = self
            .expanded
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .any(|c| c.name.eq_ignore_ascii_case(name));
        match clash {
            true => Err(self.refuse(format!("`{name}` names both an alias and a column of `*`"))),
            false => Ok(()),
        }
    }
}
