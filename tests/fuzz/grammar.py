"""The statement grammar: small weighted productions that each return a `Stmt`.

Every random choice comes from `ctx.rng` (one seeded random.Random per run). A production
knows what it generates, so it also says how its answer may be compared: `ordered` (the ORDER
BY gives a total order), `count_only` (LIMIT or sql_select_limit without a total order: only the
row count is defined), `ci_cols` (output columns holding one of several collation-equal values,
e.g. a GROUP BY representative), `agg` (floating-point aggregates: compare with a tolerance).
To extend the grammar, add a function `gen_x(ctx) -> Stmt` and list it in `PRODUCTIONS`.
"""

import re as _re
from dataclasses import dataclass, field

import literals
from schema import KEY_STRINGS, literal

# --- statements and session model --------------------------------------------------------


@dataclass
class Stmt:
    sql: str
    tag: str
    kind: str = "read"  # read | write | set | tx | var
    ordered: bool = False
    count_only: bool = False
    ci_cols: object = None  # None, set of output column indexes, or "all"
    agg: bool = False
    writes: set = field(default_factory=set)
    on_success: object = None  # callable(session) applied when the reference ran it without error

    @property
    def stateful(self):
        return self.kind != "read"


# The server's version for executable comments: MariaDB 10.11.x.
SERVER_VERSION = 101100


def exec_comment_runs(prefix, version):
    """Whether MariaDB 10.11 runs `/*!NNNNN …*/` (prefix '!') or `/*M!NNNNNN …*/` (prefix 'M!')."""
    if version is None:
        return True
    if prefix == "M!":
        return version <= SERVER_VERSION
    if version < 50700:
        return True
    if version <= 99999:
        return False
    return version <= SERVER_VERSION


EXEC_VERSIONS = [("!", None), ("!", 40100), ("!", 50699), ("!", 50700), ("!", 50701), ("!", 80000),
                 ("!", 99999), ("!", 100000), ("!", 101100), ("!", 110000), ("M!", 100000),
                 ("M!", 101100), ("M!", 999999), ("!", 32302)]


def exec_comment(rng, body):
    """(text, runs): `body` wrapped in a random executable comment."""
    prefix, version = rng.choice(EXEC_VERSIONS)
    v = "" if version is None else str(version)
    return f"/*{prefix}{v} {body} */", exec_comment_runs(prefix, version)


class Session:
    """What the generator knows about the session's state (mirrors both sides)."""

    def __init__(self, autocommit=True):
        self.mode = literals.Mode()
        self.mode_names = set(literals.DEFAULT_MODES)
        self.select_limit = None
        self.vars = set()
        self.autocommit = autocommit
        self.in_tx = not autocommit
        self.savepoint = False

    def set_modes(self, names):
        self.mode_names = set(names)
        self.mode = literals.Mode(names)


class Ctx:
    def __init__(self, rng, schema, session):
        self.rng = rng
        self.schema = schema
        self.s = session

    # random helpers
    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(seq)

    def sp(self):
        """A token separator: usually a space, sometimes a comment or other white space."""
        r = self.rng.random()
        if r < 0.93:
            return " "
        return self.pick([" /* c */ ", "/**/", " -- line comment\n", " # hash comment\n", "\n",
                          "\t", " /* it's * / not the end */ ", " -- WHERE 1=0\n",
                          " /* /* nested? */ ", "  "])

    def ident(self, name):
        """An identifier, bare or quoted (backticks, or double quotes under ANSI_QUOTES)."""
        r = self.rng.random()
        if r < 0.12:
            return f"`{name}`"
        if r < 0.17 and self.s.mode.ansi_quotes:
            return f'"{name}"'
        return name

    def colref(self, name, alias=None):
        n = name
        if self.chance(0.08):
            n = name.upper() if self.chance(0.5) else name.capitalize()
        n = self.ident(n)
        return f"{alias}.{n}" if alias else n

    def fn(self, name):
        """A function name followed by '(' — sometimes with a space (IGNORE_SPACE matters)."""
        sep = " " if self.chance(0.04) else ""
        if self.chance(0.1):
            name = name.lower()
        return name + sep + "("

    def lit(self, col, value, forms=True):
        return literal(self.rng, col, value, self.s.mode, forms)

    def str_lit(self, s):
        return literals.quote_string(self.rng, s, self.s.mode)

    def table(self, role=None, key_kind=None):
        ts = [t for t in self.schema.tables
              if (role is None or t.role == role) and (key_kind is None or t.key_kind == key_kind)]
        return self.pick(ts)

    def var(self):
        return "@" + self.pick(["a", "b", "c", "x", "y", "V"])


# --- expressions ---------------------------------------------------------------------------


def key_lit(ctx, t, existing=0.75):
    col = t.key_col if t.key else t.col(t.pk[0])
    if col.kind == "str" and ctx.s.mode.nbe and ctx.chance(0.35):
        # Under NO_BACKSLASH_ESCAPES, keys whose text has a backslash read differently.
        pool = [r[col.name] for r in t.rows if r.get(col.name) and "\\" in r[col.name]]
        pool = pool or [k for k in KEY_STRINGS if "\\" in k]
        return ctx.lit(col, ctx.pick(pool))
    return ctx.lit(col, ctx.schema.key_value(ctx.rng, t, existing))


def col_value_lit(ctx, t, col, existing=0.5):
    if t.rows and ctx.chance(existing):
        v = ctx.schema.existing(ctx.rng, t, col.name)
        if v is not None:
            return ctx.lit(col, v)
    return ctx.lit(col, ctx.schema.random_value(ctx.rng, col, t, allow_null=False))


def nonkey_pred(ctx, t, alias=None):
    cols = [c for c in t.columns if c.name != t.key]
    c = ctx.pick(cols)
    ref = ctx.colref(c.name, alias)
    r = ctx.rng.random()
    if r < 0.12 and c.nullable:
        return f"{ref} IS {ctx.pick(['NULL', 'NOT NULL'])}"
    k = c.kind
    if k in ("int", "uint"):
        op = ctx.pick(["=", ">", "<", ">=", "<=", "<>", "!=", "<=>"])
        if ctx.chance(0.15):
            return f"{ref} BETWEEN {col_value_lit(ctx, t, c)} AND {col_value_lit(ctx, t, c)}"
        if ctx.chance(0.1):
            return f"{ref} % 2 = {ctx.pick(['0', '1'])}"
        if ctx.chance(0.1):
            vals = ", ".join(col_value_lit(ctx, t, c) for _ in range(ctx.rng.randint(1, 4)))
            return f"{ref} {ctx.pick(['IN', 'NOT IN'])} ({vals})"
        return f"{ref} {op} {col_value_lit(ctx, t, c)}"
    if k == "str":
        if ctx.chance(0.3):
            pat = ctx.pick(["a%", "%a%", "%e", "_", "%\\_%", "%\\%%", "A%", "%'%", "%\\\\%", "O%"])
            esc = f" ESCAPE {ctx.str_lit('|')}" if ctx.chance(0.1) else ""
            if esc:
                pat = pat.replace("\\", "|")
            return f"{ref} {ctx.pick(['LIKE', 'NOT LIKE'])} {ctx.str_lit(pat)}{esc}"
        if ctx.chance(0.1):
            return f"{ctx.fn('LENGTH')}{ref}) > {ctx.rng.randint(0, 8)}"
        op = ctx.pick(["=", ">", "<", "<>", ">="])
        return f"{ref} {op} {col_value_lit(ctx, t, c)}"
    if k == "dec":
        return f"{ref} {ctx.pick(['>', '<', '=', '>='])} {col_value_lit(ctx, t, c)}"
    if k == "float":
        return f"{ref} {ctx.pick(['>', '<'])} {ctx.pick(['0', '1.5', '-1', '100'])}"
    if k in ("date", "datetime", "ts"):
        if ctx.chance(0.3):
            return f"{ctx.fn('YEAR')}{ref}) {ctx.pick(['=', '>', '<'])} {ctx.pick(['2000', '2024', '1970', '9999'])}"
        return f"{ref} {ctx.pick(['<', '>', '=', '>='])} {col_value_lit(ctx, t, c)}"
    if k == "json":
        return ctx.pick([f"{ctx.fn('JSON_EXTRACT')}{ref}, '$.a') = 1",
                         f"{ctx.fn('JSON_TYPE')}{ref}) = 'OBJECT'",
                         f"{ctx.fn('JSON_LENGTH')}{ref}) > 0"])
    return "1 = 1"


def key_pred(ctx, t, alias=None):
    """A predicate on the shard key (or the pk of unsharded/reference tables)."""
    kname = t.key or t.pk[0]
    kcol = t.col(kname)
    ref = ctx.colref(kname, alias)
    r = ctx.rng.random()
    if r < 0.40:
        lhs, rhs = ref, key_lit(ctx, t)
        if ctx.chance(0.08):
            lhs, rhs = rhs, lhs
        return f"{lhs}{ctx.sp()}={ctx.sp()}{rhs}"
    if r < 0.55:
        n = ctx.rng.randint(1, 5)
        return f"{ref} IN ({', '.join(key_lit(ctx, t) for _ in range(n))})"
    if r < 0.65:
        if kcol.kind == "str":
            return f"{ref} {ctx.pick(['>', '<', '>='])} {ctx.lit(kcol, ctx.pick(['k', 'm', 'a', 'Z', 'user-2']))}"
        if ctx.chance(0.5):
            return f"{ref} BETWEEN {key_lit(ctx, t)} AND {key_lit(ctx, t)}"
        return f"{ref} {ctx.pick(['>', '<', '>=', '<='])} {key_lit(ctx, t)}"
    if r < 0.72:
        return f"({ref} = {key_lit(ctx, t)} OR {ref} = {key_lit(ctx, t)})"
    if r < 0.77:
        # OR normally; concatenation under PIPES_AS_CONCAT
        return f"{ref} = {key_lit(ctx, t)} || {ref} = {key_lit(ctx, t)}"
    if r < 0.81:
        # NOT binds looser than = normally; tighter under HIGH_NOT_PRECEDENCE
        if ctx.chance(0.5):
            return f"NOT {ref} = {key_lit(ctx, t)}"
        return f"NOT {ref} BETWEEN {key_lit(ctx, t)} AND {key_lit(ctx, t)}"
    if r < 0.86 and ctx.s.vars:
        return f"{ref} = {ctx.pick(sorted(ctx.s.vars))}"
    if r < 0.90:
        return f"{ref} <=> {key_lit(ctx, t)}"
    if r < 0.94:
        return f"{ref} = {key_lit(ctx, t)} AND {ref} = {key_lit(ctx, t)}"
    return f"{ref} IN ({key_lit(ctx, t)})"


def with_exec_comment(ctx, t, pred, alias=None):
    """`pred` with an executable comment that would widen, narrow or replace it."""
    kname = t.key or t.pk[0]
    ref = ctx.colref(kname, alias)
    r = ctx.rng.random()
    if r < 0.45:
        text, _ = exec_comment(ctx.rng, f"OR {ref} = {key_lit(ctx, t)}")
        return f"{pred} {text}"
    if r < 0.65:
        text, _ = exec_comment(ctx.rng, ctx.pick(["AND 1 = 0", "AND FALSE", f"AND {ref} <> {ref}"]))
        return f"{pred} {text}"
    if r < 0.8:
        text, _ = exec_comment(ctx.rng, f"{ref} = {key_lit(ctx, t)} OR")
        return f"{text} {pred}"
    if r < 0.9:
        text, _ = exec_comment(ctx.rng, f"OR {nonkey_pred(ctx, t, alias)}")
        return f"({pred} {text})"
    # Runs: `pred OR key = v OR 0`; does not run: `pred OR 0`.
    text, _ = exec_comment(ctx.rng, f"{ref} = {key_lit(ctx, t)} OR")
    return f"{pred} OR {text} 0"


def where_clause(ctx, t, alias=None, allow_none=True):
    """' WHERE …' (or '' for no condition) mixing key and non-key predicates."""
    r = ctx.rng.random()
    if allow_none and r < 0.08:
        return ""
    if r < 0.55:
        pred = key_pred(ctx, t, alias)
    elif r < 0.75:
        pred = nonkey_pred(ctx, t, alias)
    elif r < 0.88:
        pred = f"{key_pred(ctx, t, alias)} {ctx.pick(['AND', 'AND', 'OR', '&&'])} {nonkey_pred(ctx, t, alias)}"
    else:
        pred = f"{nonkey_pred(ctx, t, alias)} AND {nonkey_pred(ctx, t, alias)}"
    if ctx.chance(0.18):
        pred = with_exec_comment(ctx, t, pred, alias)
    return f"{ctx.sp()}WHERE{ctx.sp()}{pred}"


def select_list(ctx, t, alias=None):
    """(text, ncols, ci output cols) for a plain row select."""
    if ctx.chance(0.2):
        return ("*" if not alias else f"{alias}.*"), len(t.columns), set()
    cols = ctx.rng.sample(t.columns, ctx.rng.randint(1, min(4, len(t.columns))))
    parts = []
    for c in cols:
        ref = ctx.colref(c.name, alias)
        r = ctx.rng.random()
        if r < 0.75:
            parts.append(ref)
        elif r < 0.85:
            parts.append(f"{ref} AS {ctx.ident('c_' + c.name)}")
        elif c.kind in ("int", "dec") and r < 0.92:
            parts.append(f"{ref} {ctx.pick(['+ 1', '* 2', '- 1', '/ 3', 'DIV 2'])}")
        elif c.kind == "str":
            parts.append(ctx.pick([f"{ctx.fn('UPPER')}{ref})", f"{ctx.fn('LENGTH')}{ref})",
                                   f"{ctx.fn('CONCAT')}{ref}, {ctx.str_lit('!')})",
                                   f"{ctx.fn('HEX')}{ref})", f"{ctx.fn('CHAR_LENGTH')}{ref})"]))
        elif c.kind in ("date", "datetime", "ts"):
            parts.append(ctx.pick([f"{ctx.fn('DATE_FORMAT')}{ref}, '%M %d %Y')",
                                   f"{ctx.fn('UNIX_TIMESTAMP')}{ref})", f"{ctx.fn('DAYNAME')}{ref})"]))
        else:
            parts.append(ref)
    if ctx.chance(0.05):
        text, _ = exec_comment(ctx.rng, ", 1 AS extra")
        parts[-1] += " " + text
    return ", ".join(parts), len(parts), set()


def order_limit(ctx, t, alias=None, stmt=None, cols_total=None):
    """' ORDER BY … LIMIT …' for a single-table select; sets stmt.ordered / count_only."""
    out = ""
    total = False
    r = ctx.rng.random()
    if r < 0.45:
        keys = cols_total or [ctx.colref(p, alias) for p in t.pk]
        out += " ORDER BY " + ", ".join(f"{k}{ctx.pick(['', ' ASC', ' DESC'])}" for k in keys)
        total = True
    elif r < 0.6:
        c = ctx.pick([c for c in t.columns if c.kind != "json"])
        out += f" ORDER BY {ctx.colref(c.name, alias)}{ctx.pick(['', ' DESC'])}"
    if ctx.chance(0.25):
        n = ctx.rng.randint(0, 6)
        if ctx.chance(0.3):
            out += f" LIMIT {ctx.rng.randint(0, 3)}, {n}"
        elif ctx.chance(0.2):
            out += f" LIMIT {n} OFFSET {ctx.rng.randint(0, 3)}"
        else:
            out += f" LIMIT {n}"
        if not total:
            stmt.count_only = True
    elif ctx.s.select_limit is not None and not total:
        stmt.count_only = True
    stmt.ordered = total
    return out


# --- reads ---------------------------------------------------------------------------------


def gen_select_rows(ctx):
    t = ctx.table()
    st = Stmt("", "select")
    alias = None
    frm = ctx.ident(t.name)
    if ctx.chance(0.2):
        alias = "t0"
        frm += ctx.pick([" AS t0", " t0"])
    cols, _, _ = select_list(ctx, t, alias)
    where = where_clause(ctx, t, alias)
    opts = ""
    if ctx.chance(0.05):
        opts = ctx.pick(["SQL_NO_CACHE ", "/*!40001 SQL_NO_CACHE */ ", "ALL ", "STRAIGHT_JOIN "])
    st.sql = f"SELECT{ctx.sp()}{opts}{cols}{ctx.sp()}FROM{ctx.sp()}{frm}{where}"
    st.sql += order_limit(ctx, t, alias, st)
    if ctx.chance(0.04):
        st.sql += ctx.pick([" FOR UPDATE", " LOCK IN SHARE MODE"])
    return st


def gen_select_point(ctx):
    """A point lookup by shard key with an unusual literal form."""
    t = ctx.table(role="sharded")
    st = Stmt("", "point")
    kcol = t.key_col
    ref = ctx.colref(t.key)
    v = ctx.schema.key_value(ctx.rng, t, 0.85)
    lit = ctx.lit(kcol, v)
    extra = ""
    if ctx.chance(0.25):
        text, _ = exec_comment(ctx.rng, f"OR {ref} = {key_lit(ctx, t)}")
        extra = " " + text
    cols, _, _ = select_list(ctx, t)
    st.sql = f"SELECT {cols} FROM {ctx.ident(t.name)} WHERE {ref} = {lit}{extra}"
    st.sql += order_limit(ctx, t, None, st)
    return st


AGGS_NUM = ["COUNT", "SUM", "MIN", "MAX", "AVG"]


def agg_expr(ctx, t, alias=None):
    """(text, is_ci, is_float)"""
    r = ctx.rng.random()
    if r < 0.2:
        return f"{ctx.fn('COUNT')}*)", False, False
    cols = [c for c in t.columns if c.kind != "json"]
    c = ctx.pick(cols)
    ref = ctx.colref(c.name, alias)
    if c.kind in ("int", "uint", "dec", "float"):
        f = ctx.pick(AGGS_NUM + ["COUNT"])
        if ctx.chance(0.08):
            return f"{ctx.fn(f)}DISTINCT {ref})", False, c.kind == "float"
        if ctx.chance(0.03):
            return f"{ctx.fn(ctx.pick(['STD', 'VARIANCE', 'BIT_OR', 'BIT_XOR']))}{ref})", False, True
        if ctx.chance(0.05):
            return f"{ctx.fn('SUM')}{ref}) / {ctx.fn('COUNT')}*)", False, c.kind == "float"
        return f"{ctx.fn(f)}{ref})", False, c.kind == "float" or f == "AVG" and c.kind == "float"
    f = ctx.pick(["COUNT", "MIN", "MAX"])
    if f == "COUNT" and ctx.chance(0.2):
        return f"{ctx.fn('COUNT')}DISTINCT {ref})", False, False
    if c.kind == "str" and ctx.chance(0.05):
        return f"{ctx.fn('GROUP_CONCAT')}{ctx.colref(t.pk[0], alias)} ORDER BY {ctx.colref(t.pk[0], alias)})", False, False
    return f"{ctx.fn(f)}{ref})", (c.kind == "str" and c.ci and f != "COUNT"), False


def gen_aggregate(ctx):
    t = ctx.table()
    st = Stmt("", "aggregate", agg=True)
    n = ctx.rng.randint(1, 3)
    parts, ci = [], set()
    group = None
    if ctx.chance(0.45):
        gcols = [c for c in t.columns if c.kind in ("int", "str", "date", "dec")]
        group = ctx.pick(gcols)
        parts.append(ctx.colref(group.name))
        if group.kind == "str" and group.ci:
            ci.add(0)
    for _ in range(n):
        text, is_ci, _ = agg_expr(ctx, t)
        if is_ci:
            ci.add(len(parts))
        if ctx.chance(0.1):
            text += f" AS {ctx.ident('agg' + str(len(parts)))}"
        parts.append(text)
    st.sql = f"SELECT {', '.join(parts)} FROM {ctx.ident(t.name)}{where_clause(ctx, t)}"
    if group is not None:
        g = ctx.colref(group.name)
        # WITH ROLLUP: each group, then the total; MariaDB's order, and no ORDER BY (1221).
        rollup = ctx.chance(0.15)
        st.sql += f" GROUP BY {g}" + (" WITH ROLLUP" if rollup else "")
        if ctx.chance(0.2):
            st.sql += f" HAVING {ctx.fn('COUNT')}*) {ctx.pick(['>', '>=', '='])} {ctx.rng.randint(1, 3)}"
        if rollup:
            st.ordered = True
        elif ctx.chance(0.6):
            st.sql += f" ORDER BY {g}{ctx.pick(['', ' DESC', ' ASC'])}"
            st.ordered = True
        elif ctx.chance(0.2):
            st.sql += f" ORDER BY {ctx.fn('COUNT')}*) DESC"
        if ctx.chance(0.15):
            st.sql += f" LIMIT {ctx.rng.randint(1, 5)}"
            if not st.ordered:
                st.count_only = True
        if ctx.s.select_limit is not None and not st.ordered:
            st.count_only = True
    st.ci_cols = ci
    return st


def gen_window(ctx):
    """Window functions over a scatter: one window, partitioned or not, ordered or not, the
    merge's (ROW_NUMBER only under a total order, sums of exact numbers) and the copies'."""
    t = ctx.table()
    st = Stmt("", "window")
    pks = [ctx.colref(p) for p in t.pk]
    part = None
    if ctx.chance(0.7):
        part = ctx.pick([c for c in t.columns if c.kind in ("int", "str", "date", "dec")])
    order = None
    if ctx.chance(0.75):
        order = ctx.pick([c for c in t.columns if c.kind in ("int", "uint", "dec", "date", "str")])
    total = order is not None and ctx.chance(0.5)
    over = []
    if part is not None:
        over.append("PARTITION BY " + ctx.colref(part.name))
    if order is not None:
        terms = [ctx.colref(order.name) + ctx.pick(["", " DESC"])] + (pks if total else [])
        over.append("ORDER BY " + ", ".join(terms))
    over = " ".join(over)
    items, ci = list(pks), set()
    nums = [c for c in t.columns if c.kind in ("int", "uint", "dec")]
    for _ in range(ctx.rng.randint(1, 3)):
        r = ctx.rng.random()
        if r < 0.2 and total:
            f = "ROW_NUMBER()"
        elif r < 0.4:
            f = ctx.pick(["RANK()", "DENSE_RANK()"])
        elif r < 0.55:
            f = f"{ctx.fn('COUNT')}*)"
        elif r < 0.85 and nums:
            f = f"{ctx.fn(ctx.pick(['SUM', 'AVG', 'MIN', 'MAX', 'COUNT']))}{ctx.colref(ctx.pick(nums).name)})"
        else:
            c = ctx.pick([c for c in t.columns if c.kind != "json"])
            f = f"{ctx.fn(ctx.pick(['MIN', 'MAX']))}{ctx.colref(c.name)})"
            if c.kind == "str" and c.ci:
                ci.add(len(items))
        items.append(f"{f} OVER ({over})")
    st.sql = (f"SELECT {', '.join(items)} FROM {ctx.ident(t.name)}{where_clause(ctx, t)} "
              f"ORDER BY {', '.join(pks)}")
    st.ordered = True
    st.ci_cols = ci
    return st


def gen_distinct(ctx):
    t = ctx.table()
    c = ctx.pick([c for c in t.columns if c.kind not in ("json", "float")])
    st = Stmt("", "distinct")
    ref = ctx.colref(c.name)
    st.sql = f"SELECT DISTINCT {ref} FROM {ctx.ident(t.name)}{where_clause(ctx, t)}"
    if ctx.chance(0.5):
        st.sql += f" ORDER BY {ref}{ctx.pick(['', ' DESC'])}"
        st.ordered = True
    if ctx.chance(0.15):
        st.sql += f" LIMIT {ctx.rng.randint(1, 5)}"
        st.count_only = not st.ordered
    if ctx.s.select_limit is not None and not st.ordered:
        st.count_only = True
    if c.kind == "str" and c.ci:
        st.ci_cols = {0}
    return st


JOINS = [
    # (left, right, on, left alias, right alias)
    ("ch_users", "ch_orders", "u.id = o.user_id", "u", "o"),
    ("ch_orders", "ref_countries", "o.qty = r.id", "o", "r"),
    ("hm_items", "ref_countries", "h.qty = r.id", "h", "r"),
    ("un_log", "un_kv", "l.n = v.v", "l", "v"),
    ("ch_users", "ref_countries", "u.k = r.id", "u", "r"),
    ("st_accounts", "ch_users", "a.owner = u.id", "a", "u"),
    ("ch_users", "un_kv", "u.k = v.v", "u", "v"),
    ("st_tags", "st_accounts", "g.tag = a.code", "g", "a"),
]


def gen_join(ctx):
    lt, rt, on, la, ra = ctx.pick(JOINS)
    L, R = ctx.schema.by_name[lt], ctx.schema.by_name[rt]
    st = Stmt("", "join")
    jt = ctx.pick(["JOIN", "INNER JOIN", "LEFT JOIN", "JOIN", "CROSS JOIN"])
    lcols = ctx.rng.sample([c.name for c in L.columns if c.kind != "float"], 2)
    rcols = ctx.rng.sample([c.name for c in R.columns if c.kind != "float"], 2)
    cols = [f"{la}.{c}" for c in lcols] + [f"{ra}.{c}" for c in rcols]
    if ctx.chance(0.15):
        text, _, _ = agg_expr(ctx, R, ra)
        st.sql = f"SELECT {ctx.fn('COUNT')}*), {text} "
        st.agg = True
    else:
        st.sql = f"SELECT {', '.join(cols)} "
    cond = f" ON {on}" if jt != "CROSS JOIN" else ""
    if jt == "CROSS JOIN":
        wh = f" WHERE {on} AND {key_pred(ctx, L, la)}"
    else:
        wh = where_clause(ctx, L, la)
    st.sql += f"FROM {ctx.ident(L.name)} {la} {jt} {ctx.ident(R.name)} {ra}{cond}{wh}"
    if not st.agg and ctx.chance(0.5):
        st.sql += f" ORDER BY {', '.join(f'{la}.{p}' for p in L.pk)}, {', '.join(f'{ra}.{p}' for p in R.pk)}"
        st.ordered = True
        if ctx.chance(0.2):
            st.sql += f" LIMIT {ctx.rng.randint(1, 6)}"
    if ctx.s.select_limit is not None and not st.ordered and not st.agg:
        st.count_only = True
    return st


def gen_subquery(ctx):
    st = Stmt("", "subquery")
    r = ctx.rng.random()
    users, orders = ctx.schema.by_name["ch_users"], ctx.schema.by_name["ch_orders"]
    if r < 0.25:
        st.sql = (f"SELECT id, name FROM ch_users WHERE id IN (SELECT user_id FROM ch_orders"
                  f"{where_clause(ctx, orders, allow_none=False)}) ORDER BY id")
        st.ordered = True
    elif r < 0.4:
        t = ctx.table()
        st.sql = f"SELECT (SELECT {ctx.fn('COUNT')}*) FROM {ctx.ident(t.name)}{where_clause(ctx, t)}) AS n"
    elif r < 0.55:
        t = ctx.table(role="sharded")
        st.sql = f"SELECT (SELECT {ctx.fn(ctx.pick(['MAX', 'MIN', 'SUM', 'COUNT']))}{ctx.ident(t.key)}) FROM {ctx.ident(t.name)}) AS v, 1 AS one"
        st.agg = True
    elif r < 0.7:
        st.sql = (f"SELECT u.id, (SELECT {ctx.fn('COUNT')}*) FROM ch_orders o WHERE o.user_id = u.id) AS n "
                  f"FROM ch_users u{where_clause(ctx, users, 'u')} ORDER BY u.id")
        st.ordered = True
    elif r < 0.8:
        st.sql = (f"SELECT id FROM ch_users u WHERE {ctx.pick(['', 'NOT '])}EXISTS (SELECT 1 FROM ch_orders o "
                  f"WHERE o.user_id = u.id AND o.qty > {ctx.rng.randint(-2, 10)}) ORDER BY id")
        st.ordered = True
    elif r < 0.9:
        t = ctx.table(role="sharded")
        st.sql = (f"SELECT {ctx.ident(t.key)} FROM {ctx.ident(t.name)} WHERE {ctx.ident(t.key)} = "
                  f"(SELECT {ctx.fn('MAX')}{ctx.ident(t.key)}) FROM {ctx.ident(t.name)})")
    else:
        t = ctx.table()
        st.sql = f"SELECT {ctx.fn('COUNT')}*) FROM {ctx.ident(t.name)} WHERE {ctx.ident(t.pk[0])} IN (SELECT {ctx.ident(t.pk[0])} FROM {ctx.ident(t.name)}{where_clause(ctx, t)})"
    if ctx.s.select_limit is not None and not st.ordered:
        st.count_only = True
    return st


def gen_pushdown(ctx):
    """Statements the proxy sends whole to one shard (every sharded reference pinned to one user's
    shard) or to every shard (subqueries correlated on the co-located keys of ch_users and
    ch_orders, which share one ring)."""
    st = Stmt("", "pushdown")
    users, orders = ctx.schema.by_name["ch_users"], ctx.schema.by_name["ch_orders"]
    k = key_lit(ctx, users)
    q = ctx.rng.randint(-5, 20)
    no = ctx.pick(["", "NOT "])
    r = ctx.rng.random()
    if r < 0.12:
        st.sql = (f"SELECT {ctx.fn('COUNT')}*), {ctx.fn('SUM')}d.qty) FROM (SELECT * FROM ch_orders "
                  f"WHERE user_id = {k} AND qty > {q}) AS d")
    elif r < 0.24:
        st.sql = (f"WITH t AS (SELECT id, k FROM ch_users WHERE id = {k}) SELECT t.id, t.k, "
                  f"(SELECT {ctx.fn('COUNT')}*) FROM ch_orders o WHERE o.user_id = t.id) FROM t")
    elif r < 0.36:
        st.sql = (f"SELECT u.id, u.k FROM ch_users u WHERE u.id = {k} AND {no}EXISTS "
                  f"(SELECT 1 FROM ch_orders o WHERE o.user_id = u.id AND o.qty > {q})")
    elif r < 0.48:
        st.sql = (f"SELECT id AS v FROM ch_users WHERE id = {k} {ctx.pick(['UNION', 'UNION ALL'])} "
                  f"SELECT id FROM ch_orders WHERE user_id = {k} ORDER BY v")
        st.ordered = True
    elif r < 0.58:
        st.sql = (f"SELECT id, ROW_NUMBER() OVER (ORDER BY qty, id), {ctx.fn('SUM')}qty) OVER () "
                  f"FROM ch_orders WHERE user_id = {k} ORDER BY id")
        st.ordered = True
    elif r < 0.70:
        st.sql = (f"SELECT u.id FROM ch_users u WHERE u.id IN (SELECT o.user_id FROM ch_orders o "
                  f"WHERE o.qty > {q}) ORDER BY u.id")
        st.ordered = True
    elif r < 0.82:
        st.sql = (f"SELECT {ctx.fn('COUNT')}*) FROM ch_users u WHERE {no}EXISTS (SELECT 1 FROM ch_orders o "
                  f"WHERE o.user_id = u.id AND o.qty = {q})")
    elif r < 0.91:
        st.kind, st.writes = "write", {"ch_users"}
        st.sql = (f"UPDATE ch_users SET k = (SELECT {ctx.fn('COUNT')}*) FROM ch_orders o "
                  f"WHERE o.user_id = ch_users.id) WHERE id = {k}")
    else:
        st.kind, st.writes = "write", {"ch_orders"}
        st.sql = (f"DELETE FROM ch_orders WHERE user_id = {k} AND qty = {q} AND id IN "
                  f"(SELECT id FROM (SELECT id FROM ch_orders WHERE user_id = {k}) AS d)")
    if ctx.s.select_limit is not None and not st.ordered and st.kind == "read":
        st.count_only = True
    return st


UNION_PAIRS = [("ch_users", "id", "ch_orders", "user_id"), ("ch_users", "id", "hm_items", "id"),
               ("st_accounts", "code", "st_tags", "tag"), ("ch_users", "name", "ch_orders", "note"),
               ("rg_events", "id", "ch_users", "id"), ("un_log", "id", "ref_seq", "id"),
               ("ch_users", "k", "rg_events", "n")]


def gen_union(ctx):
    a, ac, b, bc = ctx.pick(UNION_PAIRS)
    A, B = ctx.schema.by_name[a], ctx.schema.by_name[b]
    if ctx.chance(0.3):
        B, bc = A, ac
    all_ = ctx.pick(["UNION", "UNION ALL", "UNION DISTINCT"])
    st = Stmt("", "union")
    st.sql = (f"SELECT {ctx.ident(ac)} AS v FROM {ctx.ident(A.name)}{where_clause(ctx, A)} {all_} "
              f"SELECT {ctx.ident(bc)} FROM {ctx.ident(B.name)}{where_clause(ctx, B)}")
    is_ci = A.col(ac).kind == "str" and (A.col(ac).ci or B.col(bc).ci)
    if ctx.chance(0.5):
        st.sql += f" ORDER BY v{ctx.pick(['', ' DESC'])}"
        st.ordered = all_ != "UNION ALL"
        if ctx.chance(0.2):
            st.sql += f" LIMIT {ctx.rng.randint(1, 5)}"
            st.count_only = not st.ordered
    if is_ci:
        st.ci_cols = "all"
    if ctx.s.select_limit is not None and not st.ordered:
        st.count_only = True
    return st


def gen_derived(ctx):
    t = ctx.table()
    st = Stmt("", "derived")
    inner_col = ctx.pick([c for c in t.columns if c.kind in ("int", "dec", "str")])
    inner = f"SELECT {ctx.ident(t.pk[0])} AS pk, {ctx.ident(inner_col.name)} AS c FROM {ctx.ident(t.name)}{where_clause(ctx, t)}"
    r = ctx.rng.random()
    if r < 0.4:
        st.sql = f"SELECT {ctx.fn('COUNT')}*), {ctx.fn('COUNT')}d.c) FROM ({inner}) AS d"
    elif r < 0.7:
        st.sql = f"SELECT d.pk, d.c FROM ({inner}) d ORDER BY d.pk"
        st.ordered = True
    else:
        st.sql = f"SELECT d.c, {ctx.fn('COUNT')}*) FROM ({inner}) AS d GROUP BY d.c ORDER BY d.c"
        st.ordered = True
        if inner_col.kind == "str" and inner_col.ci:
            st.ci_cols = {0}
    if ctx.s.select_limit is not None and not st.ordered:
        st.count_only = True
    return st


NO_TABLE_EXPRS = [
    "1 + 1", "0x41", "X'41'", "x'4142'", "b'1000001'", "0b101", "_binary'abc'", "N'abc'", "_latin1'abc'",
    "_utf8mb4'abc' COLLATE utf8mb4_bin", "4.2e1", "42.0", "-42", "+42", "- 42", "--42", "1.5e-3",
    "'a' 'b' 'c'", "'a' || 'b'", "1 || 0", "NOT 1 BETWEEN 2 AND 3", "NOT 0 = 1", "'abc' = 'ABC'",
    "'a ' = 'a'", "0x2A + 0", "X'2A' + 0", "b'101010' + 0", "'42' + 0", "' 042 ' + 0", "9223372036854775807 + 0",
    "18446744073709551615", "-9223372036854775808", "1/3", "10 DIV 3", "CAST(0x2A AS SIGNED)",
    "CONCAT('x', 1)", "\"dq\"", "'it''s'", "'back\\\\slash'", "'\\%'", "'\\_'", "'a\\nb'", "LENGTH('\\n')",
    "1 /*!50699 + 10 */", "1 /*!50700 + 10 */", "1 /*!99999 + 10 */", "1 /*!100000 + 10 */",
    "1 /*M!100000 + 10 */", "1 /*M!999999 + 10 */", "1 /*! + 10 */", "1 /*!110000 + 10 */",
    "DATE '2024-02-29'", "{d '2024-01-01'}", "TIMESTAMP '2024-01-01 10:00:00'", "1 = 1.0",
    "CAST('2024-02-30' AS DATE)", "JSON_OBJECT('a', 1)", "COALESCE(NULL, 2)", "NULL", "TRUE",
    "0.1 + 0.2", "1e308 * 10", "CHAR(65)", "CHARSET(_latin1'a')", "COLLATION('a')", "@@sql_mode",
    "@@div_precision_increment", "@@sql_select_limit", "@@time_zone", "@@autocommit",
    "@@session.sql_mode", "@@SESSION.time_zone", "@@lc_time_names", "@@collation_connection",
    "DATE_FORMAT('2024-06-15', '%M %W')", "FROM_UNIXTIME(0)", "UNIX_TIMESTAMP('2024-01-01 00:00:00')",
    "CONVERT_TZ('2024-01-01 00:00:00', '+00:00', '+05:30')", "ROW_COUNT()", "FOUND_ROWS()",
    "@@in_transaction", "'abc' LIKE 'A%'", "'a\\\\b' LIKE 'a\\\\\\\\b'", "STRCMP('a', 'A')",
    "1 <=> NULL", "5 --1", "5--1", "5 - -1",
]


def gen_no_table(ctx):
    st = Stmt("", "no_table")
    n = ctx.rng.randint(1, 3)
    exprs = []
    for _ in range(n):
        e = ctx.pick(NO_TABLE_EXPRS)
        if ctx.s.mode.nbe and "\\" in e:
            e = "'x\\y'"
        if ctx.chance(0.3):
            c = ctx.schema.by_name["ch_users"].col("id")
            e = ctx.lit(c, ctx.schema.random_int(ctx.rng, c))
        exprs.append(e)
    st.sql = "SELECT " + ", ".join(exprs)
    if ctx.chance(0.1):
        st.sql += " FROM DUAL"
    return st


def gen_session_read(ctx):
    st = Stmt("", "session_read")
    st.sql = ctx.pick([
        "SELECT LAST_INSERT_ID()", "SELECT last_insert_id()", "SELECT LAST_INSERT_ID() AS id",
        "SELECT LAST_INSERT_ID(), ROW_COUNT()", "SELECT @@last_insert_id", "SELECT @@identity",
        "SELECT ROW_COUNT()", "SELECT @@sql_mode", "SELECT @@SESSION.sql_mode, @@div_precision_increment",
        "SELECT @@sql_select_limit", "SELECT @@time_zone", "SELECT @@autocommit, @@in_transaction",
        "SELECT LAST_INSERT_ID() + 0", "SELECT Last_Insert_Id()", "SELECT FOUND_ROWS()",
        "SELECT @@warning_count", "SELECT @@error_count", "SHOW WARNINGS", "SHOW COUNT(*) WARNINGS",
        "SELECT CONNECTION_ID() > 0", "SELECT DATABASE()", "SELECT @@lc_time_names, @@collation_connection",
    ])
    return st


# --- user variables ------------------------------------------------------------------------


def gen_user_var(ctx):
    st = Stmt("", "user_var", kind="var")
    v = ctx.var()
    r = ctx.rng.random()
    t = ctx.table(role="sharded") if ctx.chance(0.8) else ctx.table()
    key = t.key or t.pk[0]
    if r < 0.15:
        col = t.col(key)
        st.sql = f"SET {v} = {ctx.lit(col, ctx.schema.key_value(ctx.rng, t))}"
    elif r < 0.3:
        agg = ctx.pick(["COUNT(*)", f"MAX({key})", f"MIN({key})", f"SUM({ctx.pick([c.name for c in t.columns if c.kind in ('int', 'dec')] or [key])})"])
        st.sql = f"SET {v} = (SELECT {agg} FROM {ctx.ident(t.name)}{where_clause(ctx, t)})"
    elif r < 0.45:
        st.sql = f"SELECT {v} := {ctx.ident(key)} FROM {ctx.ident(t.name)} WHERE {key_pred(ctx, t)}"
        if ctx.chance(0.5):
            st.sql = f"SELECT {v} := {ctx.ident(key)} FROM {ctx.ident(t.name)} WHERE {ctx.ident(key)} = {key_lit(ctx, t, 0.9)}"
        if ctx.s.select_limit is not None:
            # Which rows sql_select_limit keeps (and so the value assigned) is the order's: made
            # total without drawing from the generator, whose stream CI's seed replays.
            st.sql += f" ORDER BY `{key}`"
    elif r < 0.55:
        st.sql = f"SELECT {v} := {ctx.fn('COUNT')}*) FROM {ctx.ident(t.name)}{where_clause(ctx, t)}"
    elif r < 0.7:
        v2 = ctx.var()
        other = ctx.pick([c.name for c in t.columns if c.name != key])
        into = f"INTO {v}, {v2}" if v2 != v else f"INTO {v}, @z"
        where = f" WHERE {ctx.ident(key)} = {key_lit(ctx, t, 0.9)}"
        if ctx.chance(0.5):
            st.sql = f"SELECT {ctx.ident(key)}, {ctx.ident(other)} {into} FROM {ctx.ident(t.name)}{where}"
        else:
            st.sql = f"SELECT {ctx.ident(key)}, {ctx.ident(other)} FROM {ctx.ident(t.name)}{where} {into}"
        st.on_success = lambda s, a=v, b=v2: s.vars.update({a, b, "@z"})
    elif r < 0.78:
        st.sql = f"SELECT {ctx.fn('COUNT')}*) INTO {v} FROM {ctx.ident(t.name)}{where_clause(ctx, t)}"
    elif r < 0.86:
        st.sql = f"DO {v} := (SELECT {ctx.fn('COUNT')}*) FROM {ctx.ident(t.name)})"
    elif r < 0.93:
        st.sql = f"SET {v} = {ctx.pick(sorted(ctx.s.vars) or ['1'])} + 1"
    else:
        st.sql = f"SET {v} = {ctx.str_lit(ctx.schema.random_value(ctx.rng, t.col(key), t, False)) if t.key_kind == 'str' else ctx.rng.randint(-5, 500)}, @w = {ctx.str_lit('w')}"
        st.on_success = lambda s, a=v: s.vars.update({a, "@w"})
    if st.on_success is None:
        st.on_success = lambda s, a=v: s.vars.add(a)
    return st


def gen_var_read(ctx):
    st = Stmt("", "var_read")
    vars_ = sorted(ctx.s.vars) or ["@a"]
    r = ctx.rng.random()
    if r < 0.5:
        st.sql = "SELECT " + ", ".join(ctx.rng.sample(vars_, min(len(vars_), ctx.rng.randint(1, 3))))
    elif r < 0.7:
        st.sql = f"SELECT {ctx.pick(vars_)} + 0, {ctx.pick(vars_)} IS NULL"
    else:
        t = ctx.table(role="sharded")
        st.sql = f"SELECT * FROM {ctx.ident(t.name)} WHERE {ctx.ident(t.key)} = {ctx.pick(vars_)} ORDER BY {ctx.ident(t.pk[0])}"
        st.ordered = True
    return st


# --- writes --------------------------------------------------------------------------------


def row_values(ctx, t, cols, fresh=True):
    vals = []
    key = None
    for c in cols:
        if c.name == t.pk[0] and not c.autoinc:
            # A pk that is not the shard key must stay globally unique: the shards cannot
            # enforce it (see README, exclusions).
            if fresh or t.pk_fresh:
                v = ctx.schema.fresh_key(ctx.rng, t)
            else:
                v = ctx.schema.key_value(ctx.rng, t, 0.9) if t.key == c.name else ctx.schema.existing(ctx.rng, t, c.name)
                if v is None:
                    v = ctx.schema.fresh_key(ctx.rng, t)
            key = v
            # In decimal: other forms (`X'…'` is a string to MariaDB) may convert to an id
            # some other shard already has.
            vals.append(ctx.lit(c, v, forms=False))
        elif c.name == t.key:
            vals.append(key_lit(ctx, t, 0.8))
        else:
            v = ctx.schema.random_value(ctx.rng, c, t)
            if v is None or ctx.chance(0.85):
                vals.append(ctx.lit(c, v, forms=ctx.chance(0.2)))
            else:
                vals.append(ctx.lit(c, v))
    return "(" + ", ".join(vals) + ")"


def insert_cols(ctx, t):
    must = [c for c in t.columns if (c.name in t.pk or c.name == t.key) and not c.autoinc]
    rest = [c for c in t.columns if c not in must and not c.autoinc]
    cols = must + ctx.rng.sample(rest, ctx.rng.randint(0, len(rest)))
    order = {c.name: i for i, c in enumerate(t.columns)}
    if ctx.chance(0.5):
        cols.sort(key=lambda c: order[c.name])
    else:
        ctx.rng.shuffle(cols)
    return cols


def gen_insert(ctx):
    t = ctx.table()
    st = Stmt("", "insert", kind="write", writes={t.name})
    cols = insert_cols(ctx, t)
    n = ctx.rng.choice([1, 1, 1, 2, 3, 5])
    fresh = ctx.chance(0.85)
    rows = [row_values(ctx, t, cols, fresh or i > 0) for i in range(n)]
    verb = ctx.pick(["INSERT", "INSERT", "INSERT", "INSERT IGNORE", "REPLACE"])
    colnames = ", ".join(ctx.colref(c.name) for c in cols)
    if ctx.chance(0.08) and n == 1:
        # INSERT … SET
        values = [row_values(ctx, t, [c], fresh)[1:-1] for c in cols]
        st.sql = f"{verb} INTO {ctx.ident(t.name)} SET " + ", ".join(
            f"{ctx.colref(c.name)} = {v}" for c, v in zip(cols, values))
        st.tag = "insert_set"
        return st
    st.sql = f"{verb} INTO {ctx.ident(t.name)} ({colnames}) {ctx.pick(['VALUES', 'VALUES', 'VALUE'])} {', '.join(rows)}"
    if verb == "INSERT" and ctx.chance(0.2):
        upd = [c for c in cols if c.name not in t.pk and c.name != t.key]
        if upd:
            c = ctx.pick(upd)
            rhs = ctx.pick([f"VALUES({ctx.colref(c.name)})", ctx.lit(c, ctx.schema.random_value(ctx.rng, c, t))])
            if c.kind == "int" and ctx.chance(0.4):
                rhs = f"{ctx.colref(c.name)} + 1"
            st.sql += f" ON DUPLICATE KEY UPDATE {ctx.colref(c.name)} = {rhs}"
            st.tag = "insert_odku"
    if verb != "INSERT":
        st.tag = verb.lower().replace(" ", "_")
    return st


def gen_insert_full(ctx):
    """INSERT without a column list: every column, in table order."""
    t = ctx.table(role=ctx.pick(["sharded", "reference"]))
    st = Stmt("", "insert_nocols", kind="write", writes={t.name})
    cols = [c for c in t.columns]
    vals = []
    fresh = ctx.schema.fresh_key(ctx.rng, t)
    for c in cols:
        if c.autoinc:
            vals.append(ctx.pick(["NULL", "0", "DEFAULT"]))
        elif c.name == t.pk[0]:
            vals.append(ctx.lit(c, fresh))
        elif c.name == t.key:
            vals.append(key_lit(ctx, t))
        else:
            vals.append(ctx.lit(c, ctx.schema.random_value(ctx.rng, c, t), forms=ctx.chance(0.2)))
    st.sql = f"INSERT INTO {ctx.ident(t.name)} VALUES ({', '.join(vals)})"
    return st


def gen_update(ctx):
    t = ctx.table()
    st = Stmt("", "update", kind="write", writes={t.name})
    upd = [c for c in t.columns if c.name not in t.pk and c.name != t.key]
    sets = []
    for c in ctx.rng.sample(upd, ctx.rng.randint(1, min(2, len(upd)))):
        ref = ctx.colref(c.name)
        r = ctx.rng.random()
        if r < 0.6:
            rhs = ctx.lit(c, ctx.schema.random_value(ctx.rng, c, t))
        elif c.kind == "int" and r < 0.8:
            rhs = f"{ref} {ctx.pick(['+ 1', '- 1', '* 2'])}"
        elif c.kind == "str" and r < 0.8:
            rhs = f"{ctx.fn('CONCAT')}{ref}, {ctx.str_lit('+')})"
        elif c.kind == "int" and ctx.s.vars and r < 0.85:
            rhs = ctx.pick(sorted(ctx.s.vars))
        elif c.kind == "int" and r < 0.9:
            o = ctx.schema.by_name["ch_orders"]
            rhs = f"(SELECT {ctx.fn('COUNT')}*) FROM ch_orders WHERE user_id = {key_lit(ctx, o)})"
        else:
            rhs = "DEFAULT" if c.nullable else ctx.lit(c, ctx.schema.random_value(ctx.rng, c, t, False))
        sets.append(f"{ref} = {rhs}")
    if t.key and not t.pk_fresh and ctx.chance(0.03):
        sets.append(f"{ctx.colref(t.key)} = {ctx.lit(t.key_col, ctx.schema.fresh_key(ctx.rng, t))}")
        st.tag = "update_key"
    st.sql = f"UPDATE {ctx.ident(t.name)} SET {', '.join(sets)}{where_clause(ctx, t, allow_none=ctx.chance(0.3))}"
    if ctx.chance(0.05):
        st.sql += f" ORDER BY {ctx.ident(t.pk[0])} LIMIT {ctx.rng.randint(1, 3)}"
        st.tag = "update_limit"
    return st


def gen_delete(ctx):
    ts = [t for t in ctx.schema.tables if len(t.rows) > 12]
    if not ts:
        return gen_insert(ctx)
    t = ctx.pick(ts)
    st = Stmt("", "delete", kind="write", writes={t.name})
    where = where_clause(ctx, t, allow_none=False)
    st.sql = f"DELETE FROM {ctx.ident(t.name)}{where}"
    if ctx.chance(0.06):
        st.sql += f" ORDER BY {ctx.ident(t.pk[0])} LIMIT 1"
        st.tag = "delete_limit"
    return st


def gen_insert_subquery(ctx):
    st = Stmt("", "insert_subquery", kind="write", writes={"un_log"})
    t = ctx.table(role="sharded")
    r = ctx.rng.random()
    if r < 0.4:
        st.sql = (f"INSERT INTO un_log (msg, n) VALUES ({ctx.str_lit('count ' + t.name)}, "
                  f"(SELECT {ctx.fn('COUNT')}*) FROM {ctx.ident(t.name)}{where_clause(ctx, t)}))")
    elif r < 0.7:
        c = ctx.pick([c for c in t.columns if c.kind == "int"])
        st.sql = (f"INSERT INTO un_log (msg, n) SELECT {ctx.str_lit('copy')}, {ctx.ident(c.name)} FROM "
                  f"{ctx.ident(t.name)} WHERE {key_pred(ctx, t)}")
        # un_log's AUTO_INCREMENT ids follow the order the rows come in: without ORDER BY that
        # is each server's scan order (MariaDB calls it nondeterministic, unsafe for statement
        # replication), which rows merged from several shards need not follow (README).
        st.sql += f" ORDER BY {ctx.ident(t.pk[0])}"
        if ctx.chance(0.3):
            st.sql += " LIMIT 3"
    elif r < 0.85:
        u = ctx.schema.by_name["ch_users"]
        st.writes = {"ch_users"}
        st.sql = (f"UPDATE ch_users SET k = (SELECT {ctx.fn('COUNT')}*) FROM ref_countries) "
                  f"WHERE id = {key_lit(ctx, u)}")
    else:
        st.writes = {"ref_seq"}
        st.sql = (f"INSERT INTO ref_seq (label, n) VALUES ('sub', (SELECT {ctx.fn('COUNT')}*) FROM "
                  f"{ctx.ident(t.name)}))")
    return st


def gen_autoinc(ctx):
    t = ctx.schema.by_name[ctx.pick(["un_log", "ref_seq"])]
    st = Stmt("", "insert_autoinc", kind="write", writes={t.name})
    cols = [c for c in t.columns if not c.autoinc]
    n = ctx.rng.choice([1, 1, 2, 3])
    rows = []
    for _ in range(n):
        rows.append("(" + ", ".join(ctx.lit(c, ctx.schema.random_value(ctx.rng, c, t), ctx.chance(0.2)) for c in cols) + ")")
    st.sql = f"INSERT INTO {t.name} ({', '.join(c.name for c in cols)}) VALUES {', '.join(rows)}"
    if ctx.chance(0.1):
        st.sql = f"INSERT INTO {t.name} (id, {cols[0].name}) VALUES (LAST_INSERT_ID({ctx.rng.randint(5000, 6000)}), 'lid')"
        st.tag = "insert_lid_expr"
    return st


# --- session settings and transactions -----------------------------------------------------

MODE_CHOICES = ["NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "PIPES_AS_CONCAT", "HIGH_NOT_PRECEDENCE",
                "IGNORE_SPACE", "ANSI", "TRADITIONAL", "ONLY_FULL_GROUP_BY", "REAL_AS_FLOAT",
                "NO_ZERO_DATE", "STRICT_ALL_TABLES", "NO_UNSIGNED_SUBTRACTION"]


def gen_sql_mode(ctx):
    st = Stmt("", "sql_mode", kind="set")
    r = ctx.rng.random()
    target = ctx.pick(["SET sql_mode", "SET SESSION sql_mode", "SET @@sql_mode", "SET @@session.sql_mode",
                       "SET LOCAL sql_mode", "SET @@SESSION.SQL_MODE"])
    if r < 0.3:
        st.sql = f"{target} = DEFAULT"
        new = set(literals.DEFAULT_MODES)
    elif r < 0.4:
        st.sql = f"{target} = ''"
        new = set()
    elif r < 0.55:
        m = ctx.pick(MODE_CHOICES[:5])
        st.sql = f"{target} = CONCAT(@@sql_mode, ',{m}')"
        new = set(ctx.s.mode_names) | {m}
    else:
        ms = ctx.rng.sample(MODE_CHOICES, ctx.rng.randint(1, 3))
        if ctx.chance(0.5):
            ms += list(literals.DEFAULT_MODES)
        st.sql = f"{target} = '{','.join(ms)}'"
        new = set(ms)
    if ctx.chance(0.1):
        text, runs = exec_comment(ctx.rng, st.sql)
        st.sql = text
        st.tag = "sql_mode_exec_comment"
        if not runs:
            new = None
    if new is not None:
        st.on_success = lambda s, n=frozenset(new): s.set_modes(n)
    return st


def gen_set_var(ctx):
    st = Stmt("", "set_var", kind="set")
    r = ctx.rng.random()
    scope = ctx.pick(["", "SESSION ", "@@", "@@session.", "LOCAL "])
    if r < 0.2:
        st.sql = f"SET {scope}div_precision_increment = {ctx.rng.randint(0, 12)}"
    elif r < 0.45:
        if ctx.chance(0.5):
            st.sql = f"SET {scope}sql_select_limit = DEFAULT"
            st.on_success = lambda s: setattr(s, "select_limit", None)
        else:
            n = ctx.rng.randint(0, 5)
            st.sql = f"SET {scope}sql_select_limit = {n}"
            st.on_success = lambda s, n=n: setattr(s, "select_limit", n)
    elif r < 0.6:
        st.sql = f"SET {scope}time_zone = '{ctx.pick(['+00:00', '+05:30', '-08:00', 'SYSTEM', '+14:00'])}'"
    elif r < 0.7:
        st.sql = f"SET {scope}lc_time_names = '{ctx.pick(['en_US', 'de_DE', 'fr_FR', 'ja_JP'])}'"
    elif r < 0.78:
        st.sql = f"SET {scope}collation_connection = '{ctx.pick(['utf8mb4_bin', 'utf8mb4_general_ci', 'utf8mb4_unicode_ci'])}'"
    elif r < 0.85:
        st.sql = f"SET {scope}group_concat_max_len = {ctx.rng.randint(4, 2048)}"
    elif r < 0.9:
        # Not 1: whether MariaDB refuses an UPDATE under sql_safe_updates depends on the table's
        # contents and the transaction (README, exclusion 11).
        st.sql = f"SET {scope}sql_safe_updates = {ctx.pick(['0', 'DEFAULT'])}"
    elif r < 0.95:
        st.sql = f"SET {scope}max_sort_length = {ctx.rng.randint(8, 2048)}"
    else:
        n = ctx.rng.randint(0, 4)
        st.sql = f"SET sql_select_limit = {n}, {ctx.var()} = {n}"
        st.on_success = lambda s, n=n: setattr(s, "select_limit", n)
    return st


def gen_tx(ctx):
    st = Stmt("", "tx", kind="tx")
    s = ctx.s
    if s.in_tx:
        r = ctx.rng.random()
        if r < 0.45:
            st.sql = ctx.pick(["COMMIT", "COMMIT WORK", "commit"])
            st.on_success = lambda s: (setattr(s, "in_tx", not s.autocommit), setattr(s, "savepoint", False))
        elif r < 0.75:
            st.sql = ctx.pick(["ROLLBACK", "ROLLBACK WORK"])
            st.on_success = lambda s: (setattr(s, "in_tx", not s.autocommit), setattr(s, "savepoint", False))
        elif r < 0.85:
            st.sql = "SAVEPOINT sp1"
            st.on_success = lambda s: setattr(s, "savepoint", True)
        elif r < 0.92 and s.savepoint:
            st.sql = "ROLLBACK TO SAVEPOINT sp1"
        else:
            st.sql = "SET autocommit = 1"
            st.on_success = lambda s: (setattr(s, "autocommit", True), setattr(s, "in_tx", False))
        st.writes = {"*"}
        return st
    r = ctx.rng.random()
    if r < 0.75:
        st.sql = ctx.pick(["BEGIN", "START TRANSACTION", "BEGIN WORK", "START TRANSACTION READ WRITE",
                           "start transaction"])
        st.on_success = lambda s: setattr(s, "in_tx", True)
    elif r < 0.85:
        st.sql = "SET autocommit = 0"
        st.on_success = lambda s: (setattr(s, "autocommit", False), setattr(s, "in_tx", True))
    else:
        st.sql = ctx.pick(["COMMIT", "ROLLBACK", "SET autocommit = 1"])
    return st


# --- the production table ------------------------------------------------------------------

PRODUCTIONS = [
    (14, gen_select_rows),
    (12, gen_select_point),
    (9, gen_aggregate),
    (3, gen_distinct),
    (3, gen_window),
    (5, gen_join),
    (4, gen_subquery),
    (4, gen_pushdown),
    (3, gen_union),
    (3, gen_derived),
    (4, gen_no_table),
    (3, gen_session_read),
    (6, gen_user_var),
    (3, gen_var_read),
    (11, gen_insert),
    (1, gen_insert_full),
    (6, gen_update),
    (4, gen_delete),
    (2, gen_insert_subquery),
    (3, gen_autoinc),
    (3, gen_sql_mode),
    (3, gen_set_var),
    (3, gen_tx),
]


def generate(ctx):
    total = sum(w for w, _ in PRODUCTIONS)
    x = ctx.rng.random() * total
    for w, fn in PRODUCTIONS:
        x -= w
        if x < 0:
            return fn(ctx)
    return PRODUCTIONS[-1][1](ctx)


# --- features: what a statement exercises (for triage in the report) ------------------------

_FEATURES = [
    ("exec-comment", _re.compile(r"/\*M?!")),
    ("user-var", _re.compile(r"(?<!@)@[A-Za-z]")),
    ("sysvar", _re.compile(r"@@")),
    ("hex-literal", _re.compile(r"\b0x[0-9A-Fa-f]|(?<![A-Za-z0-9_])[xX]'")),
    ("bit-literal", _re.compile(r"\b0b[01]|(?<![A-Za-z0-9_])[bB]'[01]")),
    ("introducer", _re.compile(r"_utf8mb4|_binary|_latin1|(?<![A-Za-z0-9_'])N'")),
    ("sci-literal", _re.compile(r"\d[eE][-+]?\d")),
    ("collate", _re.compile(r"COLLATE", _re.I)),
    ("pipes", _re.compile(r"\|\|")),
    ("NOT", _re.compile(r"\bNOT\b")),
    ("backslash", _re.compile(r"\\")),
    ("last_insert_id", _re.compile(r"LAST_INSERT_ID|@@identity|@@last_insert_id", _re.I)),
    ("subquery", _re.compile(r"\(\s*SELECT", _re.I)),
    ("space-before-paren", _re.compile(r"\b(COUNT|SUM|MIN|MAX|AVG|LENGTH|CONCAT|UPPER|YEAR) \(", _re.I)),
    ("reference-table", _re.compile(r"\bref_")),
]


def features(sql, session):
    out = [name for name, rx in _FEATURES if rx.search(sql)]
    for m, short in (("NO_BACKSLASH_ESCAPES", "mode:NO_BACKSLASH_ESCAPES"), ("ANSI_QUOTES", "mode:ANSI_QUOTES"),
                     ("PIPES_AS_CONCAT", "mode:PIPES_AS_CONCAT"), ("HIGH_NOT_PRECEDENCE", "mode:HIGH_NOT_PRECEDENCE"),
                     ("IGNORE_SPACE", "mode:IGNORE_SPACE")):
        if m in session.mode.modes:
            out.append(short)
    if session.select_limit is not None:
        out.append("sql_select_limit")
    if session.in_tx:
        out.append("in-transaction")
    return out
