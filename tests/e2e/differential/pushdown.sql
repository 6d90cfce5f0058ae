-- Pushdown corpus of tests/differential.rs (same directives as corpus.sql): statements whose
-- sharded table references are all pinned to one shard (by shard-key literals, co-located join
-- equalities, correlations on shard keys) are sent whole to that shard; correlated subqueries
-- on co-located keys follow a scatter's rows to every shard. users.id and orders.user_id share
-- one ring; flags is a reference table. Run after corpus.sql (its writes included).

-- ===== Derived tables pinned by their own key =====
SELECT * FROM (SELECT * FROM users WHERE id = 17) t
SELECT t.id, t.name FROM (SELECT id, name FROM users WHERE id = 42) AS t
SELECT COUNT(*) FROM (SELECT * FROM orders WHERE user_id = 17) t
SELECT t.c FROM (SELECT COUNT(*) AS c FROM orders WHERE user_id = 1) t
SELECT t.s FROM (SELECT SUM(amount) AS s FROM orders WHERE user_id = 2 GROUP BY user_id) t
@ordered SELECT t.id, t.amount FROM (SELECT id, amount FROM orders WHERE user_id = 17 ORDER BY amount DESC LIMIT 3) t ORDER BY t.amount DESC, t.id
SELECT x.id FROM (SELECT id FROM (SELECT id FROM users WHERE id = 100) y) x
SELECT t.status, COUNT(*) FROM (SELECT status FROM orders WHERE user_id = 3) t GROUP BY t.status
SELECT * FROM (SELECT u.id, u.name, o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 3) t
SELECT t.id, f.label FROM (SELECT id, flag FROM users WHERE id = 5) t LEFT JOIN flags f ON f.flag = t.flag
SELECT u.name, t.n FROM users u JOIN (SELECT user_id, COUNT(*) AS n FROM orders WHERE user_id = 7 GROUP BY user_id) t ON t.user_id = u.id WHERE u.id = 7
SELECT * FROM (SELECT id FROM users WHERE id = 17) a JOIN (SELECT user_id FROM orders WHERE user_id = 17) b ON b.user_id = a.id
SELECT MAX(t.amount), MIN(t.amount) FROM (SELECT amount FROM orders WHERE user_id IN (17, 17)) t
SELECT * FROM (SELECT id, score FROM users WHERE id = -8) t WHERE t.score IS NOT NULL OR t.score IS NULL
SELECT t.id FROM (SELECT id FROM users WHERE id = 1000000000013) t
SELECT * FROM (SELECT * FROM users WHERE id = 999999) t
@count SELECT * FROM (SELECT * FROM orders WHERE user_id = 17 LIMIT 2) t

-- ===== Common table expressions =====
WITH t AS (SELECT * FROM users WHERE id = 17) SELECT * FROM t
WITH t AS (SELECT id, name FROM users WHERE id = 42) SELECT name FROM t
WITH o AS (SELECT * FROM orders WHERE user_id = 17) SELECT COUNT(*), SUM(amount) FROM o
WITH o AS (SELECT * FROM orders WHERE user_id = 17) SELECT status, COUNT(*) FROM o GROUP BY status
WITH a AS (SELECT id FROM users WHERE id = 3), b AS (SELECT user_id, amount FROM orders WHERE user_id = 3) SELECT a.id, b.amount FROM a JOIN b ON b.user_id = a.id
WITH a AS (SELECT id FROM users WHERE id = 3), b AS (SELECT id FROM a) SELECT * FROM b
WITH t AS (SELECT u.id, o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 2) SELECT id, SUM(amount) FROM t GROUP BY id
WITH t AS (SELECT flag FROM users WHERE id = 5) SELECT f.label FROM t JOIN flags f ON f.flag = t.flag
WITH t AS (SELECT * FROM flags) SELECT u.id, t.label FROM users u LEFT JOIN t ON t.flag = u.flag WHERE u.id = 9
WITH users AS (SELECT * FROM orders WHERE user_id = 17) SELECT COUNT(*) FROM users
WITH orders AS (SELECT id AS user_id FROM users WHERE id = 17) SELECT * FROM orders
WITH t AS (SELECT * FROM users WHERE id = 17) SELECT * FROM t WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = t.id)
WITH t(k) AS (SELECT id FROM users WHERE id = 42) SELECT k FROM t
WITH t AS (SELECT * FROM orders WHERE user_id = 1) SELECT a.id, b.id FROM t a JOIN t b ON b.id = a.id
@ordered WITH t AS (SELECT id, amount FROM orders WHERE user_id = 17) SELECT id, amount, (SELECT COUNT(*) FROM t t2 WHERE t2.amount <= t.amount) AS r FROM t ORDER BY id

-- ===== Recursive CTEs over pinned, reference and no tables =====
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT u.id, n.i FROM n JOIN users u ON u.id = 17
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT i, (SELECT COUNT(*) FROM orders WHERE user_id = 17 AND qty = n.i) FROM n
WITH RECURSIVE d(x) AS (SELECT id FROM users WHERE id = 17 UNION ALL SELECT x + 1 FROM d WHERE x < 20) SELECT * FROM d
WITH RECURSIVE d(x) AS (SELECT qty FROM orders WHERE user_id = 17 UNION SELECT x - 1 FROM d WHERE x > 0) SELECT * FROM d
WITH RECURSIVE f(flag, depth) AS (SELECT flag, 0 FROM flags WHERE flag = 0 UNION ALL SELECT flag, depth + 1 FROM f WHERE depth < 3) SELECT f.depth, u.id FROM f JOIN users u ON u.flag = f.flag WHERE u.id = 30
WITH RECURSIVE r(id, n) AS (SELECT id, 1 FROM users WHERE id = 42 UNION ALL SELECT r.id, r.n + 1 FROM r JOIN users u ON u.id = 42 WHERE r.n < 3) SELECT * FROM r
WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v * 2 FROM s WHERE v < 1000) SELECT v FROM s WHERE v IN (SELECT qty FROM orders WHERE user_id = 17)
WITH RECURSIVE a(k) AS (SELECT 17 UNION ALL SELECT k FROM a WHERE 1 = 0) SELECT o.id FROM a JOIN orders o ON o.user_id = a.k WHERE o.user_id = 17

-- ===== IN subqueries: pinned, and semi-joins on co-located shard keys =====
SELECT * FROM users WHERE id IN (SELECT user_id FROM orders WHERE user_id = 17)
SELECT id, name FROM users WHERE id = 17 AND id IN (SELECT user_id FROM orders)
SELECT id, name FROM users u WHERE u.id = 42 AND u.id IN (SELECT o.user_id FROM orders o WHERE o.amount > 100)
SELECT id FROM users WHERE id = 3 AND id IN (SELECT o.user_id FROM orders o WHERE o.status = 'paid')
SELECT * FROM orders WHERE user_id = 17 AND id IN (SELECT id FROM orders WHERE user_id = 17 AND qty > 3)
SELECT * FROM orders o WHERE o.user_id IN (SELECT u.id FROM users u WHERE u.id = 2)
SELECT * FROM orders WHERE user_id = 1 AND amount IN (SELECT amount FROM orders WHERE user_id = 1 AND status = 'new')
SELECT id FROM users WHERE id = 17 AND flag IN (SELECT flag FROM flags WHERE label LIKE '%one%')
SELECT id FROM users WHERE id = 17 AND id NOT IN (SELECT user_id FROM orders WHERE user_id = 17 AND amount < 0)
SELECT id FROM users u WHERE u.id = 42 AND u.name IN (SELECT u2.name FROM users u2 WHERE u2.id = 42)
SELECT id FROM users u WHERE u.id = 17 AND (u.id, u.flag) IN (SELECT o.user_id, o.qty FROM orders o WHERE o.user_id = 17)
SELECT id FROM users WHERE id = 5 AND 0 < ANY (SELECT qty FROM orders WHERE user_id = 5)
SELECT id FROM users WHERE id = 5 AND 100 > ALL (SELECT amount FROM orders WHERE user_id = 5)
SELECT id FROM users WHERE id = 999999 AND id IN (SELECT user_id FROM orders WHERE user_id = 999999)
SELECT COUNT(*) FROM orders WHERE user_id = 17 AND status IN (SELECT status FROM orders WHERE user_id = 17 AND qty = 1)

-- ===== EXISTS / NOT EXISTS correlated on co-located keys, pinned by the outer key =====
SELECT * FROM users u WHERE u.id = 17 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
SELECT * FROM users u WHERE u.id = 17 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
SELECT u.id FROM users u WHERE u.id = 42 AND EXISTS (SELECT * FROM orders o WHERE o.user_id = u.id AND o.amount > 5000)
SELECT u.id FROM users u WHERE u.id = 42 AND NOT EXISTS (SELECT * FROM orders o WHERE o.user_id = u.id AND o.status = 'cancelled')
SELECT * FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.user_id = 17)
SELECT u.id FROM users u WHERE u.id = 1 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND EXISTS (SELECT 1 FROM orders o2 WHERE o2.user_id = o.user_id AND o2.id <> o.id))
SELECT u.id FROM users u WHERE u.id = 3 AND (EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) OR u.score > 0)
SELECT u.id FROM users u WHERE u.id = 3 AND EXISTS (SELECT 1 FROM orders o JOIN flags f ON f.flag = o.qty WHERE o.user_id = u.id)
SELECT o.id FROM orders o WHERE o.user_id = 17 AND EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND u.name IS NOT NULL)
SELECT o.id FROM orders o WHERE o.user_id = 17 AND EXISTS (SELECT 1 FROM orders p WHERE p.user_id = o.user_id AND p.amount > o.amount)
SELECT u.id FROM users u WHERE u.id = 2 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id LIMIT 1)
SELECT u.id, EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) FROM users u WHERE u.id IN (17)
SELECT u.id FROM users u WHERE u.id = 9 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id GROUP BY o.status HAVING COUNT(*) > 0)
SELECT u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.id = 17 AND NOT EXISTS (SELECT 1 FROM orders p WHERE p.user_id = o.user_id AND p.id > o.id)
SELECT u.id FROM users u WHERE u.id = -8 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)

-- ===== Scalar subqueries =====
SELECT (SELECT name FROM users WHERE id = 17)
SELECT (SELECT COUNT(*) FROM orders WHERE user_id = 17), (SELECT SUM(amount) FROM orders WHERE user_id = 17)
SELECT u.id, (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id) FROM users u WHERE u.id = 17
SELECT u.id, (SELECT MAX(o.amount) FROM orders o WHERE o.user_id = u.id) AS top FROM users u WHERE u.id = 42
SELECT u.id, (SELECT o.status FROM orders o WHERE o.user_id = u.id ORDER BY o.id LIMIT 1) FROM users u WHERE u.id = 3
SELECT id FROM users WHERE id = 17 AND score < (SELECT COUNT(*) FROM orders WHERE user_id = 17) * 1000
SELECT o.id, o.amount - (SELECT AVG(p.amount) FROM orders p WHERE p.user_id = o.user_id) FROM orders o WHERE o.user_id = 17
SELECT * FROM orders WHERE user_id = 17 AND amount = (SELECT MAX(amount) FROM orders WHERE user_id = 17)
SELECT (SELECT label FROM flags WHERE flag = u.flag) FROM users u WHERE u.id = 17
SELECT u.name FROM users u WHERE u.id = (SELECT 17)
SELECT u.id FROM users u WHERE u.id = 42 ORDER BY (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id)
SELECT u.id, COUNT(*) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 42 GROUP BY u.id HAVING COUNT(*) >= (SELECT COUNT(*) FROM orders p WHERE p.user_id = 42 AND p.qty > 5)
SELECT (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id AND o.qty > (SELECT MIN(qty) FROM orders p WHERE p.user_id = u.id)) FROM users u WHERE u.id = 17
SELECT (SELECT name FROM users WHERE id = 999999)
SELECT COALESCE((SELECT amount FROM orders WHERE user_id = 17 AND id < 0), -1)

-- ===== UNION / UNION ALL / INTERSECT / EXCEPT on one shard =====
SELECT id FROM users WHERE id = 17 UNION SELECT user_id FROM orders WHERE user_id = 17
SELECT id FROM users WHERE id = 17 UNION ALL SELECT user_id FROM orders WHERE user_id = 17
SELECT name FROM users WHERE id = 42 UNION SELECT status FROM orders WHERE user_id = 42
SELECT amount FROM orders WHERE user_id = 17 INTERSECT SELECT amount FROM orders WHERE user_id = 17 AND qty > 2
SELECT amount FROM orders WHERE user_id = 17 EXCEPT SELECT amount FROM orders WHERE user_id = 17 AND qty > 2
@ordered SELECT id FROM orders WHERE user_id = 17 UNION SELECT id FROM orders WHERE user_id = 17 AND qty = 0 ORDER BY id
@ordered (SELECT id, amount FROM orders WHERE user_id = 17 ORDER BY amount DESC LIMIT 2) UNION ALL (SELECT id, amount FROM orders WHERE user_id = 17 ORDER BY amount LIMIT 2) ORDER BY id, amount
SELECT label FROM flags UNION SELECT name FROM users WHERE id = 17
SELECT id FROM users WHERE id = 3 UNION SELECT 99 UNION SELECT user_id FROM orders WHERE user_id = 3
SELECT COUNT(*) FROM (SELECT id FROM users WHERE id = 1 UNION ALL SELECT id FROM orders WHERE user_id = 1) t
SELECT status FROM orders WHERE user_id = 1 UNION DISTINCT SELECT status FROM orders WHERE user_id = 1
(SELECT id FROM users WHERE id = 17)
SELECT id FROM users WHERE id = 17 AND id IN (SELECT user_id FROM orders WHERE user_id = 17 UNION SELECT id FROM users WHERE id = 17)
SELECT u.id FROM users u WHERE u.id = 17 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id UNION ALL SELECT 1 FROM flags)

-- ===== Window functions on one shard =====
@ordered SELECT id, amount, ROW_NUMBER() OVER (ORDER BY amount, id) FROM orders WHERE user_id = 17 ORDER BY id
@ordered SELECT id, amount, RANK() OVER (ORDER BY qty) AS r FROM orders WHERE user_id = 17 ORDER BY id
@ordered SELECT id, status, DENSE_RANK() OVER (PARTITION BY status ORDER BY qty) FROM orders WHERE user_id = 17 ORDER BY id
@ordered SELECT id, SUM(amount) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM orders WHERE user_id = 42 ORDER BY id
@ordered SELECT id, COUNT(*) OVER (), AVG(amount) OVER (PARTITION BY status) FROM orders WHERE user_id = 42 ORDER BY id
@ordered SELECT id, LAG(amount) OVER (ORDER BY id), LEAD(amount, 2) OVER (ORDER BY id) FROM orders WHERE user_id = 3 ORDER BY id
@ordered SELECT id, FIRST_VALUE(amount) OVER (ORDER BY id), NTILE(2) OVER (ORDER BY id) FROM orders WHERE user_id = 3 ORDER BY id
@ordered SELECT u.id, o.id, ROW_NUMBER() OVER (PARTITION BY u.id ORDER BY o.id) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 17 ORDER BY o.id
@ordered SELECT * FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id DESC) AS rn FROM orders WHERE user_id = 17) t WHERE t.rn <= 3 ORDER BY rn
@ordered SELECT id, PERCENT_RANK() OVER (ORDER BY id), CUME_DIST() OVER (ORDER BY id) FROM orders WHERE user_id = 1 ORDER BY id
@ordered SELECT id, MAX(amount) OVER w FROM orders WHERE user_id = 1 WINDOW w AS (ORDER BY id) ORDER BY id
@ordered SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM users WHERE id IN (17, 17) ORDER BY id

-- ===== GROUP BY … WITH ROLLUP and other aggregates on one shard =====
SELECT status, COUNT(*) FROM orders WHERE user_id = 17 GROUP BY status WITH ROLLUP
SELECT status, qty, SUM(amount) FROM orders WHERE user_id = 42 GROUP BY status, qty WITH ROLLUP
SELECT u.id, o.status, COUNT(*) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 3 GROUP BY u.id, o.status WITH ROLLUP
SELECT COUNT(DISTINCT status), GROUP_CONCAT(id ORDER BY id), STD(amount) IS NOT NULL FROM orders WHERE user_id = 17
SELECT BIT_OR(qty), BIT_AND(qty), BIT_XOR(qty) FROM orders WHERE user_id = 17
SELECT JSON_ARRAYAGG(id) IS NOT NULL FROM (SELECT id FROM orders WHERE user_id = 17) t

-- ===== Reference tables inside pinned statements =====
SELECT * FROM flags WHERE flag IN (SELECT flag FROM users WHERE id = 17)
SELECT f.label FROM flags f WHERE EXISTS (SELECT 1 FROM users u WHERE u.flag = f.flag AND u.id = 42)
SELECT (SELECT COUNT(*) FROM flags), (SELECT flag FROM users WHERE id = 42)
SELECT u.id, (SELECT label FROM flags f WHERE f.flag = u.flag) FROM users u WHERE u.id IN (SELECT user_id FROM orders WHERE user_id = 17)
WITH f AS (SELECT * FROM flags WHERE flag > 0) SELECT u.id FROM users u WHERE u.id = 17 AND u.flag IN (SELECT flag FROM f)

-- ===== Correlated subqueries following a scatter's rows (every shard answers for its own) =====
SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.amount > 9900)
SELECT COUNT(*) FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)
SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE amount > 9990)
SELECT u.id FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o WHERE o.status = 'refunded' AND o.qty = 10)
@ordered SELECT u.id, u.name FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o WHERE o.amount < -490) ORDER BY u.id
@ordered SELECT u.flag, COUNT(*) FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.qty = 10) GROUP BY u.flag ORDER BY u.flag
SELECT MAX(u.score), MIN(u.score) FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.status IS NOT NULL)
@ordered SELECT u.id FROM users u WHERE u.score > 990 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id) ORDER BY u.id LIMIT 5
SELECT COUNT(*) FROM users u WHERE u.score > (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.id) * 300
SELECT COUNT(*) FROM orders o WHERE o.amount = (SELECT MAX(p.amount) FROM orders p WHERE p.user_id = o.user_id)
SELECT COUNT(*) FROM users u JOIN orders o ON o.user_id = u.id WHERE EXISTS (SELECT 1 FROM orders p WHERE p.user_id = u.id AND p.id <> o.id AND p.amount = o.amount)
SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND EXISTS (SELECT 1 FROM orders p WHERE p.user_id = o.user_id AND p.qty = 10 AND p.status = 'NEW'))
SELECT DISTINCT u.flag FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.qty = 7)
SELECT COUNT(*) FROM users u WHERE u.id IN (1, 2, 3, 17, 42) AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
SELECT COUNT(*) FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o WHERE o.user_id = u.id AND o.qty > 8)
SELECT COUNT(*) FROM users u WHERE EXISTS (SELECT 1 FROM orders o JOIN flags f ON f.flag = o.qty WHERE o.user_id = u.id)
SELECT COUNT(*) FROM users u WHERE u.flag IN (SELECT flag FROM flags) AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
SELECT COUNT(*) FROM users u WHERE u.name IS NOT NULL AND u.id NOT IN (SELECT o.user_id FROM orders o WHERE o.user_id = u.id)
@ordered @ci=0 SELECT o.status, COUNT(*) FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND u.flag = 1) GROUP BY o.status ORDER BY o.status
SELECT SUM(o.qty) FROM orders o WHERE o.user_id IN (SELECT u.id FROM users u WHERE u.score < -990)

-- ===== Prepared statements (binary protocol) pushed down by their parameters =====
@params=17 SELECT * FROM (SELECT * FROM orders WHERE user_id = ?) t
@params=17 SELECT u.id FROM users u WHERE u.id = ? AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
@params=42 SELECT (SELECT COUNT(*) FROM orders WHERE user_id = ?)
@params=42|42 SELECT id FROM users WHERE id = ? UNION SELECT user_id FROM orders WHERE user_id = ?
@params=3 WITH t AS (SELECT * FROM orders WHERE user_id = ?) SELECT COUNT(*) FROM t
@params=3 SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE user_id = ?)
@params=100 SELECT COUNT(*) FROM users u WHERE u.score > ? AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)

-- ===== Edge cases: NULL keys, LIMIT in subqueries, shadowed aliases, contradictions =====
SELECT * FROM users WHERE id = 17 AND id = 42 AND EXISTS (SELECT 1 FROM orders WHERE user_id = 17)
SELECT * FROM users u WHERE u.id = 17 AND EXISTS (SELECT 1 FROM users u WHERE u.id = 17)
SELECT u.id FROM users u WHERE u.id = 42 AND EXISTS (SELECT 1 FROM orders u WHERE u.user_id = 42)
SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.user_id IS NULL)
SELECT u.id FROM users u WHERE u.id IN (SELECT NULL FROM orders o WHERE o.user_id = 17) AND u.id = 17
SELECT id FROM users WHERE id = 17 AND id IN (SELECT * FROM (SELECT user_id FROM orders WHERE user_id = 17 LIMIT 1) t)
SELECT COUNT(*) FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o WHERE o.qty IS NULL)
SELECT COUNT(*) FROM users u WHERE NOT (u.id IN (SELECT o.user_id FROM orders o WHERE o.user_id = u.id))

-- ===== Refused: references no shard pins (expected 1235, counted apart) =====
SELECT id FROM users WHERE id = 17 AND name IN (SELECT status FROM orders)
SELECT u.id FROM users u WHERE u.id NOT IN (SELECT o.user_id FROM orders o WHERE o.qty = 1)

-- ===== Writes with subqueries pinned to one shard =====
@dml=orders INSERT INTO orders (id, user_id, amount, status, qty) SELECT id + 100000, user_id, amount, status, qty FROM orders WHERE user_id = 17
@dml=orders INSERT INTO orders (id, user_id, amount, status, qty) SELECT 800001, u.id, 12.50, 'copied', 1 FROM users u WHERE u.id = 42
@dml=orders INSERT INTO orders (id, user_id, amount) SELECT 800002, 3, (SELECT SUM(amount) FROM orders WHERE user_id = 3)
@dml=orders INSERT INTO orders (id, user_id, amount, qty) SELECT 800003 + f.flag + 128, 42, 1.00, f.flag FROM flags f
@dml=orders INSERT INTO orders (id, user_id, qty) WITH t AS (SELECT id FROM users WHERE id = 2) SELECT 800200, t.id, 3 FROM t
@dml=users UPDATE users SET score = (SELECT COUNT(*) FROM orders o WHERE o.user_id = users.id) WHERE id = 17
@dml=users UPDATE users u SET u.balance = (SELECT SUM(o.amount) FROM orders o WHERE o.user_id = u.id) WHERE u.id = 42 AND EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id)
@dml=orders UPDATE orders SET qty = qty + 1 WHERE user_id = 3 AND amount > (SELECT AVG(amount) FROM (SELECT amount FROM orders WHERE user_id = 3) t)
@dml=orders DELETE FROM orders WHERE user_id = 2 AND id IN (SELECT id FROM (SELECT id FROM orders WHERE user_id = 2 AND qty = 0) t)
@dml=orders DELETE FROM orders WHERE user_id = 1 AND status IN (SELECT label FROM flags)
@dml=users UPDATE users SET tag = 'pushed' WHERE id = 5 AND flag IN (SELECT flag FROM flags WHERE label = 'zero')
@dml=orders UPDATE orders o JOIN users u ON u.id = o.user_id SET o.status = u.tag WHERE u.id = 9 AND EXISTS (SELECT 1 FROM flags f WHERE f.flag = u.flag)

-- ===== Broadcast writes whose subqueries follow each shard's rows =====
@dml=users UPDATE users SET tag = 'no orders' WHERE score > 995 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = users.id)
@dml=users UPDATE users SET ratio = (SELECT COUNT(*) FROM orders o WHERE o.user_id = users.id) WHERE score < -995
@dml=orders DELETE FROM orders WHERE qty = 10 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = orders.user_id)
@dml=orders UPDATE orders SET status = 'big' WHERE amount > 9950 AND EXISTS (SELECT 1 FROM users u WHERE u.id = orders.user_id AND u.flag = 0)

-- ===== Correlations and co-located joins written with unqualified columns =====
-- Each column belongs to the one table of its block that has it (read from the schema cache):
-- `id` in a block over users is users.id, `user_id` the outer orders' shard key.
@ci=0 SELECT status, COUNT(*) FROM orders WHERE EXISTS (SELECT 1 FROM users WHERE id = user_id AND score > 3) GROUP BY status
SELECT COUNT(*), SUM(amount) FROM orders WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = user_id AND name LIKE 'a%')
SELECT COUNT(*), SUM(amount) FROM orders o JOIN users u ON user_id = u.id WHERE score > 2
@ordered @ci=0 SELECT status, COUNT(*) FROM orders o, users u WHERE user_id = u.id AND qty > 3 GROUP BY status ORDER BY status
-- `id` here is orders.id, the subquery's own column: no correlation (answered from copies).
SELECT COUNT(*) FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE user_id = id)

-- ===== Reads after the pushed-down writes =====
@ordered SELECT id, user_id, amount, status, qty FROM orders WHERE id > 100000 ORDER BY id
@ordered SELECT id, score, balance, tag, ratio FROM users WHERE tag IN ('no orders', 'pushed') OR id IN (17, 42) ORDER BY id

-- ===== Semi-joins on subqueries grouped by their shard key (each group's rows on one shard) =====
SELECT u.id FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o GROUP BY o.user_id HAVING COUNT(*) > 2)
SELECT u.id, u.name FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o WHERE o.amount > 10 GROUP BY o.user_id, o.status HAVING SUM(o.amount) > 100)
SELECT COUNT(*) FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id GROUP BY o.status HAVING COUNT(*) > 1)
SELECT u.id FROM users u WHERE u.id = 17 AND u.id IN (SELECT o.user_id FROM orders o GROUP BY o.user_id HAVING MAX(o.amount) > 1)
