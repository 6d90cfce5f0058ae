-- Views corpus of tests/differential.rs (same directives as corpus.sql): statements reading
-- the views of `VIEWS` (over sharded tables, nested, with a column list, over the reference
-- table only), which the proxy reads as their definitions — derived tables planned as any
-- other (one shard when keys pin it, merged or over copies otherwise).

-- ===== A filtering view =====
SELECT COUNT(*), SUM(amount), MAX(qty) FROM paid_orders
@ordered SELECT * FROM paid_orders WHERE user_id = 7 ORDER BY id
@ordered SELECT id, amount FROM paid_orders WHERE user_id IN (3, 11, 19, 2900) ORDER BY id
@ordered SELECT p.id FROM paid_orders AS p WHERE p.qty > 8 ORDER BY p.amount DESC, p.id LIMIT 10
@ordered SELECT qty, COUNT(*) FROM paid_orders GROUP BY qty ORDER BY qty
@ordered SELECT * FROM paid_orders ORDER BY id LIMIT 5 OFFSET 20
SELECT COUNT(DISTINCT user_id) FROM paid_orders
@params=7 SELECT COUNT(*), SUM(amount) FROM paid_orders WHERE user_id = ?
@params=100 @ordered SELECT id FROM paid_orders WHERE user_id < ? ORDER BY id

-- ===== A grouping view =====
@ordered SELECT * FROM user_totals WHERE user_id = 42
@ordered SELECT * FROM user_totals ORDER BY total DESC, user_id LIMIT 5
SELECT COUNT(*), SUM(n), MAX(total), MIN(total) FROM user_totals
@ordered SELECT n, COUNT(*) FROM user_totals GROUP BY n ORDER BY n
@ordered SELECT u.id, u.name, t.n, t.total FROM users u JOIN user_totals t ON t.user_id = u.id WHERE u.id BETWEEN 10 AND 20 ORDER BY u.id
@ordered SELECT u.id, t.n FROM users u LEFT JOIN user_totals t ON t.user_id = u.id WHERE u.id < 12 ORDER BY u.id

-- ===== A view with a column list, one with ORDER BY … LIMIT =====
@ordered SELECT uid, uname FROM user_names WHERE uid < 10 ORDER BY uid
@ordered SELECT * FROM user_names WHERE uid = 1234
SELECT COUNT(*), MAX(uid) FROM user_names
@ordered SELECT * FROM top_users
@ordered SELECT t.id, u.name FROM top_users t JOIN users u ON u.id = t.id ORDER BY t.score DESC, t.id
SELECT COUNT(*), SUM(score) FROM top_users

-- ===== Nested views, a view in a subquery, a CTE of a view's name =====
@ordered @ci=0 SELECT name, COUNT(*) FROM rich_orders GROUP BY name ORDER BY COUNT(*) DESC, name LIMIT 5
SELECT COUNT(*), SUM(amount) FROM rich_orders
@ordered SELECT * FROM rich_orders WHERE user_id = 12 ORDER BY id
SELECT COUNT(*) FROM users WHERE id IN (SELECT user_id FROM paid_orders)
SELECT COUNT(*) FROM users u WHERE EXISTS (SELECT 1 FROM paid_orders p WHERE p.user_id = u.id AND p.qty > 5)
@ordered SELECT id, (SELECT COUNT(*) FROM paid_orders p WHERE p.user_id = u.id) c FROM users u WHERE id < 8 ORDER BY id
@ordered WITH paid_orders AS (SELECT 1 AS id) SELECT * FROM paid_orders
@ordered SELECT id FROM paid_orders WHERE user_id = 7 UNION SELECT id FROM orders WHERE user_id = 8 ORDER BY id
@ordered SELECT a.user_id, a.n, b.n FROM user_totals a JOIN user_totals b ON b.user_id = a.user_id + 1 WHERE a.user_id < 6 ORDER BY a.user_id

-- ===== A view over the reference table only (on every shard), strings with escapes =====
@ordered SELECT * FROM flag_labels ORDER BY flag
@ordered SELECT u.id, fl.label FROM users u JOIN flag_labels fl ON fl.flag = u.flag WHERE u.id < 20 ORDER BY u.id
@ordered SELECT * FROM quoted_names ORDER BY id
@script SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES'); @ordered SELECT * FROM quoted_names ORDER BY id; SET SESSION sql_mode = DEFAULT

-- ===== Writes reading views; views made, replaced and dropped through the proxy =====
@dml=users UPDATE users SET score = score + 1 WHERE id IN (SELECT user_id FROM paid_orders WHERE user_id < 40)
@dml=users UPDATE users SET score = score - 1 WHERE id IN (SELECT user_id FROM user_totals WHERE n > 4) AND id < 200
@script CREATE VIEW fresh_view AS SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id; SELECT COUNT(*), SUM(c) FROM fresh_view; CREATE OR REPLACE VIEW fresh_view AS SELECT id AS user_id, 1 AS c FROM users; SELECT COUNT(*), SUM(c) FROM fresh_view; @ordered SELECT * FROM fresh_view WHERE user_id = 9; DROP VIEW fresh_view; SELECT * FROM fresh_view
@script CREATE VIEW over_view AS SELECT user_id, total FROM user_totals WHERE total > 1000; SELECT COUNT(*), SUM(total) FROM over_view; ALTER VIEW over_view AS SELECT user_id, total FROM user_totals WHERE total > 5000; SELECT COUNT(*) FROM over_view; DROP VIEW over_view
@script CREATE TABLE local_words (w VARCHAR(10)); INSERT INTO local_words VALUES ('a'), ('b'); CREATE VIEW local_view AS SELECT w FROM local_words; @ordered SELECT * FROM local_view ORDER BY w; DROP VIEW local_view; DROP TABLE local_words

-- ===== Key conditions through a view's (or derived table's) key column pin one shard =====
@ordered SELECT * FROM user_totals WHERE user_id IN (42, 43) ORDER BY user_id
@ordered SELECT p.id, u.name FROM paid_orders p JOIN users u ON u.id = p.user_id WHERE u.id = 15 ORDER BY p.id
@ordered SELECT p.id, u.name FROM paid_orders p, users u WHERE u.id = p.user_id AND u.id = 16 ORDER BY p.id
@ordered SELECT * FROM (SELECT DISTINCT user_id, status FROM orders) d WHERE d.user_id = 21 ORDER BY status
@ordered SELECT * FROM (SELECT user_id, MAX(amount) m, COUNT(*) c FROM orders GROUP BY user_id HAVING COUNT(*) > 1) d WHERE user_id = 33
@ordered SELECT * FROM (SELECT user_id, amount FROM orders ORDER BY amount DESC, id LIMIT 40) d WHERE user_id = 33 ORDER BY amount
@ordered SELECT user_id, r FROM (SELECT user_id, ROW_NUMBER() OVER (ORDER BY id) r FROM orders) d WHERE user_id = 33 ORDER BY r
@ordered SELECT * FROM (SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id WITH ROLLUP) d WHERE user_id = 33
@params=44 @ordered SELECT * FROM user_totals WHERE user_id = ?

-- ===== Joins with a view or derived table by its key column: each shard joins its own rows =====
@ordered SELECT u.id, t.n FROM users u JOIN user_totals t ON t.user_id = u.id ORDER BY t.n DESC, u.id LIMIT 10
SELECT COUNT(*), SUM(t.total), MAX(t.n) FROM users u JOIN user_totals t ON t.user_id = u.id WHERE u.score > 100
SELECT COUNT(*), SUM(p.amount) FROM users u, paid_orders p WHERE p.user_id = u.id AND u.flag = 1
@ordered SELECT u.id, d.c FROM users u JOIN (SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id) d ON d.user_id = u.id WHERE d.c > 4 ORDER BY u.id
@ordered SELECT u.id, d.c FROM users u JOIN (SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id) d ON d.c = u.id ORDER BY u.id
@ordered SELECT u.id, d.m FROM users u JOIN (SELECT user_id, MAX(amount) m FROM orders WHERE qty > 3 GROUP BY user_id) d ON d.user_id = u.id AND u.id < 50 ORDER BY u.id
SELECT COUNT(*) FROM users u JOIN (SELECT flag, label FROM flags) f ON f.flag = u.flag
@ordered SELECT u.id FROM users u JOIN (SELECT 5 AS x UNION SELECT 6) t ON t.x = u.id ORDER BY u.id
@ordered SELECT u.id, t.n FROM users u LEFT JOIN user_totals t ON t.user_id = u.id WHERE u.id BETWEEN 100 AND 110 ORDER BY u.id
@ordered SELECT t.user_id, t.n, u.name FROM user_totals t JOIN users u ON u.id = t.user_id JOIN orders o ON o.user_id = u.id AND o.id = (SELECT MIN(id) FROM orders x WHERE x.user_id = u.id) WHERE t.n > 5 ORDER BY t.user_id
SELECT COUNT(*), COUNT(t.user_id), SUM(t.n), SUM(t.total) FROM users u LEFT JOIN user_totals t ON t.user_id = u.id
@ordered SELECT u.id, p.id FROM users u LEFT JOIN paid_orders p ON p.user_id = u.id AND p.qty > 5 WHERE u.id < 40 ORDER BY u.id, p.id
SELECT COUNT(*), SUM(d.c) FROM (SELECT user_id, COUNT(*) c FROM orders WHERE qty > 8 GROUP BY user_id) d RIGHT JOIN users u ON d.user_id = u.id
SELECT COUNT(*), SUM(d.c) FROM (SELECT user_id, COUNT(*) c FROM orders WHERE qty > 8 GROUP BY user_id) d LEFT JOIN users u ON d.user_id = u.id
@dml=users UPDATE users u JOIN user_totals t ON t.user_id = u.id SET u.score = t.n * 100 WHERE u.id = 5
@dml=users UPDATE users u JOIN paid_orders p ON p.user_id = u.id SET u.balance = p.amount WHERE u.id = 17
