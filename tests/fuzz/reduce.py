"""Reducing a difference to a small reproduction (--reduce K).

For the first difference of up to K classes: restore every table to its contents at the start of
the (part of the) session the difference happened in, replay a subset of that session's earlier
statements on fresh connections, run the differing statement and check that the same kind of
difference appears. Delta debugging (ddmin) removes statements, then whole tables' rows, then
single rows, as long as the difference still appears. The result is a script for
`--replay FILE --no-data --seed S`: INSERTs for the rows that matter, then the statements.
"""

import math
import re

import executor
from executor import select_all, sql_value
from report import diff_class

MAX_ATTEMPTS = 160


def snapshot(checker, schema):
    """{table: (column names, rows, next AUTO_INCREMENT or None)} from the reference server."""
    snap = {}
    for t in schema.tables:
        names, rows = select_all(checker.ref, t.name)
        auto = None
        if any(c.autoinc for c in t.columns):
            cur = checker.ref.cursor()
            cur.execute("SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                        f"AND TABLE_NAME = '{t.name}'")
            auto = cur.fetchone()[0]
            cur.close()
        snap[t.name] = (names, rows, auto)
    return snap


def restore(checker, snap, tables=None):
    """Puts every table (or `tables`) back to `snap` on both sides."""
    for name, (names, rows, auto) in snap.items():
        if tables is not None and name not in tables:
            continue
        cur = checker.ref.cursor()
        cur.execute(f"DELETE FROM `{name}`")
        cols = ", ".join(f"`{n}`" for n in names)
        for i in range(0, len(rows), 50):
            chunk = rows[i:i + 50]
            cur.execute(f"INSERT INTO `{name}` ({cols}) VALUES " +
                        ", ".join("(" + ", ".join(sql_value(v) for v in r) + ")" for r in chunk))
        if auto is not None:
            cur.execute(f"ALTER TABLE `{name}` AUTO_INCREMENT = {int(auto)}")
        cur.close()
        checker.resync(name)


def first_kind(diffs):
    return diff_class("", diffs).lstrip(": ")


class Reducer:
    def __init__(self, fuzzer):
        self.fz = fuzzer
        self.attempts = 0

    def reproduces(self, snap, autocommit, stmts, target, kind, table=None, check="contents"):
        """Whether running `stmts` then `target` on `snap` gives a difference of `kind` (or, with
        `table` and no target, whether that table then differs)."""
        self.attempts += 1
        fz = self.fz
        try:
            restore(fz.checker, snap)
        except Exception:
            # A lock left behind by the proxy: drop its connections and try once more.
            fz.restart_proxy()
            restore(fz.checker, snap)
        p, r = fz.connect_pair(autocommit)
        try:
            for sql in stmts:
                pa = executor.run(p, sql)
                if pa.refused:
                    continue
                ra = executor.run(r, sql)
                if pa.fatal or ra.fatal:
                    p, r = fz.reconnect(p, r, autocommit)
            if target is None and check == "placement":
                executor.run(p, "COMMIT")
                executor.run(r, "COMMIT")
                return bool(fz.checker.placement(table))
            if target is None:
                return bool(fz.checker.check(table))
            pa = executor.run(p, target.sql)
            if pa.refused:
                return False
            ra = executor.run(r, target.sql)
            diffs = executor.compare(target, pa, ra)
            return bool(diffs) and first_kind(diffs) == kind
        finally:
            for c in (p, r):
                try:
                    c.close()
                except Exception:
                    pass

    def ddmin(self, items, test):
        """A 1-minimal-ish subset of `items` for which `test` holds (it holds for `items`)."""
        if test([]):
            return []
        n = 2
        while len(items) >= 2 and self.attempts < MAX_ATTEMPTS:
            chunk = math.ceil(len(items) / n)
            removed = False
            for i in range(0, len(items), chunk):
                cand = items[:i] + items[i + chunk:]
                if test(cand):
                    items, n, removed = cand, max(n - 1, 2), True
                    break
                if self.attempts >= MAX_ATTEMPTS:
                    break
            if not removed:
                if n >= len(items):
                    break
                n = min(len(items), n * 2)
        if len(items) == 1 and self.attempts < MAX_ATTEMPTS and test([]):
            return []
        return items

    def reduce(self, case):
        """A reproduction script (text) for `case`, or None if it does not reproduce."""
        self.attempts = 0
        snap, autocommit, history, target = case["snapshot"], case["autocommit"], case["history"], case["stmt"]
        kind, table, check = case["kind"], case.get("table"), case.get("check", "contents")

        def attempt(snap_, stmts):
            return self.reproduces(snap_, autocommit, stmts, target, kind, table, check)

        stateful = [sql for sql, outcome, st in history if st and outcome != "refused"]
        everything = [sql for sql, outcome, st in history]
        if attempt(snap, stateful):
            items = stateful
        elif attempt(snap, everything):
            items = everything
        else:
            return None
        items = self.ddmin(items, lambda c: attempt(snap, c))
        # The rows that matter: first whole tables, then single rows of the tables left.
        snap = dict(snap)
        for name in sorted(snap):
            names, rows, auto = snap[name]
            if not rows:
                continue
            trial = dict(snap)
            trial[name] = (names, [], auto)
            if attempt(trial, items):
                snap = trial
        for name in sorted(snap):
            names, rows, auto = snap[name]
            if not rows or self.attempts >= MAX_ATTEMPTS:
                continue

            def test(sub, name=name, names=names, auto=auto):
                trial = dict(snap)
                trial[name] = (names, sub, auto)
                return attempt(trial, items)

            snap[name] = (names, self.ddmin(list(rows), test), auto)
        verified = attempt(snap, items)
        lines = []
        for name in sorted(snap):
            names, rows, _ = snap[name]
            if rows:
                cols = ", ".join(f"`{n}`" for n in names)
                vals = ", ".join("(" + ", ".join(sql_value(v) for v in r) + ")" for r in rows)
                lines.append(f"INSERT INTO `{name}` ({cols}) VALUES {vals}")
        lines += items
        if target is not None:
            lines.append(target.sql)
            expected = kind
        elif check == "placement":
            lines.append("COMMIT")
            expected = f"a row of `{table}` is then on another shard than `shardgate route` names"
        else:
            lines.append(f"SELECT * FROM `{table}`")
            expected = f"table `{table}` differs afterwards"
        header = (f"-- reduced repro ({self.attempts} attempts{'' if verified else ', NOT verified'}): "
                  f"{case['where']}; run with --replay FILE --no-data --seed {self.fz.args.seed}\n"
                  f"-- expected: {expected}")
        if not autocommit:
            lines.insert(0, "SET autocommit = 0")
        return header + "\n\n" + "\n\n".join(re.sub(r"\n\s*\n", "\n", s) for s in lines) + "\n"
