"""PyMySQL through shardgate: default (autocommit off) connections, inserts, reads, errors.

Usage: pymysql_smoke.py PORT   (exits non-zero on the first failed check)
"""
import sys

import pymysql

port = int(sys.argv[1])


def connect(**kw):
    return pymysql.connect(host="127.0.0.1", port=port, user="app", password="app", database="app", **kw)


conn = connect()  # PyMySQL's default: autocommit off, so every statement runs in a transaction
cur = conn.cursor()
cur.execute("SELECT id FROM users WHERE id = %s", (1,))  # a read first ...
for i in range(1, 51):
    cur.execute("INSERT INTO users (id, email, name) VALUES (%s, %s, %s)", (i, f"py{i}@example.com", f"Py {i}"))
    conn.commit()  # ... then writes on every shard, one transaction each
for i in range(1, 51):
    cur.execute("SELECT email, name FROM users WHERE id = %s", (i,))
    assert cur.fetchall() == ((f"py{i}@example.com", f"Py {i}"),), i
conn.commit()

# A BLOB holding 0xFF and NUL bytes, and NULLs, come back unchanged.
cur.execute("CREATE TABLE blobs (id INT PRIMARY KEY, b BLOB, t TEXT)")
cur.execute("INSERT INTO blobs VALUES (1, %s, NULL)", (b"\xff\x00\xfe\x01",))
conn.commit()
cur.execute("SELECT b, t FROM blobs WHERE id = 1")
assert cur.fetchall() == ((b"\xff\x00\xfe\x01", None),)

# Rollback discards.
cur.execute("INSERT INTO users (id, email) VALUES (%s, %s)", (900, "gone"))
conn.rollback()
cur.execute("SELECT * FROM users WHERE id = 900")
assert cur.fetchall() == ()

# Errors carry the backend's code.
try:
    cur.execute("SELECT * FROM nope")
    raise AssertionError("expected an error")
except pymysql.err.ProgrammingError as e:
    assert e.args[0] == 1146, e
try:
    cur.execute("UPDATE users u JOIN orders o ON o.user_id = u.id SET o.user_id = 9 WHERE u.id = 1")
    raise AssertionError("expected an error")
except pymysql.err.MySQLError as e:
    assert e.args[0] == 1235 and "`orders`" in e.args[1], e

# A fresh connection's FOUND_ROWS() and ROW_COUNT() are MariaDB's (1 and 0), before any SELECT.
fresh = connect(autocommit=None)  # sends no statement of its own
fcur = fresh.cursor()
fcur.execute("SELECT FOUND_ROWS(), ROW_COUNT()")
assert fcur.fetchall() == ((1, 0),), "a fresh session's FOUND_ROWS(), ROW_COUNT()"
fresh.close()

auto = connect(autocommit=True)
acur = auto.cursor()
acur.execute("SELECT COUNT(*) FROM users WHERE id IN (7)")
assert acur.fetchone() == (1,)

try:
    pymysql.connect(host="127.0.0.1", port=port, user="app", password="wrong")
    raise AssertionError("expected access denied")
except pymysql.err.OperationalError as e:
    assert e.args[0] == 1045, e
print("pymysql ok")
