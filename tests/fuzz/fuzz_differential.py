#!/usr/bin/env python3
"""Randomized, grammar-based differential tester: shardgate in front of 3 MariaDB shards
against one plain MariaDB. See tests/fuzz/README.md.

    python3 tests/fuzz/fuzz_differential.py --statements 5000 --seed 1 --binary target/debug/shardgate
"""

import argparse
import os
import random
import re
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pymysql  # noqa: E402

import executor  # noqa: E402
import grammar  # noqa: E402
import reduce as reducer  # noqa: E402
import schema as schema_mod  # noqa: E402
from report import Report  # noqa: E402
from topology import Topology  # noqa: E402

ROWS_PER_TABLE = {"ch_users": 40, "ch_orders": 60, "hm_items": 40, "rg_events": 40, "st_accounts": 30,
                  "st_tags": 40, "ref_countries": 15, "ref_seq": 8, "un_log": 15, "un_kv": 15}
LOAD_BATCH = 8


READS_PREVIOUS = re.compile(
    r"row_count\s*\(|found_rows\s*\(|@@(session\.|local\.)?(warning_count|error_count)"
    r"|show\s+(count\s*\(\s*\*\s*\)\s+)?(warnings|errors)",
    re.IGNORECASE,
)

# Statements reading the previous statement's warnings.
READS_WARNINGS = re.compile(
    r"@@(session\.|local\.)?warning_count|show\s+(count\s*\(\s*\*\s*\)\s+)?warnings",
    re.IGNORECASE,
)

# A write (or SET / DO) whose own SELECTs set FOUND_ROWS(): a subquery, or a multi-table
# UPDATE / DELETE (README, exclusion 14).
SELECTS_IN_WRITE = re.compile(
    r"^\s*(insert|replace|update|delete|set|do)\b.*(\bselect\b|\bjoin\b)", re.IGNORECASE | re.DOTALL)
STARTS_SELECT = re.compile(r"^\s*(select|with|\()", re.IGNORECASE)


class Interrupted(BaseException):
    pass


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--statements", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--binary", default="target/debug/shardgate")
    ap.add_argument("--keep", action="store_true", help="keep the servers' data directories")
    ap.add_argument("--max-differences", type=int, default=0, help="stop after this many (0: run all)")
    ap.add_argument("--show", type=int, default=20, help="differences printed in full")
    ap.add_argument("--run-dir", default=None)
    ap.add_argument("--session-length", type=int, nargs=2, default=[40, 250], metavar=("MIN", "MAX"))
    ap.add_argument("--replay", metavar="FILE",
                    help="run the statements of FILE (separated by blank lines) in one session on the "
                         "seed's data set, printing both answers of each, instead of generating")
    ap.add_argument("--no-data", action="store_true", help="with --replay: create the tables but load no rows")
    ap.add_argument("--reduce", type=int, default=0, metavar="K",
                    help="after the run, reduce the first difference of up to K classes to a small "
                         "reproduction (repro-N.sql in the run dir; slow: up to a minute each)")
    ap.add_argument("--reduce-filter", metavar="REGEX", default=None,
                    help="reduce only differences whose class, statement or features match REGEX")
    ap.add_argument("--strict-warnings", action="store_true",
                    help="compare warning counts exactly (default: only whether there are warnings)")
    return ap.parse_args(argv)


class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.run_dir = args.run_dir or tempfile.mkdtemp(prefix=f"sgfuzz-{args.seed}-", dir="/tmp")
        os.makedirs(self.run_dir, exist_ok=True)
        self.report = Report(args.seed, max_full=args.show)
        self.topo = Topology(os.path.abspath(args.binary), self.run_dir, log=self.report.log)
        self.schema = None
        self.checker = None
        self.stop_now = False
        self.differed_since_check = False
        self.last_differed = False
        self.proxy_restarted = False
        self.snapshot = None
        self.cases = {}  # difference class -> reduction case
        self.stmt_log = open(os.path.join(self.run_dir, "statements.log"), "w")

    # -- setup ---------------------------------------------------------------------------

    def setup(self):
        t0 = time.monotonic()
        self.report.log(f"fuzz-differential: seed {self.args.seed}, {self.args.statements} statements, "
                        f"run dir {self.run_dir}")
        self.topo.start_databases()
        self.schema = schema_mod.build_schema(self.rng)
        ref = executor.prepare(self.topo.connect_reference())
        shards = self.topo.connect_shards()
        for t in self.schema.tables:
            ddl = t.ddl()
            ref.cursor().execute(ddl)
            for i, (name, conn) in enumerate(shards):
                if t.role != "unsharded" or i == 0:
                    conn.cursor().execute(ddl)
        for _, c in shards:
            c.close()
        self.topo.write_proxy_config([t.rule() for t in self.schema.tables if t.rule()])
        self.topo.start_proxy()
        self.checker = executor.TableChecker(self.topo, self.schema)
        proxy = executor.prepare(self.topo.connect_proxy())
        mode = grammar.literals.Mode()
        for t in self.schema.tables:
            rows = schema_mod.initial_rows(self.rng, self.schema, t, ROWS_PER_TABLE.get(t.name, 20))
            if self.args.no_data:
                rows = []
            cols = [c for c in t.columns if not c.autoinc]
            head = f"INSERT INTO `{t.name}` ({', '.join('`' + c.name + '`' for c in cols)}) VALUES "
            batches = [rows[i:i + LOAD_BATCH] for i in range(0, len(rows), LOAD_BATCH)]
            for batch in batches:
                tuples = ["(" + ", ".join(schema_mod.literal(self.rng, c, r.get(c.name), mode, forms=False)
                                          for c in cols) + ")" for r in batch]
                a = executor.run(proxy, head + ", ".join(tuples))
                if a.refused:
                    tuples_list = [[x] for x in tuples]
                else:
                    tuples_list = [tuples] if not a.error else []
                    if a.error:
                        self.report.log(f"load: proxy error {a.error} for a batch of {t.name}; inserting rows one by one")
                        tuples_list = [[x] for x in tuples]
                    else:
                        executor.run(ref, head + ", ".join(tuples))
                        continue
                for tl in tuples_list:
                    a = executor.run(proxy, head + ", ".join(tl))
                    if a.error:
                        self.report.log(f"load: proxy error {a.error} for {head + tl[0]}")
                        continue
                    b = executor.run(ref, head + ", ".join(tl))
                    if b.error:
                        self.report.log(f"load: reference error {b.error} for {head + tl[0]}")
            diffs = self.checker.check(t.name)
            if diffs:
                self.report.add_difference(f"loading {t.name}", None, None, None, diffs, [], counted=False)
                self.checker.resync(t.name)
                self.checker.check(t.name)
        proxy.close()
        ref.close()
        self.report.log(f"setup: {sum(len(t.rows) for t in self.schema.tables)} rows in "
                        f"{len(self.schema.tables)} tables, {time.monotonic() - t0:.1f}s")

    # -- sessions ------------------------------------------------------------------------

    def connect_pair(self, autocommit):
        self.warnings_incomparable = False
        p = executor.prepare(self.topo.connect_proxy(autocommit=autocommit, read_timeout=30))
        r = executor.prepare(self.topo.connect_reference(autocommit=autocommit, read_timeout=30))
        return p, r

    after_refusal = False
    # The warnings MariaDB keeps are those of a statement whose warnings depend on how rows
    # are split over the shards (README, exclusion 4): reading them is not compared.
    warnings_incomparable = False
    found_rows_undefined = False

    def run_sessions(self):
        done = 0
        session_no = 0
        lo, hi = self.args.session_length
        while done < self.args.statements and not self.stop_now:
            session_no += 1
            n = min(self.rng.randint(lo, hi), self.args.statements - done)
            autocommit = self.rng.random() < 0.85
            done += self.run_session(session_no, n, autocommit)

    def run_session(self, session_no, n, autocommit):
        sess = grammar.Session(autocommit=autocommit)
        ctx = grammar.Ctx(self.rng, self.schema, sess)
        p, r = self.connect_pair(autocommit)
        # Before the session's first SELECT, MariaDB's FOUND_ROWS() is what the last connection
        # to use its cached server thread left (README, exclusion 15).
        self.found_rows_undefined = True
        self.take_snapshot()
        self.autocommit = autocommit
        history = []  # (sql, outcome, stateful)
        dirty = set()
        self.differed_since_check = False
        executed = 0
        part = 0
        try:
            for i in range(n):
                if self.stop_now:
                    break
                stmt = grammar.generate(ctx)
                executed += 1
                label = f"{session_no}.{part}" if part else f"{session_no}"
                where = f"session {label} (autocommit={int(autocommit)}), statement {i + 1}"
                fatal = self.execute(stmt, p, r, sess, history, where, dirty)
                if self.last_differed and stmt.kind in ("set", "var", "tx"):
                    # The two sessions' states may have diverged: start both afresh rather
                    # than report the consequences.
                    fatal = True
                if fatal:
                    part += 1
                    p, r = self.reconnect(p, r, autocommit)
                    sess.__init__(autocommit=autocommit)
                    dirty.update(t.name for t in self.schema.tables)
                if not (r.server_status & executor.SERVER_STATUS_IN_TRANS) and dirty:
                    self.check_tables(dirty, where, stmt, history)
                if self.proxy_restarted:
                    # The session's proxy connection died with the proxy: start afresh.
                    part += 0 if fatal else 1
                    fatal = True
                    p, r = self.reconnect(p, r, autocommit)
                    sess.__init__(autocommit=autocommit)
                self.proxy_restarted = False
                if fatal:
                    self.check_placement(f"session {label}", history)
                    history.clear()
                    self.take_snapshot()
            if r.server_status & executor.SERVER_STATUS_IN_TRANS or not sess.autocommit:
                stmt = grammar.Stmt("COMMIT", "tx_end", kind="tx")
                self.execute(stmt, p, r, sess, history, f"session {session_no}, end", dirty, counted=False)
            if dirty:
                self.check_tables(dirty, f"session {session_no}, end", None, history)
            self.check_placement(f"session {session_no}", history)
        finally:
            for c in (p, r):
                try:
                    c.close()
                except Exception:
                    pass
        return executed

    def reconnect(self, p, r, autocommit):
        self.found_rows_undefined = True  # new connections (README, exclusion 15)
        for c in (p, r):
            try:
                c.close()
            except Exception:
                pass
        if not self.topo.proxy_alive():
            self.report.log(f"proxy exited ({self.topo.proxy.returncode}); restarting it; see {self.topo.proxy_log.name}")
            self.restart_proxy()
        return self.connect_pair(autocommit)

    def execute(self, stmt, p, r, sess, history, where, dirty, counted=True):
        """Runs `stmt` on both sides, compares, records. Returns True if a connection broke."""
        feats = grammar.features(stmt.sql, sess)
        self.last_differed = False
        # After a statement the proxy refused (and MariaDB ran), what describes the previous
        # statement (ROW_COUNT(), FOUND_ROWS(), the warnings) differs by construction: the
        # proxy's previous statement is the refusal. Not compared until a statement naming a
        # table ran on both sides (README, exclusion 13).
        undefined_found_rows = self.found_rows_undefined and re.search(r"found_rows\s*\(", stmt.sql, re.I)
        split_warnings = self.warnings_incomparable and READS_WARNINGS.search(stmt.sql)
        if (self.after_refusal and READS_PREVIOUS.search(stmt.sql)) or undefined_found_rows or split_warnings:
            pa = executor.run(p, stmt.sql)
            executor.run(r, stmt.sql)
            self.log_stmt(where, "refused", stmt.sql)
            if counted:
                self.report.add_refused(stmt, "reads FOUND_ROWS() where MariaDB's is undefined"
                                        if undefined_found_rows else
                                        "reads the warnings of a statement run across shards"
                                        if split_warnings and not self.after_refusal else
                                        "reads the previous statement, which the proxy refused")
            history.append((stmt.sql, "refused", stmt.stateful))
            return False
        if SELECTS_IN_WRITE.search(stmt.sql):
            self.found_rows_undefined = True
        elif STARTS_SELECT.search(stmt.sql):
            self.found_rows_undefined = False
        pa = executor.run(p, stmt.sql)
        if pa.refused:
            self.after_refusal = True
            self.log_stmt(where, "refused", stmt.sql)
            if counted:
                self.report.add_refused(stmt, pa.error[1])
            history.append((stmt.sql, "refused", stmt.stateful))
            return False
        if any(t.name in stmt.sql for t in self.schema.tables):
            self.after_refusal = False
        ra = executor.run(r, stmt.sql)
        mode = ",".join(sorted(sess.mode.modes))
        sharded = [t.name for t in self.schema.tables if t.role == "sharded"]

        def incomparable_warnings(sql):
            # A sharded table's rows are split: which of them a condition is evaluated on (and
            # warns about) differs from one server's (README, exclusion 4).
            low = sql.lower()
            return any(t in low for t in sharded) or self.topo.spans_shards(sql, mode)
        diffs = executor.compare(stmt, pa, ra, incomparable_warnings,
                                 lambda sql: self.topo.spans_shards(sql, mode))
        if not READS_PREVIOUS.search(stmt.sql):
            # MariaDB's list: a statement raising conditions replaces it, one using a table
            # empties it, another leaves it.
            raised = bool(pa.warnings or ra.warnings)
            if raised and incomparable_warnings(stmt.sql):
                self.warnings_incomparable = True
            elif raised or any(t.name in stmt.sql for t in self.schema.tables):
                self.warnings_incomparable = False
        if ra.error is None and stmt.on_success is not None:
            stmt.on_success(sess)
        dirty.update(w for w in stmt.writes if w != "*")
        if diffs:
            repro = [s for s, outcome, stateful in history if stateful and outcome != "refused"]
            repro.append(stmt.sql)
            if pa.fatal:
                diffs.append("the proxy connection broke" + ("" if self.topo.proxy_alive() else " (the proxy exited)"))
            self.report.add_difference(where, stmt, pa.describe(), ra.describe(), diffs, repro, counted=counted,
                                       feats=feats)
            cls = self.report.differences[-1]["class"]
            key = f"{cls} | {stmt.sql} | {' '.join(feats)}"
            wanted = not self.args.reduce_filter or re.search(self.args.reduce_filter, key)
            if (self.snapshot is not None and wanted and cls not in self.cases
                    and len(self.cases) < self.args.reduce):
                self.cases[cls] = {"snapshot": self.snapshot, "autocommit": self.autocommit,
                                   "history": list(history), "stmt": stmt, "kind": reducer.first_kind(diffs),
                                   "where": where, "number": len(self.report.differences)}
            self.last_differed = True
            if stmt.writes:
                self.differed_since_check = True
            if self.args.max_differences and self.report.different >= self.args.max_differences:
                self.stop_now = True
        elif counted:
            self.report.add_equal()
        history.append((stmt.sql, "different" if diffs else "equal", stmt.stateful))
        self.log_stmt(where, f"DIFFERENT #{len(self.report.differences)}" if diffs else "equal", stmt.sql)
        return pa.fatal or ra.fatal

    def check_placement(self, where, history):
        """Every row of every sharded table on the shard `shardgate route` names for its key."""
        for t in self.schema.sharded():
            diffs = self.checker.placement(t.name)
            if not diffs:
                continue
            repro = [s for s, outcome, stateful in history if stateful and outcome != "refused"]
            self.report.add_difference(f"{where}, end: placement", grammar.Stmt("", "placement"), None, None,
                                       diffs, repro, counted=False)
            cls = self.report.differences[-1]["class"]
            if (self.snapshot is not None and cls not in self.cases and len(self.cases) < self.args.reduce
                    and (not self.args.reduce_filter or re.search(self.args.reduce_filter, cls))):
                self.cases[cls] = {"snapshot": self.snapshot, "autocommit": self.autocommit,
                                   "history": list(history), "stmt": None, "table": t.name,
                                   "check": "placement", "kind": "placement", "where": where,
                                   "number": len(self.report.differences)}
            self.resync(t.name)

    def take_snapshot(self):
        if self.args.reduce:
            self.snapshot = reducer.snapshot(self.checker, self.schema)

    def reduce_cases(self):
        if not self.cases:
            return
        self.report.log(f"reducing {len(self.cases)} difference(s) …")
        r = reducer.Reducer(self)
        for cls, case in self.cases.items():
            try:
                text = r.reduce(case)
            except pymysql.err.MySQLError as e:
                self.report.log(f"=== difference #{case['number']} [{cls}]: reduction failed: {e.args}")
                self.restart_proxy()
                continue
            if text is None:
                self.report.log(f"=== difference #{case['number']} [{cls}]: does not reproduce in isolation")
                continue
            path = os.path.join(self.run_dir, f"repro-{case['number']}.sql")
            with open(path, "w") as f:
                f.write(text)
            self.report.log(f"=== reduced repro of difference #{case['number']} [{cls}] ({path}):")
            for line in text.rstrip("\n").split("\n"):
                if line.strip():
                    self.report.log("    " + line)

    def log_stmt(self, where, outcome, sql):
        self.stmt_log.write(f"{where}\t{outcome}\t{sql!r}\n")

    # -- replay --------------------------------------------------------------------------

    def replay(self, path):
        with open(path) as f:
            text = f.read()
        stmts = [s.strip() for s in text.split("\n\n") if s.strip()]
        # Chunks that are only `-- …` comment lines (like the header of a reduced repro) are skipped.
        stmts = [s for s in stmts if not all(line.lstrip().startswith("--") for line in s.split("\n"))]
        p, r = self.connect_pair(True)
        for i, sql in enumerate(stmts):
            stmt = grammar.Stmt(sql.rstrip(";"), "replay")
            pa = executor.run(p, stmt.sql)
            rep = self.report
            rep.statements += 1
            print(f"--- [{i + 1}] {stmt.sql}")
            print(f"    proxy:     {pa.describe(max_rows=50)}")
            if pa.refused:
                rep.refused += 1
                print("    (refused: not run on the reference)")
                continue
            ra = executor.run(r, stmt.sql)
            diffs = executor.compare(stmt, pa, ra)
            print(f"    reference: {ra.describe(max_rows=50)}")
            for d in diffs:
                print(f"    DIFFERENT: {d}")
            if diffs:
                rep.different += 1
            else:
                rep.equal += 1
            if pa.fatal or ra.fatal:
                p, r = self.reconnect(p, r, True)
        tables = 0
        for name in sorted(t.name for t in self.schema.tables):
            for d in self.checker.check(name):
                print(f"    TABLE DIFFERENT: {d}")
                tables += 1
        for t in self.schema.sharded():
            for d in self.checker.placement(t.name):
                print(f"    PLACEMENT DIFFERENT: {d}")
                tables += 1
        if tables:
            print(f"replay: {tables} table/placement difference(s) at the end")
        p.close()
        r.close()
        return tables

    def check_tables(self, dirty, where, stmt, history):
        after = self.differed_since_check
        self.differed_since_check = False
        for name in sorted(dirty):
            diffs = self.checker.check(name)
            if diffs:
                repro = [s for s, outcome, stateful in history if stateful and outcome != "refused"]
                # Table contents that differ although no write reported a difference are
                # silent data errors; after a differing write they are its consequence.
                label = ("table check (after a write that already differed)" if after
                         else "table check (silent: no write reported a difference)")
                tagged = grammar.Stmt(stmt.sql if stmt else "", f"{stmt.tag if stmt else 'session end'}, {label}")
                self.report.add_difference(f"{where}: {label}", tagged, None, None, diffs, repro, counted=False)
                if self.snapshot is not None and len(self.cases) < self.args.reduce:
                    cls = self.report.differences[-1]["class"]
                    key = f"{cls} | {tagged.sql} | "
                    if cls not in self.cases and (not self.args.reduce_filter
                                                  or re.search(self.args.reduce_filter, key)):
                        self.cases[cls] = {"snapshot": self.snapshot, "autocommit": self.autocommit,
                                           "history": list(history), "stmt": None, "table": name,
                                           "kind": "table", "where": where,
                                           "number": len(self.report.differences)}
                self.log_stmt(where, f"TABLE DIFFERENT #{len(self.report.differences)}", stmt.sql if stmt else "")
                self.resync(name)
        dirty.clear()

    def resync(self, name):
        """Rewrites the proxy's side of a table from the reference. A lock wait here means the
        proxy kept a transaction open on a shard although the client's session has none: that
        is reported, and the proxy restarted to drop its connections."""
        try:
            self.checker.resync(name)
        except pymysql.err.MySQLError as e:
            self.report.add_difference(f"resync of `{name}`", grammar.Stmt("", "resync"), None, None,
                                       [f"rewriting `{name}` on the shards failed: {e.args} — the proxy "
                                        "holds locks outside any client transaction; restarting the proxy"],
                                       [], counted=False)
            self.restart_proxy()
            self.checker.resync(name)
        self.checker.check(name)

    def restart_proxy(self):
        self.topo.stop_proxy()
        self.topo.start_proxy()
        self.checker.proxy = None
        self.proxy_restarted = True

    # -- teardown ------------------------------------------------------------------------

    def close(self):
        if self.checker is not None:
            self.checker.close()
        self.stmt_log.close()
        self.topo.stop(keep=self.args.keep)


def main(argv):
    args = parse_args(argv)
    executor.STRICT_WARNINGS = args.strict_warnings
    fz = Fuzzer(args)

    interrupted = []

    def on_term(signum, frame):
        # Raise once: a signal sent to the whole process group may arrive twice.
        if not interrupted:
            interrupted.append(signum)
            raise Interrupted()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    t0 = time.monotonic()
    status = 2
    try:
        fz.setup()
        if args.replay:
            tables = fz.replay(args.replay)
            status = 1 if fz.report.different or tables else 0
        else:
            fz.run_sessions()
            fz.reduce_cases()
            status = 1 if fz.report.different else 0
    except (KeyboardInterrupt, Interrupted):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        fz.report.log("interrupted")
        status = 130
    except Exception as e:
        import traceback
        fz.report.log("fuzz-differential: internal failure: " + "".join(traceback.format_exception(e)))
        status = 2
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            fz.close()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    fz.report.log(f"time: {time.monotonic() - t0:.1f}s; report: {os.path.join(fz.run_dir, 'report.txt')}")
    fz.report.finish(os.path.join(fz.run_dir, "report.txt"))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
