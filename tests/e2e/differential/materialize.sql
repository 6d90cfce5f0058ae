-- Materialized corpus of tests/differential.rs (same directives as corpus.sql): SELECTs no
-- shard answers alone and no proxy merge handles, answered from copies of their sharded tables
-- on one compute connection (derived tables and CTEs over scatters, joins across shards,
-- uncorrelated subqueries, window functions, WITH ROLLUP, JSON aggregates). Conditions on one
-- table's columns are pushed with its copy; the NULL-extended side of outer joins is not.

-- ===== Derived tables over scatters =====
SELECT COUNT(*), SUM(c), MAX(c) FROM (SELECT user_id, COUNT(*) c FROM orders WHERE status = 'paid' GROUP BY user_id) t
SELECT COUNT(*), SUM(c), MAX(c) FROM (SELECT user_id, COUNT(*) c FROM orders WHERE status = 'new' GROUP BY user_id) t
SELECT COUNT(*), SUM(c), MAX(c) FROM (SELECT user_id, COUNT(*) c FROM orders WHERE status = 'shipped' GROUP BY user_id) t
SELECT COUNT(*), SUM(c), MAX(c) FROM (SELECT user_id, COUNT(*) c FROM orders WHERE status = 'cancelled' GROUP BY user_id) t
SELECT COUNT(*) FROM (SELECT user_id FROM orders GROUP BY user_id HAVING COUNT(*) > 1) t
SELECT COUNT(*) FROM (SELECT user_id FROM orders GROUP BY user_id HAVING COUNT(*) > 2) t
SELECT COUNT(*) FROM (SELECT user_id FROM orders GROUP BY user_id HAVING COUNT(*) > 3) t
SELECT COUNT(*) FROM (SELECT user_id FROM orders GROUP BY user_id HAVING COUNT(*) > 5) t
@ordered SELECT t.n, COUNT(*) FROM (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id) t GROUP BY t.n ORDER BY t.n
@ordered SELECT t.q, COUNT(*), SUM(t.s) FROM (SELECT qty q, SUM(amount) s FROM orders GROUP BY qty, user_id) t GROUP BY t.q ORDER BY t.q
SELECT MAX(s), MIN(s) FROM (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) t
SELECT AVG(t.score) FROM (SELECT score FROM users WHERE score > 100) t
@ordered SELECT t.flag, t.c FROM (SELECT flag, COUNT(*) c FROM users GROUP BY flag) t ORDER BY t.c DESC, t.flag
@ordered SELECT x.id FROM (SELECT id FROM users ORDER BY id DESC LIMIT 5) x ORDER BY x.id
@ordered SELECT x.id, x.amount FROM (SELECT id, amount FROM orders WHERE amount IS NOT NULL ORDER BY amount DESC, id LIMIT 7) x ORDER BY x.id
SELECT COUNT(DISTINCT t.user_id) FROM (SELECT user_id FROM orders WHERE qty > 5) t
@ordered SELECT t.y, COUNT(*) FROM (SELECT YEAR(created_at) y FROM orders) t GROUP BY t.y ORDER BY t.y
SELECT SUM(t.b) FROM (SELECT balance b FROM users WHERE balance > 0) t
@ordered SELECT d.k, d.c FROM (SELECT score % 10 k, COUNT(*) c FROM users WHERE score IS NOT NULL GROUP BY score % 10) d ORDER BY d.k
SELECT COUNT(*) FROM (SELECT DISTINCT tag FROM users) t
SELECT COUNT(*) FROM (SELECT DISTINCT tag_bin FROM users) t
@ordered SELECT u.id, t.c FROM users u JOIN (SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id) t ON t.user_id = u.id WHERE u.id < 30 ORDER BY u.id
@ordered SELECT t.m FROM (SELECT MAX(amount) m FROM orders GROUP BY user_id) t GROUP BY t.m HAVING COUNT(*) > 2 ORDER BY t.m

-- ===== Common table expressions over scatters =====
WITH t AS (SELECT user_id, COUNT(*) c FROM orders WHERE status = 'paid' GROUP BY user_id) SELECT COUNT(*), SUM(c) FROM t
WITH t AS (SELECT user_id, COUNT(*) c FROM orders WHERE status = 'New' GROUP BY user_id) SELECT COUNT(*), SUM(c) FROM t
WITH t AS (SELECT user_id, COUNT(*) c FROM orders WHERE status = 'refunded' GROUP BY user_id) SELECT COUNT(*), SUM(c) FROM t
WITH t AS (SELECT name, COUNT(*) n FROM users GROUP BY name) SELECT COUNT(*), MAX(n) FROM t
@ordered WITH t AS (SELECT flag, COUNT(*) n FROM users GROUP BY flag) SELECT * FROM t ORDER BY n DESC, flag
@ordered WITH big AS (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id HAVING SUM(amount) > 30000) SELECT u.id, big.s FROM big JOIN users u ON u.id = big.user_id ORDER BY big.s, u.id
WITH a AS (SELECT id FROM users WHERE score > 500), b AS (SELECT user_id FROM orders WHERE qty = 3) SELECT COUNT(*) FROM a JOIN b ON b.user_id = a.id
WITH a AS (SELECT id FROM users WHERE score < -500) SELECT COUNT(*) FROM orders WHERE user_id IN (SELECT id FROM a)
@ordered @ci=0 WITH s AS (SELECT status, SUM(qty) q FROM orders GROUP BY status) SELECT LOWER(status), SUM(q) FROM s GROUP BY LOWER(status) ORDER BY 1
WITH t AS (SELECT DISTINCT user_id FROM orders) SELECT COUNT(*) FROM t
@ordered WITH t AS (SELECT id, score FROM users WHERE score IS NOT NULL) SELECT id FROM t WHERE score = (SELECT MAX(score) FROM t) ORDER BY id
WITH t AS (SELECT user_id, amount FROM orders) SELECT COUNT(*) FROM t a JOIN t b ON a.user_id = b.user_id AND a.amount < b.amount
@ordered WITH RECURSIVE r AS (SELECT 1 n UNION ALL SELECT n + 1 FROM r WHERE n < 8) SELECT r.n, COUNT(o.id) FROM r LEFT JOIN orders o ON o.qty = r.n GROUP BY r.n ORDER BY r.n
@ordered WITH RECURSIVE r AS (SELECT 1 n UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT r.n, u.name FROM r JOIN users u ON u.id = r.n * 3 ORDER BY r.n
WITH t AS (SELECT * FROM users WHERE flag = 1) SELECT COUNT(*), SUM(score) FROM t
@ordered WITH t AS (SELECT user_id, MAX(created_at) last FROM orders GROUP BY user_id) SELECT COUNT(*) FROM t WHERE last > '2023-01-01'

-- ===== Joins across shards (any columns, inner and outer) =====
SELECT COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON u.score = o.qty
SELECT COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON u.flag = o.qty
SELECT COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON u.id = o.qty
SELECT COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON u.score = o.amount
SELECT COUNT(*) FROM users u LEFT JOIN orders o ON o.qty = u.score
SELECT COUNT(*) FROM users u LEFT JOIN orders o ON o.qty = u.score WHERE o.id IS NULL
SELECT COUNT(*) FROM orders o RIGHT JOIN users u ON o.qty = u.flag
SELECT COUNT(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id + 1 WHERE u.id IS NULL
@ordered SELECT u.id, o.id FROM users u JOIN orders o ON o.user_id = u.id + 1 WHERE u.id BETWEEN 1 AND 20 ORDER BY u.id, o.id
@ordered SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.user_id = u.id - 1 AND o.qty > 5 WHERE u.id < 15 ORDER BY u.id, o.id
SELECT COUNT(*) FROM users a JOIN users b ON a.name = b.name
SELECT COUNT(*) FROM users a JOIN users b ON a.tag = b.tag
SELECT COUNT(*) FROM users a JOIN users b ON a.tag_bin = b.tag_bin
SELECT COUNT(*) FROM users a JOIN users b ON a.nick = b.nick
SELECT COUNT(*) FROM users a JOIN users b ON a.tag = b.tag_bin
SELECT COUNT(*) FROM users a JOIN users b ON a.email = b.email AND a.id <> b.id
SELECT COUNT(*) FROM users a JOIN users b ON a.score = b.score AND a.id < b.id
SELECT COUNT(*) FROM users a JOIN users b ON a.ratio = b.ratio AND a.id < b.id
SELECT COUNT(*) FROM users a JOIN users b ON a.balance = b.balance AND a.id < b.id
SELECT COUNT(*) FROM orders a JOIN orders b ON a.created_at = b.created_at AND a.id < b.id
@ordered SELECT o.status, COUNT(*) FROM orders o JOIN users u ON u.tag = o.status GROUP BY o.status ORDER BY COUNT(*), LOWER(o.status), o.status
@ordered SELECT u.id, f.label FROM users u JOIN flags f ON f.label = u.tag ORDER BY u.id, f.flag
SELECT COUNT(*) FROM users u JOIN orders o ON o.user_id = u.id JOIN users v ON v.score = o.qty
SELECT COUNT(*) FROM users u JOIN orders o ON o.user_id = u.id LEFT JOIN users v ON v.id = o.qty
SELECT COUNT(*) FROM users u CROSS JOIN flags f JOIN orders o ON o.qty = f.flag AND o.user_id = u.id
SELECT COUNT(*), SUM(p.user_id) FROM profiles p JOIN orders o ON o.qty = p.user_id % 10
@ordered SELECT u.id, o.id FROM users u JOIN orders o ON o.amount = u.score WHERE u.id < 500 ORDER BY u.id, o.id
@ordered SELECT u.id, o.id FROM users u JOIN orders o ON o.amount = u.id WHERE u.id IN (3, 4, 5) AND o.amount > 3 ORDER BY u.id, o.id
@ordered SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.amount = u.id WHERE o.amount IS NULL AND u.id < 40 ORDER BY u.id
@ordered SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.qty = u.flag WHERE o.qty IS NULL AND u.id < 200 ORDER BY u.id
@ordered SELECT u.id FROM users u LEFT JOIN orders o ON o.qty = u.score WHERE o.status = 'paid' AND u.id < 100 GROUP BY u.id ORDER BY u.id
SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.qty WHERE u.name LIKE 'A%' AND o.status <> 'new'
SELECT COUNT(*) FROM orders o JOIN users u ON u.score = o.qty WHERE u.tag = 'alpha' AND o.status = 'Paid '
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE NOT (u.score > 0) AND o.amount IS NOT NULL
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.score > 0 OR o.amount < 0
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.ratio * 2 > 10 AND o.amount - 5 < 100

-- ===== Uncorrelated subqueries over sharded tables =====
SELECT COUNT(*) FROM users WHERE id IN (SELECT user_id + 1 FROM orders)
SELECT COUNT(*) FROM users WHERE id IN (SELECT qty FROM orders)
SELECT COUNT(*) FROM users WHERE score IN (SELECT qty FROM orders WHERE status = 'paid')
SELECT COUNT(*) FROM users WHERE score NOT IN (SELECT qty FROM orders)
SELECT COUNT(*) FROM users WHERE score NOT IN (SELECT qty FROM orders WHERE qty IS NOT NULL)
SELECT COUNT(*) FROM users WHERE id NOT IN (SELECT user_id FROM orders)
SELECT COUNT(*) FROM orders WHERE user_id NOT IN (SELECT id FROM users)
SELECT COUNT(*) FROM orders WHERE qty NOT IN (SELECT score FROM users WHERE score BETWEEN 0 AND 5)
SELECT COUNT(*) FROM orders WHERE qty NOT IN (SELECT flag FROM users)
SELECT COUNT(*) FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE amount > 5000)
SELECT COUNT(*) FROM users WHERE NOT EXISTS (SELECT 1 FROM orders WHERE amount > 1000000)
SELECT COUNT(*) FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE status = 'nope')
@ordered SELECT id, (SELECT MAX(amount) FROM orders) m FROM users WHERE id < 6 ORDER BY id
@ordered SELECT id, (SELECT COUNT(*) FROM orders WHERE qty = 3) FROM users WHERE id < 4 ORDER BY id
SELECT COUNT(*) FROM users WHERE score > (SELECT AVG(qty) FROM orders)
SELECT COUNT(*) FROM users WHERE balance > (SELECT AVG(amount) FROM orders)
SELECT COUNT(*) FROM orders WHERE amount > (SELECT AVG(balance) FROM users WHERE balance < 1000000)
SELECT (SELECT COUNT(*) FROM users) - (SELECT COUNT(DISTINCT user_id) FROM orders)
SELECT (SELECT MAX(score) FROM users) + (SELECT MIN(qty) FROM orders)
SELECT COUNT(*) FROM users WHERE score = ANY (SELECT qty FROM orders)
SELECT COUNT(*) FROM users WHERE score > ALL (SELECT qty FROM orders WHERE qty IS NOT NULL)
SELECT COUNT(*) FROM users WHERE score > ALL (SELECT qty FROM orders)
SELECT COUNT(*) FROM orders WHERE (user_id, qty) IN (SELECT id, flag FROM users)
SELECT COUNT(*) FROM users WHERE tag IN (SELECT status FROM orders)
SELECT COUNT(*) FROM users WHERE tag_bin IN (SELECT status FROM orders)
SELECT COUNT(*) FROM users WHERE nick IN (SELECT tag FROM users WHERE id < 1000)
SELECT id FROM users WHERE id = (SELECT user_id FROM orders)
@ordered SELECT id FROM users WHERE id = (SELECT MAX(user_id) FROM orders WHERE user_id < 1000) ORDER BY id
SELECT COUNT(*) FROM users u WHERE u.score IN (SELECT o.qty FROM orders o WHERE o.amount > 100) AND u.flag = 1
SELECT COUNT(*) FROM users WHERE id IN (SELECT user_id FROM orders WHERE qty = 10) AND id NOT IN (SELECT user_id FROM orders WHERE qty = 0)

-- ===== Window functions over scatters =====
@ordered SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM users WHERE id < 60 ORDER BY id
@ordered SELECT id, RANK() OVER (ORDER BY score) FROM users WHERE id < 100 ORDER BY id
@ordered SELECT id, DENSE_RANK() OVER (PARTITION BY flag ORDER BY score) FROM users WHERE id < 100 ORDER BY id
@ordered SELECT id, SUM(amount) OVER (PARTITION BY user_id ORDER BY id) FROM orders WHERE user_id < 30 ORDER BY id
@ordered SELECT id, COUNT(*) OVER (PARTITION BY status) FROM orders WHERE id < 200 ORDER BY id
@ordered SELECT id, AVG(qty) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM orders WHERE id < 80 ORDER BY id
@ordered SELECT id, LAG(amount) OVER (ORDER BY id), LEAD(amount, 2) OVER (ORDER BY id) FROM orders WHERE id < 50 ORDER BY id
@ordered SELECT user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY id) rn FROM orders WHERE user_id BETWEEN 1 AND 40 ORDER BY user_id, rn
@ordered SELECT id, NTILE(4) OVER (ORDER BY id) FROM users WHERE id < 50 ORDER BY id
@ordered SELECT id, PERCENT_RANK() OVER (ORDER BY balance, id) FROM users WHERE id < 50 ORDER BY id
@ordered SELECT id, MAX(score) OVER (PARTITION BY flag) FROM users WHERE id < 50 ORDER BY id
@ordered SELECT t.id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY flag ORDER BY id) rn FROM users) t WHERE t.rn = 1 ORDER BY t.id
@ordered SELECT t.user_id, t.id FROM (SELECT user_id, id, RANK() OVER (PARTITION BY user_id ORDER BY amount DESC, id) r FROM orders) t WHERE t.r = 1 AND t.user_id < 50 ORDER BY t.user_id
@ordered SELECT status, SUM(COUNT(*)) OVER () FROM orders GROUP BY status ORDER BY status
@ordered SELECT flag, COUNT(*), RANK() OVER (ORDER BY COUNT(*) DESC) FROM users GROUP BY flag ORDER BY flag
@ordered SELECT id, FIRST_VALUE(id) OVER (PARTITION BY flag ORDER BY id) FROM users WHERE id < 70 ORDER BY id
@ordered SELECT id, CUME_DIST() OVER (ORDER BY score) FROM users WHERE id < 40 ORDER BY id
@ordered SELECT id, SUM(score) OVER w, MIN(score) OVER w FROM users WHERE id < 40 WINDOW w AS (ORDER BY id) ORDER BY id

-- ===== GROUP BY WITH ROLLUP =====
@ci=0 SELECT status, COUNT(*) FROM orders GROUP BY status WITH ROLLUP
SELECT qty, COUNT(*), SUM(amount) FROM orders GROUP BY qty WITH ROLLUP
SELECT flag, COUNT(*), SUM(score) FROM users GROUP BY flag WITH ROLLUP
SELECT qty, YEAR(created_at), COUNT(*) FROM orders GROUP BY qty, YEAR(created_at) WITH ROLLUP
SELECT flag, score > 0, COUNT(*) FROM users GROUP BY flag, score > 0 WITH ROLLUP
SELECT user_id % 5, COUNT(*), MAX(amount) FROM orders GROUP BY user_id % 5 WITH ROLLUP
SELECT qty, COUNT(*) FROM orders WHERE qty > 5 GROUP BY qty WITH ROLLUP HAVING COUNT(*) > 10
SELECT COUNT(*), SUM(c) FROM (SELECT tag, COUNT(*) c FROM users GROUP BY tag WITH ROLLUP) t
SELECT COUNT(*) FROM (SELECT qty, COUNT(*) c FROM orders GROUP BY qty WITH ROLLUP) t
SELECT flag, AVG(balance) FROM users GROUP BY flag WITH ROLLUP

-- ===== JSON_ARRAYAGG / JSON_OBJECTAGG =====
SELECT JSON_ARRAYAGG(id ORDER BY id) FROM users WHERE id < 30
SELECT JSON_ARRAYAGG(amount ORDER BY id) FROM orders WHERE id < 40
SELECT JSON_ARRAYAGG(name ORDER BY id) FROM users WHERE id < 25
SELECT qty, JSON_ARRAYAGG(id ORDER BY id) FROM orders WHERE id < 100 GROUP BY qty
SELECT JSON_LENGTH(JSON_ARRAYAGG(score)) FROM users
SELECT JSON_LENGTH(JSON_OBJECTAGG(id, name)) FROM users
SELECT JSON_EXTRACT(JSON_OBJECTAGG(id, amount), '$."17"') FROM orders WHERE id < 100
SELECT user_id, JSON_OBJECTAGG(id, qty) FROM orders WHERE user_id BETWEEN 1 AND 30 GROUP BY user_id, id
SELECT JSON_ARRAYAGG(DISTINCT qty ORDER BY qty) FROM orders
SELECT flag, JSON_ARRAYAGG(id ORDER BY id) FROM users WHERE id < 40 GROUP BY flag

-- ===== Mixed =====
@ordered SELECT u.flag, (SELECT COUNT(*) FROM orders WHERE qty = 2) c, COUNT(*) FROM users u GROUP BY u.flag ORDER BY u.flag
SELECT COUNT(*) FROM (SELECT id FROM users UNION ALL SELECT user_id FROM orders) t
SELECT COUNT(*) FROM (SELECT id FROM users UNION SELECT user_id FROM orders) t
WITH u AS (SELECT id, score FROM users), o AS (SELECT user_id, qty FROM orders) SELECT COUNT(*) FROM u JOIN o ON o.qty = u.score
@ordered SELECT t.k, COUNT(*) FROM (SELECT CASE WHEN score > 0 THEN 'pos' WHEN score < 0 THEN 'neg' ELSE 'zero' END k FROM users) t GROUP BY t.k ORDER BY t.k
SELECT COUNT(*) FROM users WHERE id IN (SELECT user_id FROM orders GROUP BY user_id HAVING COUNT(*) > 3)
@ordered SELECT u.id, (SELECT MAX(qty) FROM orders) - u.flag FROM users u WHERE u.id < 8 ORDER BY u.id
@ordered SELECT GROUP_CONCAT(t.id ORDER BY t.id) FROM (SELECT id FROM users WHERE id < 20) t
SELECT COUNT(*) FROM users u WHERE u.id IN (SELECT o.user_id FROM orders o JOIN users v ON v.score = o.qty)
SELECT COUNT(*) FROM orders o WHERE o.qty IN (SELECT flag FROM flags) AND o.user_id IN (SELECT id FROM users WHERE flag = 0)
@ordered @ci=0 SELECT s.status, s.n FROM (SELECT status, COUNT(*) n FROM orders GROUP BY status) s WHERE s.n > (SELECT COUNT(*) / 20 FROM orders) ORDER BY s.n, s.status
SELECT COUNT(*) FROM notes n JOIN users u ON u.id = n.id + 0
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.name = 'Ann Smith' AND o.status = 'NEW'
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.name = 'O''Brien Jones'
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.name = 'O\'Brien Jones'
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.name LIKE '%Back\\\\slash%'
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.id IN (1, 2, 3, 4, 5, 6, 7) AND o.user_id IN (8, 9, 10)
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.id = 17
SELECT COUNT(*) FROM users u LEFT JOIN orders o ON o.qty = u.flag AND o.user_id = 7 WHERE u.id IN (17, 18)
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.created_at > '2022-06-01' AND o.created_at < '2021-01-01'
SELECT COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.ratio IS NULL AND o.amount IS NULL
-- Derived tables whose rows the proxy computes (its own plan: one shard, or a scatter it
-- merges) and copies in place of the tables they read (derived_rows.rs): counts of sliced
-- querysets, groups joined back, every column type the rows travel in, and the columns'
-- definitions (org_table of the base table, or none) as MariaDB's.
SELECT COUNT(*) FROM (SELECT id FROM orders ORDER BY amount DESC, id LIMIT 10) subquery
SELECT COUNT(*) FROM (SELECT id FROM orders ORDER BY amount DESC, id LIMIT 10 OFFSET 5) t JOIN users u ON u.id = t.id
@ordered SELECT t.user_id, t.n, u.name FROM (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id ORDER BY n DESC, user_id LIMIT 5) t JOIN users u ON u.id = t.user_id ORDER BY t.n DESC, t.user_id
@ordered SELECT t.*, u.email FROM (SELECT user_id, MAX(created_at) last, MIN(amount) lo, SUM(amount) total, COUNT(qty) q FROM orders GROUP BY user_id) t JOIN users u ON u.id = t.user_id WHERE u.id < 30 ORDER BY t.user_id
@ordered SELECT d.r, COUNT(*) FROM (SELECT DISTINCT ratio r FROM users) d GROUP BY d.r ORDER BY d.r
@ordered @pad=0 SELECT d.* FROM (SELECT tag_bin, MAX(balance) b, AVG(ratio) a, MIN(flag) f FROM users GROUP BY tag_bin) d ORDER BY d.tag_bin
@ordered @pad=0 SELECT d.* FROM (SELECT tag_bin, MAX(balance) b, AVG(balance) a, MIN(flag) f FROM users GROUP BY tag_bin) d ORDER BY d.tag_bin
@ordered SELECT a.user_id, a.c, b.c FROM (SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id) a JOIN (SELECT user_id, COUNT(*) c FROM orders WHERE user_id = 3 GROUP BY user_id) b ON a.user_id = b.user_id
@ordered SELECT d.flag, f.label, d.n FROM (SELECT flag, COUNT(*) n FROM users GROUP BY flag) d LEFT JOIN flags f ON f.flag = d.flag ORDER BY d.flag
SELECT COUNT(*), MAX(LENGTH(d.e)), MIN(d.e) FROM (SELECT email e FROM users ORDER BY id LIMIT 100) d
@ordered SELECT d.y, d.n FROM (SELECT YEAR(created_at) y, COUNT(*) n FROM orders GROUP BY YEAR(created_at)) d WHERE d.n > 0 ORDER BY d.y
@ordered SELECT d.rn, d.id FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) rn FROM users) d WHERE d.rn < 5 ORDER BY d.rn
@ordered @ci=0 SELECT d.tag, d.n FROM (SELECT tag, COUNT(*) n FROM users GROUP BY tag) d ORDER BY d.n DESC, d.tag
@ordered SELECT d.created_at, d.amount, d.status FROM (SELECT created_at, amount, status FROM orders ORDER BY created_at DESC, id LIMIT 3) d ORDER BY 1, 2
@ordered SELECT d.n, d.nick FROM (SELECT id n, name nick FROM users ORDER BY id LIMIT 4) d JOIN orders o ON o.user_id = d.n ORDER BY d.n, o.id
SELECT d.total * 2, d.total / 3, d.total + 0.5 FROM (SELECT SUM(balance) total FROM users) d
@ordered SELECT u.id, d.n FROM users u LEFT JOIN (SELECT user_id, COUNT(*) n FROM orders WHERE qty > 8 GROUP BY user_id) d ON d.user_id = u.id WHERE u.id < 12 ORDER BY u.id
@ordered WITH t AS (SELECT user_id, COUNT(*) n, SUM(amount) s FROM orders GROUP BY user_id ORDER BY n DESC, user_id LIMIT 6) SELECT u.name, t.n, t.s FROM t JOIN users u ON u.id = t.user_id ORDER BY t.n DESC, u.id
@ordered WITH t AS (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id), v AS (SELECT flag, COUNT(*) c FROM users GROUP BY flag) SELECT v.flag, v.c, COUNT(t.user_id) FROM v LEFT JOIN users u ON u.flag = v.flag LEFT JOIN t ON t.user_id = u.id GROUP BY v.flag, v.c ORDER BY v.flag
@ordered WITH t AS (SELECT user_id, MAX(amount) m FROM orders GROUP BY user_id) SELECT a.user_id, b.user_id FROM t a JOIN t AS b ON a.m = b.m AND a.user_id < b.user_id ORDER BY 1, 2 LIMIT 20
@ordered WITH t AS (SELECT DISTINCT qty FROM orders), plain AS (SELECT id FROM users WHERE id < 4) SELECT t.qty, plain.id FROM t, plain ORDER BY 1, 2
SELECT (WITH t AS (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id) SELECT MAX(n) FROM t) AS most
@ordered WITH t AS (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id) SELECT u.id, t.n FROM users u JOIN t ON t.user_id = u.id WHERE t.n = (SELECT MAX(n) FROM t) ORDER BY u.id
@params=5 SELECT COUNT(*), MAX(t.amount) FROM (SELECT id, amount FROM orders WHERE user_id > ? ORDER BY amount DESC, id LIMIT 10) t
@ordered @params=3 SELECT u.name, t.n FROM (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id HAVING COUNT(*) > ? ORDER BY n DESC, user_id LIMIT 4) t JOIN users u ON u.id = t.user_id ORDER BY t.n DESC, u.id
@ordered @params=2 WITH t AS (SELECT user_id, MAX(created_at) last, SUM(amount) s FROM orders GROUP BY user_id) SELECT t.user_id, t.last, t.s, u.email FROM t JOIN users u ON u.id = t.user_id WHERE u.id < ? + 10 ORDER BY t.user_id
@ordered SELECT t.k, COUNT(*) FROM (SELECT flag k FROM users WHERE id < 40 UNION ALL SELECT qty FROM orders WHERE id < 60) t GROUP BY t.k ORDER BY t.k
@ordered SELECT t.id, u.name FROM (SELECT id FROM users WHERE flag = 1 INTERSECT SELECT user_id FROM orders WHERE qty > 5) t JOIN users u ON u.id = t.id ORDER BY t.id LIMIT 10
SELECT COUNT(*), MIN(t.id), MAX(t.id) FROM (SELECT id FROM users EXCEPT SELECT user_id FROM orders) t
@ordered SELECT t.* FROM ((SELECT id, name, created_at FROM users ORDER BY id DESC LIMIT 3) UNION (SELECT id, status, created_at FROM orders ORDER BY id LIMIT 2)) t ORDER BY t.id
@ordered SELECT t.v, COUNT(*) FROM (SELECT balance v FROM users WHERE id < 30 UNION SELECT amount FROM orders WHERE id < 30) t GROUP BY t.v ORDER BY t.v
@ordered SELECT u.id, t.n FROM (SELECT flag, COUNT(*) n FROM users GROUP BY flag) t JOIN users u ON u.id = t.n ORDER BY u.id
SELECT COUNT(*) FROM (SELECT user_id FROM orders WHERE qty > 1000 GROUP BY user_id) t JOIN users u ON u.id = t.user_id
@ordered SELECT u.id, t.k FROM (SELECT score % 5 k FROM users GROUP BY score % 5) t JOIN users u ON u.flag = t.k WHERE u.id < 40 ORDER BY u.id
@ordered SELECT u.id, t.c FROM (SELECT tag, COUNT(*) c FROM users GROUP BY tag) t JOIN users u ON u.tag = t.tag WHERE u.id < 10 ORDER BY u.id
@ordered SELECT o.id, t.m FROM (SELECT user_id, MAX(qty) m FROM orders GROUP BY user_id ORDER BY m DESC, user_id LIMIT 4) t, orders o WHERE o.user_id = t.user_id AND o.qty = t.m ORDER BY o.id
@ordered SELECT t.user_id, u.id FROM (SELECT user_id, COUNT(*) n FROM orders GROUP BY user_id ORDER BY n DESC, user_id LIMIT 4) t LEFT JOIN users u ON u.id = t.user_id + 1 ORDER BY t.user_id
@ordered SELECT t.id FROM ( ( SELECT id FROM users ORDER BY id DESC LIMIT 3 ) ) t ORDER BY t.id
@ordered SELECT t.id, COUNT(*) FROM ((SELECT id FROM users ORDER BY id DESC LIMIT 3) UNION ALL (SELECT user_id FROM orders ORDER BY user_id LIMIT 2)) AS t GROUP BY t.id ORDER BY t.id
@ordered WITH c AS ((SELECT id FROM users ORDER BY id LIMIT 3) UNION (SELECT user_id FROM orders ORDER BY user_id DESC LIMIT 2)) SELECT c.id, u.name FROM c JOIN users u ON u.id = c.id ORDER BY c.id
-- Scalar subqueries correlated on a column that is not a shard key, joined as a derived table
-- grouped by it (decorrelate.rs); copies narrowed by the reference table they join
-- (reference_semijoin.rs). Groups with only NULLs, no rows, ties for MAX, DECIMAL averages.
@ordered SELECT o.id FROM orders o WHERE o.amount > (SELECT AVG(cq.amount) FROM orders cq WHERE cq.qty = o.qty) ORDER BY o.id
@ordered SELECT o.qty, COUNT(*), SUM(o.amount) FROM orders o WHERE o.amount >= (SELECT MAX(cq.amount) FROM orders cq WHERE cq.qty = o.qty) GROUP BY o.qty ORDER BY o.qty
@ordered SELECT u.id, u.score FROM users u WHERE u.score < (SELECT 0.5 * AVG(cq.score) + 1 FROM users cq WHERE cq.flag = u.flag AND cq.id > 10) ORDER BY u.id
@ordered SELECT o.id, o.created_at FROM orders o WHERE o.created_at = (SELECT MAX(cq.created_at) FROM orders cq WHERE cq.qty = o.qty) ORDER BY o.id
@ordered SELECT u.id, u.balance FROM users u WHERE (SELECT MIN(cq.balance) FROM users cq WHERE u.flag = cq.flag) = u.balance ORDER BY u.id
SELECT COUNT(*), SUM(u.balance) FROM users u, flags f WHERE u.flag = f.flag AND f.label LIKE 'm%' AND u.balance > (SELECT AVG(cq.balance) FROM users cq WHERE cq.flag = f.flag)
SELECT COUNT(*), SUM(o.amount) / 7.0 FROM orders o, users u WHERE o.user_id = u.id AND o.amount < (SELECT 0.2 * AVG(cq.amount) FROM orders cq WHERE cq.qty = o.qty AND cq.amount IS NOT NULL)
@ordered SELECT o.id FROM orders o WHERE o.amount > (SELECT AVG(cq.amount) FROM orders cq WHERE cq.qty = o.qty AND cq.status = o.status) ORDER BY o.id
@ordered SELECT o.id FROM orders o WHERE o.amount > (SELECT COUNT(*) FROM orders cq WHERE cq.qty = o.qty) - 30 ORDER BY o.id
@ordered SELECT u.id, (SELECT COUNT(*) FROM orders cq WHERE cq.qty = u.flag) AS n FROM users u, flags f WHERE u.flag = f.flag AND f.label LIKE '%o%' ORDER BY u.id
@ordered SELECT u.id, f.label FROM users u JOIN flags f ON f.flag = u.flag WHERE f.label <> 'zero' AND u.score > (SELECT AVG(cq.score) FROM users cq WHERE cq.flag = u.flag) ORDER BY u.id
-- A membership subquery over the reference table whose WHERE holds an aggregate of a sharded
-- table correlated on the reference table (TPC-H Q20): run first, the aggregate joined as a
-- derived table that groups only the values the reference table's own conditions keep, its
-- memberships over reference tables included (reference_semijoin.rs); a membership reading
-- an enclosing block's column, or a CTE named like the table, narrows nothing.
@ordered SELECT u.id, u.flag FROM users u WHERE u.flag IN (SELECT fq.flag FROM flags fq WHERE fq.flag IN (SELECT f2.flag FROM flags f2 WHERE f2.label LIKE '%o%') AND fq.flag * 1000 > (SELECT 0.5 * SUM(cq.amount) FROM orders cq WHERE cq.qty = fq.flag)) ORDER BY u.id
@ordered SELECT u.id FROM users u WHERE u.flag IN (SELECT fq.flag FROM flags fq WHERE fq.flag NOT IN (SELECT f2.flag FROM flags f2 WHERE f2.label = 'max') AND fq.flag < (SELECT MAX(cq.qty) FROM orders cq WHERE cq.qty = fq.flag AND cq.amount > 10)) ORDER BY u.id
@ordered SELECT u.id FROM users u WHERE u.score > 100 AND u.flag IN (SELECT fq.flag FROM flags fq WHERE fq.flag IN (SELECT flag FROM flags WHERE label <> 'zero') AND fq.flag <= (SELECT AVG(cq.qty) FROM orders cq WHERE cq.qty = fq.flag)) ORDER BY u.id
@ordered SELECT fq.label FROM flags fq WHERE fq.flag IN (SELECT f2.flag FROM flags f2 WHERE f2.flag >= 0) AND fq.flag >= (SELECT MIN(cq.qty) FROM orders cq WHERE cq.qty = fq.flag) ORDER BY fq.label
@ordered SELECT fq.label FROM flags fq WHERE fq.flag IN (SELECT f2.flag FROM flags f2 WHERE f2.label = fq.label) AND fq.flag >= (SELECT MIN(cq.qty) FROM orders cq WHERE cq.qty = fq.flag) ORDER BY fq.label
@ordered WITH flags AS (SELECT qty AS flag FROM orders WHERE qty > 0) SELECT fq.label FROM flags fq WHERE fq.flag IN (SELECT flag FROM flags) AND fq.flag >= (SELECT MIN(cq.qty) FROM orders cq WHERE cq.qty = fq.flag) ORDER BY fq.label
@ordered SELECT u.id FROM users u WHERE u.flag IN (SELECT fq.flag FROM flags fq WHERE fq.flag IN (SELECT f2.flag FROM flags f2 WHERE f2.flag IN (SELECT f3.flag FROM flags f3 WHERE f3.label <> 'one')) AND fq.flag * 50 > (SELECT SUM(cq.qty) FROM orders cq WHERE cq.qty = fq.flag)) ORDER BY u.id
SELECT COUNT(*), SUM(o.amount) FROM orders o WHERE o.qty IN (SELECT fq.flag FROM flags fq WHERE EXISTS (SELECT 1 FROM users cu WHERE cu.flag = fq.flag AND cu.score > 500))
@script UPDATE orders SET status = 'q20' WHERE qty IN (SELECT fq.flag FROM flags fq WHERE fq.flag > (SELECT MIN(cu.score) FROM users cu WHERE cu.flag = fq.flag)); SELECT ROW_COUNT(); @ordered SELECT id, status FROM orders WHERE status = 'q20' ORDER BY id
@script DELETE FROM orders WHERE qty IN (SELECT fq.flag FROM flags fq WHERE EXISTS (SELECT 1 FROM users cu WHERE cu.flag = fq.flag AND cu.score > 500)); SELECT ROW_COUNT(); SELECT COUNT(*) FROM orders
-- Membership subqueries (EXISTS, NOT EXISTS, IN, NOT IN) over one sharded table read from a
-- CTE of the distinct integer / date values they use (subquery_values.rs): in derived
-- tables, with NULLs on either side, next to windows and uncorrelated aggregates (Q22).
@ordered SELECT d.id, d.flag FROM (SELECT u.id, u.flag FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders cv WHERE cv.qty = u.flag)) d ORDER BY d.id
SELECT COUNT(*), SUM(d.score) FROM (SELECT u.score FROM users u WHERE EXISTS (SELECT * FROM orders cv WHERE cv.qty = u.score AND cv.created_at > '2021-06-01')) d
@ordered SELECT u.id FROM users u WHERE u.flag IN (SELECT cv.qty FROM orders cv WHERE cv.user_id > 5) AND u.score NOT IN (SELECT cv.qty FROM orders cv WHERE cv.qty IS NOT NULL) ORDER BY u.id
@ordered SELECT d.id FROM (SELECT u.id FROM users u WHERE u.flag NOT IN (SELECT cv.qty FROM orders cv WHERE cv.user_id = u.score)) d ORDER BY d.id
@ordered SELECT d.id FROM (SELECT u.id FROM users u WHERE EXISTS (SELECT 1 FROM orders cv WHERE cv.created_at = u.created_at)) d ORDER BY d.id
@ordered SELECT u.id, ROW_NUMBER() OVER (ORDER BY u.id) FROM users u WHERE EXISTS (SELECT 1 FROM orders cv WHERE cv.qty = u.flag) ORDER BY u.id
@ordered SELECT k, COUNT(*), SUM(b) FROM (SELECT u.flag AS k, u.balance AS b FROM users u WHERE u.balance > (SELECT AVG(balance) FROM users WHERE balance > 0) AND NOT EXISTS (SELECT * FROM orders cv WHERE cv.user_id = u.id + 1)) t GROUP BY k ORDER BY k
@ordered SELECT d.id FROM (SELECT u.id FROM users u WHERE u.score IN (SELECT cv.qty * 2 FROM orders cv WHERE cv.qty > u.flag)) d ORDER BY d.id
-- Read only by NOT EXISTS / NOT IN beside a derived table of the client's: the CTE's index
-- (derived_rows.rs) changes how the subquery reads, never the columns' described origins.
@ordered SELECT d.flag, COUNT(*) FROM (SELECT u.id, u.flag FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders cv WHERE cv.qty = u.flag)) d GROUP BY d.flag ORDER BY d.flag
@ordered SELECT d.id, d.flag FROM (SELECT u.id, u.flag FROM users u WHERE u.id NOT IN (SELECT cv.qty FROM orders cv WHERE cv.qty IS NOT NULL)) d ORDER BY d.flag, d.id
@ordered SELECT d.id, d.name FROM (SELECT u.id, u.name FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders cv WHERE cv.qty = u.id)) d ORDER BY d.name, d.id LIMIT 20
@ordered SELECT cc, COUNT(*), SUM(b) FROM (SELECT SUBSTRING(u.name, 1, 1) AS cc, u.balance AS b FROM users u WHERE u.balance > 0 AND NOT EXISTS (SELECT * FROM orders cv WHERE cv.qty = u.id)) AS t GROUP BY cc ORDER BY cc
SELECT d.id, d.tag FROM (SELECT u.id, u.tag FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders cv WHERE cv.qty = u.id AND cv.status = 'paid')) d
-- Copies narrowed by a filtered reference table (reference_semijoin.rs): the reference on
-- the NULL-extended side, NULL keys, string keys compared by their collation, conditions
-- reading both tables (answered from copies, not the Join primitive).
SELECT COUNT(*), SUM(u.score) FROM users u JOIN orders o ON o.qty = u.flag, flags rz WHERE rz.flag = u.flag AND rz.label LIKE '%e%' AND CONCAT(u.name, o.status) <> ''
SELECT COUNT(*), MIN(u.id) FROM users u LEFT JOIN flags rz ON rz.flag = u.flag JOIN orders o ON o.qty = u.score WHERE u.flag = rz.flag AND rz.label <> 'zero' AND CONCAT(u.name, o.status) <> ''
@ordered SELECT u.id, rz.label FROM users u, flags rz, orders o WHERE u.tag = rz.label AND rz.flag IN (0, 1) AND o.qty = u.flag AND CONCAT(u.name, o.status) <> 'x' ORDER BY u.id, o.id
@ordered SELECT u.id, COUNT(o.id) FROM users u JOIN flags rz ON rz.flag = u.flag LEFT JOIN orders o ON o.qty = u.score AND CONCAT(o.status, u.name) > 'a' WHERE rz.label IS NOT NULL AND rz.flag <> 127 GROUP BY u.id ORDER BY u.id
SELECT COUNT(*) FROM users u, flags rz WHERE rz.flag = u.flag AND rz.label = 'one' AND u.score > (SELECT AVG(o.qty) FROM orders o WHERE o.qty < u.flag)
-- Copies narrowed by a co-located copy they join on shard keys (colocated_semijoin.rs), by
-- what a disjunction implies for one table (implied.rs), and by reference tables joined to
-- reference tables (TPC-H Q7's supplier → nation): NULLs, outer joins, branches without the
-- table, a scalar subquery keeping the statement on copies.
SELECT COUNT(*), SUM(o.amount), MIN(u.name) FROM users u, orders o WHERE o.user_id = u.id AND u.score > 500 AND o.qty >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.flag)
@ordered SELECT u.id, o.id FROM users u, orders o WHERE u.id = o.user_id AND o.status = 'paid' AND u.score + 0 > (SELECT COUNT(*) FROM notes cn WHERE cn.id = o.qty) ORDER BY u.id, o.id
@ordered SELECT u.id, o.id, f1.label, f2.label FROM users u, orders o, flags f1, flags f2 WHERE o.user_id = u.id AND u.flag = f1.flag AND o.qty = f2.flag AND ((f1.label = 'one' AND f2.label = 'zero') OR (f1.label = 'zero' AND f2.label = 'one')) AND o.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.score) ORDER BY u.id, o.id
@ordered SELECT u.id, o.id FROM users u, orders o, flags f1, flags f2 WHERE o.user_id = u.id AND u.flag = f1.flag AND f1.flag = f2.flag AND f2.label LIKE '%e%' AND o.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = o.qty) ORDER BY u.id, o.id
@ordered SELECT u.id, o.id, o.status FROM users u, orders o WHERE o.user_id = u.id AND ((u.score > 900 AND o.status = 'paid') OR (u.score < 100 AND o.qty = 3) OR (u.flag IS NULL AND o.qty IS NULL)) AND o.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.flag) ORDER BY u.id, o.id
@ordered SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE (o.status = 'paid' OR u.score > 900) AND u.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.flag) ORDER BY u.id, o.id
@ordered SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE ((o.status = 'paid' AND u.score > 10) OR (o.status IS NULL AND u.score < 10)) AND u.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.flag) ORDER BY u.id, o.id
SELECT COUNT(*), SUM(u.score) FROM users u, orders o, flags f1 WHERE o.user_id = u.id AND o.qty = f1.flag AND (f1.label = 'one' OR o.status = 'new') AND u.score > (SELECT COUNT(*) FROM notes cn WHERE cn.id = o.qty)
-- The same from inner joins' ON clauses (row_conditions.rs), not from outer joins' (their
-- preserved side's rows come whether the clause holds or not).
SELECT COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON o.user_id = u.id AND o.status = 'paid' JOIN flags f ON f.flag = u.flag AND f.label <> 'zero' WHERE u.score >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = o.qty)
@ordered SELECT u.id, o.id FROM users u LEFT JOIN orders o ON o.user_id = u.id AND u.score > 900 WHERE u.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.flag) ORDER BY u.id, o.id
@ordered SELECT u.id, o.id, f.label FROM users u LEFT JOIN orders o ON o.user_id = u.id AND o.qty > 2 JOIN flags f ON f.flag = u.flag AND f.label LIKE '%e%' WHERE u.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.score) ORDER BY u.id, o.id
@ordered SELECT f.flag, u.id, o.id FROM orders o JOIN users u ON u.id = o.user_id AND u.score > 500 RIGHT JOIN flags f ON f.flag = u.flag WHERE f.flag >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.flag + 100) ORDER BY f.flag, u.id, o.id
@ordered SELECT u.id, o.id FROM users u STRAIGHT_JOIN orders o ON o.user_id = u.id AND ((u.flag = 1 AND o.qty = 1) OR (u.flag = 0 AND o.qty = 2)) WHERE o.id >= (SELECT COUNT(*) FROM notes cn WHERE cn.id = u.flag) ORDER BY u.id, o.id
-- Select items holding a membership subquery, named by their text as written although the
-- statement that runs reads the subquery's values from a temporary table.
SELECT EXISTS (SELECT 1 FROM orders WHERE amount > 9990)
SELECT 1 IN (SELECT user_id FROM orders), 'x' NOT IN (SELECT status FROM orders WHERE status IS NOT NULL) AS named
@ordered SELECT id, user_id NOT IN (SELECT id FROM users WHERE score > 900) FROM orders WHERE id < 20 ORDER BY id
@ordered SELECT id, EXISTS   (SELECT 1 FROM users /* why */ WHERE id = 5) FROM orders WHERE user_id = 3 ORDER BY id
SELECT SUM(amount IN (SELECT amount FROM orders WHERE user_id = 3)) FROM orders

-- ===== ROWNUM() numbers the statement's rows once, over copies (each shard would restart it) =====
SELECT COUNT(*) FROM users WHERE ROWNUM() <= 5
SELECT COUNT(*), MAX(r), SUM(r) FROM (SELECT id, ROWNUM() r FROM orders) d
SELECT COUNT(*) FROM (SELECT id, ROWNUM() r FROM users) d WHERE r <= 10
@ordered SELECT COUNT(*), MIN(r) FROM (SELECT user_id, ROWNUM() r FROM orders) d WHERE user_id = 7

-- ===== A CTE named once, read as a derived table: pinned by its key column (under any name), scattered with the rows it follows, scattered alone when its rows partition; named twice or not following a key: over copies =====
WITH t AS (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) SELECT * FROM t WHERE user_id = 7
@ordered WITH t AS (SELECT user_id AS uid, amount FROM orders) SELECT uid, amount FROM t WHERE uid IN (7, 3, 17) ORDER BY uid, amount
@params=7 WITH t AS (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) SELECT s FROM t WHERE user_id = ?
@ordered WITH t AS (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) SELECT u.name, t.s FROM users u JOIN t ON t.user_id = u.id ORDER BY t.s DESC, u.id LIMIT 20
WITH t AS (SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id) SELECT COUNT(*), SUM(t.c), MAX(t.c) FROM users u LEFT JOIN t ON t.user_id = u.id
WITH t AS (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) SELECT COUNT(*), AVG(s), MIN(s) FROM t WHERE s > 1000
@ordered WITH t (who, total) AS (SELECT user_id, amount FROM orders) SELECT who, SUM(total), COUNT(*) FROM t AS x GROUP BY who ORDER BY who LIMIT 50
@ordered WITH t AS (SELECT id, name, nick FROM users) SELECT id, nick FROM t ORDER BY nick, id LIMIT 40
@ordered WITH t AS (SELECT id, name FROM users WHERE score > 500) SELECT name, id FROM t ORDER BY name, id LIMIT 30
@ordered WITH t AS (SELECT id, CONCAT(name, '!') AS n FROM users) SELECT n, id FROM t ORDER BY n, id LIMIT 25
WITH t AS (SELECT user_id, amount FROM orders WHERE amount > 900) SELECT DISTINCT user_id FROM t
WITH t AS (SELECT user_id, amount FROM orders) SELECT AVG(amount), COUNT(DISTINCT user_id), SUM(amount) FROM t
@ordered WITH t AS (SELECT user_id, amount FROM orders) SELECT u.id, t.amount FROM users u JOIN t ON t.user_id = u.id WHERE u.id < 30 ORDER BY u.id, t.amount
WITH t AS (SELECT id, name FROM users) SELECT t.id FROM t WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = t.id AND o.amount > 9000)
WITH t AS (SELECT id FROM users) SELECT COUNT(*), SUM(o.amount) FROM t JOIN orders o ON o.user_id = t.id WHERE o.user_id = 7
WITH t AS (SELECT 1 AS x) SELECT COUNT(*), SUM(score) FROM users, t
WITH t AS (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) SELECT u.name, a.s FROM users u JOIN t a ON a.user_id = u.id JOIN t b ON b.user_id = u.id WHERE u.id < 50
WITH t AS (SELECT MIN(user_id) user_id, SUM(amount) s FROM orders GROUP BY qty) SELECT COUNT(*), SUM(t.s) FROM users u JOIN t ON t.user_id = u.id
WITH t AS (SELECT id FROM users) SELECT COUNT(*) FROM t WHERE t.id < 100 AND EXISTS (SELECT 1 FROM t AS t2 WHERE t2.id > 2000)
WITH t AS (SELECT id FROM users) SELECT COUNT(*) FROM t JOIN orders o ON o.user_id = t.id JOIN t t2 ON t2.id < 50 WHERE o.user_id = 7
@params=500 WITH t AS (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) SELECT COUNT(*), SUM(t.s) FROM users u JOIN t ON t.user_id = u.id WHERE u.score > ?
@params=100 WITH t AS (SELECT user_id, amount FROM orders WHERE amount > ?) SELECT COUNT(*), SUM(amount), AVG(amount) FROM t
@ordered @params=17 WITH t AS (SELECT user_id, id, amount FROM orders) SELECT id, amount FROM t WHERE user_id = ? ORDER BY id
@ordered WITH t AS (SELECT user_id, amount FROM orders WHERE amount > 9000 ORDER BY amount DESC) SELECT u.id, t.amount FROM users u JOIN t ON t.user_id = u.id ORDER BY t.amount, u.id LIMIT 7
WITH t AS (SELECT user_id, amount, (SELECT COUNT(*) FROM orders o2 WHERE o2.user_id = orders.user_id) AS n FROM orders) SELECT COUNT(*), SUM(t.n), MAX(t.amount) FROM users u JOIN t ON t.user_id = u.id WHERE u.id < 20
WITH t AS (SELECT user_id, GROUP_CONCAT(status ORDER BY id SEPARATOR '|') g FROM orders GROUP BY user_id) SELECT COUNT(*), MAX(LENGTH(t.g)) FROM users u JOIN t ON t.user_id = u.id
@ordered WITH t AS (SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id) SELECT t.c, COUNT(*) FROM t GROUP BY t.c ORDER BY t.c
