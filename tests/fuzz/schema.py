"""The random schema and data set: sharded tables (integer and string shard keys, every
strategy), reference tables and unsharded tables, with NULLs, duplicates, several collations,
DECIMAL, temporal, JSON, DOUBLE, boundary integers and awkward strings.

`Schema` holds the model the grammar draws values from; `Schema.refresh(table, rows)` updates
it from the reference server's rows after every checked write.
"""

from dataclasses import dataclass, field

import literals

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1
UINT64_MAX = 2 ** 64 - 1

# Collations a random string column may get: (DDL suffix, compares case/pad-insensitively).
COLLATIONS = [
    ("CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", True),
    ("CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", False),
    ("CHARACTER SET latin1", True),
    ("CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", True),
]

INTERESTING_INTS = [0, 1, -1, 2, 7, 42, 99, 100, 101, -99, -100, -101, 127, 128, 255, 256,
                    1000, 65535, 65536, INT32_MAX, INT32_MIN, INT32_MAX + 1, 2 ** 53, 2 ** 53 + 1,
                    INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 10 ** 18]

STRINGS = ["abc", "ABC", "Abc", "O'Brien", "back\\slash", "trail  ", " lead", "mixed Case",
           "naïve", "Ärger", "straße", "日本語", "emoji 😀", "", "%", "_", "a%b_c", "line\nbreak",
           "tab\there", 'say "hi"', "it''s", "\\%", "\\n", "x", "X", "zz", "10", "010", "-5",
           "a b", "A B ", "ümlaut", "café", "CAFÉ", "/* no */", "-- dash", "#hash", "semi;colon",
           "dir\\"]
LATIN1_STRINGS = [s for s in STRINGS if all(ord(c) < 256 for c in s)]

# String shard keys, with case and trailing-space variants that PAD SPACE and `_ci` collations
# call equal (`st_tags.tag` is utf8mb4_general_ci, `st_accounts.code` utf8mb4_bin).
KEY_STRINGS = ["abc", "ABC", "Abc", "abc ", "Abc  ", "k1 ", "USER-1", "O'Brien", "back\\slash", " lead", "k1", "k2", "k10", "K1",
               "naïve", "straße", "日本語", "emoji 😀", "42", "042", "-7", "%", "a%b", "q\"uote",
               "line\nbreak", "x", "y", "z", "user-1", "user-2", "user-3", "ümlaut", "café",
               "CAFÉ", "tab\tkey", "0x2A", "1e3", "NULL", "a'b''c", "\\'", "semi;colon", "a\\b",
               "\\n", "c:\\dir", "\\%", "k\\1", "x\\"]

DATES = ["1000-01-01", "1970-01-01", "1999-12-31", "2000-02-29", "2024-02-29", "2024-06-15",
         "2038-01-19", "9999-12-31", "2023-01-01", "2001-09-09"]
DATETIMES = ["1000-01-01 00:00:00", "1970-01-01 00:00:01", "1999-12-31 23:59:59",
             "2000-02-29 12:00:00", "2024-06-15 08:30:00", "2038-01-19 03:14:07",
             "9999-12-31 23:59:59", "2023-03-26 02:30:00", "2021-11-07 01:30:00"]
TIMESTAMPS = ["1971-01-01 00:00:01", "1999-12-31 23:59:59", "2000-02-29 12:00:00",
              "2024-06-15 08:30:00", "2037-12-31 23:59:59", "2010-10-10 10:10:10"]
JSONS = ['{"a": 1}', '[1, 2, "x"]', 'null', '"str"', '{"k": {"n": [1, 2]}, "s": "v"}', '{}',
         '[]', '{"a": 1.5e10}', '{"quote": "it\'s"}', '{"u": "ü"}', '123', 'true']
DECIMALS = ["0.00", "-0.01", "1.50", "-12.25", "99.99", "1000000.00", "-9999999999.99",
            "9999999999.99", "3.14", "0.10"]
DOUBLES = [0.0, 1.5, -0.25, 1e10, -1e-5, 3.141592653589793, 2.5e-300, 1.7976931348623157e308,
           0.1, 0.2, 100.0, -7.0]


@dataclass
class Column:
    name: str
    kind: str  # int | uint | str | dec | float | date | datetime | ts | json
    ddl: str
    nullable: bool = True
    ci: bool = False  # string compared case/pad-insensitively by its collation
    latin1: bool = False
    lo: int = INT64_MIN
    hi: int = INT64_MAX
    autoinc: bool = False
    scale: int = 2
    maxlen: int = 1000
    precision: int = 12


@dataclass
class Table:
    name: str
    role: str  # sharded | reference | unsharded
    columns: list
    pk: list
    key: str = None  # shard key column
    key_kind: str = None  # int | str
    strategy: str = None
    ranges: list = None
    rows: list = field(default_factory=list)  # current rows as dicts of raw text (from the reference)
    pk_fresh: bool = False  # pk is not the shard key: new pk values must be globally unique

    def col(self, name):
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def key_col(self):
        return self.col(self.key) if self.key else None

    def rule(self):
        if self.role == "reference":
            return {"name": self.name, "reference": True}
        if self.role == "sharded":
            return {"name": self.name, "shard_key": self.key, "strategy": self.strategy,
                    "shard_key_type": "string" if self.key_kind == "str" else "integer",
                    "ranges": self.ranges}
        return None

    def ddl(self):
        cols = []
        for c in self.columns:
            d = f"`{c.name}` {c.ddl}"
            if not c.nullable:
                d += " NOT NULL"
            elif c.kind == "ts":
                d += " NULL DEFAULT NULL"
            if c.autoinc:
                d += " AUTO_INCREMENT"
            cols.append(d)
        cols.append("PRIMARY KEY (" + ", ".join(f"`{p}`" for p in self.pk) + ")")
        if self.key and self.key not in self.pk:
            cols.append(f"KEY (`{self.key}`)")
        return f"CREATE TABLE `{self.name}` (" + ", ".join(cols) + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"


def str_col(rng, name, nullable=True, length=40):
    ddl, ci = rng.choice(COLLATIONS)
    return Column(name, "str", f"VARCHAR({length}) {ddl}", nullable=nullable, ci=ci,
                  latin1="latin1" in ddl, maxlen=length)


def build_schema(rng):
    """The tables of one run; collations are drawn from `rng`."""
    t = []
    t.append(Table("ch_users", "sharded", [
        Column("id", "int", "BIGINT", nullable=False),
        Column("k", "int", "INT", lo=-50, hi=50),
        str_col(rng, "name"),
        Column("amount", "dec", "DECIMAL(12,2)"),
        Column("born", "date", "DATE"),
        Column("created", "datetime", "DATETIME"),
        Column("ts", "ts", "TIMESTAMP"),
        Column("score", "float", "DOUBLE"),
        Column("doc", "json", "JSON"),
        Column("ub", "uint", "BIGINT UNSIGNED", lo=0, hi=UINT64_MAX),
    ], ["id"], key="id", key_kind="int", strategy="consistent_hash"))
    t.append(Table("ch_orders", "sharded", [
        Column("id", "int", "BIGINT", nullable=False, lo=1, hi=10 ** 12),
        Column("user_id", "int", "BIGINT", nullable=False),
        Column("qty", "int", "INT", nullable=False, lo=-5, hi=20),
        Column("price", "dec", "DECIMAL(10,3)", scale=3, precision=10),
        str_col(rng, "note", length=60),
        Column("status", "str", "VARCHAR(12) CHARACTER SET latin1", ci=True, latin1=True),
    ], ["id"], key="user_id", key_kind="int", strategy="consistent_hash", pk_fresh=True))
    t.append(Table("hm_items", "sharded", [
        Column("id", "int", "INT", nullable=False, lo=INT32_MIN, hi=INT32_MAX),
        Column("code", "str", "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
        Column("qty", "int", "SMALLINT", lo=-32768, hi=32767),
        Column("price", "dec", "DECIMAL(8,2)", precision=8),
        str_col(rng, "tag", length=20),
        Column("made", "date", "DATE"),
    ], ["id"], key="id", key_kind="int", strategy="hash_mod"))
    t.append(Table("rg_events", "sharded", [
        Column("id", "int", "BIGINT", nullable=False),
        Column("kind", "str", "VARCHAR(16) CHARACTER SET latin1", ci=True, latin1=True),
        Column("n", "int", "INT", lo=-1000, hi=1000),
        Column("at", "datetime", "DATETIME"),
        Column("v", "float", "DOUBLE"),
    ], ["id"], key="id", key_kind="int", strategy="range",
        ranges=[{"shard": "s0", "end": -100}, {"shard": "s1", "start": -100, "end": 100},
                {"shard": "s2", "start": 100}]))
    t.append(Table("st_accounts", "sharded", [
        Column("code", "str", "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", nullable=False),
        Column("owner", "int", "BIGINT"),
        Column("balance", "dec", "DECIMAL(14,4)", scale=4, precision=14),
        str_col(rng, "label"),
    ], ["code"], key="code", key_kind="str", strategy="consistent_hash"))
    t.append(Table("st_tags", "sharded", [
        Column("id", "int", "BIGINT", nullable=False, lo=1, hi=10 ** 12),
        Column("tag", "str", "VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
               nullable=False, ci=True),
        Column("weight", "int", "INT", lo=-100, hi=100),
        str_col(rng, "note"),
    ], ["id"], key="tag", key_kind="str", strategy="hash_mod", pk_fresh=True))
    t.append(Table("ref_countries", "reference", [
        Column("id", "int", "INT", nullable=False, lo=1, hi=500),
        Column("iso", "str", "CHAR(2) CHARACTER SET latin1 COLLATE latin1_bin", latin1=True, maxlen=2),
        str_col(rng, "name"),
        Column("pop", "int", "BIGINT", lo=0, hi=10 ** 10),
        Column("gdp", "dec", "DECIMAL(12,1)", scale=1, precision=12),
    ], ["id"]))
    t.append(Table("ref_seq", "reference", [
        Column("id", "int", "INT", nullable=False, autoinc=True, lo=1, hi=10 ** 6),
        Column("label", "str", "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", ci=True),
        Column("n", "int", "INT", lo=-10, hi=10),
    ], ["id"]))
    t.append(Table("un_log", "unsharded", [
        Column("id", "int", "BIGINT", nullable=False, autoinc=True, lo=1, hi=10 ** 9),
        str_col(rng, "msg", length=80),
        Column("n", "int", "INT", lo=-1000, hi=1000),
        Column("at", "datetime", "DATETIME"),
    ], ["id"]))
    t.append(Table("un_kv", "unsharded", [
        Column("k", "str", "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
               nullable=False, ci=True),
        Column("v", "int", "INT", lo=-100, hi=100),
        Column("d", "dec", "DECIMAL(6,2)", precision=6),
    ], ["k"]))
    return Schema(t)


class Schema:
    def __init__(self, tables):
        self.tables = tables
        self.by_name = {t.name: t for t in tables}
        self.next_fresh = 1_000_000

    def sharded(self):
        return [t for t in self.tables if t.role == "sharded"]

    def fresh_id(self):
        self.next_fresh += 1
        return self.next_fresh

    def refresh(self, name, rows):
        self.by_name[name].rows = rows

    # -- values ---------------------------------------------------------------------------

    def random_value(self, rng, col, table=None, allow_null=True):
        """A Python value for `col`: int, str (for str/date/json...), float, or None."""
        if allow_null and col.nullable and not col.autoinc and rng.random() < 0.12:
            return None
        k = col.kind
        if k in ("int", "uint"):
            return self.random_int(rng, col)
        if k == "str":
            if table is not None and table.key == col.name:
                v = rng.choice(KEY_STRINGS) if rng.random() < 0.7 else f"k{rng.randint(0, 999)}"
            else:
                v = rng.choice(LATIN1_STRINGS if col.latin1 else STRINGS)
            return v[:col.maxlen]
        if k == "dec":
            top = 10 ** (col.precision - col.scale) - 1
            fits = [d for d in DECIMALS if abs(float(d)) <= top and len(d.split(".")[1]) == col.scale]
            if fits and rng.random() < 0.5:
                return rng.choice(fits)
            whole = rng.randint(-min(top, 99999), min(top, 99999))
            frac = rng.randint(0, 10 ** col.scale - 1)
            sign = "-" if whole == 0 and rng.random() < 0.2 else ""
            return f"{sign}{whole}.{frac:0{col.scale}d}"
        if k == "float":
            return rng.choice(DOUBLES) if rng.random() < 0.5 else round(rng.uniform(-1000, 1000), rng.randint(0, 4))
        if k == "date":
            return rng.choice(DATES)
        if k == "datetime":
            return rng.choice(DATETIMES)
        if k == "ts":
            return rng.choice(TIMESTAMPS)
        if k == "json":
            return rng.choice(JSONS)
        raise ValueError(k)

    def random_int(self, rng, col):
        r = rng.random()
        if r < 0.35:
            cands = [v for v in INTERESTING_INTS if col.lo <= v <= col.hi]
            if cands:
                return rng.choice(cands)
        if r < 0.45 and col.kind == "uint":
            return rng.choice([0, 1, 2 ** 63, UINT64_MAX, UINT64_MAX - 1, 2 ** 32])
        lo, hi = max(col.lo, -1000), min(col.hi, 1000)
        if lo > hi:
            lo, hi = col.lo, col.hi
        return rng.randint(lo, hi)

    def existing(self, rng, table, colname):
        """A value of `colname` from a current row of `table` (raw text or None), or None if empty."""
        if not table.rows:
            return None
        return rng.choice(table.rows).get(colname)

    def key_value(self, rng, table, existing_bias=0.7):
        """A shard-key (or pk) value: usually one that exists, as a Python int or str."""
        col = table.key_col if table.key else table.col(table.pk[0])
        if table.rows and rng.random() < existing_bias:
            raw = self.existing(rng, table, col.name)
            if raw is not None:
                return int(raw) if col.kind in ("int", "uint") else raw
        if col.kind == "str":
            return self.random_value(rng, col, table, allow_null=False)
        return self.random_int(rng, col)

    def fresh_key(self, rng, table):
        """A new shard-key / pk value not present in the model (best effort)."""
        col = table.col(table.pk[0])
        present = {r.get(col.name) for r in table.rows}
        if table.pk_fresh:
            return self.fresh_id()
        for _ in range(50):
            v = self.random_value(rng, col, table, allow_null=False)
            if col.kind == "str":
                v = v.rstrip(" ") or "k"
                if col.ci:
                    if v.lower() not in {str(p).lower() for p in present}:
                        return v
                    continue
            if str(v) not in present:
                return v
        return self.fresh_id() if col.kind != "str" else f"fresh{self.fresh_id()}"


def literal(rng, col, value, mode, forms=True):
    """`value` (Python, as from Schema.random_value or raw text) as SQL for `col` under `mode`."""
    if value is None:
        return "NULL"
    k = col.kind
    if k in ("int", "uint"):
        return literals.render_int(rng, int(value), mode, allow_forms=forms)
    if k == "str":
        return literals.render_str(rng, value, mode, "latin1" if col.latin1 else "utf8mb4",
                                   allow_forms=forms)
    if k == "dec":
        return literals.render_decimal(rng, value, mode) if forms else str(value)
    if k == "float":
        v = float(value)
        return literals.render_float(rng, v, mode) if forms else repr(v)
    if k in ("date", "datetime", "ts"):
        return literals.render_temporal(rng, value, k, mode) if forms else literals.plain_string(rng, value, mode)
    if k == "json":
        return literals.plain_string(rng, value, mode)
    raise ValueError(k)


def initial_rows(rng, schema, table, n):
    """`n` random rows for `table` (dicts of Python values), pk-unique."""
    rows = []
    seen = set()
    for _ in range(n * 3):
        if len(rows) >= n:
            break
        row = {}
        for c in table.columns:
            if c.autoinc:
                continue
            row[c.name] = schema.random_value(rng, c, table, allow_null=c.nullable)
        if table.pk_fresh:
            row[table.pk[0]] = schema.fresh_id()
        if table.name == "ch_orders" and schema.by_name["ch_users"].rows and rng.random() < 0.8:
            row["user_id"] = int(rng.choice(schema.by_name["ch_users"].rows)["id"])
        pkcol = table.col(table.pk[0])
        if not pkcol.autoinc:
            pk = row[table.pk[0]]
            if pkcol.kind == "str":
                pk = pk.rstrip(" ") or "k"
                row[table.pk[0]] = pk
                norm = pk.lower() if pkcol.ci else pk
            else:
                norm = pk
            if norm in seen:
                continue
            seen.add(norm)
        rows.append(row)
    return rows
