-- Hand-written corpus of tests/differential.rs: one statement per line, run against a plain
-- MariaDB and against the 3-shard sandbox through the proxy, answers compared.
--
-- Directives before the SQL (see the top of tests/differential.rs):
--   @ordered      the ORDER BY makes the order total: rows compared in order
--   @keys=I,..    ordered by these output columns with ties: their sequence compared,
--                 the rows as a multiset (only the key sequence when there is a LIMIT)
--   @ci=I,..      column holding one of several collation-equal strings (group representative,
--                 MIN/MAX of utf8mb4_general_ci): compared ignoring case, accents, trailing spaces
--   @pad=I,..     the same for utf8mb4_bin (PAD SPACE): trailing spaces ignored
--   @count        only the row count is compared (LIMIT without ORDER BY)
--   @params=A|B  run as a prepared statement (binary protocol) with these parameters
--                 (NULL, integers, or strings without spaces, quotes optional)
--   @found_rows   run over connections with CLIENT_FOUND_ROWS (UPDATE counts matched rows)
--   @script       statements separated by ';' (each may carry directives) on one connection
--                 per side, every answer compared; both sides roll back at the end
--   @dml=TABLE    a write: affected rows compared, then TABLE on the shards vs the plain server
-- Without @ordered/@keys rows are compared as multisets.
--
-- The data (seeded, see dataset() in tests/differential.rs): users 1..3000 except every 20th
-- id negative (-8, -28, …) and every 20th beyond 10^12 (1000000000013, 1000000000033, …);
-- email NULL for ids divisible by 13, otherwise e.g. User17@mail.test, USER42@example.com,
-- user100@Example.COM; orders 1..6000, some owned by missing users (5000000..5000300).

-- ===== Lookups by a non-key column (scatter to every shard, at most one row) =====
SELECT * FROM users WHERE email = 'User17@mail.test'
SELECT * FROM users WHERE email = 'user17@MAIL.TEST'
SELECT * FROM users WHERE email = 'user100@Example.COM'
SELECT * FROM users WHERE email = 'User1000000000013@mail.test'
SELECT * FROM users WHERE email = 'user-8@Example.COM'
SELECT * FROM users WHERE email = 'nobody@example.com'
SELECT id, name FROM users WHERE email = 'USER42@example.com'
SELECT id, name, created_at FROM users WHERE email IN ('User5@mail.test', 'USER42@example.com', 'user100@example.com')
SELECT id FROM users WHERE email IS NULL
SELECT * FROM users WHERE name = 'José Smith'
SELECT id, email, name FROM users WHERE name = 'jose smith'
SELECT * FROM orders WHERE id = 4242
SELECT * FROM orders WHERE id IN (1, 2, 3, 5999, 6000, 7000)
SELECT * FROM users WHERE tag = 'alpha'
SELECT id, tag FROM users WHERE tag_bin = 'alpha'
SELECT id, tag_bin FROM users WHERE tag_bin = 'Alpha'
SELECT id, tag_bin FROM users WHERE tag_bin = 'alpha   '
SELECT id FROM users WHERE tag = ''
SELECT id, name FROM users WHERE name LIKE '%slash%'
SELECT id, name FROM users WHERE name LIKE 'O''%'

-- ===== Plain union of every shard's rows =====
SELECT * FROM users
SELECT * FROM orders
SELECT id, email FROM users
SELECT id, score FROM users WHERE score > 900
SELECT id, score, balance FROM users WHERE score BETWEEN -5 AND 5
SELECT id FROM users WHERE ratio IS NULL
SELECT id, ratio FROM users WHERE ratio > 1000000
SELECT id, ratio FROM users WHERE ratio IN (1e20, 1.5e-7, 0.1, 0)
SELECT id, balance FROM users WHERE balance < 0
SELECT id, balance FROM users WHERE balance > 99999999999999
SELECT * FROM orders WHERE amount IS NULL
SELECT * FROM orders WHERE user_id > 4000000
SELECT id, user_id FROM orders WHERE status = 'paid'
SELECT id, user_id, status FROM orders WHERE status LIKE 'c%'
SELECT 1 FROM users WHERE id < 0
SELECT id, created_at FROM users WHERE created_at >= '2024-06-01'
SELECT id, created_at FROM orders WHERE created_at BETWEEN '2021-01-01' AND '2021-01-31 23:59:59'
SELECT id, score * 2, score + 0.5, -score FROM users WHERE score < -990
SELECT id, CONCAT(name, '!'), UPPER(tag), LENGTH(tag) FROM users WHERE flag = 127
SELECT id AS user_key, email AS mail FROM users WHERE flag = -128
SELECT users.id, users.email FROM users WHERE users.score = 0
SELECT u.id FROM users u WHERE u.tag = 'gamma'
SELECT id, flag FROM users WHERE flag
SELECT * FROM users WHERE 1 = 0
SELECT id, tag, tag_bin FROM users WHERE tag = tag_bin AND tag <> ''
SELECT id, IFNULL(score, -1), COALESCE(tag, 'none') FROM users WHERE score IS NULL
SELECT id, YEAR(created_at), DATE(created_at) FROM users WHERE score = 3

-- ===== ORDER BY: directions, NULLs, collations, hidden columns, ordinals, aliases =====
@ordered SELECT id, score FROM users ORDER BY score, id
@ordered SELECT id, score FROM users ORDER BY score DESC, id
@ordered SELECT id, score FROM users ORDER BY score DESC, id DESC
@keys=1 SELECT id, score FROM users ORDER BY score
@keys=1 SELECT id, score FROM users WHERE score IS NOT NULL ORDER BY score DESC
@ordered SELECT id, name FROM users ORDER BY name, id
@ordered SELECT id, name FROM users ORDER BY name DESC, id
@ordered SELECT id, tag FROM users ORDER BY tag, id
@ordered SELECT id, tag FROM users ORDER BY tag DESC, id DESC
@keys=1 @ci=1 SELECT id, tag FROM users ORDER BY tag
@ordered SELECT id, tag_bin FROM users ORDER BY tag_bin, id
@ordered SELECT id, tag_bin FROM users ORDER BY tag_bin DESC, id
@keys=1 @pad=1 SELECT id, tag_bin FROM users ORDER BY tag_bin
@ordered SELECT id, email FROM users ORDER BY email, id
@keys=1 SELECT id, email FROM users ORDER BY email DESC
@ordered SELECT id, balance FROM users ORDER BY balance, id
@ordered SELECT id, balance FROM users ORDER BY balance DESC, id
@ordered SELECT id, ratio FROM users ORDER BY ratio, id
@ordered SELECT id, ratio FROM users ORDER BY ratio DESC, id
@ordered SELECT id, created_at FROM users ORDER BY created_at, id
@ordered SELECT id, created_at FROM users ORDER BY created_at DESC, id DESC
@ordered SELECT id, flag FROM users ORDER BY flag, id
@ordered SELECT * FROM users ORDER BY id
@ordered SELECT * FROM users ORDER BY id DESC
@ordered SELECT * FROM orders ORDER BY id
@ordered SELECT * FROM orders ORDER BY amount DESC, id
@ordered SELECT id, user_id, amount FROM orders ORDER BY user_id, id
@ordered SELECT id, status FROM orders ORDER BY status, id DESC
@ordered SELECT id, name FROM users ORDER BY score, id
@ordered SELECT id FROM users ORDER BY tag DESC, score, id
@ordered SELECT id, score FROM users ORDER BY 2, 1
@ordered SELECT id AS k, score AS s FROM users ORDER BY s DESC, k
@ordered SELECT id, score FROM users ORDER BY -score, id
@ordered SELECT id, score FROM users ORDER BY ABS(score), id
@ordered SELECT id, score FROM users WHERE score IS NULL ORDER BY id
@ordered SELECT id, name FROM users WHERE name IS NULL OR name = '' ORDER BY name, id
@ordered SELECT id, LOWER(tag) AS t FROM users ORDER BY t, id
@ordered SELECT id, name FROM users ORDER BY name COLLATE utf8mb4_bin, id
@ordered SELECT id, tag FROM users ORDER BY tag IS NULL, tag, id
@ordered SELECT id, amount FROM orders WHERE status IS NULL ORDER BY amount DESC, id
@ordered SELECT id, user_id, created_at FROM orders WHERE qty = 0 ORDER BY created_at, id
@ordered SELECT id, name, tag FROM users WHERE flag = -1 ORDER BY tag, name DESC, id

-- ===== LIMIT / OFFSET =====
@ordered SELECT id, score FROM users ORDER BY score DESC, id LIMIT 10
@ordered SELECT id, score FROM users ORDER BY score, id LIMIT 1
@ordered SELECT id, score FROM users ORDER BY score, id LIMIT 0
@ordered SELECT id, score FROM users ORDER BY score, id LIMIT 10, 5
@ordered SELECT id, score FROM users ORDER BY score, id LIMIT 5 OFFSET 2990
@ordered SELECT id FROM users ORDER BY id LIMIT 2995, 100
@ordered SELECT id FROM users ORDER BY id LIMIT 100 OFFSET 5000
@ordered SELECT id, name FROM users ORDER BY name, id LIMIT 25
@ordered SELECT id, tag FROM users ORDER BY tag DESC, id LIMIT 7, 7
@ordered SELECT * FROM orders ORDER BY created_at DESC, id LIMIT 20
@ordered SELECT id, amount FROM orders WHERE amount > 9000 ORDER BY amount, id LIMIT 3
@ordered SELECT id, balance FROM users WHERE balance IS NOT NULL ORDER BY balance DESC, id LIMIT 2
@keys=1 SELECT id, score FROM users ORDER BY score DESC LIMIT 12
@keys=0 SELECT flag, id FROM users ORDER BY flag LIMIT 100, 10
@count SELECT * FROM users LIMIT 10
@count SELECT id FROM orders LIMIT 3, 4
@count SELECT id FROM users LIMIT 0

-- ===== Aggregates without GROUP BY =====
SELECT COUNT(*) FROM users
SELECT COUNT(*) FROM orders
SELECT count(*) FROM users
SELECT COUNT(*) AS n FROM users
SELECT COUNT(1) FROM users
SELECT COUNT(email), COUNT(name), COUNT(score), COUNT(tag) FROM users
SELECT SUM(score), MIN(score), MAX(score), AVG(score) FROM users
SELECT SUM(balance), MIN(balance), MAX(balance), AVG(balance) FROM users
SELECT SUM(ratio), MIN(ratio), MAX(ratio), AVG(ratio) FROM users
SELECT SUM(flag), AVG(flag), MIN(flag), MAX(flag) FROM users
SELECT MIN(created_at), MAX(created_at) FROM users
SELECT MIN(id), MAX(id), SUM(id), AVG(id) FROM users
@ci=0,1 SELECT MIN(tag), MAX(tag) FROM users
@pad=0,1 SELECT MIN(tag_bin), MAX(tag_bin) FROM users
@ci=0,1 SELECT MIN(name), MAX(name) FROM users
@ci=0,1 SELECT MIN(email), MAX(email) FROM users
SELECT SUM(amount), AVG(amount), MIN(amount), MAX(amount), COUNT(amount) FROM orders
SELECT SUM(qty), AVG(qty) FROM orders WHERE status = 'new'
SELECT COUNT(*), SUM(score) FROM users WHERE score > 2000
SELECT AVG(balance), MIN(name), MAX(created_at), SUM(ratio) FROM users WHERE 1 = 0
SELECT COUNT(*) FROM users WHERE id IN (1, 2, 3, 4, 5)
SELECT COUNT(*), SUM(amount) FROM orders WHERE user_id IN (1, 2, 3)
SELECT AVG(score) AS avg_score, COUNT(*) AS n FROM users WHERE flag = 0
SELECT SUM(balance) FROM users WHERE balance > 1000000000
SELECT AVG(balance) FROM users WHERE balance BETWEEN -1 AND 1
SELECT SUM(ratio), AVG(ratio) FROM users WHERE ratio < 1000
SELECT MIN(ratio), MAX(ratio) FROM users WHERE ratio > 0 AND ratio < 1
SELECT COUNT(*), MIN(amount), MAX(amount) FROM orders WHERE status = 'Paid'
SELECT SUM(score) / COUNT(score) FROM users
SELECT COUNT(*) + 1 FROM users
SELECT MAX(amount) - MIN(amount) FROM orders
SELECT COUNT(DISTINCT tag) FROM users
SELECT COUNT(DISTINCT user_id) FROM orders
SELECT SUM(DISTINCT qty) FROM orders
SELECT GROUP_CONCAT(id ORDER BY id) FROM users WHERE id BETWEEN 1 AND 12
SELECT STD(score), VARIANCE(score) FROM users
SELECT BIT_OR(flag), BIT_AND(qty) FROM users, orders WHERE users.id = orders.user_id AND users.id = 1 AND orders.user_id = 1

-- ===== GROUP BY, HAVING, ORDER BY on aggregates =====
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag ORDER BY flag
SELECT flag, COUNT(*) FROM users GROUP BY flag
SELECT COUNT(*), flag FROM users GROUP BY flag
@ordered @ci=0 SELECT tag, COUNT(*) FROM users GROUP BY tag ORDER BY tag
@ordered @pad=0 SELECT tag_bin, COUNT(*) FROM users GROUP BY tag_bin ORDER BY tag_bin
@ordered @pad=0 SELECT tag_bin, COUNT(*) AS n FROM users GROUP BY tag_bin ORDER BY n DESC, tag_bin
@ordered @ci=0 SELECT tag, COUNT(*), SUM(score), MIN(score), MAX(score), AVG(score) FROM users GROUP BY tag ORDER BY tag DESC
@ordered @ci=0 SELECT status, COUNT(*), SUM(amount), AVG(amount) FROM orders GROUP BY status ORDER BY status
@ordered SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id ORDER BY user_id
@ordered SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id ORDER BY n DESC, user_id LIMIT 10
@ordered SELECT user_id, SUM(amount) AS total FROM orders GROUP BY user_id HAVING total > 50000 ORDER BY total DESC, user_id
@ordered @ci=0 SELECT status, COUNT(*) FROM orders GROUP BY status HAVING COUNT(*) > 500 ORDER BY COUNT(*) DESC, status
@ordered SELECT qty, COUNT(*), MIN(amount), MAX(amount) FROM orders GROUP BY qty ORDER BY qty DESC
@ordered SELECT YEAR(created_at) AS y, COUNT(*) FROM orders GROUP BY y ORDER BY y
@ordered SELECT YEAR(created_at), COUNT(*), SUM(amount) FROM orders GROUP BY YEAR(created_at) ORDER BY 1
@ordered SELECT score DIV 100 AS bucket, COUNT(*), AVG(balance) FROM users GROUP BY bucket ORDER BY bucket
@ordered SELECT flag, score, COUNT(*) FROM users WHERE score BETWEEN -5 AND 5 GROUP BY flag, score ORDER BY flag, score
@ordered SELECT flag, COUNT(*), SUM(ratio), AVG(ratio) FROM users GROUP BY flag ORDER BY flag
@ordered SELECT flag, MIN(created_at), MAX(created_at) FROM users GROUP BY flag ORDER BY flag
@ordered SELECT flag, SUM(balance), AVG(balance) FROM users GROUP BY flag ORDER BY flag DESC
@ordered SELECT flag, COUNT(*) AS n FROM users GROUP BY flag HAVING n > 100 ORDER BY n, flag
@ordered SELECT flag, AVG(score) FROM users GROUP BY flag HAVING AVG(score) > 0 ORDER BY AVG(score) DESC, flag
@ordered SELECT flag, COUNT(*) FROM users WHERE score > 0 GROUP BY flag ORDER BY 2 DESC, 1
@ordered SELECT flag FROM users GROUP BY flag ORDER BY flag DESC
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag ORDER BY flag LIMIT 2
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag ORDER BY flag LIMIT 1, 2
@ordered @ci=0 SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 20 ORDER BY name
@ordered SELECT flag, COUNT(*) FROM users WHERE id IN (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 15, 16) GROUP BY flag ORDER BY flag
SELECT flag, COUNT(*) FROM users GROUP BY flag HAVING flag > 0
@ordered SELECT qty, COUNT(*) FROM orders GROUP BY qty HAVING SUM(amount) > 100000 ORDER BY qty
@ordered SELECT user_id, MAX(amount) FROM orders WHERE status = 'paid' GROUP BY user_id HAVING MAX(amount) > 9900 ORDER BY user_id
@ordered SELECT user_id, COUNT(*), MIN(created_at) FROM orders WHERE user_id IN (1, 2, 3, 4, 5, 6, 7) GROUP BY user_id ORDER BY user_id
@ordered SELECT qty, COUNT(*) AS n, SUM(amount) AS total FROM orders WHERE amount IS NOT NULL GROUP BY qty ORDER BY total DESC, qty LIMIT 3
@ordered @ci=1 SELECT qty, MIN(status), MAX(status), COUNT(status) FROM orders GROUP BY qty ORDER BY qty
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag ORDER BY COUNT(*) DESC, flag DESC
SELECT flag, COUNT(*) FROM users GROUP BY flag WITH ROLLUP
@ordered SELECT flag, SUM(score) * 2 FROM users GROUP BY flag ORDER BY flag
@ordered SELECT flag, SUM(score) / COUNT(*) FROM users GROUP BY flag ORDER BY flag

-- ===== DISTINCT =====
@ordered SELECT DISTINCT flag FROM users ORDER BY flag
SELECT DISTINCT flag FROM users
@ordered @ci=0 SELECT DISTINCT tag FROM users ORDER BY tag
@ordered @pad=0 SELECT DISTINCT tag_bin FROM users ORDER BY tag_bin
@ordered @ci=0 SELECT DISTINCT status FROM orders ORDER BY status DESC
@ordered @ci=1 SELECT DISTINCT flag, tag FROM users ORDER BY flag, tag
SELECT DISTINCT qty FROM orders
@ordered SELECT DISTINCT qty FROM orders ORDER BY qty LIMIT 3
@ordered SELECT DISTINCT user_id FROM orders ORDER BY user_id LIMIT 10, 10
@ordered SELECT DISTINCT YEAR(created_at) FROM users ORDER BY 1
@ordered SELECT DISTINCT score FROM users WHERE score BETWEEN -5 AND 5 ORDER BY score DESC
SELECT DISTINCT id FROM users WHERE id IN (1, 1, 2, 3)
@ordered @ci=0 SELECT DISTINCT LOWER(tag) FROM users ORDER BY 1
@ci=0 SELECT DISTINCT name FROM users WHERE name LIKE 'z%'
SELECT COUNT(*) FROM (SELECT DISTINCT tag FROM users) t

-- ===== IN-list / OR pruning on the shard key =====
SELECT * FROM users WHERE id IN (1, 2, 3, 4, 5, 6, 7)
SELECT * FROM users WHERE id IN (1, 1000000000013, -8, 99999)
SELECT id, name FROM users WHERE id = 1 OR id = 2
SELECT id, name FROM users WHERE (id = 3 OR id = 5 OR id = 7) AND score > 0
SELECT id FROM users WHERE id IN (9, 10) OR id = 11
SELECT * FROM users WHERE id IN ('1', ' 002 ', 3)
@ordered SELECT id, name FROM users WHERE id IN (1, 2, 3, 4, 5, 6, 7, 9, 10, 11) ORDER BY name, id LIMIT 4
@ordered SELECT id, score FROM users WHERE id IN (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12) ORDER BY score DESC, id
SELECT COUNT(*), SUM(score) FROM users WHERE id IN (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12)
SELECT * FROM orders WHERE user_id IN (1, 2, 3, 5000000)
SELECT * FROM orders WHERE user_id = 1 OR user_id = -8
SELECT * FROM users WHERE id IN (4000001, 4000002)
SELECT * FROM users WHERE id NOT IN (1, 2, 3) AND score > 990
SELECT id FROM users WHERE id BETWEEN 100 AND 120
SELECT id FROM users WHERE id > 2990 OR id < -2900
SELECT * FROM users WHERE id = 1 OR email = 'User5@mail.test'
SELECT * FROM users WHERE id = 17
@ordered SELECT * FROM orders WHERE user_id = 17 ORDER BY id

-- ===== Joins of tables sharded on the same key, equality on it =====
SELECT u.id, u.email, o.id, o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 5 AND o.user_id = 5
SELECT u.id, o.id AS order_id, o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id IN (1, 2, 3, 4, 5)
SELECT u.id, o.id AS order_id FROM users u JOIN orders o ON o.user_id = u.id WHERE o.user_id IN (1, 2, 3, 4, 5)
SELECT u.id, o.id AS order_id FROM users u JOIN orders o ON u.id = o.user_id WHERE u.id IN (1, 2, 3) AND o.user_id IN (1, 2, 3)
SELECT u.id, o.id AS order_id, o.amount FROM users u JOIN orders o ON o.user_id = u.id
@ordered SELECT u.id, u.name, o.id AS order_id, o.amount FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.amount DESC, o.id LIMIT 20
SELECT u.id, COUNT(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.id IN (1, 2, 3, 4, 5, 6, 7, 9) GROUP BY u.id
@ordered SELECT u.id, COUNT(o.id), SUM(o.amount) FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY u.id LIMIT 50
@ordered @ci=0 SELECT u.tag, COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.tag ORDER BY u.tag
SELECT COUNT(*) FROM users u JOIN orders o ON o.user_id = u.id
SELECT COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.flag = 1 AND o.status = 'paid'
SELECT users.id, orders.id FROM users JOIN orders ON orders.user_id = users.id WHERE users.id IN (10, 20, 30)
SELECT u.id, o.id FROM users u, orders o WHERE o.user_id = u.id AND u.id IN (1, 2, 3)
SELECT u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE o.id IS NULL
SELECT o.id, o.user_id FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL
SELECT u.id, o.id FROM users u JOIN orders o ON o.id = u.id WHERE u.id IN (1, 2, 3)

-- ===== More shapes: hidden aggregates, empty inputs, names, quoting, aliases =====
@ordered SELECT flag FROM users GROUP BY flag HAVING SUM(score) > 0 ORDER BY flag
@ordered SELECT flag FROM users GROUP BY flag ORDER BY COUNT(*) DESC, flag
@ordered SELECT flag, MAX(score) FROM users GROUP BY flag ORDER BY MIN(balance), flag
@ordered @ci=0 SELECT status FROM orders GROUP BY status ORDER BY SUM(amount) DESC, status
-- Comments inside an item are part of its name (MariaDB 10.11), one after it is not.
SELECT COUNT(*) /* a */ + 1, MAX(score)  /* b */ , SUM(flag /* c */ * 2) FROM users
SELECT COUNT(*) FROM users LIMIT 1
SELECT COUNT(*) FROM users LIMIT 1, 1
SELECT COUNT(*) FROM users LIMIT 0
SELECT flag, COUNT(*) FROM users WHERE 1 = 0 GROUP BY flag
SELECT COUNT(*) FROM users HAVING COUNT(*) > 5000
SELECT COUNT(*) AS n FROM users HAVING n > 10
SELECT MIN(score), MAX(score), SUM(score), AVG(score), COUNT(score) FROM users WHERE score IS NULL
SELECT SUM(score * 2), MAX(LENGTH(name)), AVG(amount * 1) FROM users, orders WHERE users.id = orders.user_id AND users.id = 2 AND orders.user_id = 2
SELECT SUM(score * 2), MIN(score + 1), MAX(-score), AVG(score / 3) FROM users
SELECT SUM(amount * qty), AVG(amount * qty), MAX(amount * qty) FROM orders
SELECT MAX(LENGTH(name)), MIN(CHAR_LENGTH(tag)), SUM(flag = 1) FROM users
SELECT AVG(DISTINCT score) FROM users
SELECT DISTINCT COUNT(*) FROM users GROUP BY flag
@ordered SELECT DISTINCT COUNT(*) AS n FROM users GROUP BY tag_bin ORDER BY n
@count SELECT DISTINCT flag FROM users LIMIT 3
@ordered SELECT `id`, `name` FROM `users` ORDER BY `name`, `id` LIMIT 40
@ordered select id, email from users where score > 500 order by id desc limit 5
@ordered SELECT ID, Email, Score FROM users WHERE Flag = 1 ORDER BY Score, ID LIMIT 30
SELECT 'x', 1, NULL, 2.50 FROM users WHERE score > 995
SELECT COUNT(*) Total, SUM(score) s FROM users
SELECT COUNT(*) AS Total, Sum(score) AS `Sum Of Scores`, avg(score) FROM users
@ordered SELECT id, -score AS score FROM users WHERE score IS NOT NULL ORDER BY score, id LIMIT 20
@ordered SELECT id, score FROM users ORDER BY id + 0 DESC LIMIT 10
@ordered SELECT id FROM users ORDER BY id LIMIT 18446744073709551615
@ordered SELECT users.id, users.name FROM users WHERE users.flag = 0 ORDER BY users.name DESC, users.id LIMIT 15
SELECT users.* FROM users WHERE score = 7
SELECT *, id FROM users WHERE score = 7
SELECT id, name FROM users WHERE name = 'Zoë Bronte' FOR UPDATE
SELECT id, name FROM users WHERE name = 'Zoë Bronte' LOCK IN SHARE MODE
@ordered SELECT id, name FROM users WHERE id > 2990 ORDER BY id DESC LIMIT 3 FOR UPDATE
SELECT COUNT(*), MAX(score) FROM users WHERE name LIKE 'Z%' LOCK IN SHARE MODE
SELECT COUNT(*), MAX(score) FROM users WHERE name LIKE 'Z%' LOCK IN SHARE MODE -- a comment after it
@ordered SELECT id FROM users WHERE id = 3 LOCK /* shared */ IN SHARE MODE;
@ordered SELECT flag, COUNT(*) FROM users WHERE id IN (5, 6, 7, 8, 9) GROUP BY flag ORDER BY flag FOR UPDATE
@ordered SELECT flag, COUNT(*) FROM users GROUP BY 1 ORDER BY 1
SELECT flag, COUNT(*) FROM users GROUP BY flag ORDER BY NULL
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag
@ordered @ci=0 SELECT tag, COUNT(*) FROM users GROUP BY tag
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag DESC
@ordered SELECT flag, score, COUNT(*) FROM users WHERE id < 800 GROUP BY flag ASC, score DESC
@ordered SELECT flag, SUM(score) FROM users WHERE id < 500 GROUP BY flag DESC LIMIT 3
@ordered SELECT flag FROM users GROUP BY flag DESC HAVING COUNT(*) > 1 ORDER BY flag
@ordered SELECT user_id, COUNT(*) FROM orders WHERE user_id = 5 GROUP BY user_id DESC
@ordered SELECT (flag + 1) AS f, COUNT(*) FROM users GROUP BY (flag + 1) DESC
@ordered SELECT flag FROM users WHERE id < 300 GROUP BY flag DESC UNION SELECT qty FROM orders WHERE id < 300 GROUP BY qty ASC ORDER BY 1
@ordered SELECT d.flag, d.n FROM (SELECT flag, COUNT(*) AS n FROM users GROUP BY flag DESC LIMIT 2) AS d ORDER BY d.flag
@ordered SELECT qty, AVG(amount) FROM orders GROUP BY qty HAVING AVG(amount) > 4000 ORDER BY qty
@ordered SELECT flag, AVG(ratio) FROM users GROUP BY flag HAVING AVG(ratio) > 0 ORDER BY flag
@ordered SELECT flag, COUNT(*) FROM users WHERE id IN (1, 2, 3) OR score > 900 GROUP BY flag ORDER BY flag
SELECT COUNT(*) FROM orders WHERE user_id NOT IN (1, 2)
@ordered SELECT id, score FROM users WHERE score IS NOT NULL ORDER BY score DESC, id DESC LIMIT 2990, 20
@ordered SELECT DISTINCT tag_bin FROM users WHERE tag_bin IS NOT NULL ORDER BY tag_bin DESC LIMIT 4
@ordered SELECT id, created_at FROM users WHERE created_at IS NULL OR created_at < '2019-01-15' ORDER BY created_at DESC, id
@ordered SELECT id, ratio FROM users WHERE ratio IS NULL OR ratio > 900 ORDER BY ratio DESC, id LIMIT 40
@ordered SELECT id, name, tag FROM users WHERE name LIKE 'ann%' ORDER BY name, tag, id
@ordered SELECT id, name FROM users WHERE name LIKE '%é%' OR name LIKE '%ë%' ORDER BY name, id
@ordered SELECT user_id, SUM(qty) AS q FROM orders GROUP BY user_id HAVING q IS NULL OR q > 60 ORDER BY q DESC, user_id
@ordered SELECT YEAR(created_at) AS y, MONTH(created_at) AS m, COUNT(*) FROM orders WHERE created_at >= '2024-01-01' GROUP BY y, m ORDER BY y, m
@ordered SELECT id, balance FROM users WHERE balance IS NOT NULL ORDER BY balance, id LIMIT 5

-- ===== Shard-key literals of other types and contradictory / redundant key conditions =====
SELECT id, name FROM users WHERE id = 1.0
SELECT id, name FROM users WHERE id IN (1.0, 2.5)
SELECT id, name FROM users WHERE id = '1abc'
SELECT id, name FROM users WHERE id = 1e0
SELECT id FROM users WHERE id = -0
SELECT id FROM users WHERE id = ' 17'
SELECT id FROM users WHERE id IN (NULL, 1)
SELECT id FROM users WHERE id = NULL
SELECT id FROM users WHERE id IS NULL
SELECT id FROM users WHERE id <=> 1
SELECT id FROM users WHERE (id = 1 AND score > 0) OR id = 2
SELECT id FROM users WHERE id = 1 AND id = 2
SELECT id FROM users WHERE NOT id = 1 AND score > 990
SELECT id FROM users WHERE id IN (1, 2) AND id IN (2, 3)
SELECT id FROM users WHERE 1 = 1 AND id = 5
SELECT id FROM users WHERE id = 5 OR 1 = 1
SELECT id FROM users WHERE id = 99999999999999999999
SELECT id FROM users WHERE id = -9223372036854775808
SELECT user_id, amount FROM orders WHERE user_id = '17' AND id > 0

-- ===== Division inside aggregates (MariaDB keeps 9 extra decimals internally) =====
SELECT SUM(score / 7) FROM users
SELECT SUM(amount / 3), AVG(amount / 3) FROM orders
@ordered SELECT flag, SUM(balance / 7), AVG(score / 3) FROM users GROUP BY flag ORDER BY flag

-- ===== DOUBLE results printed by the merge =====
SELECT SUM(ratio), AVG(ratio), MIN(ratio), MAX(ratio) FROM users WHERE ratio = 3
SELECT SUM(ratio), AVG(ratio) FROM users WHERE ratio = 1e20
SELECT SUM(ratio), AVG(ratio) FROM users WHERE ratio = 1.5e-7
SELECT SUM(ratio), AVG(ratio) FROM users WHERE ratio = 0.1
SELECT SUM(ratio), AVG(ratio) FROM users WHERE ratio = -2.5 OR ratio = 0
@ordered SELECT flag, SUM(ratio), MIN(ratio), MAX(ratio) FROM users WHERE ratio IN (3, 0.1, -2.5) GROUP BY flag ORDER BY flag

-- ===== ORDER BY expressions =====
@ordered SELECT id, tag FROM users ORDER BY tag + 0, id
@ordered SELECT id, name FROM users ORDER BY LOWER(name), id
@ordered SELECT id, CONCAT(tag, '-', name) AS tn FROM users ORDER BY tn, id LIMIT 50
@ordered SELECT id, ratio FROM users ORDER BY ratio * -1, id
@ordered SELECT id, created_at FROM users ORDER BY DATE(created_at) DESC, id LIMIT 30
@ordered SELECT id, balance FROM users ORDER BY balance + 0.0000001, id LIMIT 30
@ordered SELECT id, name FROM users ORDER BY CHAR_LENGTH(name) DESC, name, id LIMIT 30

-- ===== HAVING with collations and more group shapes =====
@ordered @ci=1 SELECT flag, MAX(tag) FROM users GROUP BY flag HAVING MAX(tag) = 'ZETA' ORDER BY flag
@ordered @pad=1 SELECT flag, MAX(tag_bin) FROM users GROUP BY flag HAVING MAX(tag_bin) = 'zeta  ' ORDER BY flag
@ordered @ci=0 SELECT tag, COUNT(*) FROM users GROUP BY tag HAVING tag = 'ALPHA' OR tag = 'beta' ORDER BY tag
@ordered @ci=0 SELECT tag, COUNT(*) FROM users GROUP BY tag HAVING tag > 'b' ORDER BY tag
@ordered @ci=0 SELECT tag, flag, COUNT(*) FROM users GROUP BY tag, flag ORDER BY tag, flag
@ordered SELECT ratio, COUNT(*) FROM users GROUP BY ratio HAVING COUNT(*) > 1 ORDER BY ratio
@ordered SELECT created_at, COUNT(*) FROM orders GROUP BY created_at HAVING COUNT(*) > 1 ORDER BY created_at
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag HAVING MIN(created_at) < '2019-01-02' ORDER BY flag
@ordered @ci=0 SELECT DISTINCT tag FROM users ORDER BY tag DESC LIMIT 3
@ordered @ci=0 SELECT DISTINCT name FROM users ORDER BY name LIMIT 10

-- ===== Sessions: transactions and session variables around scatter reads =====
@script BEGIN; UPDATE users SET score = 12345 WHERE id = 1; SELECT COUNT(*) FROM users WHERE score = 12345; ROLLBACK
@script BEGIN; SELECT COUNT(*) FROM users; UPDATE users SET score = 777 WHERE id = 2; SELECT id FROM users WHERE score = 777; ROLLBACK
@script BEGIN; INSERT INTO users (id, email) VALUES (5000100, 'tx@x.test'); SELECT id, email FROM users WHERE email = 'tx@x.test'; ROLLBACK
@script SET autocommit = 0; UPDATE users SET score = 4242 WHERE id = 3; SELECT SUM(score) FROM users; ROLLBACK; SET autocommit = 1
@script BEGIN; SELECT id, score FROM users WHERE score > 990; SELECT COUNT(*) FROM orders; COMMIT
@script SET SESSION div_precision_increment = 8; SELECT AVG(score), AVG(amount) FROM users, orders WHERE users.id = orders.user_id AND users.id = 9 AND orders.user_id = 9; SELECT AVG(score) FROM users; SELECT flag, AVG(balance) FROM users GROUP BY flag; SET SESSION div_precision_increment = 4
@script SET SESSION sql_select_limit = 5; @ordered SELECT id FROM users ORDER BY id; SELECT COUNT(*) FROM users; @ordered SELECT flag, COUNT(*) FROM users GROUP BY flag ORDER BY flag; SET SESSION sql_select_limit = DEFAULT
@script SELECT 1 / 0; SET SESSION sql_select_limit = 0; SHOW COUNT(*) WARNINGS; SHOW COUNT(*) ERRORS; SHOW WARNINGS; SET SESSION sql_select_limit = 1; SHOW COUNT(*) WARNINGS; SET SESSION sql_select_limit = DEFAULT
@script SET @lo = 990; @ordered SELECT id, score FROM users WHERE score > @lo ORDER BY score, id; SELECT COUNT(*) FROM users WHERE score > @lo
@script SET NAMES utf8mb4 COLLATE utf8mb4_bin; SELECT id FROM users WHERE tag = 'Alpha'; @ordered SELECT id, tag FROM users WHERE tag LIKE 'a%' ORDER BY tag, id; SET NAMES utf8mb4
@script SET SESSION sql_mode = 'ANSI_QUOTES'; @ordered SELECT "id", "score" FROM users WHERE "score" > 995 ORDER BY "score", "id"; SET SESSION sql_mode = DEFAULT
-- HIGH_NOT_PRECEDENCE: a prefix NOT whose operand is followed by AND / OR / the clause's end means the same at either precedence, so the statement merges across shards.
@script SET SESSION sql_mode = CONCAT(@@sql_mode, ',HIGH_NOT_PRECEDENCE'); @ordered SELECT id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id) ORDER BY id LIMIT 20; SELECT COUNT(*) FROM users WHERE NOT (score > 500) AND tag = 'alpha'; @ordered SELECT id, NOT flag AS nf FROM users WHERE id > 2990 ORDER BY id; SET SESSION sql_mode = DEFAULT
@script SELECT SQL_CALC_FOUND_ROWS id FROM users WHERE score > 900 ORDER BY id LIMIT 3; SELECT FOUND_ROWS()
@script SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci; @ordered SELECT id, name FROM users ORDER BY name, id; @ordered SELECT id, tag FROM users WHERE tag IS NOT NULL ORDER BY tag DESC, id LIMIT 40; SET NAMES utf8mb4

-- ===== A utf8mb4_unicode_ci column (`nick`) in a utf8mb4_general_ci session =====
@ordered SELECT id, nick FROM users ORDER BY nick, id
@ordered SELECT id, nick FROM users WHERE nick IS NOT NULL ORDER BY nick DESC, id LIMIT 25
@ordered SELECT id, nick FROM users WHERE nick IN ('ss', 'ß', 'o', 'ø') ORDER BY nick, id
SELECT id, nick FROM users WHERE nick = 'ss'
SELECT COUNT(*), COUNT(nick) FROM users WHERE nick = 'strasse'
@ordered @ci=0 SELECT nick, COUNT(*) FROM users WHERE nick IN ('a', '_x', 'z') GROUP BY nick ORDER BY nick
@ordered SELECT COUNT(*), MIN(id), MAX(id) FROM users GROUP BY nick ORDER BY nick
@ordered SELECT COUNT(*), MIN(id) FROM users WHERE nick IS NOT NULL GROUP BY nick ORDER BY nick DESC LIMIT 5
SELECT COUNT(DISTINCT nick), COUNT(nick) FROM users
@ordered SELECT flag, COUNT(DISTINCT nick) FROM users GROUP BY flag ORDER BY flag
SELECT MIN(nick), MAX(nick) FROM users
@ordered SELECT flag, MIN(nick), MAX(nick) FROM users WHERE flag IS NOT NULL GROUP BY flag ORDER BY flag
@count SELECT DISTINCT nick FROM users
@ordered SELECT COUNT(*) FROM users GROUP BY nick HAVING COUNT(*) > 100 ORDER BY nick
@count SELECT nick FROM users WHERE id < 100 UNION SELECT nick FROM users WHERE id > 2000
@ordered SELECT id, nick FROM users WHERE id < 50 AND nick IS NOT NULL UNION ALL SELECT id, nick FROM users WHERE id > 2990 ORDER BY 2, 1
@count SELECT nick FROM users WHERE id < 500 INTERSECT SELECT nick FROM users WHERE id > 2500
@ordered SELECT id, nick, ROW_NUMBER() OVER (ORDER BY nick, id) FROM users WHERE score > 950

-- ===== Types the merge compares: unsigned, TIME, numbers as strings, long strings =====
@ordered SELECT id, CAST(id AS UNSIGNED) AS u FROM users ORDER BY u, id LIMIT 20
@ordered SELECT id, CAST(id AS UNSIGNED) AS u FROM users ORDER BY u DESC, id LIMIT 20
SELECT MAX(CAST(id AS UNSIGNED)), MIN(CAST(id AS UNSIGNED)), SUM(CAST(id AS UNSIGNED)) FROM users
@ordered SELECT id, TIMEDIFF(created_at, '2022-01-01 00:00:00') AS td FROM users WHERE score > 950 ORDER BY td, id
@ordered SELECT id, TIMEDIFF(created_at, '2022-01-01 00:00:00') AS td FROM users WHERE score < -950 ORDER BY td DESC, id
SELECT MIN(TIMEDIFF(created_at, '2022-01-01 00:00:00')), MAX(TIMEDIFF(created_at, '2022-01-01 00:00:00')) FROM users WHERE score > 900
@ordered SELECT id, CAST(score AS CHAR) AS s FROM users WHERE score BETWEEN -20 AND 20 ORDER BY s, id
@ordered SELECT id, CAST(balance AS CHAR) AS b FROM users WHERE score > 980 ORDER BY b DESC, id
@ordered SELECT id, created_at + INTERVAL 500000 MICROSECOND AS t FROM users WHERE score > 980 ORDER BY t, id
@ordered SELECT id, name FROM users WHERE score > 900 ORDER BY CONCAT(REPEAT('a', 1100), name), id
-- Grouped and DISTINCT long strings equal in their first 1,024 bytes: whole values apart.
@ci=0 SELECT CONCAT(REPEAT('a', 1100), tag) g, COUNT(*) FROM users GROUP BY g
@ci=0 SELECT CONCAT(REPEAT('a', 1100), tag), COUNT(*), SUM(score) FROM users GROUP BY CONCAT(REPEAT('a', 1100), tag) ORDER BY NULL
SELECT COUNT(*) FROM (SELECT DISTINCT CONCAT(REPEAT('a', 1100), tag) FROM users) d
@ci=0 SELECT DISTINCT CONCAT(REPEAT('b', 1030), tag) FROM users WHERE id < 500
SELECT COUNT(DISTINCT CONCAT(REPEAT('a', 1100), tag)), COUNT(DISTINCT CONCAT(REPEAT('a', 1100), name)) FROM users
SELECT COUNT(*) FROM users WHERE id IN (NULL)
SELECT COUNT(*), MAX(score) FROM users WHERE id = NULL
@script SET NAMES latin1; @ordered SELECT id, name FROM users WHERE name IS NOT NULL ORDER BY name, id; SET NAMES utf8mb4

-- ===== A latin1_swedish_ci column across shards (`made_orders`, sharded by id): Å, Ä, Ö after Z, Ü = Y, é = E =====
@script CREATE TABLE made_orders (PRIMARY KEY (id)) SELECT id, CONVERT(name USING latin1) AS v, CONVERT(tag USING latin1) AS t FROM users; @ordered SELECT id, v FROM made_orders ORDER BY v, id LIMIT 300; @ordered SELECT id, v FROM made_orders WHERE v > 'Y' ORDER BY v DESC, id; @ordered SELECT id, t FROM made_orders ORDER BY t, id DESC LIMIT 100 OFFSET 50; @ci=0 SELECT v, COUNT(*) FROM made_orders GROUP BY v; @ci=0 SELECT DISTINCT t FROM made_orders; SELECT COUNT(DISTINCT v), COUNT(DISTINCT t) FROM made_orders; @ci=0,1 SELECT MIN(v), MAX(v) FROM made_orders; @ci=1 @keys=0 SELECT COUNT(*), v FROM made_orders GROUP BY v ORDER BY COUNT(*), v; @ordered SELECT id, v FROM made_orders WHERE id < 300 UNION SELECT id, t FROM made_orders WHERE id > 2900 ORDER BY 2, 1; SET NAMES binary; @ordered SELECT id, v FROM made_orders ORDER BY v, id LIMIT 50; SET NAMES utf8mb4; DROP TABLE made_orders

-- ===== Prepared statements (binary protocol): the seeds' lookups by a non-key column =====
@params='User17@mail.test' SELECT * FROM users WHERE email = ?
@params='user100@Example.COM' SELECT id, name FROM users WHERE email = ?
@params=17 SELECT * FROM users WHERE id = ?
@params=17 SELECT id, amount FROM orders WHERE user_id = ? ORDER BY id
@params=900 SELECT id, score FROM users WHERE score > ?
@params=gamma SELECT COUNT(*) FROM users WHERE tag = ?
@params=1|2 SELECT id FROM users WHERE id IN (?, ?)

-- ===== Row comparisons naming the shard key: (user_id, status) = (17, 'paid') pins, IN of rows narrows =====
@ordered SELECT id, user_id, status FROM orders WHERE (user_id, status) IN ((17, 'paid'), (42, 'new'), (-8, 'x'), (3, 'Paid')) ORDER BY id
@ordered SELECT id, amount FROM orders WHERE (user_id, qty) = (17, 3) ORDER BY id
@ordered SELECT id, amount FROM orders WHERE ('paid', 17) = (status, user_id) ORDER BY id
SELECT COUNT(*), SUM(amount) FROM orders WHERE (user_id, status) NOT IN ((17, 'paid'), (42, 'new'))
@params=17|paid SELECT COUNT(*) FROM orders WHERE (user_id, status) = (?, ?)
@ordered @params=17|paid|42|new SELECT id FROM orders WHERE (user_id, status) IN ((?, ?), (?, ?)) ORDER BY id
@dml=orders UPDATE orders SET qty = qty + 1 WHERE (user_id, status) IN ((17, 'paid'), (3, 'new'))
@dml=orders DELETE FROM orders WHERE (user_id, qty) = (42, 1)

-- ===== IN lists and ORs cut per shard: each shard gets only the key values it owns =====
@ordered SELECT id, name, score FROM users WHERE id IN (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, -8, 1000000000013) ORDER BY score DESC, id LIMIT 7
@ordered SELECT id FROM users WHERE id IN (30, 31, 32, 33, 34, 35, 36, 37, 38) AND score IS NOT NULL ORDER BY id LIMIT 2, 3
SELECT COUNT(*), SUM(score), MIN(name), MAX(created_at), AVG(balance) FROM users WHERE id IN (41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51)
@ordered SELECT flag, COUNT(*), AVG(score), MIN(id) FROM users WHERE id IN (51, 52, 53, 54, 55, 56, 57, 58, 59, 61, 62, 63, 64, 65, 66, 67, 69, 70) GROUP BY flag HAVING COUNT(*) >= 1 ORDER BY flag
@ordered SELECT DISTINCT flag FROM users WHERE id IN (71, 72, 73, 74, 75, 76, 77, 78, 79) ORDER BY flag
@ordered SELECT id, email FROM users WHERE (id = 1 OR id = 2 OR id = 3 OR id = 4 OR id = 5) AND email IS NOT NULL ORDER BY id
SELECT COUNT(*), SUM(score) FROM users WHERE id = 5 OR id = 6 OR id = 7 OR (id = 9 AND score > 0)
@ordered SELECT user_id, COUNT(*), SUM(amount), MAX(amount) FROM orders WHERE user_id IN (1, 2, 3, 4, 5, 6, 7, 9, 5000000) GROUP BY user_id ORDER BY user_id
@ordered SELECT id FROM users WHERE id IN (1, '2', ' 3 ', 4, 5.0) ORDER BY id
@ordered SELECT id, name FROM users WHERE id IN (81, 82, 83, 84, 85, 86) AND (name LIKE '%a%' OR name IS NULL) ORDER BY id
SELECT id FROM users WHERE id IN (1, 2, 3, 1, 2, 3)
@ordered SELECT id FROM users WHERE id IN (1, 2, 3) AND id IN (2, 3, 4, 5) ORDER BY id
@ordered SELECT id, score FROM users WHERE id = 91 OR id = 92 OR id IN (93, 94) OR id = -28 ORDER BY score, id
SELECT COUNT(*) FROM orders WHERE user_id IN (1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12) AND amount > 100
@ordered SELECT id, name FROM users WHERE id IN (95, 96, 97, 98) /* comment */ AND name <> 'It''s' ORDER BY id

-- ===== Co-located joins scattered: tables sharded by one sharder joined on their keys =====
@ordered SELECT u.id, u.name, o.id, o.amount FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.amount DESC, o.id LIMIT 15
@ordered SELECT u.id, o.id FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.id LIMIT 10, 10
@ordered SELECT u.id, COUNT(*), SUM(o.amount), MIN(o.amount), MAX(o.amount), AVG(o.amount) FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY u.id LIMIT 40
@ordered @ci=0 SELECT o.status, COUNT(*), AVG(o.amount) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.score > 500 GROUP BY o.status ORDER BY o.status
@ordered SELECT u.flag, SUM(o.qty) AS q FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.flag HAVING q > 100 ORDER BY q DESC, u.flag
@ordered SELECT u.flag, COUNT(*) AS n FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.flag ORDER BY n DESC, u.flag
@ci=0 SELECT DISTINCT o.status FROM users u JOIN orders o ON o.user_id = u.id
@ordered SELECT DISTINCT u.flag FROM users u JOIN orders o ON o.user_id = u.id WHERE o.amount > 9000 ORDER BY u.flag
@ordered SELECT u.id, o.id FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id IN (1, 2, 3, 4, 5, 6, 7, 9) ORDER BY o.id
@ordered SELECT u.id, o.id FROM users u JOIN orders o ON u.id = o.user_id WHERE o.user_id = 11 OR o.user_id = 12 OR o.user_id = 13 ORDER BY o.id
SELECT COUNT(*), COUNT(o.id), SUM(o.amount) FROM users u LEFT JOIN orders o ON o.user_id = u.id
@ordered SELECT u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE o.id IS NULL ORDER BY u.id LIMIT 20
SELECT COUNT(*) FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL
@ordered SELECT o.id, u.email FROM users u RIGHT JOIN orders o ON u.id = o.user_id ORDER BY o.id LIMIT 30
@ordered SELECT u.id, u.name, o.id FROM users u JOIN orders o ON o.user_id = u.id WHERE u.name IS NOT NULL ORDER BY u.name, o.id LIMIT 25
@ordered SELECT u.id, o.id FROM users u, orders o WHERE o.user_id = u.id AND o.amount < 10 ORDER BY u.id, o.id
@ordered SELECT a.id, b.id FROM users a JOIN users b ON b.id = a.id WHERE a.score > 990 ORDER BY a.id
SELECT u.id, o.id FROM users u JOIN orders o ON o.user_id = u.id WHERE o.qty > 9
@ordered SELECT f.label, COUNT(*), SUM(u.score) FROM users u JOIN flags f ON f.flag = u.flag GROUP BY f.label ORDER BY f.label
@ordered SELECT u.id, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.id < 40 ORDER BY u.id
@ordered SELECT f.label, COUNT(o.id), SUM(o.amount) FROM users u JOIN orders o ON o.user_id = u.id JOIN flags f ON f.flag = u.flag GROUP BY f.label ORDER BY f.label
SELECT DISTINCT f.label FROM flags f JOIN users u ON u.flag = f.flag
SELECT f.label, u.id FROM flags f LEFT JOIN users u ON u.flag = f.flag AND u.score > 995
-- Outer joins whose inner columns a shard's constant table declares NOT NULL (the one row a
-- unique key finds, or one value of an IN list cut per shard): described as one server does.
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.id IN (1, 2)
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.id = 3 OR u.id = 4
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.id IN (5, 6, 7, 8, 9, 10, 11)
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'USER2@mail.test'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'u.x3@example.com'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'user4@Example.COM'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'User5@mail.test'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'USER6@example.com'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'u.x7@Example.COM'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'user8@mail.test'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'User9@example.com'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'USER10@Example.COM'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'u.x11@mail.test'
SELECT u.id, f.flag, f.label FROM users u LEFT JOIN flags f ON f.flag = u.flag WHERE u.email = 'nobody@example.com'
SELECT f.label, u.id FROM flags f RIGHT JOIN users u ON u.flag = f.flag WHERE u.email IN ('User17@mail.test', 'user100@Example.COM')
SELECT u.id, o.id FROM users u JOIN orders o ON o.id = u.id WHERE u.score > 990

-- ===== Select items and ORDER BY terms computing with aggregates (evaluated by the merge) =====
SELECT SUM(amount) / COUNT(*) FROM orders
SELECT 100.00 * SUM(CASE WHEN status = 'paid' THEN amount ELSE 0 END) / SUM(amount) AS paid_share FROM orders
@ordered SELECT status, SUM(amount) / COUNT(*) AS mean, MAX(amount) - MIN(amount) AS spread FROM orders GROUP BY status ORDER BY status
@ordered SELECT qty, SUM(amount) / SUM(qty) AS per_unit FROM orders GROUP BY qty ORDER BY per_unit DESC, qty
@ordered SELECT user_id, COUNT(*) * 2 + 1, SUM(qty) - COUNT(qty) FROM orders WHERE user_id < 100 GROUP BY user_id ORDER BY user_id
@ordered SELECT flag, AVG(score) * 3, AVG(balance) / 7 * 7, SUM(balance) / 3 * 3 FROM users GROUP BY flag ORDER BY flag
@ordered SELECT qty, COUNT(*) FROM orders GROUP BY qty HAVING SUM(amount) / COUNT(*) > 5000 ORDER BY qty
@ordered SELECT qty, SUM(amount) / COUNT(*) AS mean FROM orders GROUP BY qty HAVING mean > 5000 ORDER BY mean, qty
@ordered SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY SUM(amount) / COUNT(*) DESC, status
@ordered SELECT user_id, SUM(amount) / 3 * 3 = SUM(amount), AVG(amount) * 1000000000 FROM orders WHERE user_id BETWEEN 1 AND 60 GROUP BY user_id ORDER BY user_id
SELECT COUNT(*) / 7 / 7, -(SUM(qty) / 3) * 3, (AVG(qty) / 3) * (AVG(amount) / 7) FROM orders
@ordered SELECT flag, (MAX(score) - MIN(score)) / 2 AS half_range FROM users GROUP BY flag ORDER BY half_range DESC, flag LIMIT 3
@ordered SELECT flag, MAX(score) - MIN(score), COUNT(DISTINCT score) FROM users GROUP BY flag ORDER BY flag
SELECT COUNT(*) * 9223372036854775807 FROM orders
@params=3 SELECT SUM(qty) / ? FROM orders
SELECT ROUND(AVG(amount), 2), COALESCE(SUM(amount), 0), IFNULL(MAX(amount), -1), ABS(MIN(amount) - MAX(amount)), TRUNCATE(SUM(amount) / 7, 3), ROUND(SUM(amount), -2) FROM orders
@ordered SELECT status, ROUND(AVG(amount), 1), ROUND(SUM(amount) / COUNT(*), 6), COALESCE(SUM(qty), 0) FROM orders GROUP BY status ORDER BY status
SELECT COALESCE(SUM(amount), 0), IFNULL(AVG(amount), 0), ROUND(AVG(amount)) FROM orders WHERE amount < 0
@ordered SELECT flag, ROUND(AVG(balance), 3), TRUNCATE(AVG(balance), -1), COALESCE(MAX(balance), MIN(score), 0) FROM users GROUP BY flag ORDER BY flag
@ordered SELECT flag, ROUND(AVG(ratio), 2) FROM users GROUP BY flag ORDER BY flag
@ordered SELECT user_id, ROUND(SUM(amount) / 3 * 3, 1) FROM orders WHERE user_id BETWEEN 1 AND 40 GROUP BY user_id ORDER BY user_id
@ordered SELECT qty, COALESCE(SUM(amount), 0) AS s FROM orders GROUP BY qty ORDER BY s DESC, qty LIMIT 5
SELECT ROUND(COUNT(*) / 7, 2), ROUND(COUNT(*)) FROM orders
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag HAVING ROUND(AVG(balance), 1) > 0 ORDER BY flag
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag HAVING ROUND(AVG(ratio), 1) > 0 ORDER BY flag
@ordered SELECT qty, COUNT(*) FROM orders GROUP BY qty HAVING COALESCE(SUM(amount), 0) > 100000 ORDER BY qty
@params=2 @ordered SELECT flag, SUM(score) / ? FROM users GROUP BY flag ORDER BY flag

-- ===== A derived table whose rows partition over the shards: scattered like a table =====
SELECT COUNT(*), SUM(s) FROM (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) t
@ordered SELECT x, COUNT(*) FROM (SELECT o.qty * 2 AS x FROM orders o JOIN users u ON u.id = o.user_id WHERE u.flag = 1) d GROUP BY x ORDER BY x
SELECT COUNT(*) FROM (SELECT amount AS user_id FROM orders) d WHERE user_id = 5
SELECT COUNT(*) FROM (SELECT id AS user_id FROM users) d WHERE user_id IN (1, 2, 3, 4, 5, 6)
@ordered @ci=0 SELECT tag, COUNT(*) FROM (SELECT u.tag FROM users u) d GROUP BY tag ORDER BY tag
@ordered @pad=0 SELECT tag_bin, COUNT(*) FROM (SELECT tag_bin FROM users) d GROUP BY tag_bin ORDER BY tag_bin
@ordered @ci=0 SELECT t, COUNT(*) FROM (SELECT CONCAT(tag, '') AS t FROM users) d GROUP BY t ORDER BY t
@ordered SELECT c, COUNT(*) FROM (SELECT user_id, COUNT(*) FROM orders GROUP BY user_id) AS t (u, c) GROUP BY c ORDER BY c
SELECT COUNT(*) FROM (SELECT id FROM users ORDER BY id LIMIT 10) t
SELECT AVG(s), MAX(s) - MIN(s), SUM(s) / COUNT(*) FROM (SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id) t
SELECT COUNT(*) FROM (SELECT * FROM (SELECT id FROM users) a) b
SELECT COUNT(*) FROM (SELECT id FROM users) d WHERE id IN (SELECT user_id FROM orders)
@ordered SELECT * FROM (SELECT id, name FROM users WHERE flag = 1) d ORDER BY id LIMIT 5
SELECT COUNT(*) FROM (SELECT status, COUNT(*) c FROM orders GROUP BY status) t
SELECT COUNT(*) FROM (SELECT DISTINCT qty FROM orders) t
@ordered SELECT flag, SUM(balance), MAX(label) FROM (SELECT u.flag, u.balance, f.label FROM users u JOIN flags f ON f.flag = u.flag) d GROUP BY flag ORDER BY flag
@ordered SELECT n, COUNT(*) FROM (SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id HAVING COUNT(*) > 1) t GROUP BY n ORDER BY n
SELECT * FROM (SELECT id, email FROM users WHERE name LIKE 'User 1%') d
SELECT user_id FROM (SELECT user_id, MAX(amount) m FROM orders GROUP BY user_id) t WHERE m > 9990
@ordered @ci=0 SELECT status, qty, COUNT(*) FROM (SELECT o.status, o.qty FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND u.flag = 0)) d GROUP BY status, qty ORDER BY status, qty
@ordered SELECT DISTINCT n FROM (SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id) t ORDER BY n
@ordered SELECT user_id, s FROM (SELECT user_id, SUM(amount) AS s FROM orders GROUP BY user_id) t ORDER BY s DESC, user_id LIMIT 5
@ordered SELECT user_id, s FROM (SELECT user_id, SUM(amount) AS s FROM orders GROUP BY user_id) t WHERE s > 20000 ORDER BY user_id LIMIT 3, 4
@ordered SELECT n, COUNT(*) AS users FROM (SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id) t GROUP BY n HAVING COUNT(*) > 10 ORDER BY users DESC, n
SELECT MIN(d), MAX(d), COUNT(DISTINCT d) FROM (SELECT o.qty - u.flag AS d FROM orders o JOIN users u ON u.id = o.user_id) x
@ordered SELECT label, COUNT(*), SUM(amount) / COUNT(*) FROM (SELECT f.label, o.amount FROM orders o JOIN users u ON u.id = o.user_id JOIN flags f ON f.flag = u.flag) x GROUP BY label ORDER BY label
SELECT COUNT(*) FROM (SELECT u.id FROM users u WHERE u.id = 7) x
@ordered @params=2 SELECT n, COUNT(*) FROM (SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id) t WHERE n > ? GROUP BY n ORDER BY n
@ordered SELECT x.user_id, x.total FROM (SELECT user_id, SUM(qty) AS total FROM orders WHERE qty IS NOT NULL GROUP BY user_id) AS x WHERE x.user_id BETWEEN 10 AND 30 ORDER BY x.user_id
SELECT COUNT(*) FROM (SELECT o.user_id FROM orders o LEFT JOIN users u ON u.id = o.user_id WHERE u.id IS NULL) x

-- ===== Uncorrelated subqueries in a SELECT's WHERE / HAVING: run first, their answers written in =====
SELECT COUNT(*) FROM users WHERE id IN (SELECT qty FROM orders WHERE status = 'paid')
SELECT COUNT(*) FROM users WHERE id NOT IN (SELECT qty FROM orders WHERE qty IS NOT NULL)
SELECT COUNT(*) FROM users WHERE id NOT IN (SELECT qty FROM orders)
SELECT COUNT(*) FROM users WHERE flag IN (SELECT qty FROM orders WHERE amount > 9990)
@ordered SELECT id, name FROM users WHERE score > (SELECT AVG(qty) FROM orders) AND id < 100 ORDER BY id
SELECT COUNT(*) FROM users WHERE EXISTS (SELECT 1 FROM orders WHERE status = 'refunded')
SELECT COUNT(*) FROM users WHERE NOT EXISTS (SELECT 1 FROM orders WHERE qty > 1000000)
@ordered SELECT flag, COUNT(*) FROM users GROUP BY flag HAVING COUNT(*) > (SELECT COUNT(*) / 10 FROM orders WHERE status = 'paid') ORDER BY flag
SELECT COUNT(*) FROM users WHERE id IN (SELECT qty FROM orders WHERE qty < 0)
SELECT COUNT(*) FROM users WHERE NULL IN (SELECT qty FROM orders WHERE qty < 0) OR NULL NOT IN (SELECT qty FROM orders WHERE qty < 0)
SELECT COUNT(*) FROM users WHERE tag IN (SELECT status FROM orders)
SELECT COUNT(*) FROM users WHERE (SELECT MAX(qty) FROM orders) > 5 AND flag = 1
SELECT COUNT(*) FROM users WHERE id = (SELECT qty FROM orders)
SELECT COUNT(*) FROM users WHERE id IN (SELECT qty, user_id FROM orders)
@ordered SELECT u.id, u.flag FROM users u WHERE u.flag = (SELECT MIN(flag) FROM users WHERE score > 100) AND u.id BETWEEN 1 AND 200 ORDER BY u.id
SELECT COUNT(*) FROM orders WHERE user_id IN (SELECT score FROM users WHERE flag = 1) AND qty > (SELECT AVG(qty) FROM orders WHERE status = 'paid')

-- ===== Window functions partitioned by a shard key: each shard computes its own partitions =====
@ordered SELECT user_id, id, amount, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC, id) AS rn FROM orders WHERE user_id < 50 ORDER BY user_id, rn
@ordered SELECT user_id, id, SUM(amount) OVER (PARTITION BY user_id) AS total, RANK() OVER (PARTITION BY user_id ORDER BY qty) AS r, DENSE_RANK() OVER (PARTITION BY user_id ORDER BY qty) AS dr FROM orders WHERE user_id BETWEEN 100 AND 140 ORDER BY user_id, id
SELECT * FROM (SELECT o.*, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC, id) rn FROM orders o) t WHERE rn <= 2
@ordered SELECT * FROM (SELECT o.id, o.user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount DESC, id) rn FROM orders o) t WHERE rn = 1 ORDER BY id LIMIT 20
@ordered SELECT id, user_id, COUNT(*) OVER (PARTITION BY o.user_id) AS n FROM orders o WHERE id < 300 ORDER BY id
@ordered SELECT u.id, o.id, ROW_NUMBER() OVER (PARTITION BY u.id ORDER BY o.id) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id < 40 ORDER BY u.id, o.id
@ordered SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM orders WHERE id < 100 ORDER BY id
@ordered SELECT user_id, SUM(amount) OVER (PARTITION BY user_id), COUNT(*) FROM orders GROUP BY user_id ORDER BY user_id
@ordered SELECT user_id, LAG(amount) OVER (PARTITION BY user_id ORDER BY id) AS prev, id FROM orders WHERE user_id < 30 ORDER BY id
@ordered SELECT user_id, AVG(amount) OVER (PARTITION BY user_id ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS moving, id FROM orders WHERE user_id < 30 ORDER BY id
@ordered SELECT id, NTILE(2) OVER (PARTITION BY flag ORDER BY id) FROM users WHERE id < 60 ORDER BY id
@ordered SELECT u.id, o.id, ROW_NUMBER() OVER (PARTITION BY o.user_id ORDER BY u.id, o.id) AS rn FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.id < 100 ORDER BY u.id, o.id
SELECT COUNT(*), SUM(n) FROM (SELECT o.user_id, COUNT(*) AS n FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY o.user_id) d

-- ===== Window functions whose partitions span shards: the merge computes them =====
-- The shards send their rows sorted by the window's partition and order, each computing the
-- window over its own rows (the column's definition); the merge replaces the values by the
-- window's over all rows (ranks and running totals by peers). Two windows, frames, functions
-- inside expressions, doubles summed and collations the merge does not reproduce keep the copies.
@ordered SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn, RANK() OVER (ORDER BY id) AS r FROM users WHERE id < 300 ORDER BY id
@ordered SELECT id, flag, RANK() OVER (PARTITION BY flag ORDER BY score) AS r, DENSE_RANK() OVER (PARTITION BY flag ORDER BY score) AS d FROM users ORDER BY id
@ordered SELECT id, SUM(amount) OVER (PARTITION BY status ORDER BY id) AS s, COUNT(amount) OVER (PARTITION BY status ORDER BY id) AS c FROM orders WHERE id < 2000 ORDER BY id
@ordered SELECT id, SUM(amount) OVER (PARTITION BY qty ORDER BY amount) AS running FROM orders ORDER BY id
@ordered SELECT id, AVG(amount) OVER (PARTITION BY qty), MIN(amount) OVER (PARTITION BY qty), MAX(amount) OVER (PARTITION BY qty) FROM orders ORDER BY id
@ordered SELECT id, COUNT(*) OVER (), SUM(score) OVER (), COUNT(score) OVER () FROM users WHERE id < 100 ORDER BY id
@ordered @ci=1 SELECT id, MIN(name) OVER (PARTITION BY flag), MAX(created_at) OVER (PARTITION BY flag ORDER BY id) FROM users WHERE id < 500 ORDER BY id
@ordered SELECT id, RANK() OVER (ORDER BY score DESC) AS r FROM users ORDER BY r, id LIMIT 20
@ordered SELECT id, DENSE_RANK() OVER (ORDER BY flag) AS d FROM users ORDER BY d DESC, id LIMIT 10 OFFSET 5
@ordered SELECT id, ROW_NUMBER() OVER (ORDER BY id DESC) AS rn FROM orders WHERE qty > 5 ORDER BY rn LIMIT 15
@ordered SELECT o.id, u.flag, RANK() OVER (PARTITION BY u.flag ORDER BY o.amount) AS r FROM users u JOIN orders o ON o.user_id = u.id WHERE o.id < 1500 ORDER BY o.id
@ordered SELECT id, SUM(balance) OVER (PARTITION BY flag ORDER BY id) AS b FROM users WHERE id < 400 ORDER BY id
@ordered SELECT id, SUM(ratio) OVER (PARTITION BY flag) FROM users WHERE id < 100 ORDER BY id
@ordered SELECT id, AVG(score) OVER (ORDER BY id) AS a FROM users WHERE id < 200 ORDER BY id
@ordered @params=100 SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM users WHERE id < ? ORDER BY id
@ordered SELECT id, COUNT(tag) OVER (PARTITION BY tag) AS n FROM users WHERE id < 300 ORDER BY id
@ordered SELECT id, tag, RANK() OVER (ORDER BY tag) AS r FROM users WHERE id < 200 ORDER BY id
@ordered SELECT id, nick, RANK() OVER (ORDER BY nick) AS r FROM users WHERE id < 200 ORDER BY id
@ordered SELECT *, RANK() OVER (ORDER BY id) FROM orders WHERE id < 50 ORDER BY id
@ordered SELECT id, ROW_NUMBER() OVER (ORDER BY id) + 1 FROM users WHERE id < 30 ORDER BY id
@ordered SELECT id, ROW_NUMBER() OVER (ORDER BY id), RANK() OVER (ORDER BY score) FROM users WHERE id < 30 ORDER BY id
@ordered SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn FROM users WHERE flag = 1 ORDER BY rn DESC LIMIT 5
@ordered SELECT id, MAX(id) OVER (PARTITION BY flag ORDER BY score, id) AS m FROM users WHERE id BETWEEN 100 AND 300 ORDER BY id
SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM users WHERE 1 = 0
@ordered SELECT id, user_id, LAG(amount) OVER (PARTITION BY qty ORDER BY id) AS prev, LEAD(amount, 3) OVER (PARTITION BY qty ORDER BY id) AS nxt FROM orders WHERE id < 3000 ORDER BY id
@ordered SELECT id, NTILE(7) OVER (PARTITION BY flag ORDER BY id) AS b, ROW_NUMBER() OVER (PARTITION BY flag ORDER BY id) AS rn FROM users ORDER BY id
@ordered SELECT id, LAG(name, 0) OVER (ORDER BY id), LAG(tag, 2) OVER (ORDER BY id) FROM users WHERE id < 40 ORDER BY id
@ordered SELECT id, LEAD(created_at) OVER (PARTITION BY flag ORDER BY id) AS n FROM users WHERE id < 300 ORDER BY id
@ordered SELECT id, LAG(amount, 1, 0) OVER (ORDER BY id) FROM orders WHERE id < 30 ORDER BY id
@ordered SELECT id, NTILE(0) OVER (ORDER BY id) FROM users WHERE id < 30 ORDER BY id
@ordered SELECT id, NTILE(100) OVER (ORDER BY id DESC) AS b FROM users WHERE id < 30 ORDER BY b, id
@ordered SELECT id, FIRST_VALUE(name) OVER (PARTITION BY flag ORDER BY id) AS f, LAST_VALUE(id) OVER (PARTITION BY flag ORDER BY id) AS l, NTH_VALUE(id, 3) OVER (PARTITION BY flag ORDER BY id) AS n3 FROM users WHERE id < 500 ORDER BY id
@ordered SELECT id, PERCENT_RANK() OVER (PARTITION BY flag ORDER BY score) AS p, CUME_DIST() OVER (PARTITION BY flag ORDER BY score) AS c FROM users WHERE id < 400 ORDER BY id
@ordered SELECT id, LAST_VALUE(amount) OVER (PARTITION BY qty) AS l, PERCENT_RANK() OVER (PARTITION BY qty) AS p FROM orders WHERE id < 40 AND qty = 3 ORDER BY id
@ordered SELECT id, NTH_VALUE(tag, 1) OVER (ORDER BY id) AS t1, CUME_DIST() OVER (ORDER BY id) AS c FROM users WHERE id < 60 ORDER BY id
@ordered SELECT id, SUM(balance) OVER (PARTITION BY flag ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s3 FROM users WHERE id < 400 ORDER BY id
@ordered SELECT id, AVG(score) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND 3 FOLLOWING) AS a7, COUNT(tag) OVER (ORDER BY id ROWS BETWEEN 1 FOLLOWING AND 4 FOLLOWING) AS c FROM users WHERE id < 300 ORDER BY id
@ordered SELECT id, amount, SUM(amount) OVER (PARTITION BY qty ORDER BY id ROWS UNBOUNDED PRECEDING) AS running, MIN(amount) OVER (PARTITION BY qty ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS low FROM orders WHERE id < 2000 ORDER BY id
@ordered SELECT id, MAX(score) OVER (PARTITION BY flag ORDER BY id ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING) AS prev_max, COUNT(*) OVER (PARTITION BY flag ORDER BY id ROWS 2 PRECEDING) AS n FROM users WHERE id < 500 ORDER BY id
@ordered SELECT id, SUM(balance) OVER (PARTITION BY flag RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS whole, SUM(balance) OVER (PARTITION BY flag ORDER BY id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto FROM users WHERE id < 200 ORDER BY id
@ordered SELECT id, COUNT(*) OVER (ORDER BY id ROWS BETWEEN 2 FOLLOWING AND 1 FOLLOWING) AS empty, SUM(amount) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 2 PRECEDING) AS before2 FROM orders WHERE id < 60 ORDER BY id

-- ===== User variables from rows across shards: SELECT … INTO, SET @v = (SELECT …) =====
@script SELECT COUNT(*), MAX(score), SUM(balance) INTO @n, @m, @b FROM users WHERE score > 900; SELECT @n, @m, @b, @n + 1, @b / 3
@script SELECT COUNT(*) FROM users WHERE score > 950 INTO @late; SELECT @late, @late * 2
@script SELECT email, created_at INTO @e, @c FROM users WHERE score > 990 ORDER BY score DESC, id LIMIT 1; SELECT @e, COLLATION(@e), @c, COLLATION(@c)
@script SELECT nick INTO @k FROM users WHERE nick IS NOT NULL ORDER BY nick, id LIMIT 1; SELECT @k, COLLATION(@k), @k = 'A'
@script SELECT ratio INTO @r FROM users WHERE ratio IS NOT NULL ORDER BY ratio, id LIMIT 1; SELECT @r, @r * 3
@script SET @x = 5; SELECT id INTO @x FROM users WHERE score > 100000; SHOW WARNINGS; SELECT @x, ROW_COUNT(), FOUND_ROWS()
-- An assignment reading no row across shards: a new variable exists (NULL, latin1), an old one keeps its value.
@script SET @kept = 5; SELECT @nr := id, @kept := id FROM users WHERE score > 100000; SELECT @nr, COLLATION(@nr), @kept; SET SESSION sql_select_limit = 0; SELECT @nc := COUNT(*) FROM users WHERE score > 10; SET SESSION sql_select_limit = DEFAULT; SELECT @nc, COLLATION(@nc)
@script SELECT id INTO @x FROM users WHERE score > 990
@script SELECT id, email INTO @x FROM users WHERE score > 990 LIMIT 1
@script SELECT id INTO @one FROM users WHERE score > 990 ORDER BY id LIMIT 1; SELECT @one, ROW_COUNT(), FOUND_ROWS()
@script SET @c = 7; SET SESSION sql_select_limit = 0; SELECT COUNT(*) INTO @c FROM users WHERE score > 5; SHOW WARNINGS; SET SESSION sql_select_limit = DEFAULT; SELECT @c
@script SET SESSION sql_select_limit = 0; SELECT COUNT(*) FROM users WHERE score > 5 LIMIT 1 INTO @c; SET SESSION sql_select_limit = DEFAULT; SELECT @c
@script SET @s = (SELECT SUM(balance) FROM users WHERE score > 950); SELECT @s, @s / 3
@script SELECT @m := MAX(score), @n := COUNT(*) AS n, MIN(id) FROM users; SELECT @m, @n, @m + 1
@script SELECT @b := SUM(balance), @a := AVG(ratio), @r := MAX(ratio) FROM users WHERE score > 500; SELECT @b, @a, @r, @b / 3
@script SELECT @t := MAX(created_at), @e := MIN(email), @g := MAX(tag_bin) FROM users; SELECT @t, COLLATION(@t), @e, COLLATION(@e), @g, COLLATION(@g)
@script SELECT @k := nick, id FROM users WHERE email = 'USER42@example.com'; SELECT @k, COLLATION(@k)
@script SELECT @u := user_id, @q := qty, amount FROM orders WHERE id = 4242; SELECT @u, @q
@script SET @z = 3; SELECT @z := MAX(score) FROM users WHERE score > 100000; SELECT @z
@script SET @z = 3, @w = 4; SELECT @z := id, @w := name FROM users WHERE score > 100000; SELECT @z, @w, FOUND_ROWS()
@script SELECT @s := status, COUNT(*) FROM orders WHERE status = 'paid' GROUP BY status; SELECT @s, COLLATION(@s)
@script SELECT @c := COUNT(DISTINCT user_id), @l := GROUP_CONCAT(DISTINCT status ORDER BY status) FROM orders; SELECT @c, @l
@script SELECT @f := flag, COUNT(*) FROM users WHERE flag = 1 GROUP BY flag; SELECT @f, @f + 1
@script SELECT @x := 7 AS seven, id FROM users WHERE score > 995 ORDER BY id; SELECT @x
@script SELECT @d := DATE(MAX(created_at)), @h := HEX(MIN(id)) FROM orders WHERE amount > 500; SELECT @d, @h
@script SELECT @one := id, email FROM users WHERE email LIKE 'User17@%' LIMIT 1; SELECT @one
-- Ordered by the whole primary key of its one table, MariaDB evaluates the rows in the answer's order: the last row assigns last, and a running count is numbered by the proxy.
@script SET @r = 0; @ordered SELECT @r := @r + 1 AS n, id, name FROM users WHERE score > 900 ORDER BY id; SELECT @r
@script SET @r = 100; @ordered SELECT @r := @r - 2 AS n, id, @last := email FROM users WHERE score > 950 ORDER BY score DESC, id LIMIT 5; SELECT @r, @last, COLLATION(@last)
@script SET @r = NULL; @ordered SELECT @r := @r + 1, id FROM orders WHERE amount > 900 ORDER BY id; SELECT @r, @r + 1
@script @ordered SELECT @fresh := @fresh + 1, id FROM users WHERE score > 990 ORDER BY users.id; SELECT @fresh
@script SET @r = 5; SELECT @r := @r + 1, id FROM users WHERE score > 100000 ORDER BY id; SELECT @r
@script SET @r = CAST(NULL AS SIGNED); @ordered SELECT @r := @r + 1 AS n, id FROM users WHERE score > 990 ORDER BY id DESC; SELECT @r, @r + 1
@script @ordered SELECT @y := name, id, @z := score FROM users WHERE score > 900 ORDER BY id DESC; SELECT @y, COLLATION(@y), @z
@script SET @k = 10; @ordered SELECT @k := @k + 10, o.id, @u := o.user_id FROM orders o WHERE o.amount > 800 ORDER BY o.qty, o.id LIMIT 7; SELECT @k, @u
@ordered SELECT flag, COUNT(*), SUM(score) FROM users GROUP BY flag DESC WITH ROLLUP
@ordered @ci=1 SELECT flag, status, COUNT(*) FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id < 400 GROUP BY flag DESC, status ASC WITH ROLLUP
@ordered SELECT flag, COUNT(*) FROM users WHERE id = 42 GROUP BY flag DESC WITH ROLLUP
SELECT id, balance FROM users WHERE balance > (SELECT AVG(balance) FROM users WHERE score > 900) AND score > 990
SELECT id FROM users WHERE ratio < (SELECT STD(ratio) FROM users WHERE score > 900) AND score > 980
@script SELECT u.name, o.amount INTO @jn, @ja FROM users u JOIN orders o ON o.id = u.score WHERE u.email = 'USER42@example.com'; SELECT @jn, @ja
@script SELECT @j := MAX(o.amount), @k := COUNT(*) FROM users u JOIN orders o ON o.qty = u.flag WHERE u.score > 900; SELECT @j, @k
@script SELECT @jj := u.id, o.id FROM users u JOIN orders o ON o.qty = u.flag WHERE u.email = 'USER42@example.com' AND o.id < 50; SELECT @jj
@script SELECT DATE(MAX(created_at)), HEX(MIN(id)) INTO @d2, @h2 FROM orders WHERE amount > 500; SELECT @d2, @h2
@script SET @sq = (SELECT CONCAT(MIN(status), '-', MAX(qty)) FROM orders WHERE amount > 100); SELECT @sq
@script SELECT @w := MAX(n) FROM (SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id) AS per_user; SELECT @w
@script SET @a = 1, @b = (SELECT MIN(id) FROM orders WHERE amount > 900); SELECT @a, @b
@script SET @none = (SELECT id FROM users WHERE score > 100000 LIMIT 1); SELECT @none, @none IS NULL
@script SET @d = (SELECT MAX(amount) FROM orders WHERE amount < 0); SELECT @d
@script SET @t = (SELECT MAX(created_at) FROM users); SELECT @t, COLLATION(@t)
@script SET @g = (SELECT tag FROM users WHERE tag IS NOT NULL ORDER BY tag, id LIMIT 1); SELECT @g, COLLATION(@g)
@script SET @two = (SELECT id FROM users WHERE score > 990)
@script BEGIN; UPDATE users SET score = 5 WHERE id = 3; SELECT COUNT(*) INTO @c FROM users WHERE score > 990; SELECT @c, score FROM users WHERE id = 3; SELECT @c, COUNT(*) FROM orders WHERE user_id = 4; ROLLBACK

-- ===== Not supported yet (expected 1235, counted apart) =====
SELECT id FROM users UNION SELECT user_id FROM orders
SELECT id FROM users WHERE score = (SELECT MAX(score) FROM users)
SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM users WHERE id < 10
SELECT * FROM users WHERE id IN (SELECT user_id FROM orders WHERE amount > 9990)

-- ===== Errors: both sides must answer with the same code =====
-- A syntax error only MariaDB finds in a statement the proxy rewrites for the shards quotes the client's text.
@ordered SELECT id, amount - LAG(amount, 1, 0) OVER (PARTITION BY user_id ORDER BY id) d FROM orders WHERE user_id < 4 ORDER BY id
SELECT COUNT(*) c, MAX(id) FROM users GROUP BY flag HAVING c > 1 ORDER BY c LIMIT 2 3
SELECT nosuch FROM users
SELECT id FROM users WHERE nosuch = 1
SELECT id FROM users ORDER BY nosuch
SELECT * FROM users GROUP BY nosuch
SELECT SUM(nosuch) FROM users
SELECT COUNT(*) FROM users HAVING nosuch > 1
SELECT id FROM users u JOIN orders o ON o.user_id = u.id
SELECT id FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = 1 AND o.user_id = 1
SELECT * FROM users WHERE
SELECT * FROM users ORDER BY
SELECT * FROM users LIMIT -1
SELECT * FROM no_such_table
SELECT id FROM users WHERE id = 1 AND nosuch = 2

-- ===== Writes: multi-row INSERT split by shard, UPDATE/DELETE without a key =====
@dml=users INSERT INTO users (id, email, name, created_at, score, balance, ratio, tag, tag_bin, flag) VALUES (5000001, 'new1@x.test', 'New One', '2025-01-01 00:00:00', 1, 1.5, 0.25, 'alpha', 'Alpha', 1), (5000002, 'new2@x.test', 'new two', NULL, NULL, NULL, NULL, NULL, NULL, NULL), (5000003, NULL, 'It''s three', '2025-01-03 03:03:03', -3, -3.333333, -3e-3, 'Beta  ', 'beta', 0), (5000004, 'new4@x.test', 'Back\\slash four', '2025-01-04 00:00:00', 4, 4, 4, 'gamma', 'gamma ', 4), (5000005, 'new5@x.test', 'Five', '2025-01-05 00:00:00', 5, 5.000005, 5.5, '', '', 5), (5000006, 'new6@x.test', 'Six', '2025-01-06 00:00:00', 6, 6, 6, 'zeta', 'Zeta', 6), (5000007, 'new7@x.test', 'Seven', '2025-01-07 00:00:00', 7, 7, 7, 'a', 'A', 7), (5000008, 'new8@x.test', 'Eight', '2025-01-08 00:00:00', 8, 8, 8, 'b', 'B', 8)
@dml=orders INSERT INTO orders (id, user_id, amount, status, qty) VALUES (7001, 5000001, 10.00, 'new', 1), (7002, 1, 20.00, 'new', 2), (7003, -8, 30.00, 'paid', 3), (7004, 1000000000013, NULL, NULL, NULL), (7005, 42, 0.01, 'NEW', 0), (7006, 5000008, -1.00, 'refunded', 1)
@dml=users INSERT INTO users (id, email) VALUES (5000010, 'dup-a@x.test'), (5000011, 'dup-b@x.test'), (17, 'dup@x.test')
@dml=users INSERT IGNORE INTO users (id, email, name) VALUES (17, 'ignored@x.test', 'dup'), (5000020, 'ig20@x.test', 'Twenty'), (5000021, 'ig21@x.test', 'Twenty-one'), (-8, NULL, 'dup')
@dml=users REPLACE INTO users (id, email, name, score) VALUES (5000020, 'ig20@x.test', 'Twenty (replaced)', 20), (5000022, 'r22@x.test', 'Twenty-two', 22), (9, 'r9@x.test', 'Nine replaced', 9)
@dml=users INSERT INTO users (id, email, name) VALUES (5000021, 'ig21@x.test', 'x'), (5000023, 'o23@x.test', 'y'), (10, NULL, 'z') ON DUPLICATE KEY UPDATE name = CONCAT('dup-', VALUES(name))
-- Keys computed from constants: computed first through the proxy, written in, routed.
@dml=users INSERT INTO users (id, email, name) VALUES (5000000 + 31, 'k31@x.test', 'thirty-one'), (CAST('5000032' AS SIGNED), 'k32@x.test', 'x'), (5000033, 'k33@x.test', 'y')
@dml=orders INSERT INTO orders (id, user_id, amount) VALUES (7101, 1000 * 5 + 1, 1.00), (7102, ABS(-42), 2.00), (7103, FLOOR(17.9), 3.00)
@dml=orders INSERT INTO orders SET id = 7104, user_id = +552, qty = +1
@script SET @k = 5000041; INSERT INTO users (id, email) VALUES (@k, 'k41@x.test'), (@k + 1, 'k42@x.test'); SELECT id, email FROM users WHERE id IN (5000041, 5000042) ORDER BY id; INSERT INTO users (id, email) VALUES (@k, 'again'); SELECT COUNT(*) FROM users WHERE id >= 5000041 AND id <= 5000042
@script SET @n = 7; INSERT INTO orders (id, user_id, amount) VALUES (7201, @n * 3, 9.99); SELECT id, user_id, amount FROM orders WHERE user_id = 21 AND id = 7201
@dml=users @found_rows UPDATE users SET flag = flag WHERE tag = 'delta'
@dml=users @found_rows UPDATE users SET score = 1 WHERE score IN (0, 1)
@dml=users UPDATE users SET score = score + 1 WHERE tag = 'zeta' ORDER BY id
@dml=orders DELETE FROM orders WHERE qty = 0 ORDER BY id
-- Multi-table UPDATE / DELETE of co-located tables without a key: every shard for its own rows, all or nothing.
@dml=orders UPDATE orders o JOIN users u ON u.id = o.user_id SET o.amount = o.amount + 1, o.status = CONCAT(u.tag, '!') WHERE u.score > 900 AND o.qty > 1
@dml=users UPDATE users u JOIN orders o ON o.user_id = u.id SET u.balance = u.balance + o.amount WHERE o.amount > 990
@dml=users @found_rows UPDATE users u JOIN flags f ON f.flag = u.flag SET u.tag = f.label WHERE u.score BETWEEN 100 AND 140
@dml=orders UPDATE orders o, users u SET o.qty = o.qty + 1 WHERE u.id = o.user_id AND u.ratio > 0.95
@dml=orders DELETE o FROM orders o JOIN users u ON u.id = o.user_id WHERE u.score BETWEEN 500 AND 510
@dml=orders DELETE FROM o USING orders o JOIN users u ON u.id = o.user_id WHERE u.tag = 'delta' AND o.qty = 3
@dml=orders DELETE o, u FROM orders o JOIN users u ON u.id = o.user_id WHERE u.score BETWEEN 600 AND 602
@dml=orders UPDATE orders o JOIN users u ON u.id = o.user_id SET o.amount = NULL WHERE u.nope = 1
-- MariaDB's order of a DELETE's clauses: ORDER BY and LIMIT before RETURNING (on one shard).
@script DELETE FROM orders WHERE user_id = 21 ORDER BY id DESC LIMIT 2 RETURNING id, user_id, amount; SELECT COUNT(*) FROM orders WHERE user_id = 21; DELETE FROM users WHERE id = 22 LIMIT 1 RETURNING id, email
-- FOUND_ROWS() after a SELECT … INTO on one shard: the rows it selected (the OK's affected rows).
@script SELECT id FROM users ORDER BY id LIMIT 5; SELECT name INTO @fr FROM users WHERE id = 7; SELECT FOUND_ROWS(); SELECT id FROM users ORDER BY id LIMIT 4; SELECT name INTO @fr FROM users WHERE id = -123456; SELECT FOUND_ROWS()
-- FOUND_ROWS() after a SELECT that failed: `SELECT … INTO` finding a second row counted the
-- first (on one shard, and over several); a syntax error or an unknown column left it as it was.
@script SELECT id FROM users ORDER BY id LIMIT 5; SELECT id INTO @fr FROM orders WHERE user_id = 21; SELECT FOUND_ROWS(); SELECT id FROM users ORDER BY id LIMIT 4; SELECT id INTO @fr FROM users WHERE id IN (7, 9, 11, 13); SELECT FOUND_ROWS(); SELECT id FROM users ORDER BY id LIMIT 3; SELEC 1; SELECT FOUND_ROWS(); SELECT id FROM users ORDER BY id LIMIT 2; SELECT nosuch FROM users WHERE id = 7; SELECT FOUND_ROWS()
-- A statement run in steps over several shards (a SELECT assigning variables, SELECT … INTO)
-- starts the list of warnings afresh: the previous INSERT IGNORE's duplicate is gone.
@script INSERT IGNORE INTO users (id, email, name) VALUES (17, 'ignored@x.test', 'dup'); SELECT @@warning_count; SELECT @wc := COUNT(*) FROM users WHERE score > 500; SELECT @@warning_count; INSERT IGNORE INTO users (id, email, name) VALUES (17, 'ignored@x.test', 'dup'); SELECT COUNT(*) INTO @wc FROM users WHERE score > 500; SHOW WARNINGS
-- SELECT … INTO scattered (the key an expression) whose rows all come from one shard: that
-- shard's first row is assigned before the 1172, as MariaDB holding those rows reads them.
@script SET @fo1 = 0, @fo2 = 0; SELECT id, amount INTO @fo1, @fo2 FROM orders WHERE user_id = 20 + 1; SELECT @fo1, @fo2, FOUND_ROWS()
-- SELECT … INTO over several shards finding two rows: MariaDB assigns the first, then fails with 1172; rows all alike assign the same either way.
@script INSERT INTO orders (id, user_id, amount) VALUES (7401, 31, 1.00), (7402, 31, 1.00); SELECT user_id, amount INTO @tm1, @tm2 FROM orders WHERE user_id = CAST('31' AS SIGNED) AND id IN (7401, 7402); SELECT @tm1, @tm2
-- An INSERT leaving the shard key out: the row takes the key's default, which places it. No
-- default: strict mode's 1364 from the shard, else the implicit 0 (warning 1364), found by it;
-- a constant DEFAULT places the row by its value.
@dml=orders INSERT INTO orders (id, amount) VALUES (7301, 1.00), (7302, 2.00)
@dml=orders INSERT INTO orders SET id = 7303, amount = 3.00
@script SET sql_mode = ''; INSERT INTO orders (id, amount) VALUES (7304, 4.00), (7305, 5.00); SHOW WARNINGS; SELECT id, user_id, amount FROM orders WHERE user_id = 0; SET sql_mode = DEFAULT
@script ALTER TABLE orders ALTER user_id SET DEFAULT 77; INSERT INTO orders (id, amount) VALUES (7306, 6.00); INSERT INTO orders SET id = 7307; INSERT INTO orders (id, user_id, amount) VALUES (7308, DEFAULT, 8.00); SELECT id, user_id, amount FROM orders WHERE user_id = 77; ALTER TABLE orders ALTER user_id DROP DEFAULT
@dml=users INSERT INTO users (id, email, name, tag) VALUES (5000030, NULL, 'x😀', '😀'), (5000031, NULL, 'x😃', '😃'), (5000032, NULL, 'x𝄞', 'Z'), (5000033, NULL, 'xa', 'a'), (5000034, NULL, 'x😀a', '😀a'), (5000035, NULL, 'xé', 'É'), (5000036, NULL, 'xÉ', 'e'), (5000037, NULL, 'x', '')
@dml=users UPDATE users SET score = score + 1 WHERE tag = 'beta'
@dml=users UPDATE users SET flag = flag WHERE tag = 'gamma'
@dml=users UPDATE users SET tag = 'upd' WHERE id IN (1, 2, 3, 4, 5, 6, 7)
@dml=users UPDATE IGNORE users SET tag = 'ign' WHERE id IN (1, 2, 3, 4, 5, 6, 7)
@dml=users UPDATE LOW_PRIORITY users SET score = score + 2 WHERE tag = 'alpha'
@dml=orders DELETE LOW_PRIORITY QUICK IGNORE FROM orders WHERE qty = 9 AND status = 'new'
@dml=users UPDATE users SET balance = balance * 2 WHERE balance BETWEEN 0 AND 1000
@dml=users UPDATE users SET name = CONCAT(name, ' (x)') WHERE name LIKE 'jo%'
@dml=users UPDATE users SET score = NULL WHERE flag = 127
@dml=users UPDATE users SET email = NULL WHERE id = 1 OR id = 2
@dml=orders DELETE FROM orders WHERE status = 'cancelled'
@dml=orders DELETE FROM orders WHERE amount < 0 AND qty > 5
@dml=orders UPDATE orders SET qty = qty + 1 WHERE amount > 9000
@dml=orders DELETE FROM orders WHERE user_id IN (1, 2, 3)
@dml=orders DELETE FROM orders WHERE amount IS NULL ORDER BY id LIMIT 3
@dml=users UPDATE users SET score = 0 WHERE score IS NULL LIMIT 10
@dml=users UPDATE users SET score = score + 100 WHERE score > 0 ORDER BY score DESC, id LIMIT 5
@dml=users DELETE FROM users WHERE tag = 'alpha' ORDER BY id DESC LIMIT 4
@dml=orders UPDATE orders SET qty = 0 ORDER BY amount, id LIMIT 7
@dml=orders UPDATE orders SET status = DEFAULT WHERE NOT user_id = 289 AND amount >= 9000 ORDER BY id LIMIT 3
@dml=orders DELETE FROM orders WHERE NOT (amount < 9990) AND qty > (SELECT MIN(qty) FROM orders WHERE user_id = 5 ORDER BY 1 LIMIT 1) ORDER BY id DESC LIMIT 2
@dml=orders DELETE FROM orders WHERE (qty > 3) ORDER BY (amount) DESC, id LIMIT 2
@dml=users UPDATE users SET name = 'lim' LIMIT 3
@dml=orders DELETE FROM orders WHERE status = 'new' LIMIT 0
@dml=orders DELETE FROM orders WHERE status = 'no such status' ORDER BY id LIMIT 3
@dml=users @found_rows UPDATE users SET tag = tag ORDER BY id LIMIT 6
@dml=users UPDATE users AS u SET u.score = u.score * 2 WHERE u.flag = 1 ORDER BY u.id LIMIT 3;
@dml=orders @params=100 DELETE FROM orders WHERE amount > ? ORDER BY amount DESC, id LIMIT 2
@dml=users UPDATE users SET ratio = 0 WHERE id > 5 AND id < 100000 ORDER BY id LIMIT 5 OFFSET 0
@dml=users DELETE FROM users WHERE score < -990
@dml=users UPDATE users SET id = 6000000 WHERE id = 5000008
@dml=orders UPDATE orders SET user_id = 1 WHERE id = 7001
@dml=orders UPDATE orders SET user_id = user_id + 1 WHERE id < 60
@dml=orders UPDATE orders SET user_id = 3, qty = qty + 1 WHERE status = 'new' AND id < 400
@dml=orders UPDATE orders SET user_id = user_id WHERE id < 30
@dml=orders @found_rows UPDATE orders SET user_id = 5 ORDER BY amount DESC, id LIMIT 4
@dml=orders UPDATE orders SET user_id = 9, created_at = '2024-01-02 03:04:05' WHERE id BETWEEN 100 AND 120
@dml=orders @params=11|150 UPDATE orders SET user_id = ? WHERE id < ? AND qty > 2
@dml=orders UPDATE orders o SET o.user_id = o.qty * 7, o.amount = o.amount / 2 WHERE o.amount > 9500
@dml=orders UPDATE orders SET amount = amount + 1, user_id = user_id - 2 WHERE user_id IN (20, 21, 22)
@dml=orders UPDATE orders SET user_id = NULL WHERE id = 7
@dml=orders UPDATE orders SET user_id = 'abc' WHERE id = 8
@dml=users UPDATE users SET id = 6000001, name = 'moved' WHERE id = 101
@dml=users UPDATE users SET id = 102 WHERE id = 103
@dml=users UPDATE users SET id = 6000002 WHERE id IN (104, 105)
@dml=users UPDATE users SET id = 6000003, email = 'moved@example.com' WHERE id = 106
@dml=users DELETE FROM users WHERE id = 5000001
@dml=orders DELETE FROM orders WHERE id > 7000
@dml=users UPDATE users SET score = score - 1
@dml=orders DELETE FROM orders WHERE 1 = 0
@dml=users UPDATE users SET ratio = ratio / 3 WHERE ratio IS NOT NULL AND flag = 1

@dml=users UPDATE users SET score = score + 7 WHERE id IN (101, 102, 103, 104, 105, 106, 107)
@dml=users @found_rows UPDATE users SET tag = 'inlist' WHERE id IN (110, 111, 112, 113, 114) AND tag IS NOT NULL
@dml=orders DELETE FROM orders WHERE user_id IN (120, 121, 122, 123, 124, 5000001)
@dml=users UPDATE users SET name = 'It''s \\ or' WHERE id = 130 OR id = 131 OR id = 132
@dml=orders DELETE FROM orders WHERE (user_id = 140 OR user_id = 141 OR user_id = 142) AND amount > 100
@dml=orders UPDATE orders SET qty = qty * 2 WHERE user_id IN (150, 151, 152, 153, 154) OR (user_id = 155 AND status = 'paid')
-- users.email has a unique lookup: UPDATEs of it not naming their rows by id (their rows are
-- locked and their lookup rows written first), one value for several rows (1062 on both), an
-- INSERT leaving the email to its default (NULL: no lookup row).
@dml=users UPDATE users SET email = 'renamed2@x.test' WHERE email = 'new2@x.test'
@dml=users UPDATE users SET email = 'six@x.test', score = 66 WHERE name = 'Six'
@dml=users UPDATE users SET email = 'gamma@x.test' WHERE tag = 'gamma'
@dml=users @found_rows UPDATE users SET email = 'seven@x.test' WHERE id IN (5000007, 5000099)
@dml=users INSERT INTO users (id, name) VALUES (5000041, 'no email'), (5000042, 'none either')
@dml=users INSERT INTO users SET id = 5000043, name = 'set, no email'
@dml=users INSERT INTO users (id, email, name) SELECT id + 7000000, CONCAT('copy-', email), name FROM users WHERE id IN (1, 2, 3, 4, 5)

-- Writes whose subquery holds a derived table or a subquery of its own (MariaDB's way around
-- 1093, batch deletes): the subquery read first by the proxy (over copies where it must be).
@dml=orders DELETE FROM orders WHERE id IN (SELECT id FROM (SELECT id FROM orders ORDER BY amount DESC, id LIMIT 5) AS d)
@dml=orders UPDATE orders SET qty = qty + 1 WHERE id IN (SELECT x.id FROM (SELECT id FROM orders WHERE amount < 500) x)
@dml=orders DELETE FROM orders WHERE id IN (SELECT * FROM (SELECT id FROM orders WHERE status = 'paid' ORDER BY created_at, id LIMIT 3) t)
@dml=users UPDATE users SET score = (SELECT MAX(c) FROM (SELECT COUNT(*) AS c FROM orders GROUP BY user_id) g) WHERE id = 3
@dml=users UPDATE users SET tag = 'big spender' WHERE id IN (SELECT user_id FROM orders WHERE amount > (SELECT AVG(amount) + 4000 FROM orders))
@dml=users UPDATE users SET tag = 'no orders' WHERE id IN (SELECT u2.id FROM users u2 WHERE u2.score > 900 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u2.id))
@dml=orders DELETE FROM orders WHERE user_id IN (SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE amount > 9990))
@dml=orders UPDATE orders SET status = 'low' WHERE id IN (SELECT o2.id FROM orders o2 WHERE o2.amount < (SELECT MIN(o3.amount) + 50 FROM orders o3 WHERE o3.user_id = o2.user_id))
@script SET @floor = 9000; INSERT INTO orders (id, user_id, qty) VALUES (900901, 3, (SELECT COUNT(*) FROM users WHERE score > @floor / 10)); SELECT id, user_id, qty FROM orders WHERE id = 900901; DELETE FROM orders WHERE user_id IN (SELECT id FROM users WHERE score > @floor / 10 AND flag = 1); SELECT COUNT(*) FROM orders

-- ===== Reads after the writes =====
SELECT COUNT(*), SUM(score), SUM(balance), SUM(ratio) FROM users
@ordered @ci=0 SELECT tag, COUNT(*) FROM users GROUP BY tag ORDER BY tag
@ordered SELECT user_id, COUNT(*), SUM(amount) FROM orders GROUP BY user_id ORDER BY user_id LIMIT 30
@ordered SELECT id, score, name FROM users WHERE name LIKE '%(x)' ORDER BY id
@ordered SELECT id, name FROM users WHERE id BETWEEN 5000030 AND 5000040 ORDER BY name, id
@ordered SELECT id, tag FROM users WHERE id BETWEEN 5000030 AND 5000040 ORDER BY tag DESC, id
-- ===== Generated ids: `notes` ids from the proxy's sequence vs AUTO_INCREMENT on one server =====
-- One session inserts alone, so both hand out 1, 2, 3, …; ids given explicitly move MariaDB's
-- counter and the proxy's sequence past them (below), row after row within a statement.
@dml=notes INSERT INTO notes (body) VALUES ('one')
@dml=notes INSERT INTO notes (body) VALUES ('two'), ('three'), ('four'), ('five'), ('six'), ('seven')
@dml=notes INSERT INTO notes (id, body) VALUES (NULL, 'null'), (0, 'zero'), (DEFAULT, 'default')
@dml=notes INSERT INTO notes SET body = 'set'
-- A child row keyed by LAST_INSERT_ID(): routed by the session's value
@dml=notes INSERT INTO notes (body) VALUES ('parent')
@dml=orders INSERT INTO orders (id, user_id, amount, created_at, status, qty) VALUES (990001, LAST_INSERT_ID(), 1.00, NULL, 'lid', 1), (990002, LAST_INSERT_ID(), LAST_INSERT_ID(), NULL, 'lid', 2)
SELECT LAST_INSERT_ID(1234)
@dml=orders INSERT INTO orders SET id = 990003, user_id = LAST_INSERT_ID(), amount = 3
SELECT LAST_INSERT_ID()
@dml=notes INSERT INTO notes (body) SELECT 'from a select'
@dml=notes INSERT INTO notes (body) SELECT name FROM users WHERE id = 1
-- FOUND_ROWS() after an INSERT … SELECT the proxy ran as its SELECT's rows written in: the rows
-- its SELECT found (it answered 0 before).
@script SELECT id FROM users ORDER BY id LIMIT 5; INSERT INTO notes (body) SELECT name FROM users WHERE id IN (1, 2, 3) ORDER BY id; SELECT FOUND_ROWS(); INSERT INTO notes (body) SELECT name FROM users WHERE id = -123456; SELECT FOUND_ROWS()
@dml=notes REPLACE INTO notes (body) VALUES ('replace')
@dml=notes INSERT INTO notes (body) VALUES ('upsert') ON DUPLICATE KEY UPDATE body = 'upserted'
@script INSERT INTO notes (body) VALUES ('a'), ('b'); SELECT LAST_INSERT_ID(); SELECT id, body FROM notes WHERE body IN ('a', 'b') ORDER BY id
-- After a failed multi-row INSERT the proxy does not know LAST_INSERT_ID(); a statement that only sets it (LAST_INSERT_ID(expr)) runs, and makes it known.
@script INSERT INTO users (id, name) VALUES (5000901, 'a'), (1, 'dup'); UPDATE users SET score = score WHERE id = LAST_INSERT_ID(3); SELECT LAST_INSERT_ID(); INSERT INTO users (id, name) VALUES (5000902, 'b'), (2, 'dup'); INSERT INTO orders (id, user_id, qty) VALUES (LAST_INSERT_ID(900777), 5, 1); SELECT LAST_INSERT_ID(), LAST_INSERT_ID() + 1
@dml=notes INSERT INTO notes VALUES (NULL, 'by position'), (0, 'by position, zero'), (DEFAULT, 'by position, default')
@dml=notes INSERT INTO notes (id, body) VALUES (1000, 'explicit'), (1001, 'explicit')
@script INSERT INTO notes (body) VALUES ('after explicit'); SELECT LAST_INSERT_ID(); SELECT id FROM notes WHERE body = 'after explicit'
@script INSERT INTO notes SET id = '2000', body = 'set given'; INSERT INTO notes (body) VALUES ('after set'), ('after set 2'); SELECT LAST_INSERT_ID(); @ordered SELECT id, body FROM notes WHERE id >= 1000 ORDER BY id
@script INSERT INTO notes (id, body) VALUES (1500, 'below the counter'); INSERT INTO notes (body) VALUES ('still after 2000'); @ordered SELECT id, body FROM notes WHERE id >= 1000 ORDER BY id
@script INSERT INTO notes (id, body) VALUES (NULL, 'generated first'), (2500, 'given after'); INSERT INTO notes (body) VALUES ('after 2500'); @ordered SELECT id, body FROM notes WHERE id >= 2000 ORDER BY id
@script INSERT INTO notes (id, body) VALUES (NULL, 'row 1'), (2600, 'row 2'), (NULL, 'row 3'), (NULL, 'row 4'), (2590, 'row 5'), (NULL, 'row 6'); SELECT LAST_INSERT_ID(); @ordered SELECT id, body FROM notes WHERE id >= 2500 ORDER BY id

-- ===== INSERT … SELECT from sharded tables into an unsharded one: MariaDB's AUTO_INCREMENT ids =====
-- (reserved in growing batches for an INSERT … SELECT: the next id after 2 rows skips one)
@script CREATE TABLE un_ids (id INT AUTO_INCREMENT PRIMARY KEY, n BIGINT); INSERT INTO un_ids (n) SELECT id FROM users WHERE id IN (1, 2) ORDER BY id; SELECT ROW_COUNT(), LAST_INSERT_ID(); INSERT INTO un_ids (n) VALUES (0); INSERT INTO un_ids (n) SELECT id FROM users WHERE id BETWEEN 3 AND 7 ORDER BY id; INSERT INTO un_ids (n) VALUES (0); INSERT INTO un_ids (n) SELECT id FROM users WHERE id < -1000000; SELECT ROW_COUNT(), LAST_INSERT_ID(); @ordered SELECT id, n FROM un_ids ORDER BY id; DROP TABLE un_ids
@script CREATE TABLE un_sums (id INT AUTO_INCREMENT PRIMARY KEY, flag TINYINT, total BIGINT, label VARCHAR(20)); INSERT INTO un_sums (flag, total, label) SELECT flag, SUM(score), MAX(tag) FROM users GROUP BY flag ORDER BY flag; INSERT INTO un_sums (flag) VALUES (NULL); @ordered SELECT * FROM un_sums ORDER BY id; DROP TABLE un_sums

-- ===== Integer shard keys written as other numbers: a zero fraction, an integral double, bits =====
@dml=orders INSERT INTO orders (id, user_id, amount) VALUES (7201, 615.0, 1.00), (7202, 6.15e2, 2.00), (7203, b'1001100111', 3.00), (7204, -(8.000), 4.00), (7205, 0b101010, 5.00)
SELECT * FROM users WHERE id = 17.0
SELECT * FROM users WHERE id = 1.7e1
SELECT id FROM users WHERE id IN (17.00, 0b10010, 19, -2.8e1)
SELECT COUNT(*) FROM orders WHERE user_id = 42.000

-- ===== Table maintenance on every shard: CHECKSUM the shards' sum (a reference table's one copy), reports once =====
CHECKSUM TABLE users
CHECKSUM TABLE users, orders EXTENDED
CHECKSUM TABLE flags, users QUICK
CHECK TABLE users, orders
CHECK TABLE flags FOR UPGRADE
ANALYZE TABLE orders
ANALYZE NO_WRITE_TO_BINLOG TABLE users PERSISTENT FOR ALL
OPTIMIZE TABLE flags
REPAIR TABLE users QUICK
CHECKSUM TABLE notes

-- ===== CREATE TABLE … SELECT across shards into a table of the default shard: created, then filled by rows =====
@script CREATE TABLE made_report AS SELECT flag, COUNT(*) AS n, SUM(balance) AS total FROM users GROUP BY flag; @ordered SELECT * FROM made_report ORDER BY flag; SHOW CREATE TABLE made_report; DROP TABLE made_report
@script CREATE TABLE made_top ENGINE=InnoDB SELECT u.id, u.name, o.amount FROM users u JOIN orders o ON o.user_id = u.id WHERE o.amount > 990; @ordered SELECT * FROM made_top ORDER BY id, amount; DROP TABLE made_top
@script CREATE OR REPLACE TABLE made_keyed (PRIMARY KEY (id)) AS SELECT id, flag, tag FROM users WHERE score > 900 ORDER BY id; @ordered SELECT * FROM made_keyed ORDER BY id; SHOW CREATE TABLE made_keyed; DROP TABLE made_keyed
@script CREATE TABLE made_bad AS SELECT id, 1 / 0 AS x FROM users WHERE nope > 1; SHOW TABLES LIKE 'made_bad'
@script CREATE TABLE made_fail (PRIMARY KEY (k)) AS SELECT 1 AS k, id FROM users WHERE score > 500; SHOW TABLES LIKE 'made_fail'

-- ===== Other dialects' transaction statements are MariaDB's syntax errors (END does not commit, ABORT does not roll back) =====
@script BEGIN; UPDATE users SET score = score + 1 WHERE id = 3; END; ABORT; COMMIT TRANSACTION; ROLLBACK; SELECT score FROM users WHERE id = 3
@script BEGIN TRANSACTION; START TRANSACTION ISOLATION LEVEL SERIALIZABLE; SAVEPOINT sp; RELEASE sp; END WORK; ROLLBACK TRANSACTION; SELECT 1

-- ===== Other dialects' LIMIT forms are MariaDB's syntax errors (the proxy writes the LIMIT it sends across shards) =====
SELECT id FROM users ORDER BY id LIMIT ALL
SELECT DISTINCT user_id FROM orders ORDER BY user_id LIMIT 2 OFFSET 1 ROWS
SELECT id FROM users UNION SELECT user_id FROM orders ORDER BY 1 LIMIT ALL
SELECT user_id, MAX(amount) m FROM orders GROUP BY user_id ORDER BY m DESC, user_id LIMIT 2 OFFSET 1 ROW
SELECT id FROM users ORDER BY id OFFSET 2 LIMIT 3
SELECT * FROM (SELECT id FROM users ORDER BY id LIMIT ALL) t LIMIT 1

-- ===== Binary results (SET NAMES binary: every text column described as binary) still compare by the column's collation =====
@script SET NAMES binary; @ordered SELECT id FROM users ORDER BY tag, id LIMIT 60; @ordered SELECT id FROM users ORDER BY name DESC, id LIMIT 40; @ordered SELECT MIN(name), MAX(name), COUNT(DISTINCT tag) FROM users; @ordered SELECT id FROM users ORDER BY tag_bin, id LIMIT 30; @ordered SELECT COUNT(*) FROM users GROUP BY tag ORDER BY MIN(id); SET NAMES utf8mb4

-- ===== A session's max_sort_length: strings sorted by their first N bytes (ties beyond them), as the shards sort =====
@script SET max_sort_length = 64; @ordered SELECT id FROM users ORDER BY CONCAT(REPEAT('x', 70), name), id LIMIT 30; @ordered SELECT id, CONCAT(REPEAT('y', 64), tag) t FROM users ORDER BY t DESC, id LIMIT 20; @ordered SELECT id FROM users ORDER BY CONCAT(REPEAT('x', 70), name) DESC, id LIMIT 20 LOCK IN SHARE MODE; @ordered SELECT CONCAT(REPEAT('z', 66), tag) t, id FROM users WHERE id < 40 UNION ALL SELECT CONCAT(REPEAT('z', 66), name), id FROM users WHERE id > 2980 ORDER BY 1, 2; SET max_sort_length = DEFAULT; @ordered SELECT id FROM users ORDER BY CONCAT(REPEAT('x', 70), name), id LIMIT 30

-- ===== SET last_insert_id / identity: LAST_INSERT_ID() (the proxy's own) takes the value =====
@script SET last_insert_id = 77; SELECT LAST_INSERT_ID(), @@identity; SELECT id, name FROM users WHERE id = LAST_INSERT_ID(); SET identity = 12; SELECT id, name FROM users WHERE id = LAST_INSERT_ID(); SET @x = 5; SET last_insert_id = @x * 3; SELECT LAST_INSERT_ID(); SELECT COUNT(*) FROM orders WHERE user_id = LAST_INSERT_ID()

-- ===== ON DUPLICATE KEY UPDATE keeping the shard key (`key = key`, `key = VALUES(key)`) =====
@dml=orders INSERT INTO orders (id, user_id, amount) SELECT id, user_id, 7.77 FROM orders WHERE user_id = 5 ON DUPLICATE KEY UPDATE user_id = user_id, amount = VALUES(amount)
@dml=orders INSERT INTO orders (id, user_id, amount) VALUES (900001, 5, 3.00), (900002, 6, 4.00) ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), amount = amount + 1
@dml=orders INSERT INTO orders (id, user_id, amount) VALUES (900001, 5, 3.00), (900002, 6, 4.00) ON DUPLICATE KEY UPDATE orders.user_id = orders.user_id, amount = amount + 1
@dml=orders DELETE FROM orders WHERE id IN (900001, 900002)

-- ===== DESCRIBE of one column (or a pattern) of a sharded table =====
DESCRIBE users id
DESC users 'e%'
EXPLAIN orders amount

-- ===== Stored functions and triggers made through the proxy: on every shard (a query over a sharded table calls the function on each shard; a trigger fires on the row's shard) =====
@script CREATE FUNCTION twice(x DECIMAL(30,0)) RETURNS DECIMAL(31,0) DETERMINISTIC RETURN x * 2; SELECT SUM(twice(id)) FROM users; @ordered SELECT id, twice(id) FROM users WHERE id IN (5, 6, 7) ORDER BY id; SELECT COUNT(*) FROM users WHERE twice(id) > 5000; @ordered SELECT twice(user_id) t, COUNT(*) FROM orders GROUP BY t ORDER BY t LIMIT 5; DROP FUNCTION twice; SELECT twice(1)
@script CREATE FUNCTION label_of(f INT) RETURNS VARCHAR(20) DETERMINISTIC RETURN CONCAT('flag ', IFNULL(f, 'none')); @ordered SELECT label_of(flag) l, COUNT(*) FROM users GROUP BY l ORDER BY l; DROP FUNCTION IF EXISTS label_of; DROP FUNCTION IF EXISTS label_of
@script DROP FUNCTION no_such_function; DROP PROCEDURE no_such_procedure; DROP TRIGGER no_such_trigger
@script CREATE TRIGGER notes_upper BEFORE INSERT ON notes FOR EACH ROW SET NEW.body = UPPER(NEW.body); INSERT INTO notes (body) VALUES ('trig a'), ('trig b'), ('trig c'), ('trig d'); @ordered SELECT body FROM notes WHERE body LIKE 'trig%' ORDER BY body; SELECT TRIGGER_NAME, EVENT_MANIPULATION, EVENT_OBJECT_TABLE, ACTION_STATEMENT, ACTION_TIMING FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE(); DROP TRIGGER notes_upper; INSERT INTO notes (body) VALUES ('trig e'); @ordered SELECT body FROM notes WHERE body LIKE 'trig%' ORDER BY body; DELETE FROM notes WHERE body LIKE 'trig%'
@script CREATE PROCEDURE twice_proc(INOUT x INT) SET x = x * 2; SET @n = 21; CALL twice_proc(@n); SELECT @n; DROP PROCEDURE twice_proc
@script BEGIN; UPDATE users SET score = score + 1 WHERE id = 3; CREATE FUNCTION in_txn() RETURNS INT DETERMINISTIC RETURN 7; ROLLBACK; SELECT score, in_txn() FROM users WHERE id = 3; CREATE FUNCTION in_txn() RETURNS INT DETERMINISTIC RETURN 8; DROP FUNCTION in_txn; UPDATE users SET score = score - 1 WHERE id = 3

-- ===== CREATE TABLE … SELECT into tables the config shards (`made_orders` by id) or copies (`made_labels`): on every shard, rows placed by the new table's key =====
@script CREATE TABLE made_orders SELECT id, user_id, amount FROM orders WHERE amount > 300; SELECT COUNT(*), SUM(amount) FROM made_orders; @ordered SELECT id, user_id FROM made_orders WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60) ORDER BY id; SELECT * FROM made_orders WHERE id = 17; SHOW CREATE TABLE made_orders; DROP TABLE made_orders
@script CREATE TABLE made_orders (PRIMARY KEY (id)) SELECT o.id, u.name, o.amount FROM orders o JOIN users u ON u.id = o.user_id WHERE o.amount < 200; @ordered SELECT * FROM made_orders WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60) ORDER BY id; SELECT COUNT(*) FROM made_orders; DROP TABLE made_orders
@script CREATE TABLE made_orders SELECT 1 AS id, 'one' AS label; SELECT COUNT(*) FROM made_orders; SELECT * FROM made_orders WHERE id = 1; DROP TABLE made_orders
@script CREATE TABLE made_orders (PRIMARY KEY (id)) SELECT id % 1 + 7 AS id FROM users WHERE id < 5; SHOW TABLES LIKE 'made_orders'
@script CREATE TABLE made_orders SELECT id, user_id, amount FROM orders WHERE amount IS NOT NULL ORDER BY amount DESC, id LIMIT 25; SELECT COUNT(*), SUM(amount), MIN(amount) FROM made_orders; @ordered SELECT id, amount FROM made_orders ORDER BY id; SHOW CREATE TABLE made_orders; DROP TABLE made_orders
@script CREATE TABLE made_orders (extra INT DEFAULT 7, note VARCHAR(10) DEFAULT 'n', PRIMARY KEY (id)) SELECT id, user_id FROM orders WHERE id <= 60; SHOW CREATE TABLE made_orders; @ordered SELECT * FROM made_orders WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60) ORDER BY id; SELECT COUNT(*) FROM made_orders; DROP TABLE made_orders
@script CREATE TABLE IF NOT EXISTS made_orders SELECT id, user_id FROM orders WHERE id < 30; SHOW WARNINGS; CREATE TABLE IF NOT EXISTS made_orders SELECT id, user_id FROM orders WHERE id < 60; SHOW WARNINGS; SELECT COUNT(*) FROM made_orders; @ordered SELECT * FROM made_orders WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60) ORDER BY id; DROP TABLE made_orders
@script CREATE TABLE report_top SELECT user_id, SUM(amount) s FROM orders GROUP BY user_id ORDER BY s DESC, user_id LIMIT 5; @ordered SELECT * FROM report_top ORDER BY user_id; SHOW CREATE TABLE report_top; DROP TABLE report_top
@script CREATE TABLE report_dc (rank_no INT DEFAULT 0, user_id BIGINT NOT NULL) SELECT user_id, COUNT(*) c FROM orders GROUP BY user_id; SHOW CREATE TABLE report_dc; SELECT COUNT(*), SUM(c), SUM(rank_no) FROM report_dc; CREATE TABLE IF NOT EXISTS report_dc SELECT 1 AS user_id; SHOW WARNINGS; SELECT COUNT(*) FROM report_dc; DROP TABLE report_dc
@script CREATE TABLE made_labels AS SELECT flag, COUNT(*) AS n, MIN(name) AS label FROM users WHERE flag IS NOT NULL GROUP BY flag; @ordered SELECT * FROM made_labels ORDER BY flag; SELECT u.id, l.label FROM users u JOIN made_labels l ON l.flag = u.flag WHERE u.id = 5; SELECT u.id, l.label FROM users u JOIN made_labels l ON l.flag = u.flag WHERE u.id = 6; SHOW CREATE TABLE made_labels; DROP TABLE made_labels
@script CREATE OR REPLACE TABLE made_labels AS SELECT flag, COUNT(*) AS n FROM users GROUP BY flag; SELECT * FROM made_labels WHERE flag = 1; CREATE OR REPLACE TABLE made_labels AS SELECT score DIV 100 AS bucket, MAX(score) AS top FROM users GROUP BY bucket; @ordered SELECT * FROM made_labels ORDER BY bucket; SHOW CREATE TABLE made_labels; DROP TABLE made_labels
@script INSERT INTO flags SELECT 50 + id, CONCAT('user ', id) FROM users WHERE id < 4; @ordered SELECT * FROM flags ORDER BY flag; SELECT u.id, f.label FROM users u JOIN flags f ON f.flag = u.id + 50 WHERE u.id = 2; DELETE FROM flags WHERE flag > 50
