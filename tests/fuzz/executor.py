"""Running a statement on both sides and comparing the answers; checking whole tables.

An `Answer` is everything a client can observe of one statement: the error (code, message),
or the result set (column descriptors and rows, as the raw text the server sent) with affected
rows, last insert id and warning count. `compare(stmt, proxy, ref)` lists the differences,
honouring what the grammar said about the statement (ordered, count_only, ci_cols, agg).
"""

import codecs
import struct
import unicodedata
from collections import Counter

import pymysql
from pymysql.converters import escape_string

REFUSED = 1235  # ER_NOT_SUPPORTED_YET: the proxy's "not supported"
FATAL_CODES = {0, 2003, 2006, 2013, 2014, 2055}
SERVER_STATUS_IN_TRANS = 1
# Column flags compared: NOT_NULL, UNSIGNED, BINARY.
FLAG_MASK = 1 | 32 | 128
FLOAT_TYPES = {4, 5}  # FLOAT, DOUBLE
STRICT_WARNINGS = False  # compare warning counts exactly (--strict-warnings)


def _fuzz_codec(name):
    """utf-8 that survives invalid bytes (surrogateescape), so a result with bytes that are not
    UTF-8 is compared instead of breaking the connection."""
    if name != "utf8fuzz":
        return None
    utf8 = codecs.lookup("utf-8")

    def encode(s, errors="strict"):
        return utf8.encode(s, "surrogateescape")

    def decode(b, errors="strict"):
        return utf8.decode(b, "surrogateescape")

    return codecs.CodecInfo(encode, decode, name="utf8fuzz")


codecs.register(_fuzz_codec)


def prepare(conn):
    conn.encoding = "utf8fuzz"
    return conn


class Answer:
    __slots__ = ("error", "fields", "rows", "affected", "insert_id", "warnings", "fatal")

    def __init__(self):
        self.error = None
        self.fields = None
        self.rows = None
        self.affected = None
        self.insert_id = None
        self.warnings = None
        self.fatal = False

    @property
    def refused(self):
        return self.error is not None and self.error[0] == REFUSED

    def columns(self):
        if self.fields is None:
            return None
        return [(f.name, f.type_code, f.flags & FLAG_MASK, f.scale, f.charsetnr) for f in self.fields]

    def describe(self, max_rows=12, max_len=300):
        if self.error is not None:
            return f"error {self.error[0]}: {self.error[1][:max_len]}"
        parts = []
        if self.fields is not None:
            cols = ", ".join(f"{n}(type={t},flags={fl},dec={d},cs={cs})" for n, t, fl, d, cs in self.columns())
            parts.append(f"columns [{cols}]")
            shown = [tuple(short(v) for v in r) for r in self.rows[:max_rows]]
            more = f" … ({len(self.rows)} rows)" if len(self.rows) > max_rows else f" ({len(self.rows)} rows)"
            parts.append(f"rows {shown}{more}")
        else:
            parts.append(f"affected {self.affected}")
        parts.append(f"insert_id {self.insert_id}")
        parts.append(f"warnings {self.warnings}")
        return "; ".join(parts)


def short(v, n=60):
    if v is None:
        return None
    if isinstance(v, bytes):
        v = "0x" + v.hex()
    return v if len(v) <= n else v[:n] + "…"


def run(conn, sql):
    ans = Answer()
    cur = conn.cursor()
    try:
        cur.execute(sql)
        res = cur._result
        fields = getattr(res, "fields", None) if res is not None else None
        ans.fields = fields if fields else None
        ans.rows = list(res.rows) if ans.fields is not None and res.rows is not None else ([] if ans.fields else None)
        ans.affected = res.affected_rows if res is not None else None
        ans.insert_id = res.insert_id if res is not None else None
        ans.warnings = res.warning_count if res is not None else None
    except pymysql.err.MySQLError as e:
        code = e.args[0] if e.args and isinstance(e.args[0], int) else 0
        msg = str(e.args[1]) if len(e.args) > 1 else str(e)
        ans.error = (code, msg)
        if code in FATAL_CODES or isinstance(e, pymysql.err.InterfaceError):
            ans.fatal = True
    except (OSError, AttributeError, struct.error, IndexError, ValueError) as e:
        ans.error = (0, f"client: {type(e).__name__}: {e}")
        ans.fatal = True
    finally:
        try:
            cur.close()
        except Exception:
            pass
    return ans


# --- normalisation -------------------------------------------------------------------------


def ci_norm(v):
    """A value as a case-, accent- and trailing-space-insensitive collation would see it."""
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.rstrip(b" ")
    s = unicodedata.normalize("NFKD", v)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return s.casefold().rstrip(" ")


def float_norm(v):
    """A DOUBLE/FLOAT aggregate's value is not compared, only whether it is NULL: MariaDB
    does not define the order a SUM/AVG adds in, and with cancellation (1e19 + 1 - 1e19) any
    digit can change (README, exclusion 2)."""
    return None if v is None else "float"


def normalizers(stmt, fields):
    out = []
    ncols = len(fields)
    for i in range(ncols):
        fns = []
        if stmt.ci_cols == "all" or (stmt.ci_cols and i in stmt.ci_cols):
            fns.append(ci_norm)
        if stmt.agg and fields[i].type_code in FLOAT_TYPES:
            fns.append(float_norm)
        out.append(fns)
    return out


def norm_rows(rows, norms):
    out = []
    for r in rows:
        nr = []
        for v, fns in zip(r, norms):
            for fn in fns:
                v = fn(v)
            nr.append(v)
        out.append(tuple(nr))
    return out


def multiset_diff(a, b, limit=8):
    ca, cb = Counter(a), Counter(b)
    only_a = list((ca - cb).elements())[:limit]
    only_b = list((cb - ca).elements())[:limit]
    return only_a, only_b


# --- comparison ----------------------------------------------------------------------------


# Column flags that carry no information where MariaDB's metadata depends on its plan.
BINARY_FLAG = 128
STRING_TYPES = {15, 247, 248, 249, 250, 251, 252, 253, 254}


def comparable_column(c):
    """(name, type, flags, decimals, charset) with what MariaDB sets by plan left out: the
    BINARY flag of a column whose charset is binary anyway (numbers, dates), which a GROUP BY
    through a temporary table drops; and the decimals of a string column (0 or 39 likewise)."""
    name, typ, flags, dec, cs = c[:5]
    if cs == 63:
        flags &= ~BINARY_FLAG
    if typ in STRING_TYPES and cs != 63:
        dec = None
    return (name, typ, flags, dec, cs) + tuple(c[5:])


# Errors MariaDB raises while evaluating an expression on one row (out of range, bad value).
ROW_EVALUATION_ERRORS = {1264, 1292, 1365, 1366, 1690}


def compare(stmt, p, r, incomparable_warnings=None, spans_shards=None):
    """Differences between the proxy's answer `p` and the reference's `r` (list of strings).
    `incomparable_warnings(sql)` says whether the warnings of `sql` depend on how rows are
    split over the shards (see README, exclusion 4); `spans_shards(sql)` whether the proxy
    runs it on several shards (exclusion 12)."""
    diffs = []
    if p.error or r.error:
        one_row_error = any(a.error and a.error[0] in ROW_EVALUATION_ERRORS for a in (p, r))
        if one_row_error and spans_shards and spans_shards(stmt.sql):
            # A float SUM/AVG adds each shard's part first: a part may overflow where the
            # whole, added in another order, cancels (exclusion 2).
            if (p.error and r.error) or stmt.count_only or stmt.agg:
                # Which rows get evaluated first (or at all, before a LIMIT stops) is not
                # defined when the rows are split over shards (README, exclusion 12).
                return diffs
        if p.error and r.error:
            if p.error[0] != r.error[0]:
                diffs.append(f"error code: proxy {p.error[0]}, reference {r.error[0]}")
        elif p.error:
            diffs.append(f"proxy failed (error {p.error[0]}), reference succeeded")
        else:
            diffs.append(f"proxy succeeded, reference failed (error {r.error[0]})")
        return diffs
    pc, rc = p.columns(), r.columns()
    if (pc is None) != (rc is None):
        diffs.append("one side returned a result set, the other an OK packet")
        return diffs
    if pc is not None:
        if [c[0] for c in pc] != [c[0] for c in rc]:
            diffs.append(f"column names: proxy {[c[0] for c in pc]}, reference {[c[0] for c in rc]}")
        elif [comparable_column(c) for c in pc] != [comparable_column(c) for c in rc]:
            for a, b in zip(pc, rc):
                if comparable_column(a) != comparable_column(b):
                    diffs.append(f"column `{a[0]}` metadata: proxy (type={a[1]},flags={a[2]},dec={a[3]},cs={a[4]}), "
                                 f"reference (type={b[1]},flags={b[2]},dec={b[3]},cs={b[4]})")
        if len(pc) != len(rc):
            return diffs
        if stmt.count_only:
            if len(p.rows) != len(r.rows):
                diffs.append(f"row count: proxy {len(p.rows)}, reference {len(r.rows)}")
        else:
            norms = normalizers(stmt, r.fields)
            pr, rr = norm_rows(p.rows, norms), norm_rows(r.rows, norms)
            if stmt.ordered:
                if pr != rr:
                    if sorted(pr, key=repr) == sorted(rr, key=repr):
                        diffs.append("row order differs (ORDER BY is total)")
                    else:
                        oa, ob = multiset_diff(pr, rr)
                        diffs.append(f"rows differ: only proxy {oa}, only reference {ob}"
                                     f" ({len(pr)} vs {len(rr)} rows)")
            else:
                if Counter(pr) != Counter(rr):
                    oa, ob = multiset_diff(pr, rr)
                    diffs.append(f"rows differ: only proxy {oa}, only reference {ob} ({len(pr)} vs {len(rr)} rows)")
    else:
        if p.affected != r.affected:
            diffs.append(f"affected rows: proxy {p.affected}, reference {r.affected}")
    if p.insert_id != r.insert_id:
        diffs.append(f"last insert id: proxy {p.insert_id}, reference {r.insert_id}")
    if STRICT_WARNINGS:
        if p.warnings != r.warnings:
            diffs.append(f"warning count: proxy {p.warnings}, reference {r.warnings}")
    elif bool(p.warnings) != bool(r.warnings) and not (
            incomparable_warnings and incomparable_warnings(stmt.sql)):
        # How many warnings a statement raises can depend on the plan (rows evaluated), which
        # differs between the shards and one server: only their presence is compared, and
        # only for statements that run on one shard.
        diffs.append(f"warnings: proxy {p.warnings}, reference {r.warnings}")
    return diffs


# --- whole tables --------------------------------------------------------------------------


def select_all(conn, table):
    """(column names, rows) of a whole table, or raises."""
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT * FROM `{table}` LIMIT 18446744073709551615")
        names = [d[0] for d in cur.description]
        return names, [tuple(r) for r in cur.fetchall()]
    finally:
        cur.close()


def sql_value(v):
    if v is None:
        return "NULL"
    if isinstance(v, bytes):
        return "X'" + v.hex() + "'"
    return "'" + escape_string(v) + "'"


class TableChecker:
    """Reads tables through the proxy, from the reference server and from every shard's primary."""

    def __init__(self, topo, schema):
        self.topo = topo
        self.schema = schema
        self.ref = prepare(topo.connect_reference())
        self.shards = [(n, prepare(c)) for n, c in topo.connect_shards()]
        # Resyncs write; a proxy that left a transaction open must not stall them for 50 s.
        for c in [self.ref] + [c for _, c in self.shards]:
            c.cursor().execute("SET SESSION innodb_lock_wait_timeout = 3")
        self.proxy = None

    def proxy_conn(self):
        if self.proxy is None:
            self.proxy = prepare(self.topo.connect_proxy())
        return self.proxy

    def close(self):
        for c in [self.ref, self.proxy] + [c for _, c in self.shards]:
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass

    def check(self, table):
        """(differences, reference rows as dicts). Updates the schema model."""
        t = self.schema.by_name[table]
        names, ref_rows = select_all(self.ref, table)
        diffs = []
        try:
            _, prox_rows = select_all(self.proxy_conn(), table)
            if Counter(prox_rows) != Counter(ref_rows):
                oa, ob = multiset_diff(prox_rows, ref_rows, 6)
                diffs.append(f"table `{table}` through the proxy: only proxy {shorten(oa)}, only reference {shorten(ob)} "
                             f"({len(prox_rows)} vs {len(ref_rows)} rows)")
        except pymysql.err.MySQLError as e:
            self.proxy = None
            diffs.append(f"table `{table}`: SELECT * through the proxy failed: {e.args}")
        per_shard = []
        for name, conn in self.shards:
            if t.role == "unsharded" and name != self.shards[0][0]:
                per_shard.append((name, []))
                continue
            _, rows = select_all(conn, table)
            per_shard.append((name, rows))
        if t.role == "sharded":
            union = [r for _, rows in per_shard for r in rows]
            if Counter(union) != Counter(ref_rows):
                oa, ob = multiset_diff(union, ref_rows, 6)
                counts = ", ".join(f"{n}: {len(rows)}" for n, rows in per_shard)
                diffs.append(f"table `{table}` on the shards ({counts}; reference {len(ref_rows)}): "
                             f"only shards {shorten(oa)}, only reference {shorten(ob)}")
        elif t.role == "reference":
            for name, rows in per_shard:
                if Counter(rows) != Counter(ref_rows):
                    oa, ob = multiset_diff(rows, ref_rows, 6)
                    diffs.append(f"reference table `{table}` on {name}: only shard {shorten(oa)}, "
                                 f"only reference {shorten(ob)}")
        else:
            name, rows = per_shard[0]
            if Counter(rows) != Counter(ref_rows):
                oa, ob = multiset_diff(rows, ref_rows, 6)
                diffs.append(f"unsharded table `{table}` on {name}: only shard {shorten(oa)}, only reference {shorten(ob)}")
        dict_rows = [dict(zip(names, r)) for r in ref_rows]
        self.schema.refresh(table, dict_rows)
        self._per_shard = per_shard
        return diffs

    def placement(self, table):
        """Differences between where each row of a sharded table is and where `shardgate route`
        puts its key."""
        t = self.schema.by_name[table]
        idx = [c.name for c in t.columns].index(t.key)
        keys, where = [], []
        for name, conn in self.shards:
            _, rows = select_all(conn, table)
            for r in rows:
                k = r[idx]
                if isinstance(k, bytes) or k is None:
                    continue
                if t.key_kind == "str":
                    try:
                        if str(int(k)) != k:
                            continue  # `route` would read it as the integer
                    except ValueError:
                        pass
                keys.append(k)
                where.append(name)
        expected = self.topo.route(table, keys)
        if expected is None:
            return [f"table `{table}`: `shardgate route` failed"]
        bad = [(k, w, e) for k, w, e in zip(keys, where, expected) if w != e]
        if bad:
            shown = ", ".join(f"{k!r} on {w}, route says {e}" for k, w, e in bad[:6])
            return [f"table `{table}`: {len(bad)} row(s) on the wrong shard: {shown}"]
        return []

    def resync(self, table):
        """Makes the proxy's side of `table` equal to the reference's, writing to the shards
        directly (rows placed where `shardgate route` says)."""
        t = self.schema.by_name[table]
        names, ref_rows = select_all(self.ref, table)
        cols = ", ".join(f"`{n}`" for n in names)
        targets = {name: [] for name, _ in self.shards}
        if t.role == "sharded":
            idx = names.index(t.key)
            keys = [r[idx] for r in ref_rows]
            shards = self.topo.route(table, keys) or []
            for r, s in zip(ref_rows, shards):
                targets.setdefault(s, []).append(r)
        elif t.role == "reference":
            for name in targets:
                targets[name] = list(ref_rows)
        else:
            targets[self.shards[0][0]] = list(ref_rows)
        auto = None
        if any(c.autoinc for c in t.columns):
            cur = self.ref.cursor()
            cur.execute("SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                        f"AND TABLE_NAME = '{table}'")
            auto = cur.fetchone()[0]
            cur.close()
        for name, conn in self.shards:
            if t.role == "unsharded" and name != self.shards[0][0]:
                continue
            cur = conn.cursor()
            cur.execute(f"DELETE FROM `{table}`")
            rows = targets.get(name, [])
            for i in range(0, len(rows), 50):
                chunk = rows[i:i + 50]
                values = ", ".join("(" + ", ".join(sql_value(v) for v in r) + ")" for r in chunk)
                cur.execute(f"INSERT INTO `{table}` ({cols}) VALUES {values}")
            if auto is not None:
                cur.execute(f"ALTER TABLE `{table}` AUTO_INCREMENT = {int(auto)}")
            cur.close()


def shorten(rows):
    return [tuple(short(v, 30) for v in r) for r in rows]
