//! Generated statements answered from copies that read less than the copies would: scalar
//! subqueries correlated on non-key columns (joined as grouped derived tables), membership
//! subqueries (read from their distinct values) and copies narrowed by a filtered reference
//! table — with random conditions, aggregates, comparisons and NULLs, so that whichever path a
//! statement takes (the rewrite, or the copies it keeps) its answer is checked. Then copies
//! and join sides narrowed (ARCHITECTURE's vocabulary): by a co-located copy, by what a
//! disjunction implies, by chains of reference tables, by inner joins' ON clauses, beside
//! outer joins whose ON must not narrow. Seeded apart from the other generated cases.

use super::{Case, Check, Generator, Rng, ORDERS_T, USERS_T};

/// Generated statements over copies (on top of the other generated cases).
pub(super) const GENERATED_COPIES: usize = 60;
/// Generated statements whose copies or join sides are narrowed.
pub(super) const GENERATED_NARROWED: usize = 60;

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

impl Generator<'_> {
    fn narrowed(&mut self) -> String {
        let u = self.predicate(&USERS_T, "u.");
        let u2 = self.predicate(&USERS_T, "u.");
        let o = self.predicate(&ORDERS_T, "o.");
        let o2 = self.predicate(&ORDERS_T, "o.");
        let label = |rng: &mut Rng, alias: &str| {
            let v = rng.pick_str(&["'one'", "'zero'", "'max'", "'minus one'", "'none'"]);
            match rng.below(3) {
                0 => format!("{alias}.label = {v}"),
                1 => format!("{alias}.label <> {v}"),
                _ => format!("{alias}.label LIKE '%{}%'", rng.pick_str(&["e", "o", "x"])),
            }
        };
        let l1 = label(&mut self.rng, "f1");
        let l2 = label(&mut self.rng, "f2");
        // Keeps the statement on copies: a COUNT correlated on a column placed otherwise.
        let stay = format!(
            "u.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = {})",
            self.rng.pick_str(&["u.flag", "o.qty", "u.score"])
        );
        let colocated = match self.rng.below(3) {
            0 => ("users u JOIN orders o ON o.user_id = u.id", String::new()),
            1 => ("users u, orders o", "o.user_id = u.id AND ".to_owned()),
            _ => (
                "orders o STRAIGHT_JOIN users u ON u.id = o.user_id",
                String::new(),
            ),
        };
        let (from, join) = colocated;
        match self.rng.below(6) {
            0 => format!(
                "SELECT COUNT(*), SUM(o.amount), MIN(u.id), MAX(o.id) FROM {from} WHERE {join}{u} AND {o} AND {stay}"
            ),
            1 => format!(
                "SELECT COUNT(*), SUM(o.amount), MIN(u.id), MAX(o.id) FROM {from} WHERE {join}(({u} AND {o}) OR ({u2} AND {o2})) AND {stay}"
            ),
            2 => format!(
                "SELECT COUNT(*), SUM(u.score), MIN(o.id) FROM {from}, flags f1, flags f2 WHERE {join}u.flag = f1.flag AND o.qty = f2.flag AND (({l1} AND {l2}) OR ({o} AND {l2})) AND {stay}"
            ),
            3 => format!(
                "SELECT COUNT(*), MIN(u.id), MAX(o.id) FROM {from}, flags f1, flags f2 WHERE {join}u.flag = f1.flag AND f1.flag = f2.flag AND {l2} AND {o} AND {stay}"
            ),
            4 => format!(
                "SELECT COUNT(*), MIN(u.id), MAX(o.id), SUM(o.amount) FROM users u LEFT JOIN orders o ON o.user_id = u.id AND {o} AND {u} WHERE ({u2} OR {o2}) AND {stay}"
            ),
            // The Join primitive: a side narrowed by the other side's reference table.
            _ => format!(
                "SELECT COUNT(*), MIN(u.id), MAX(o.id), SUM(o.amount) FROM users u JOIN flags f1 ON f1.flag = u.flag JOIN orders o ON o.id = u.score WHERE o.qty = f1.flag AND {l1} AND {o}"
            ),
        }
    }
}

pub(super) fn generated_narrowed_cases(seed: u64, user_ids: &[i64]) -> Vec<Case> {
    let salt = 0x5EED_C0B1_E500_0003;
    cases(
        seed ^ salt,
        user_ids,
        GENERATED_NARROWED,
        "narrowed",
        Generator::narrowed,
    )
}

pub(super) fn generated_copies_cases(seed: u64, user_ids: &[i64]) -> Vec<Case> {
    let salt = 0x5EED_C0B1_E500_0002;
    cases(
        seed ^ salt,
        user_ids,
        GENERATED_COPIES,
        "over copies",
        Generator::copies,
    )
}

/// `count` statements of `make`, seeded by `seed`.
fn cases<'a>(
    seed: u64,
    user_ids: &'a [i64],
    count: usize,
    kind: &str,
    make: fn(&mut Generator<'a>) -> String,
) -> Vec<Case> {
    let mut generator = Generator {
        rng: Rng(seed),
        user_ids,
    };
    (0..count)
        .map(|n| Case {
            origin: format!("generated {kind} #{n}"),
            sql: make(&mut generator),
            check: Check::default(),
        })
        .collect()
}
