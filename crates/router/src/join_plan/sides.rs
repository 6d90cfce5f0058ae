//! The two sides of an inner join of three or more tables: the sharded tables joined on their
//! shard keys form groups (`orders` and `lineitem` on the order key), and each reference table
//! goes with the table an equality joins it to. Exactly two groups make the two sides; each
//! side's statement must then be a co-located join, which the planner confirms
//! (`shards_reading`): every shard answers it from its own rows, as a scatter that only
//! concatenates them, or one shard does.

use shardgate_config::Topology;
use shardgate_ring::ShardId;
use sqlparser::ast::{BinaryOperator, Expr};

use super::{find, Side, SideTable};
use crate::{Route, Syntax};

/// `tables` split into two sides by `conditions` (every ON and WHERE conjunct); `None` when
/// they do not fall into exactly two.
pub(super) fn partition<'a>(
    tables: Vec<SideTable<'a>>,
    conditions: &[&Expr],
) -> Option<[Side<'a>; 2]> {
    let equalities: Vec<(usize, usize, bool)> = conditions
        .iter()
        .filter_map(|c| equality(c, &tables))
        .collect();
    // Groups of sharded tables joined on their shard keys (union-find by smallest member).
    let mut group: Vec<Option<usize>> = (0..tables.len())
        .map(|t| tables[t].rule.map(|_| t))
        .collect();
    fn root(group: &[Option<usize>], mut t: usize) -> usize {
        while let Some(up) = group[t].filter(|&u| u != t) {
            t = up;
        }
        t
    }
    for &(a, b, on_keys) in &equalities {
        if on_keys {
            let (ra, rb) = (root(&group, a), root(&group, b));
            group[ra.max(rb)] = Some(ra.min(rb));
        }
    }
    let mut side_of: Vec<Option<usize>> = (0..tables.len())
        .map(|t| group[t].map(|_| root(&group, t)))
        .collect();
    // Reference tables follow a table they are joined to, until none is left.
    loop {
        let mut moved = false;
        for &(a, b, _) in &equalities {
            match (side_of[a], side_of[b]) {
                (None, Some(g)) => side_of[a] = Some(g),
                (Some(g), None) => side_of[b] = Some(g),
                _ => continue,
            }
            moved = true;
        }
        if !moved {
            break;
        }
    }
    let mut roots: Vec<usize> = side_of.iter().map(|s| s.unwrap_or(usize::MAX)).collect();
    roots.sort_unstable();
    roots.dedup();
    let [first, second] = roots.as_slice() else {
        return None;
    };
    let (first, second) = (*first, *second);
    if second == usize::MAX {
        return None;
    }
    let mut split: [Vec<SideTable<'a>>; 2] = [Vec::new(), Vec::new()];
    for (t, table) in tables.into_iter().enumerate() {
        split[usize::from(side_of[t] == Some(second))].push(table);
    }
    debug_assert!(side_of
        .iter()
        .all(|s| *s == Some(first) || *s == Some(second)));
    let [a, b] = split;
    Some([Side::of(a), Side::of(b)])
}

/// An equality between columns of two tables: their positions, and whether both are the
/// shard keys of sharded tables.
fn equality(condition: &Expr, tables: &[SideTable<'_>]) -> Option<(usize, usize, bool)> {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = condition
    else {
        return None;
    };
    let all = || tables.iter().enumerate().map(|(t, table)| (0, t, table));
    let (_, a, ca) = find(left, all())?;
    let (_, b, cb) = find(right, all())?;
    if a == b {
        return None;
    }
    let key = |t: usize, name: &str| {
        tables[t]
            .rule
            .is_some_and(|r| r.shard_key.eq_ignore_ascii_case(name))
    };
    Some((a, b, key(a, &ca.name) && key(b, &cb.name)))
}

/// The shards a side's statement `sql` reads, when each answers it from its own rows: a
/// scatter whose merge only concatenates, or one shard. `None` otherwise (the tables are not
/// co-located after all, or the planner refuses it).
pub(super) fn shards_reading(
    sql: &str,
    topology: &Topology,
    syntax: Syntax,
) -> Option<Vec<ShardId>> {
    let plan = crate::plan_sql(sql, topology, syntax).ok()?;
    match plan.route {
        Route::Shard(shard) => Some(vec![shard]),
        Route::Scatter(scatter) => {
            let merge = &scatter.merge;
            merge.concatenates().then_some(scatter.shards)
        }
        _ => None,
    }
}
