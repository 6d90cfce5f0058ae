-- Set operations whose branches run on different shards (issue #13): each branch planned on
-- its own (a scatter, one shard, a reference table, a constant), the rows combined in the
-- proxy. Directives as in corpus.sql. Where strings equal under the collation collapse into
-- one row ('José Smith' / 'jose smith'), which spelling shows depends on the order rows are
-- read in, on one server as across shards: such columns are compared with @ci (names starting
-- with 'x' hold supplementary characters, all equal under utf8mb4_general_ci, which @ci does
-- not fold: left out of those cases).

-- ===== UNION / UNION ALL across shards =====
SELECT id FROM users WHERE id < 50 UNION SELECT user_id FROM orders WHERE id < 80
SELECT id FROM users WHERE id < 50 UNION ALL SELECT user_id FROM orders WHERE id < 80
SELECT id FROM users WHERE id < 50 UNION DISTINCT SELECT user_id FROM orders WHERE id < 80
@ci=0 SELECT name FROM users WHERE name NOT LIKE 'x%' UNION SELECT label FROM flags
SELECT name FROM users WHERE id < 100 UNION ALL SELECT label FROM flags
@ci=0 SELECT tag FROM users UNION SELECT status FROM orders
@pad=0 SELECT tag_bin FROM users UNION SELECT tag_bin FROM users WHERE id > 10
SELECT email FROM users WHERE id < 40 UNION SELECT NULL
SELECT email, score FROM users WHERE id < 60 UNION SELECT NULL, NULL UNION SELECT NULL, NULL
SELECT id, email FROM users WHERE id IN (1, 2, 3, 5, 8, 13) UNION SELECT user_id, status FROM orders WHERE user_id IN (1, 2, 3)
SELECT id FROM users WHERE id = 17 UNION SELECT id FROM users WHERE id = 42 UNION SELECT id FROM users WHERE id = 2
SELECT id, name FROM users WHERE id = 17 UNION ALL SELECT id, name FROM users WHERE id = 42 UNION ALL SELECT id, name FROM users WHERE id = 17
SELECT flag FROM users UNION SELECT flag FROM flags
SELECT COUNT(*) FROM users UNION ALL SELECT COUNT(*) FROM orders UNION ALL SELECT COUNT(*) FROM flags
SELECT flag, COUNT(*) FROM users GROUP BY flag UNION ALL SELECT flag, 1 FROM flags
SELECT MAX(id) FROM users UNION SELECT MIN(user_id) FROM orders
SELECT 1 UNION SELECT id FROM users WHERE id < 5
SELECT user_id FROM profiles UNION SELECT id FROM users WHERE id < 30

-- ===== Mixed types: the result column widened as MariaDB does =====
SELECT id FROM users WHERE id < 30 UNION SELECT amount FROM orders WHERE id < 30
SELECT score FROM users WHERE id < 30 UNION SELECT balance FROM users WHERE id < 30
SELECT id FROM users WHERE id < 20 UNION ALL SELECT ratio FROM users WHERE id < 20
SELECT amount FROM orders WHERE id < 20 UNION ALL SELECT ratio FROM users WHERE id < 20
@ci=0 SELECT id FROM users WHERE id < 20 UNION SELECT tag FROM users WHERE id < 20
SELECT created_at FROM users WHERE id < 10 UNION SELECT DATE(created_at) FROM orders WHERE id < 10
SELECT qty FROM orders WHERE id < 50 UNION SELECT 2.5
SELECT amount FROM orders WHERE id < 50 UNION SELECT 1e0
SELECT flag FROM flags UNION SELECT qty FROM orders WHERE id < 40 UNION SELECT score FROM users WHERE id < 40

-- ===== INTERSECT / EXCEPT, with ALL =====
SELECT id FROM users INTERSECT SELECT user_id FROM orders
SELECT user_id FROM orders INTERSECT ALL SELECT user_id FROM orders WHERE qty > 3
SELECT user_id FROM orders EXCEPT SELECT id FROM users
SELECT user_id FROM orders EXCEPT ALL SELECT user_id FROM orders WHERE qty > 3
@ci=0 SELECT status FROM orders INTERSECT SELECT tag FROM users
@ci=0 SELECT name FROM users WHERE name NOT LIKE 'x%' EXCEPT SELECT label FROM flags WHERE flag > 0
SELECT flag FROM flags EXCEPT SELECT flag FROM users WHERE id < 100
SELECT flag FROM users INTERSECT SELECT flag FROM flags
SELECT id FROM users WHERE id < 100 EXCEPT SELECT user_id FROM orders INTERSECT SELECT id FROM users WHERE id < 50

-- ===== ORDER BY / LIMIT on the whole, nesting, parentheses =====
@ordered SELECT id FROM users WHERE id < 50 UNION SELECT user_id FROM orders WHERE id < 80 ORDER BY 1 DESC LIMIT 10
@ordered SELECT id AS k FROM users WHERE id < 50 UNION ALL SELECT user_id FROM orders WHERE id < 80 ORDER BY k LIMIT 5, 10
@ordered SELECT id, name FROM users WHERE id < 30 UNION SELECT user_id, status FROM orders WHERE id < 30 ORDER BY id, name LIMIT 20
@keys=0 SELECT flag FROM users UNION ALL SELECT flag FROM flags ORDER BY flag LIMIT 12
@ordered SELECT amount FROM orders WHERE id < 100 UNION SELECT balance FROM users WHERE id < 100 ORDER BY 1 LIMIT 15
@count SELECT id FROM users UNION ALL SELECT user_id FROM orders LIMIT 7
@ordered (SELECT id FROM users ORDER BY id DESC LIMIT 3) UNION ALL (SELECT user_id FROM orders ORDER BY user_id LIMIT 2) ORDER BY 1
@ordered (SELECT id FROM users WHERE id < 20 UNION SELECT user_id FROM orders WHERE id < 20 ORDER BY 1 DESC LIMIT 4) UNION SELECT flag FROM flags ORDER BY 1
((SELECT id FROM users WHERE id < 40) UNION (SELECT user_id FROM orders WHERE id < 40)) INTERSECT SELECT id FROM users WHERE id > 10
@ordered SELECT id FROM users WHERE id = 17 UNION SELECT user_id FROM orders WHERE user_id = 42 ORDER BY 1

-- ===== Errors are MariaDB's =====
SELECT id, name FROM users UNION SELECT user_id FROM orders
SELECT id FROM users UNION SELECT user_id FROM orders ORDER BY nope
SELECT id FROM users UNION SELECT no_such_column FROM orders

-- ===== Columns of latin1 expressions (latin1_swedish_ci, which the proxy compares from UTF-8 results) =====
@ordered @ci=0 SELECT CONVERT(name USING latin1) AS n FROM users WHERE id < 40 UNION SELECT CONVERT(tag USING latin1) FROM users WHERE id BETWEEN 40 AND 80 ORDER BY n, 1
SELECT CONVERT(status USING latin1) FROM orders WHERE id < 300 INTERSECT SELECT CONVERT(tag USING latin1) FROM users

-- ===== Under sql_select_limit = 0: the proxy's own reads of collations still see their row =====
@script SET sql_select_limit = 0; SELECT name FROM users WHERE id < 30 UNION SELECT tag FROM users WHERE id > 2990; SET @v = (SELECT MIN(nick) FROM users WHERE id < 100); SET sql_select_limit = DEFAULT; SELECT @v; SET sql_select_limit = 2; @ordered SELECT name FROM users WHERE id < 30 UNION SELECT tag FROM users WHERE id > 2990 ORDER BY 1; SET sql_select_limit = DEFAULT
