//! The execution side of a scatter's merge: the operators a [`MergeSpec`] stands for, built
//! over the shards' column definitions into one [`Pipeline`], and the column definitions the
//! client gets. The planner builds the spec (`scatter/`), the plan tree prints it
//! (`plan_tree.rs`), the server feeds the pipeline the shards' rows.

use shardgate_merge::{
    Aggregate, AggregateSettings, ColumnFlags, ColumnMeta, Filter, Limit, MemoryLimit, MergeError,
    OrderedAggregate, Pipeline, Project, Sort, SortedDistinct, TemporaryTable, Window,
    WindowFunction,
};

use crate::MergeSpec;

/// What the session decides of a merge: its memory bound and the settings MariaDB's answer
/// depends on.
#[derive(Debug, Clone, Copy)]
pub struct MergeSettings {
    pub memory: MemoryLimit,
    /// `group_concat_max_len`: GROUP_CONCAT's results are cut there, with a warning.
    pub group_concat_max_len: u64,
    /// `collation_connection` is a `_bin` one: MIN / MAX of expressions compare by bytes.
    pub connection_binsort: bool,
    /// What MariaDB's plan of the client's statement reads a grouped result from.
    pub result_source: ResultSource,
    /// `max_sort_length`: the bytes of a string sorts compare, as the shards sorted.
    pub max_sort_length: usize,
}

/// Where MariaDB's plan reads a grouped result from, which its column definitions follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResultSource {
    /// Not asked: a scatter, whose shards' definitions follow their own plans; a result
    /// sorted by an aggregate is taken to pass through a temporary table.
    #[default]
    Unasked,
    /// The select list's items (`EXPLAIN` shows no temporary table).
    Items,
    /// A temporary table (`EXPLAIN`: `Using temporary`).
    Table(TemporaryTable),
}

/// The operators after the merge, and the column definitions the client gets.
pub struct MergeOutput {
    pub pipeline: Pipeline,
    pub definitions: Vec<Vec<u8>>,
}

impl MergeSpec {
    /// The operators over the shards' rows. `heads` are the shards' column definitions,
    /// `delivered` the same read as metadata (what the client would get from one server),
    /// `metas` the columns as the merge compares them (their real collations).
    pub fn output(
        &self,
        heads: &[impl AsRef<[u8]>],
        metas: &[ColumnMeta],
        delivered: &[ColumnMeta],
        settings: MergeSettings,
    ) -> Result<MergeOutput, MergeError> {
        let mut pipeline = Pipeline::default();
        let (columns, definitions): (Vec<ColumnMeta>, Vec<Vec<u8>>) = match &self.aggregate {
            Some(spec) => {
                let aggregate_settings = AggregateSettings {
                    memory: settings.memory,
                    group_concat_max_len: settings.group_concat_max_len,
                    connection_binsort: settings.connection_binsort,
                    result_charset: result_charset(delivered),
                    materialized: match settings.result_source {
                        ResultSource::Unasked => !spec.group_by.is_empty() && !self.sort.is_empty(),
                        ResultSource::Items => false,
                        ResultSource::Table(table) => table.holds_aggregates,
                    },
                };
                let table = match settings.result_source {
                    ResultSource::Table(table) => Some(table),
                    _ => None,
                };
                let mut aggregate = OrderedAggregate::with_settings(
                    &spec.group_by,
                    spec.outputs.clone(),
                    metas,
                    aggregate_settings,
                )?;
                if spec.rollup {
                    aggregate = aggregate.with_rollup(&spec.group_by);
                }
                let out = aggregate.output_columns().to_vec();
                let mut definitions = Vec::with_capacity(out.len());
                for (i, (meta, output)) in out.iter().zip(&spec.outputs).enumerate() {
                    let name = spec.names.get(i).map_or(&b""[..], |n| n.as_bytes());
                    definitions.push(match output {
                        // A column passed through keeps the shard's definition (table, flags), renamed.
                        Aggregate::First(c) => {
                            let column = match table {
                                Some(t) => t.column(&delivered[*c], spec.group_by.contains(c)),
                                None => delivered[*c],
                            };
                            column.rewrite_definition(heads[*c].as_ref(), Some(name))?
                        }
                        // MIN/MAX of a string column: described with the connection's collation;
                        // NULL over no row (a raw column's NOT NULL does not hold for it).
                        Aggregate::Min(c) | Aggregate::Max(c) => {
                            let held = table.and_then(|t| t.extreme(&delivered[*c]));
                            let shown = held.unwrap_or_else(|| {
                                let mut shown = match settings.result_source {
                                    // The shards' own MIN column, as their plans describe it.
                                    ResultSource::Unasked => {
                                        let mut shown = *meta;
                                        shown.flags.remove(ColumnFlags::NOT_NULL_FLAG);
                                        shown
                                    }
                                    _ => shardgate_merge::extreme_meta(meta),
                                };
                                shown.charset = delivered[*c].charset;
                                shown
                            });
                            shown.definition(name)
                        }
                        Aggregate::Count(_)
                        | Aggregate::CountValues(_)
                        | Aggregate::CountRows
                        | Aggregate::CountDistinct(_)
                        | Aggregate::Sum(_)
                        | Aggregate::SumValues(_)
                        | Aggregate::SumDistinct(_)
                        | Aggregate::Bit { .. } => match table {
                            Some(t) => t.counted(meta).definition(name),
                            None => meta.definition(name),
                        },
                        _ => meta.definition(name),
                    });
                }

                pipeline = pipeline.then(aggregate);
                if !spec.computed.is_empty() {
                    pipeline = pipeline.then(Project::in_place(&out, &spec.computed)?);
                }
                (out, definitions)
            }
            None => {
                if let Some(window) = &self.window {
                    pipeline = pipeline.then(
                        Window::new(
                            &window.partition_by,
                            &window.order_by,
                            window.functions.clone(),
                            metas,
                            AggregateSettings {
                                memory: settings.memory,
                                ..AggregateSettings::default()
                            },
                        )?
                        .with_sort_length(settings.max_sort_length),
                    );
                }
                (
                    metas.to_vec(),
                    heads.iter().map(|h| h.as_ref().to_vec()).collect(),
                )
            }
        };
        if let Some(having) = &self.having {
            pipeline = pipeline.then(Filter::new(having.clone(), &columns)?);
        }
        let visible = self.visible.min(columns.len());
        if self.distinct {
            let keys: Vec<usize> = (0..visible).collect();
            pipeline = pipeline.then(SortedDistinct::new(&keys, &columns, settings.memory)?);
        }
        if !self.sort.is_empty() {
            let mut sort = Sort::new(&self.sort, &columns, settings.memory)?
                .with_sort_length(settings.max_sort_length);
            if let Some(limit) = self.limit {
                sort = sort.with_top(
                    usize::try_from(self.offset.saturating_add(limit)).unwrap_or(usize::MAX),
                );
            }
            pipeline = pipeline.then(sort);
        }
        if self.offset > 0 || self.limit.is_some() {
            pipeline = pipeline.then(Limit::new(self.offset, self.limit));
        }
        if visible < columns.len() {
            pipeline = pipeline.then(Project::first(visible, &columns)?);
        }
        Ok(MergeOutput {
            pipeline,
            definitions: definitions.into_iter().take(visible).collect(),
        })
    }

    /// Whether an aggregate is one MariaDB groups only in sorted order, never in a temporary
    /// table: of `DISTINCT` values, or `GROUP_CONCAT`.
    pub fn has_sorted_aggregates(&self) -> bool {
        (self.aggregate.iter().flat_map(|a| &a.outputs)).any(|o| {
            matches!(
                o,
                Aggregate::CountDistinct(_)
                    | Aggregate::SumDistinct(_)
                    | Aggregate::AvgDistinct(_)
                    | Aggregate::GroupConcat(_)
            )
        })
    }

    /// Whether the groups are sorted by a value known only after grouping (an aggregate):
    /// MariaDB sorts them through a temporary table.
    pub fn sorts_by_aggregate(&self) -> bool {
        let Some(spec) = &self.aggregate else {
            return false;
        };
        self.sort
            .iter()
            .any(|key| match spec.outputs.get(key.column) {
                Some(Aggregate::First(c)) => !spec.group_by.contains(c),
                _ => true,
            })
    }

    /// Whether the merge computes a STDDEV/VARIANCE.
    pub fn computes_variance(&self) -> bool {
        self.aggregate.as_ref().is_some_and(|a| {
            a.outputs.iter().any(|o| {
                matches!(
                    o,
                    Aggregate::Variance { .. } | Aggregate::VarianceParts { .. }
                )
            })
        })
    }

    /// Whether the merge compares any column (orders, groups, deduplicates, filters or takes
    /// extremes by it): only then do the columns' types and collations decide whether it is
    /// exact.
    pub fn compares_columns(&self) -> bool {
        self.having.is_some() || self.distinct || !self.compared_columns(0).is_empty()
    }

    /// The shard columns (of `columns`) whose values the merge compares: order, groups,
    /// MIN/MAX, HAVING, DISTINCT.
    pub fn compared_columns(&self, columns: usize) -> Vec<usize> {
        if self.having.is_some() || self.distinct {
            return (0..columns).collect();
        }
        let mut compared: Vec<usize> = self.merge_keys.iter().map(|k| k.column).collect();
        match &self.aggregate {
            Some(spec) => {
                compared.extend(&spec.group_by);
                for output in &spec.outputs {
                    compared.extend(output.compared_columns());
                }
                for key in &self.sort {
                    if let Some(Aggregate::First(c) | Aggregate::Min(c) | Aggregate::Max(c)) =
                        spec.outputs.get(key.column)
                    {
                        compared.push(*c);
                    }
                }
            }
            None => compared.extend(self.sort.iter().map(|k| k.column)),
        }
        if let Some(window) = &self.window {
            compared.extend(&window.partition_by);
            compared.extend(window.order_by.iter().map(|k| k.column));
            for (_, function) in &window.functions {
                if let WindowFunction::Aggregate(a) = function {
                    compared.extend(a.compared_columns());
                }
            }
        }
        compared
    }
}

/// The connection's result collation, as the shards' string columns carry it (utf8mb4_general_ci,
/// the backends' default, when no column is a string).
fn result_charset(delivered: &[ColumnMeta]) -> u16 {
    delivered
        .iter()
        .find(|m| m.kind() == shardgate_merge::ValueKind::Bytes && m.charset != 63)
        .map_or(45, |m| m.charset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardgate_merge::{
        decode_text_row, encode_text_row, ColumnType, RowOperator, SortKey, Value,
    };

    fn settings() -> MergeSettings {
        MergeSettings {
            memory: MemoryLimit {
                max_rows: Some(100),
                max_bytes: None,
            },
            group_concat_max_len: 1024,
            connection_binsort: false,
            result_source: ResultSource::Unasked,
            max_sort_length: shardgate_collation::DEFAULT_SORT_LENGTH,
        }
    }

    #[test]
    fn a_sorted_limited_spec_sorts_skips_cuts_and_hides_its_helper_column() {
        // `SELECT name … ORDER BY id DESC LIMIT 1, 2`: the shards send (name, id).
        let spec = MergeSpec {
            merge_keys: Vec::new(),
            aggregate: None,
            window: None,
            having: None,
            distinct: false,
            sort: vec![SortKey {
                column: 1,
                descending: true,
            }],
            offset: 1,
            limit: Some(2),
            visible: 1,
        };
        let metas = [
            ColumnMeta::new(ColumnType::MYSQL_TYPE_VAR_STRING),
            ColumnMeta::new(ColumnType::MYSQL_TYPE_LONG),
        ];
        let heads = [metas[0].definition(b"name"), metas[1].definition(b"id")];
        let mut output = spec.output(&heads, &metas, &metas, settings()).unwrap();
        assert_eq!(output.definitions, vec![heads[0].clone()]);
        let mut out = Vec::new();
        for (name, id) in [("a", 1), ("d", 4), ("b", 2), ("c", 3)] {
            let row = encode_text_row(&[Value::bytes(name), Value::Int(id)]);
            output.pipeline.push(row.into(), &mut out).unwrap();
        }
        output.pipeline.finish(&mut out).unwrap();
        let names: Vec<Vec<Value>> = out
            .iter()
            .map(|r| decode_text_row(r, &metas[..1]).unwrap())
            .collect();
        assert_eq!(
            names,
            vec![vec![Value::bytes("c")], vec![Value::bytes("b")]]
        );
    }

    #[test]
    fn only_merges_that_compare_values_depend_on_collations() {
        let plain = MergeSpec {
            merge_keys: Vec::new(),
            aggregate: None,
            window: None,
            having: None,
            distinct: false,
            sort: Vec::new(),
            offset: 0,
            limit: None,
            visible: 2,
        };
        assert!(!plain.compares_columns());
        assert!(!plain.computes_variance());
        let sorted = MergeSpec {
            merge_keys: vec![SortKey::asc(1)],
            ..plain.clone()
        };
        assert!(sorted.compares_columns());
        assert_eq!(sorted.compared_columns(2), vec![1]);
        let distinct = MergeSpec {
            distinct: true,
            ..plain.clone()
        };
        assert_eq!(distinct.compared_columns(2), vec![0, 1]);
        // A window compares its partition, its order and its MIN / MAX arguments; a SUM's
        // argument only adds.
        let window = MergeSpec {
            window: Some(crate::WindowSpec {
                partition_by: vec![3],
                order_by: vec![SortKey::asc(4)],
                functions: vec![
                    (0, WindowFunction::Rank),
                    (1, WindowFunction::Aggregate(Aggregate::Min(5))),
                    (2, WindowFunction::Aggregate(Aggregate::SumValues(6))),
                ],
            }),
            ..plain
        };
        assert!(!window.concatenates());
        assert_eq!(window.compared_columns(7), vec![3, 4, 5]);
    }
}
