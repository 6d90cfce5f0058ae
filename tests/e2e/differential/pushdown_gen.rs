//! Generated statements that push down whole: subqueries, derived tables, CTEs, set operations
//! and window functions pinned to one user's shard, and correlated subqueries on co-located
//! shard keys that follow a scatter's rows. Seeded apart from the other generated cases, so
//! that adding these leaves those as they were.

use super::{Case, Check, Generator, Norm, Rng, ORDERS_T, USERS_T};

/// Generated pushdown statements (on top of the other generated cases).
pub(super) const GENERATED_PUSHDOWN: usize = 120;

impl Generator<'_> {
    /// A condition on `orders o` (no shard key: the subquery follows its correlation).
    fn order_condition(&mut self) -> String {
        loop {
            let p = self.predicate(&ORDERS_T, "o.");
            if !p.contains("o.user_id") {
                return p;
            }
        }
    }

    fn pushdown(&mut self) -> (String, Check) {
        let k = *self.rng.pick(self.user_ids);
        let o = self.order_condition();
        let u = self.predicate(&USERS_T, "u.");
        let not = if self.rng.percent(40) { "NOT " } else { "" };
        let all = if self.rng.percent(50) { " ALL" } else { "" };
        let sql = match self.rng.below(11) {
            0 => format!(
                "SELECT COUNT(*), SUM(t.amount), MAX(t.qty) FROM (SELECT * FROM orders o WHERE o.user_id = {k} AND {o}) t"
            ),
            1 => format!(
                "WITH t AS (SELECT id, score, name FROM users WHERE id = {k}) SELECT t.id, t.name, (SELECT COUNT(*) FROM orders o WHERE o.user_id = t.id AND {o}) FROM t"
            ),
            2 => format!(
                "SELECT u.id, u.name FROM users u WHERE u.id = {k} AND {not}EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND {o})"
            ),
            3 => {
                let o2 = self.order_condition();
                format!(
                    "SELECT o.id, o.amount FROM orders o WHERE o.user_id = {k} AND {o} UNION{all} SELECT o.id, o.amount FROM orders o WHERE o.user_id = {k} AND {o2}"
                )
            }
            4 => format!(
                "SELECT o.id, ROW_NUMBER() OVER (ORDER BY o.amount, o.id), SUM(o.qty) OVER (PARTITION BY o.status) FROM orders o WHERE o.user_id = {k}"
            ),
            5 => format!(
                "SELECT o.status, COUNT(*), SUM(o.amount) FROM orders o WHERE o.user_id = {k} AND {o} GROUP BY o.status WITH ROLLUP"
            ),
            6 => format!(
                "SELECT COUNT(*), SUM(u.score) FROM users u WHERE {u} AND {not}EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND {o})"
            ),
            7 => format!(
                "SELECT u.id, u.flag FROM users u WHERE {u} AND u.id IN (SELECT o.user_id FROM orders o WHERE {o})"
            ),
            8 => format!(
                "SELECT COUNT(*) FROM users u WHERE {u} AND u.score > (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id AND {o}) * 100"
            ),
            9 => format!(
                "SELECT o.id FROM orders o WHERE {o} AND {not}EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND {u})"
            ),
            _ => format!(
                "SELECT u.id, (SELECT MAX(o.amount) FROM orders o WHERE o.user_id = u.id AND {o}) FROM users u WHERE u.id IN ({k}, {k})"
            ),
        };
        let mut check = Check::default();
        if sql.contains("WITH ROLLUP") {
            // The group's status is one of its collation-equal spellings.
            check.norms.push((0, Norm::Ci));
        }
        (sql, check)
    }
}

pub(super) fn generated_pushdown_cases(seed: u64, user_ids: &[i64]) -> Vec<Case> {
    let mut generator = Generator {
        rng: Rng(seed ^ 0x9D5B_D0E5_0001_C0DE),
        user_ids,
    };
    (0..GENERATED_PUSHDOWN)
        .map(|n| {
            let (sql, check) = generator.pushdown();
            Case {
                origin: format!("generated pushdown #{n}"),
                sql,
                check,
            }
        })
        .collect()
}
