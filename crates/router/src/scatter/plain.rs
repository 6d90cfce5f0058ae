//! A SELECT without aggregates, GROUP BY or DISTINCT: the shards sort and limit, the merge is a k-way merge then OFFSET and LIMIT.

use super::*;

impl<'a> ScatterBuilder<'a> {
    /// SELECT without aggregates, GROUP BY or DISTINCT: shards sort by the ORDER BY (hidden
    /// columns for terms not selected) and return at most `offset + limit` rows; the merge
    /// is a k-way merge, then OFFSET and LIMIT.
    pub(super) fn build_plain(
        mut self,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Built, RouteError> {
        // A sort term after a `*` or not selected needs to know where the `*` columns end.
        let mut targets = Vec::new();
        for term in self.order_terms() {
            targets.push((term, self.order_target(&term.expr)?));
        }
        if targets.iter().any(|(_, t)| match t {
            Target::Item(i) => self.first_star.is_some_and(|s| *i > s),
            Target::Expr(_) => self.first_star.is_some(),
            _ => false,
        }) {
            self.expand_stars()?;
        }
        self.push_visible_items();
        let mut keys: Vec<SortKey> = Vec::new();
        for (term, target) in targets {
            let column = match target {
                Target::Skip => continue,
                Target::Position(p) if self.first_star.is_some() => p,
                Target::Position(p) if p < self.items.len() => p,
                Target::Position(p) => {
                    return Err(self.refuse(format!("ORDER BY position {} does not exist", p + 1)))
                }
                Target::Item(i) => {
                    if let Some(alias) = self.items[i].alias {
                        self.check_alias_against_stars(&alias.value)?;
                    }
                    self.item_start(i)
                }
                Target::Expr(e) => self.cols.expr(e),
            };
            keys.push(SortKey {
                column,
                descending: Self::direction(term),
            });
        }
        let visible = match (self.first_star, &self.expanded) {
            (Some(_), None) => usize::MAX,
            _ => self.visible_width(),
        };
        let shard_limit = limit.map(|n| shard_limit(offset, n));
        let sql_tree = self.shard_statement(None, &keys, shard_limit, true);
        Ok(Built::of(
            sql_tree,
            MergeSpec {
                merge_keys: keys,
                offset,
                limit,
                visible,
                ..MergeSpec::default()
            },
            self.cols,
        ))
    }
}
