//! SELECT DISTINCT without aggregates: the shards send distinct rows in an order that puts equal rows of different shards next to each other.

use super::*;

impl<'a> ScatterBuilder<'a> {
    /// SELECT DISTINCT without aggregates: shards return distinct rows sorted by the ORDER BY
    /// terms, then every other selected column, so equal rows from different shards arrive
    /// next to each other and the order is the answer's; at most `offset + limit` of them.
    pub(super) fn build_distinct(
        mut self,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Built, RouteError> {
        self.expand_stars()?;
        self.push_visible_items();
        let visible = self.visible_width();
        let mut keys: Vec<SortKey> = Vec::new();
        for term in self.order_terms() {
            let column = match self.order_target(&term.expr)? {
                Target::Skip => continue,
                Target::Position(p) if p < visible => p,
                Target::Item(i) => {
                    if let Some(alias) = self.items[i].alias {
                        self.check_alias_against_stars(&alias.value)?;
                    }
                    self.item_start(i)
                }
                Target::Position(p) => {
                    return Err(self.refuse(format!("ORDER BY position {} does not exist", p + 1)))
                }
                Target::Expr(e) if self.star_column_named(e).is_some() => {
                    self.star_column_named(e).expect("just found")
                }
                Target::Expr(e) => {
                    return Err(self.refuse(format!(
                    "SELECT DISTINCT with ORDER BY `{e}`, which is not selected, is not supported"
                )))
                }
            };
            if keys.iter().all(|k| k.column != column) {
                keys.push(SortKey {
                    column,
                    descending: Self::direction(term),
                });
            }
        }
        for column in 0..visible {
            if keys.iter().all(|k| k.column != column) {
                keys.push(SortKey::asc(column));
            }
        }
        let shard_limit = limit.map(|n| shard_limit(offset, n));
        let sql_tree = self.shard_statement(None, &keys, shard_limit, true);
        Ok(Built::of(
            sql_tree,
            MergeSpec {
                merge_keys: keys,
                distinct: true,
                offset,
                limit,
                visible,
                ..MergeSpec::default()
            },
            self.cols,
        ))
    }
}
