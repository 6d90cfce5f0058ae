#!/usr/bin/env python3
"""Writes unicode_ci_weights.txt: MariaDB's utf8mb4_unicode_ci (UCA 4.0.0) weights of the BMP
code points that do not take UCA's implicit weights, read from a running MariaDB with
WEIGHT_STRING (the format is described in the file's header; `src/unicode_ci.rs` reads it, and
`tests/mariadb_agrees.rs` checks every code point against a live server).

    python3 crates/collation/data/dump_unicode_ci.py --port 3306 --user root --password pw \
        > crates/collation/data/unicode_ci_weights.txt
"""
import argparse

import pymysql

HEADER = """\
# utf8mb4_unicode_ci / utf8mb3_unicode_ci weights (UCA 4.0.0 as MariaDB 10.11 implements it), read
# with `SELECT HEX(WEIGHT_STRING(CONVERT(CHAR(cp USING utf32) USING utf8mb4) COLLATE
# utf8mb4_unicode_ci))` for every BMP code point by data/dump_unicode_ci.py. Listed: the code
# points whose weights are not UCA's implicit ones (base FB40 for CJK unified ideographs, FB80 for
# extension A, FBC0 otherwise: [base + (cp >> 15), (cp & 0x7FFF) | 0x8000]).
#   CODE W1 W2 …     one code point and its weights (none: ignorable)
#   FROM-TO          a range of ignorable code points
#   FROM-TO W+       a range whose weights count up from W, one each
"""


def implicit(cp):
    cjk_compat = {0xFA0E, 0xFA0F, 0xFA11, 0xFA13, 0xFA14, 0xFA1F, 0xFA21, 0xFA23, 0xFA24,
                  0xFA27, 0xFA28, 0xFA29}
    if 0x4E00 <= cp <= 0x9FA5 or cp in cjk_compat:
        base = 0xFB40
    elif 0x3400 <= cp <= 0x4DB5:
        base = 0xFB80
    else:
        base = 0xFBC0
    return [base + (cp >> 15), (cp & 0x7FFF) | 0x8000]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3306)
    p.add_argument("--user", default="root")
    p.add_argument("--password", default="")
    a = p.parse_args()
    conn = pymysql.connect(host=a.host, port=a.port, user=a.user, password=a.password,
                           charset="utf8mb4")
    cur = conn.cursor()
    cur.execute(
        "SELECT seq, HEX(WEIGHT_STRING(CONVERT(CHAR(seq USING utf32) USING utf8mb4)"
        " COLLATE utf8mb4_unicode_ci)) FROM mysql.seq_0_to_65535"
        " WHERE seq NOT BETWEEN 0xD800 AND 0xDFFF")
    listed = []
    for cp, hexed in cur.fetchall():
        weights = [int(hexed[i:i + 4], 16) for i in range(0, len(hexed), 4)]
        if weights != implicit(cp):
            listed.append((cp, weights))
    runs = []  # [from, to, kind, weights]: kind "one", "ignorable" or "counting"
    for cp, weights in listed:
        last = runs[-1] if runs else None
        follows = last is not None and last[1] == cp - 1
        if follows and not weights and last[2] == "ignorable":
            last[1] = cp
        elif (follows and len(weights) == 1 and last[2] in ("one", "counting")
              and len(last[3]) == 1 and last[3][0] + (cp - last[0]) == weights[0]):
            last[1], last[2] = cp, "counting"
        else:
            runs.append([cp, cp, "ignorable" if not weights else "one", weights])
    out = [HEADER]
    for start, end, kind, weights in runs:
        if start == end and kind != "ignorable":
            out.append(" ".join(["%04X" % start] + ["%04X" % w for w in weights]) + "\n")
        elif kind == "ignorable":
            out.append("%04X-%04X\n" % (start, end))
        else:
            out.append("%04X-%04X %04X+\n" % (start, end, weights[0]))
    print("".join(out), end="")


if __name__ == "__main__":
    main()
