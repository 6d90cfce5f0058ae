//! Generated statements answered from copies that read less than the copies would: scalar
//! subqueries correlated on non-key columns (joined as grouped derived tables), membership
//! subqueries (read from their distinct values) and copies narrowed by a filtered reference
//! table — with random conditions, aggregates, comparisons and NULLs, so that whichever path a
//! statement takes (the rewrite, or the copies it keeps) its answer is checked. Seeded apart
//! from the other generated cases.

use super::{Case, Check, Generator, Rng, ORDERS_T, USERS_T};

/// Generated statements over copies (on top of the other generated cases).
pub(super) const GENERATED_COPIES: usize = 60;

impl Generator<'_> {
    fn copies(&mut self) -> String {
        let agg = self.rng.pick_str(&["SUM", "AVG", "MIN", "MAX", "COUNT"]);
        let arith = self
            .rng
            .pick_str(&["", " + 1", " * 0.5", " - 2", " * 2 + 0.25"]);
        let cmp = self.rng.pick_str(&["<", "<=", ">", ">=", "=", "<>"]);
        let not = if self.rng.percent(40) { "NOT " } else { "" };
        let label = self.rng.pick_str(&[
            "rf.label = 'one'",
            "rf.label LIKE '%e%'",
            "rf.label <> 'zero'",
            "rf.label IN ('one', 'max', 'nothing')",
        ]);
        let o = self.predicate(&ORDERS_T, "o.");
        let x = self.predicate(&ORDERS_T, "x.");
        let u = self.predicate(&USERS_T, "u.");
        let xu = self.predicate(&USERS_T, "x.");
        match self.rng.below(6) {
            0 => {
                let column = self.rng.pick_str(&["amount", "qty"]);
                format!(
                    "SELECT o.id, o.{column} FROM orders o WHERE {o} AND o.{column} {cmp} (SELECT {agg}(x.{column}){arith} FROM orders x WHERE x.qty = o.qty AND {x})"
                )
            }
            1 => {
                let column = self.rng.pick_str(&["score", "balance"]);
                format!(
                    "SELECT u.id, u.{column} FROM users u WHERE {u} AND u.{column} {cmp} (SELECT {agg}(x.{column}){arith} FROM users x WHERE x.flag = u.flag AND {xu})"
                )
            }
            2 => format!(
                "SELECT COUNT(*), SUM(u.balance), MIN(u.id) FROM users u, flags rf WHERE u.flag = rf.flag AND {label} AND u.balance {cmp} (SELECT {agg}(x.balance){arith} FROM users x WHERE x.flag = rf.flag)"
            ),
            3 => format!(
                "SELECT COUNT(*), SUM(d.id), MAX(d.score) FROM (SELECT u.id, u.score FROM users u WHERE {u} AND {not}EXISTS (SELECT 1 FROM orders x WHERE x.qty = u.flag AND {x})) d"
            ),
            4 => {
                let k = self.rng.int(1, 3);
                format!(
                    "SELECT COUNT(*), MIN(d.id), MAX(d.id) FROM (SELECT u.id FROM users u WHERE {u} AND u.score {not}IN (SELECT x.qty * {k} FROM orders x WHERE x.user_id {cmp} u.flag AND {x})) d"
                )
            }
            _ => format!(
                "SELECT COUNT(*), SUM(o.amount), MAX(u.id) FROM users u JOIN orders o ON o.qty = u.flag, flags rf WHERE rf.flag = u.flag AND {label} AND CONCAT(u.name, o.status) <> '' AND {u}"
            ),
        }
    }
}

pub(super) fn generated_copies_cases(seed: u64, user_ids: &[i64]) -> Vec<Case> {
    let mut generator = Generator {
        rng: Rng(seed ^ 0x5EED_C0B1_E500_0002),
        user_ids,
    };
    (0..GENERATED_COPIES)
        .map(|n| Case {
            origin: format!("generated over copies #{n}"),
            sql: generator.copies(),
            check: Check::default(),
        })
        .collect()
}
