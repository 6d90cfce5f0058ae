-- Joins corpus of tests/differential.rs (same directives as corpus.sql): SELECTs joining two
-- sharded tables whose rows live on different shards, answered by the proxy's Join primitive
-- (router/src/join_plan.rs): a batched lookup when the inner join column is the inner table's
-- shard key, a hash join otherwise; inner and LEFT, NULL keys, duplicates, strings by their
-- collation, numbers across types, ORDER BY / LIMIT in the proxy.

-- ===== Batched lookups: users found by its shard key =====
SELECT o.id, u.name FROM orders o JOIN users u ON u.id = o.qty
SELECT o.id, u.name, u.score FROM orders o JOIN users u ON u.id = o.qty WHERE o.status = 'paid'
SELECT o.id, u.id FROM orders o LEFT JOIN users u ON u.id = o.qty WHERE o.id < 400
SELECT o.id, u.email AS mail FROM orders o LEFT JOIN users u ON u.id = o.qty AND u.score > 100 WHERE o.id < 300
SELECT o.id, u.tag FROM users u JOIN orders o ON o.qty = u.id WHERE u.flag = 1
SELECT o.id, u.id FROM orders o JOIN users u ON u.id = o.user_id + 0 WHERE o.id < 0
@ordered SELECT o.id, u.name FROM orders o JOIN users u ON u.id = o.qty ORDER BY o.id LIMIT 25
@ordered SELECT o.id, u.name FROM orders o LEFT JOIN users u ON u.id = o.qty ORDER BY o.id DESC LIMIT 10, 20
@ordered SELECT u.id, o.id FROM orders o JOIN users u ON u.id = o.qty WHERE o.amount > 100 ORDER BY u.id, o.id
@keys=0 SELECT u.score, o.id FROM orders o JOIN users u ON u.id = o.qty ORDER BY u.score LIMIT 40
@ordered SELECT o.id FROM orders o JOIN users u ON u.id = o.qty ORDER BY u.created_at, o.id LIMIT 30
@ordered SELECT o.id, u.balance FROM orders o LEFT JOIN users u ON u.id = o.qty WHERE o.status IS NULL ORDER BY o.id
SELECT a.id, b.id FROM orders a JOIN orders b ON b.user_id = a.qty WHERE a.id < 200
-- Text MariaDB rejects, though the statements the shards run would pass: 1064 (no
-- IGNORE_SPACE), 1630 (`SUM (x)` is a stored function), 1054 (an unknown column).
SELECT COUNT (*), MIN(u.name) FROM orders o JOIN users u ON u.id = o.qty
SELECT SUM (o.amount) FROM orders o JOIN users u ON u.id = o.qty
SELECT o.id, u.no_such_column FROM orders o JOIN users u ON u.id = o.qty
@ordered SELECT a.id, b.name FROM users a LEFT JOIN users b ON b.id = a.flag WHERE a.id < 100 ORDER BY a.id

-- ===== Hash joins: non-key columns =====
SELECT u.id, o.id FROM users u JOIN orders o ON o.qty = u.score
SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.qty = u.score WHERE u.id < 200
SELECT u.id, o.id FROM users u JOIN orders o ON o.amount = u.score
SELECT u.id, o.id FROM users u JOIN orders o ON o.amount = u.balance
SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.amount = u.balance AND o.qty > 3 WHERE u.id < 300
SELECT u.id, o.id FROM users u JOIN orders o ON o.status = u.tag
SELECT u.id, o.id, u.tag, o.status FROM users u JOIN orders o ON o.status = u.tag WHERE u.id < 100
SELECT u.id, o.id FROM users u JOIN orders o ON o.status = u.tag_bin
SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.status = u.tag_bin WHERE u.id < 150
SELECT u.id, o.id FROM users u JOIN orders o ON o.created_at = u.created_at
SELECT u.id, o.id FROM users u JOIN orders o ON o.qty = u.flag AND o.user_id = u.score
SELECT a.id, b.id FROM users a JOIN users b ON b.tag = a.tag WHERE a.id < 50 AND b.id < 60
SELECT a.id, b.id FROM users a JOIN users b ON b.email = a.email WHERE a.id <> b.id
SELECT a.id, b.id FROM orders a JOIN orders b ON b.amount = a.amount WHERE a.id < 100 AND b.id > 5900
@ordered SELECT u.id, o.id FROM users u JOIN orders o ON o.qty = u.score WHERE u.id < 400 ORDER BY u.id, o.id
@ordered SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.qty = u.flag WHERE u.id BETWEEN 10 AND 60 ORDER BY u.id DESC, o.id
@ordered SELECT o.id, u.id FROM users u JOIN orders o ON o.status = u.tag ORDER BY o.id, u.id LIMIT 50
@keys=0 SELECT u.tag, o.id FROM users u JOIN orders o ON o.status = u.tag ORDER BY u.tag LIMIT 30
@keys=0 SELECT o.amount, u.id FROM users u JOIN orders o ON o.amount = u.balance ORDER BY o.amount DESC LIMIT 20
@ordered SELECT u.id FROM users u JOIN orders o ON o.qty = u.flag WHERE o.id < 50 ORDER BY u.id, o.id LIMIT 5, 5

-- ===== Grouping over the joined rows (join_plan/grouping.rs): the merge aggregates =====
SELECT u.id, COUNT(o.id) FROM users u JOIN orders o ON o.qty = u.score WHERE u.id < 300 GROUP BY u.id
SELECT u.flag, COUNT(*), SUM(o.amount), AVG(o.amount), MIN(o.id), MAX(u.score) FROM orders o JOIN users u ON u.id = o.qty GROUP BY u.flag
SELECT COUNT(*), COUNT(u.id), SUM(o.qty), AVG(u.balance) FROM orders o LEFT JOIN users u ON u.id = o.qty
@ordered SELECT o.qty, SUM(o.amount * 2) AS s, COUNT(u.score) FROM orders o JOIN users u ON u.id = o.qty GROUP BY o.qty ORDER BY s DESC, o.qty LIMIT 7
@ordered SELECT u.score, COUNT(*) AS n FROM users u JOIN orders o ON o.qty = u.score GROUP BY 1 ORDER BY n DESC, 1
SELECT COUNT(*), SUM(u.balance), MAX(o.id) FROM orders o JOIN users u ON u.id = o.qty WHERE o.id < 0
SELECT o.qty, COUNT(*) FROM orders o JOIN users u ON u.id = o.qty WHERE o.id < 0 GROUP BY o.qty
@ordered SELECT u.flag, COUNT(DISTINCT o.qty), SUM(DISTINCT o.qty), GROUP_CONCAT(o.id ORDER BY o.id) FROM orders o JOIN users u ON u.id = o.qty WHERE o.id < 300 GROUP BY u.flag ORDER BY u.flag DESC
SELECT COUNT(*), BIT_OR(o.qty), BIT_XOR(u.id), STDDEV_POP(o.qty), VARIANCE(u.score) FROM users u JOIN orders o ON o.amount = u.balance
@ordered SELECT u.id, COUNT(o.id) AS c FROM users u LEFT JOIN orders o ON o.qty = u.id WHERE u.id < 200 GROUP BY u.id ORDER BY c DESC, u.id LIMIT 15
SELECT u.flag, MIN(u.balance), MAX(o.amount) FROM orders o JOIN users u ON u.id = o.qty GROUP BY u.flag
SELECT u.flag, SUM(CASE WHEN o.status = 'paid' THEN o.amount ELSE 0 END), COUNT(o.status) FROM orders o JOIN users u ON u.id = o.qty GROUP BY u.flag
@ordered SELECT o.qty, GROUP_CONCAT(DISTINCT u.flag ORDER BY u.flag DESC SEPARATOR '/') FROM orders o JOIN users u ON u.id = o.qty GROUP BY o.qty ORDER BY COUNT(*), o.qty
SELECT u.flag, SUM(u.ratio), AVG(u.ratio) FROM orders o JOIN users u ON u.id = o.qty GROUP BY u.flag
SELECT u.flag, COUNT(*) FROM orders o JOIN users u ON u.id = o.qty GROUP BY u.flag HAVING COUNT(*) > 100
SELECT o.qty, SUM(o.amount) AS s FROM orders o JOIN users u ON u.id = o.qty GROUP BY o.qty HAVING s / COUNT(*) > 5000 AND MAX(u.score) BETWEEN 10 AND 900000
SELECT u.flag, AVG(o.amount) FROM orders o JOIN users u ON u.id = o.qty GROUP BY u.flag HAVING AVG(o.amount) > 4990
SELECT u.flag, AVG(o.amount) FROM orders o JOIN users u ON u.id = o.qty GROUP BY u.flag HAVING AVG(o.amount) * 2 > 9980
@ordered SELECT u.id, COUNT(o.id) AS c FROM users u LEFT JOIN orders o ON o.qty = u.id WHERE u.id < 200 GROUP BY u.id HAVING c = 0 OR u.id IS NULL OR NOT c > 3 ORDER BY c DESC, u.id LIMIT 15
@ordered SELECT o.qty, COUNT(*) FROM orders o JOIN users u ON u.id = o.qty GROUP BY o.qty HAVING o.qty > 5 AND SUM(u.balance) IS NOT NULL ORDER BY o.qty
SELECT u.flag, COUNT(*) FROM orders o JOIN users u ON u.id = o.qty GROUP BY u.flag HAVING u.flag <> 1

-- ===== Three and more tables (join_plan/sides.rs): co-located groups as the two sides =====
SELECT u.id, o.id, v.name FROM users u JOIN orders o ON o.user_id = u.id JOIN users v ON v.id = o.qty WHERE u.id < 300
SELECT v.flag, COUNT(*), SUM(o.amount) FROM users u, orders o, users v WHERE o.user_id = u.id AND v.id = o.qty GROUP BY v.flag
@ordered SELECT f.label, COUNT(*) AS n, MAX(o.id) FROM orders o JOIN users v ON v.id = o.qty JOIN flags f ON f.flag = v.flag GROUP BY f.label ORDER BY n DESC, f.label
SELECT o.id, v.id FROM orders o JOIN users v ON v.id = o.qty WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND u.score > 10)
SELECT u.id, v.id FROM users u JOIN orders o ON o.user_id = u.id JOIN users v ON v.score = o.qty AND v.flag = u.flag WHERE u.id < 100

-- A side joined to the other side's reference table reads only the values that table's own
-- conditions keep (join_plan::narrow_by_references, TPC-H Q5).
SELECT f.label, COUNT(*), SUM(o.amount) FROM users u JOIN flags f ON f.flag = u.flag JOIN orders o ON o.id = u.score WHERE o.qty = f.flag AND f.label <> 'zero' GROUP BY f.label ORDER BY f.label
SELECT u.id, o.id, f.label FROM users u JOIN flags f ON f.flag = u.flag JOIN orders o ON o.id = u.score WHERE o.qty = f.flag AND f.label LIKE '%e%'
SELECT u.id, o.id FROM users u, flags f, orders o WHERE f.flag = u.flag AND o.id = u.score AND o.qty = f.flag AND (f.label = 'one' OR f.label = 'max')
SELECT COUNT(*), MIN(o.id) FROM orders o JOIN users u ON u.score = o.id JOIN flags f ON f.flag = o.qty WHERE u.flag = f.flag AND f.flag IN (SELECT f2.flag FROM flags f2 WHERE f2.label <> 'one')

-- ===== Kept on copies (materialize): the join would not be exact or evaluable =====
SELECT u.id, o.id FROM users u JOIN orders o ON o.qty = u.ratio WHERE u.id < 100
SELECT u.id, o.id FROM users u JOIN orders o ON o.status = u.nick WHERE u.id < 100
SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.qty = u.score WHERE o.id IS NULL AND u.id < 300

-- ===== Semi- and anti-joins: [NOT] EXISTS correlated on columns placed otherwise =====
SELECT u.id, u.name FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
SELECT u.id, u.name FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
SELECT o.id, o.amount FROM orders o WHERE EXISTS (SELECT * FROM users u WHERE u.id = o.qty)
SELECT o.id FROM orders o WHERE NOT EXISTS (SELECT * FROM users u WHERE u.id = o.qty AND u.score > 100)
SELECT u.id FROM users u WHERE u.score > 100 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id AND o.status = 'paid')
SELECT u.id FROM users u WHERE EXISTS (SELECT 1 AS a FROM orders U0 WHERE U0.qty = u.id LIMIT 1) AND u.flag = 1
SELECT u.id, u.score FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.score)
SELECT u.id FROM users u WHERE EXISTS (SELECT o.id FROM orders o WHERE o.status = u.tag)
SELECT u.id, u.tag FROM users u WHERE NOT EXISTS (SELECT o.id FROM orders o WHERE o.status = u.tag)
SELECT COUNT(*) FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
SELECT COUNT(*), MAX(u.score) FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
@ordered @ci=0 SELECT u.tag, COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id) GROUP BY u.tag ORDER BY u.tag
SELECT o.id FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.qty AND u.flag = o.qty)
SELECT a.id FROM orders a WHERE EXISTS (SELECT 1 FROM orders b WHERE b.user_id = a.qty)
@ordered SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id) ORDER BY u.id LIMIT 5
SELECT u.id FROM users u WHERE EXISTS (SELECT COUNT(*) FROM orders o WHERE o.qty = u.id)
SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id LIMIT 0)
SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id) OR u.id = 1
SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = id)
SELECT O.id, V.name FROM orders O JOIN users V ON V.id = O.qty WHERE O.id < 300
SELECT Orders.id FROM Orders WHERE EXISTS (SELECT 1 FROM Users WHERE Users.id = Orders.qty)
-- `*` and `t.*` over joins and semi-joins: the schema cache's columns.
SELECT * FROM orders o JOIN users u ON u.id = o.qty WHERE o.id < 300
SELECT o.*, u.name FROM orders o JOIN users u ON u.id = o.qty WHERE o.id < 300
SELECT u.* FROM orders o LEFT JOIN users u ON u.id = o.qty WHERE o.id < 200
SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
SELECT * FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
SELECT *, u.id FROM users u WHERE u.flag = 1 AND EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
SELECT * FROM users u JOIN orders o ON o.status = u.tag WHERE u.id < 50
-- A correlated IN is the semi-join; NOT IN keeps its copies.
SELECT u.id, u.name FROM users u WHERE u.id IN (SELECT o.qty FROM orders o WHERE o.status = u.tag)
SELECT o.id FROM orders o WHERE o.qty IN (SELECT u.id FROM users u WHERE u.tag = o.status AND u.score > 0)
SELECT COUNT(*) FROM users u WHERE u.flag IN (SELECT o.qty AS q FROM orders o WHERE o.status = u.tag)
SELECT u.id FROM users u WHERE u.id NOT IN (SELECT o.qty FROM orders o WHERE o.status = u.tag)
SELECT u.id FROM users u WHERE u.id IN (SELECT o.qty FROM orders o WHERE o.status = u.tag) AND u.id NOT IN (SELECT o.id FROM orders o WHERE o.status = u.tag)

-- ===== Derived tables over a join across shards: the Join primitive computes their rows,
-- copied for the outer statement (derived_rows.rs) =====
@ordered SELECT c, COUNT(*) FROM (SELECT o.qty, COUNT(u.id) c FROM orders o LEFT JOIN users u ON u.id = o.qty GROUP BY o.qty) t GROUP BY c ORDER BY c
@ordered SELECT t.uid, t.n FROM (SELECT u.id uid, COUNT(*) n FROM orders o JOIN users u ON u.id = o.qty WHERE o.status = 'paid' GROUP BY u.id) t ORDER BY t.n DESC, t.uid LIMIT 10
SELECT COUNT(*), SUM(t.amount) FROM (SELECT DISTINCT o.amount FROM orders o JOIN users u ON u.id = o.qty) t
@ordered SELECT c_count, COUNT(*) AS custdist FROM (SELECT u.id, COUNT(o.id) AS c_count FROM users u LEFT OUTER JOIN orders o ON u.id = o.qty AND o.status <> 'cancelled' GROUP BY u.id) AS c_orders GROUP BY c_count ORDER BY custdist DESC, c_count DESC
@ordered SELECT t.q, t.total FROM (SELECT o.qty q, SUM(o.amount) total FROM orders o JOIN users u ON u.id = o.qty GROUP BY o.qty ORDER BY total DESC LIMIT 5) t ORDER BY t.q

-- ===== Deterministic functions of one side's columns (pushable.rs): conditions and named
-- select items each side's shards compute; an expression of a LEFT join's NULL-extended
-- side, and an unnamed one, keep their copies =====
SELECT u.id, UPPER(u.tag) AS t FROM users u WHERE SUBSTRING(u.name, 1, 1) IN ('A', 'J', 'O') AND EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
SELECT u.id, LEFT(u.name, 2) AS n2, COALESCE(u.score, -1) AS s FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id AND LENGTH(o.status) > 3)
SELECT COUNT(*) FROM users u WHERE LOWER(u.tag) = 'alpha' AND u.flag IN (SELECT o.qty FROM orders o WHERE o.status = u.tag)
SELECT o.id, CONCAT(o.status, '/', u.tag) AS st FROM orders o JOIN users u ON u.id = o.qty WHERE o.id < 300
SELECT o.id, IF(o.amount > 100, 'big', 'small') AS size, CHAR_LENGTH(u.name) AS len FROM orders o JOIN users u ON u.id = o.qty WHERE UPPER(o.status) = 'PAID'
SELECT o.id, CASE WHEN u.score > 500 THEN 'high' ELSE 'low' END AS band FROM orders o JOIN users u ON u.id = o.qty WHERE ABS(o.qty) < 50
SELECT u.id, TRIM(u.tag) AS tt FROM users u JOIN orders o ON o.status = u.tag WHERE YEAR(o.created_at) >= 2021 AND u.id < 100
SELECT o.id, COALESCE(u.name, 'none') AS who FROM orders o LEFT JOIN users u ON u.id = o.qty WHERE o.id < 200
SELECT o.id, UPPER(u.tag) FROM orders o JOIN users u ON u.id = o.qty WHERE o.id < 200
SELECT u.id, ROUND(u.balance, 1) AS b FROM users u WHERE u.id IN (SELECT o.qty FROM orders o WHERE o.status = u.tag AND MOD(o.id, 2) = 0)
-- Uncorrelated subqueries first beside correlated ones, and inside derived tables (TPC-H Q22):
-- their values written in, the rest planned as any (here a semi- or anti-join).
SELECT u.id, SUBSTRING(u.name, 1, 2) AS p FROM users u WHERE u.score > (SELECT AVG(score) FROM users) AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
SELECT u.id FROM users u WHERE u.flag IN (SELECT flag FROM users WHERE score > 900) AND EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)
@ordered SELECT cc, COUNT(*), SUM(b) FROM (SELECT SUBSTRING(u.name, 1, 1) AS cc, u.balance AS b FROM users u WHERE u.balance > (SELECT AVG(balance) FROM users WHERE balance > 0) AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.qty = u.id)) AS t GROUP BY cc ORDER BY cc
@ordered SELECT t.id FROM (SELECT u.id FROM users u WHERE u.score < (SELECT MIN(amount) FROM orders WHERE amount > 100)) t ORDER BY t.id
SELECT COUNT(*) FROM (SELECT o.id FROM orders o WHERE o.amount > (SELECT AVG(amount) FROM orders) AND o.qty IN (SELECT u.id FROM users u WHERE u.tag = o.status)) d
