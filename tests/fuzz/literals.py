"""SQL literal rendering: every literal form MariaDB accepts, written correctly for the
session's current sql_mode (NO_BACKSLASH_ESCAPES, ANSI_QUOTES, PIPES_AS_CONCAT).

A `Mode` describes the session; `render_int`, `render_str`, ... pick a random form of a value.
Forms whose value MariaDB interprets differently from the plain literal (e.g. X'2A' is a
binary string, not the number 42) are generated on purpose: the reference server decides what
the statement means, the proxy has to agree.
"""

# Escape sequences MariaDB recognises after a backslash (outside NO_BACKSLASH_ESCAPES).
SPECIAL_ESCAPES = {"0": "\0", "'": "'", '"': '"', "b": "\b", "n": "\n", "r": "\r", "t": "\t",
                   "Z": "\x1a", "\\": "\\"}
# Letters whose backslash escape is just the letter itself.
PLAIN_ESCAPABLE = "acdefghijklmopqsuvwxyABCDEFGHIJKLMOPQRSTUVWXY"

DEFAULT_MODES = ("STRICT_TRANS_TABLES", "ERROR_FOR_DIVISION_BY_ZERO", "NO_AUTO_CREATE_USER",
                 "NO_ENGINE_SUBSTITUTION")
COMBINED_MODES = {
    "ANSI": ("REAL_AS_FLOAT", "PIPES_AS_CONCAT", "ANSI_QUOTES", "IGNORE_SPACE", "ONLY_FULL_GROUP_BY"),
    "TRADITIONAL": ("STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "NO_ZERO_IN_DATE", "NO_ZERO_DATE",
                    "ERROR_FOR_DIVISION_BY_ZERO", "NO_AUTO_CREATE_USER", "NO_ENGINE_SUBSTITUTION"),
}


def expand_modes(names):
    out = set()
    for n in names:
        n = n.strip().upper()
        if not n:
            continue
        out.add(n)
        out.update(COMBINED_MODES.get(n, ()))
    return frozenset(out)


class Mode:
    """The parts of a session's sql_mode that change how SQL text is read."""

    def __init__(self, modes=DEFAULT_MODES):
        self.modes = expand_modes(modes)

    @property
    def nbe(self):
        return "NO_BACKSLASH_ESCAPES" in self.modes

    @property
    def ansi_quotes(self):
        return "ANSI_QUOTES" in self.modes

    @property
    def pipes(self):
        return "PIPES_AS_CONCAT" in self.modes


def quote_string(rng, s, mode, quote="'"):
    """`s` as a quoted literal (quote ' or "), escaped in a random valid way for `mode`."""
    out = [quote]
    for ch in s:
        if ch == quote:
            if mode.nbe or rng.random() < 0.5:
                out.append(quote + quote)
            else:
                out.append("\\" + quote)
        elif ch == "\\":
            out.append("\\" if mode.nbe else "\\\\")
        elif mode.nbe:
            out.append(ch)
        elif ch == "\n":
            out.append("\\n" if rng.random() < 0.7 else "\n")
        elif ch == "\t":
            out.append("\\t" if rng.random() < 0.5 else "\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\0":
            out.append("\\0")
        elif ch == "\x1a":
            out.append("\\Z")
        elif ch == "\b":
            out.append("\\b")
        elif ch in ("'", '"') and rng.random() < 0.3:
            out.append("\\" + ch)
        elif ch in PLAIN_ESCAPABLE and rng.random() < 0.04:
            out.append("\\" + ch)  # \q is just q
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)


def plain_string(rng, s, mode):
    """A quoted string without introducer: '…' or (outside ANSI_QUOTES) "…"."""
    if not mode.ansi_quotes and rng.random() < 0.15:
        return quote_string(rng, s, mode, '"')
    return quote_string(rng, s, mode, "'")


def hex_of(s, encoding="utf-8"):
    return s.encode(encoding).hex().upper()


def render_str(rng, s, mode, charset="utf8mb4", allow_forms=True):
    """A literal whose value is the string `s` (or, for binary/latin1 forms, its bytes)."""
    if not allow_forms:
        return plain_string(rng, s, mode)
    r = rng.random()
    if r < 0.55:
        return plain_string(rng, s, mode)
    forms = ["introducer", "N", "hex0x", "hexX", "concat_adjacent", "collate", "concat_fn",
             "binary", "latin1", "pipes"]
    form = rng.choice(forms)
    if form == "introducer":
        return "_utf8mb4" + plain_string(rng, s, mode)
    if form == "N":
        return "N" + quote_string(rng, s, mode, "'")
    if form == "hex0x" and s:
        return "0x" + hex_of(s).lower()
    if form == "hexX":
        return rng.choice(["X", "x"]) + "'" + hex_of(s) + "'"
    if form == "concat_adjacent" and len(s) >= 2:
        cut = rng.randint(1, len(s) - 1)
        return quote_string(rng, s[:cut], mode) + rng.choice([" ", "\n", "  "]) + quote_string(rng, s[cut:], mode)
    if form == "collate":
        coll = "utf8mb4_bin" if charset != "latin1" else "utf8mb4_general_ci"
        return quote_string(rng, s, mode) + " COLLATE " + coll
    if form == "concat_fn" and len(s) >= 2:
        cut = rng.randint(1, len(s) - 1)
        return f"CONCAT({quote_string(rng, s[:cut], mode)}, {quote_string(rng, s[cut:], mode)})"
    if form == "binary":
        return "_binary" + quote_string(rng, s, mode)
    if form == "latin1":
        if all(ord(c) < 256 for c in s):
            return "_latin1 X'" + hex_of(s, "latin-1") + "'" if rng.random() < 0.5 else \
                "_latin1" + quote_string(rng, s, mode)
        return "_latin1" + quote_string(rng, s, mode)
    if form == "pipes" and mode.pipes and len(s) >= 2:
        cut = rng.randint(1, len(s) - 1)
        return f"({quote_string(rng, s[:cut], mode)} || {quote_string(rng, s[cut:], mode)})"
    return plain_string(rng, s, mode)


def render_int(rng, v, mode, allow_forms=True):
    """A literal (or tiny expression) whose value is meant to be the integer `v`."""
    if not allow_forms or rng.random() < 0.5:
        return str(v)
    forms = ["quoted", "quoted_pad", "plus", "sci", "decimal", "paren", "hex0x", "hexX", "bit0b",
             "bitB", "utf8mb4", "binary", "latin1", "N", "collate", "cast", "zeros", "double_neg",
             "spaced_neg", "expr", "dquoted"]
    form = rng.choice(forms)
    a = abs(v)
    if form == "quoted":
        return "'" + str(v) + "'"
    if form == "dquoted" and not mode.ansi_quotes:
        return '"' + str(v) + '"'
    if form == "quoted_pad":
        return "'" + rng.choice([" ", "  ", "\t" if not mode.nbe else " "]) + \
            ("-" if v < 0 else "") + "0" * rng.randint(0, 3) + str(a) + rng.choice(["", " ", "  "]) + "'"
    if form == "plus" and v >= 0:
        return "+" + str(v)
    if form == "sci" and a < 10 ** 15:
        digits = str(a)
        if a == 0:
            body = rng.choice(["0e0", "0.0e5", "0E-3"])
        else:
            exp = len(digits) - 1
            mant = digits[0] + "." + digits[1:] if len(digits) > 1 else digits
            body = mant + rng.choice(["e", "E", "e+"]) + str(exp)
        return ("-" if v < 0 else "") + body
    if form == "decimal":
        return str(v) + "." + "0" * rng.randint(1, 3)
    if form == "paren":
        return "(" + str(v) + ")"
    if form == "hex0x" and v >= 0:
        h = format(v, "x")
        return "0x" + (h if rng.random() < 0.5 else h.upper())
    if form == "hexX" and v >= 0:
        h = format(v, "X")
        if len(h) % 2:
            h = "0" + h
        return rng.choice(["X", "x"]) + "'" + h + "'"
    if form == "bit0b" and v >= 0:
        return "0b" + format(v, "b")
    if form == "bitB" and v >= 0:
        return rng.choice(["b", "B"]) + "'" + format(v, "b") + "'"
    if form == "utf8mb4":
        return "_utf8mb4'" + str(v) + "'"
    if form == "binary":
        return "_binary'" + str(v) + "'"
    if form == "latin1":
        return "_latin1'" + str(v) + "'"
    if form == "N":
        return "N'" + str(v) + "'"
    if form == "collate":
        return "'" + str(v) + "' COLLATE utf8mb4_bin"
    if form == "cast":
        return f"CAST('{v}' AS SIGNED)"
    if form == "zeros" and v >= 0:
        return "0" * rng.randint(1, 3) + str(v)
    if form == "double_neg" and v < 0:
        return "-(" + str(a) + ")"
    if form == "spaced_neg" and v < 0:
        return "- " + str(a)
    if form == "expr" and abs(v) < 2 ** 62:
        d = rng.randint(1, 5)
        return f"{v - d} + {d}" if rng.random() < 0.5 else f"({v + d} - {d})"
    return str(v)


def render_decimal(rng, text, mode):
    """`text` is a decimal number like '-12.50'."""
    r = rng.random()
    if r < 0.7:
        return text
    if r < 0.85:
        return "'" + text + "'"
    if r < 0.93:
        return text + "0"
    return f"CAST('{text}' AS DECIMAL(20,4))"


def render_float(rng, x, mode):
    r = rng.random()
    if r < 0.7:
        return repr(x)
    if r < 0.85:
        return "%.6e" % x
    return "'" + repr(x) + "'"


def render_temporal(rng, text, kind, mode):
    """A DATE / DATETIME / TIMESTAMP literal for `text`."""
    r = rng.random()
    if r < 0.75:
        return plain_string(rng, text, mode)
    if kind == "date":
        return rng.choice([f"DATE '{text}'", f"{{d '{text}'}}", f"'{text}'"])
    return rng.choice([f"TIMESTAMP '{text}'", f"{{ts '{text}'}}", f"'{text}'"])
