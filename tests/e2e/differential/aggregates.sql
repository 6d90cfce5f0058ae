-- Aggregates a scatter computes from the shards' raw values or bitwise partials (issue #13):
-- COUNT/SUM/AVG(DISTINCT …), GROUP_CONCAT, BIT_AND/BIT_OR/BIT_XOR, the STDDEV/VARIANCE family;
-- with and without GROUP BY, with HAVING/ORDER BY/LIMIT on them, NULLs, empty groups, `_ci`
-- duplicates, negative numbers, DECIMAL and DOUBLE inputs, a small group_concat_max_len.
-- Directives as in corpus.sql. GROUP_CONCAT texts are compared exactly, so each has an ORDER
-- BY that makes its order total (or a single distinct value per group). The row number in a
-- grouped GROUP_CONCAT's warning 1260 is the statement's row counter on one server (it depends
-- on the scan), so only the warnings' count is compared there.

-- ===== COUNT(DISTINCT …) =====
SELECT COUNT(DISTINCT tag) FROM users
SELECT COUNT(DISTINCT tag_bin) FROM users
SELECT COUNT(DISTINCT nick) FROM users
SELECT COUNT(DISTINCT flag, tag) FROM users
SELECT COUNT(DISTINCT score), COUNT(*), COUNT(score), SUM(score), MIN(score), MAX(score) FROM users
SELECT COUNT(DISTINCT user_id), COUNT(DISTINCT qty), AVG(amount) FROM orders
SELECT COUNT(DISTINCT user_id) FROM orders WHERE 1 = 0
SELECT COUNT(DISTINCT score) FROM users WHERE score IS NULL
SELECT COUNT(DISTINCT ratio), COUNT(DISTINCT balance) FROM users
@ordered SELECT flag, COUNT(DISTINCT tag) FROM users GROUP BY flag ORDER BY flag
@ordered SELECT flag, COUNT(DISTINCT tag), COUNT(*), SUM(score), MIN(score), MAX(score), AVG(score) FROM users GROUP BY flag ORDER BY flag
@ordered @ci=0 SELECT status, COUNT(DISTINCT user_id) AS n FROM orders GROUP BY status ORDER BY status
@ordered SELECT qty, COUNT(DISTINCT user_id) FROM orders GROUP BY qty HAVING COUNT(DISTINCT user_id) > 100 ORDER BY qty
@ordered SELECT qty, COUNT(DISTINCT status) AS n FROM orders GROUP BY qty ORDER BY n, qty LIMIT 3
@ordered SELECT user_id, COUNT(DISTINCT qty) AS n FROM orders GROUP BY user_id ORDER BY n DESC, user_id LIMIT 10
SELECT flag, COUNT(DISTINCT tag) FROM users WHERE 1 = 0 GROUP BY flag
@ordered SELECT flag, COUNT(DISTINCT score) FROM users WHERE score IS NULL GROUP BY flag ORDER BY flag
@ordered SELECT COUNT(DISTINCT tag) AS n, flag FROM users GROUP BY flag ORDER BY n DESC, flag
SELECT COUNT(DISTINCT tag) FROM users HAVING COUNT(DISTINCT tag) > 3
@ordered SELECT YEAR(created_at) AS y, COUNT(DISTINCT flag) FROM users GROUP BY y ORDER BY y
@params=100 SELECT COUNT(DISTINCT tag), COUNT(DISTINCT flag) FROM users WHERE score > ?
SELECT COUNT(DISTINCT id), SUM(DISTINCT id), AVG(DISTINCT id) FROM users
SELECT MIN(email), MAX(email), COUNT(DISTINCT email) FROM users
SELECT COUNT(DISTINCT LOWER(tag)), COUNT(DISTINCT created_at), MIN(created_at) FROM users
SELECT COUNT(DISTINCT tag), MAX(id) FROM users WHERE id IN (5, 6, 7, 1000000000013)
@ordered SELECT flag FROM users GROUP BY flag ORDER BY COUNT(DISTINCT tag) DESC, flag

-- ===== SUM(DISTINCT …), AVG(DISTINCT …) =====
SELECT SUM(DISTINCT score), AVG(DISTINCT score) FROM users
SELECT SUM(DISTINCT balance), AVG(DISTINCT balance) FROM users
SELECT SUM(DISTINCT ratio), AVG(DISTINCT ratio) FROM users
SELECT SUM(DISTINCT amount), AVG(DISTINCT amount), COUNT(DISTINCT amount) FROM orders
SELECT SUM(DISTINCT qty), AVG(DISTINCT qty), SUM(qty), AVG(qty) FROM orders
SELECT SUM(DISTINCT score) FROM users WHERE score IS NULL
SELECT AVG(DISTINCT qty) FROM orders WHERE 1 = 0
@ordered SELECT qty, SUM(DISTINCT amount), AVG(DISTINCT amount) FROM orders GROUP BY qty ORDER BY qty
@ordered SELECT flag, SUM(DISTINCT score), AVG(DISTINCT balance) FROM users GROUP BY flag ORDER BY flag
@ordered SELECT flag, AVG(DISTINCT score) AS a FROM users GROUP BY flag ORDER BY a DESC, flag
@ordered SELECT qty, SUM(DISTINCT user_id) AS s FROM orders GROUP BY qty HAVING s > 1000000 ORDER BY qty
@params=5 SELECT SUM(DISTINCT qty), AVG(DISTINCT amount) FROM orders WHERE qty < ?

-- ===== BIT_AND / BIT_OR / BIT_XOR =====
SELECT BIT_AND(score), BIT_OR(score), BIT_XOR(score) FROM users
SELECT BIT_OR(flag), BIT_XOR(flag), BIT_AND(flag) FROM users
SELECT BIT_XOR(balance), BIT_OR(amount) FROM users, orders WHERE users.id = orders.user_id
SELECT BIT_AND(qty), BIT_OR(qty), BIT_XOR(qty) FROM orders WHERE 1 = 0
@ordered SELECT qty, BIT_OR(id), BIT_XOR(id), BIT_AND(id) FROM orders GROUP BY qty ORDER BY qty
@ordered SELECT flag, BIT_OR(score) AS b FROM users GROUP BY flag HAVING b > 1000 ORDER BY flag
@ordered SELECT flag, BIT_XOR(score) FROM users GROUP BY flag ORDER BY BIT_XOR(score), flag
SELECT COUNT(DISTINCT tag), BIT_XOR(score), BIT_AND(id), BIT_OR(flag) FROM users
@ordered SELECT qty, COUNT(DISTINCT user_id), BIT_XOR(user_id), BIT_OR(amount) FROM orders GROUP BY qty ORDER BY qty
SELECT BIT_XOR(ratio) FROM users WHERE ratio BETWEEN -100 AND 100

-- ===== STD / STDDEV / VARIANCE families =====
SELECT STD(score), STDDEV(score), STDDEV_POP(score), STDDEV_SAMP(score), VARIANCE(score), VAR_POP(score), VAR_SAMP(score) FROM users
SELECT STD(qty), VAR_SAMP(qty), STDDEV_SAMP(amount), VAR_POP(amount) FROM orders
SELECT STD(score), VAR_SAMP(score) FROM users WHERE 1 = 0
SELECT STDDEV_SAMP(score), VAR_SAMP(score), STD(score) FROM users WHERE id = 1 OR id = 1000000000013
@ordered SELECT flag, STD(score), VARIANCE(score), COUNT(*) FROM users GROUP BY flag ORDER BY flag
@ordered SELECT qty, STDDEV_SAMP(amount) AS s FROM orders GROUP BY qty ORDER BY s DESC, qty LIMIT 5
@ordered SELECT qty, VAR_POP(user_id % 100) FROM orders GROUP BY qty HAVING VAR_POP(user_id % 100) > 100 ORDER BY qty
@ordered SELECT flag, STD(score), COUNT(DISTINCT tag), GROUP_CONCAT(DISTINCT flag) FROM users GROUP BY flag ORDER BY flag

-- ===== GROUP_CONCAT =====
SELECT GROUP_CONCAT(id ORDER BY id) FROM users WHERE id BETWEEN 1 AND 40
SELECT GROUP_CONCAT(id ORDER BY id DESC SEPARATOR ';') FROM users WHERE id BETWEEN -100 AND 60
SELECT GROUP_CONCAT(DISTINCT qty ORDER BY qty DESC SEPARATOR '|') FROM orders
SELECT GROUP_CONCAT(DISTINCT qty ORDER BY qty) FROM orders WHERE qty IS NULL
SELECT GROUP_CONCAT(DISTINCT flag ORDER BY flag DESC), AVG(DISTINCT ratio), STD(flag) FROM users
SELECT GROUP_CONCAT(score ORDER BY id) FROM users WHERE id BETWEEN 1 AND 60
SELECT GROUP_CONCAT(id), COUNT(DISTINCT id) FROM users WHERE 1 = 0
SELECT GROUP_CONCAT(balance ORDER BY id), GROUP_CONCAT(ratio ORDER BY id) FROM users WHERE id BETWEEN 1 AND 30
SELECT GROUP_CONCAT(name, '/', id ORDER BY id SEPARATOR '') FROM users WHERE id BETWEEN 1 AND 25
SELECT GROUP_CONCAT(DISTINCT TRIM(LOWER(status)) ORDER BY TRIM(LOWER(status))) FROM orders
SELECT GROUP_CONCAT(DISTINCT tag_bin ORDER BY tag_bin DESC) FROM users WHERE tag_bin NOT LIKE '% '
SELECT GROUP_CONCAT(tag ORDER BY tag, id) FROM users WHERE id BETWEEN 1 AND 50
@ordered SELECT qty, GROUP_CONCAT(id ORDER BY id DESC SEPARATOR '') FROM orders WHERE id < 200 GROUP BY qty ORDER BY qty
@ordered SELECT flag, GROUP_CONCAT(name, '/', id ORDER BY id) FROM users WHERE id BETWEEN 1 AND 100 GROUP BY flag ORDER BY flag
@ordered SELECT flag, COUNT(DISTINCT score) AS n, GROUP_CONCAT(DISTINCT score ORDER BY score) FROM users WHERE id < 300 GROUP BY flag HAVING n > 5 ORDER BY flag
@ordered SELECT qty, GROUP_CONCAT(id ORDER BY id) AS ids FROM orders WHERE id < 60 GROUP BY qty ORDER BY ids
@ordered SELECT qty, GROUP_CONCAT(amount ORDER BY amount, id) FROM orders WHERE id < 300 GROUP BY qty ORDER BY qty DESC LIMIT 4
@ordered SELECT user_id, GROUP_CONCAT(qty ORDER BY id) FROM orders WHERE user_id < 30 GROUP BY user_id ORDER BY user_id
@params=20 SELECT GROUP_CONCAT(id ORDER BY id) FROM users WHERE id < ?
@params=0 SELECT BIT_AND(qty), BIT_OR(qty), GROUP_CONCAT(DISTINCT qty ORDER BY qty) FROM orders WHERE qty < ?
@params=3 SELECT BIT_AND(qty), BIT_XOR(user_id), SUM(DISTINCT amount), GROUP_CONCAT(DISTINCT qty ORDER BY qty) FROM orders WHERE qty < ?
@params=3 SELECT qty, COUNT(DISTINCT user_id), AVG(DISTINCT amount), GROUP_CONCAT(id ORDER BY id DESC) FROM orders WHERE qty < ? AND id < 100 GROUP BY qty ORDER BY qty
@script SET SESSION group_concat_max_len = 20; SELECT GROUP_CONCAT(id ORDER BY id) FROM users WHERE id BETWEEN 1 AND 40; SHOW WARNINGS; @ordered SELECT qty, GROUP_CONCAT(id ORDER BY id) FROM orders WHERE id < 100 GROUP BY qty ORDER BY qty; @count SHOW WARNINGS; SELECT GROUP_CONCAT('é' ORDER BY id) FROM users WHERE id < 30; SET SESSION group_concat_max_len = DEFAULT
@script SET SESSION group_concat_max_len = 600; SELECT GROUP_CONCAT(id ORDER BY id) FROM users WHERE id < 10; SELECT GROUP_CONCAT(tag ORDER BY id) FROM users WHERE id < 10; SET SESSION group_concat_max_len = DEFAULT
SELECT GROUP_CONCAT(tag_bin ORDER BY id) FROM users WHERE id < 100
@script SET collation_connection = 'utf8mb4_bin'; SELECT GROUP_CONCAT(id ORDER BY id) FROM users WHERE id < 40; SELECT GROUP_CONCAT(id, tag ORDER BY id) FROM users WHERE id < 40; SET collation_connection = 'utf8mb4_general_ci'

-- ===== GROUP BY … WITH ROLLUP, merged by the proxy =====
-- The shards group without ROLLUP; the merge adds each prefix's total after its last group
-- and the grand total last, MariaDB's order (total: compared row by row). A rolled-up group
-- column shows NULL. Group expressions, columns grouped twice and columns that are not grouped
-- keep the copies (MariaDB describes or fills them differently under ROLLUP).
@ordered SELECT qty, COUNT(*), SUM(amount), MIN(amount), MAX(amount), AVG(amount) FROM orders GROUP BY qty WITH ROLLUP
@ordered @ci=0 SELECT status, qty, COUNT(*), SUM(amount) FROM orders GROUP BY status, qty WITH ROLLUP
@ordered @ci=1 SELECT qty, status, COUNT(*), MAX(created_at) FROM orders GROUP BY qty, status WITH ROLLUP
@ordered SELECT flag, COUNT(*), COUNT(score), SUM(score), AVG(score), STDDEV(score), VAR_SAMP(score) FROM users GROUP BY flag WITH ROLLUP
@ordered SELECT flag, COUNT(DISTINCT tag), SUM(DISTINCT score), BIT_OR(score), BIT_AND(id), BIT_XOR(flag) FROM users GROUP BY flag WITH ROLLUP
@ordered SELECT id, COUNT(DISTINCT flag), SUM(DISTINCT score) FROM users WHERE id < 60 GROUP BY id WITH ROLLUP
@ordered SELECT flag, id, COUNT(DISTINCT tag) FROM users WHERE id < 60 GROUP BY flag, id WITH ROLLUP
@ordered SELECT flag, GROUP_CONCAT(id ORDER BY id), COUNT(*) FROM users WHERE id < 120 GROUP BY flag WITH ROLLUP
@ordered SELECT flag, SUM(score) / COUNT(*), ROUND(AVG(balance), 2), MAX(score) - MIN(score), COUNT(*) + 1 FROM users GROUP BY flag WITH ROLLUP
@ordered SELECT qty, COUNT(*) FROM orders GROUP BY qty WITH ROLLUP HAVING COUNT(*) > 500
@ordered SELECT qty, COUNT(*) FROM orders GROUP BY qty WITH ROLLUP HAVING qty IS NULL
@ordered SELECT qty, COUNT(*) AS n FROM orders GROUP BY qty WITH ROLLUP HAVING n < 600 AND qty > 2
@ordered SELECT qty, COUNT(*) FROM orders GROUP BY qty WITH ROLLUP LIMIT 3
@ordered SELECT qty, COUNT(*) FROM orders GROUP BY qty WITH ROLLUP LIMIT 2, 100
@ordered SELECT YEAR(created_at) AS y, qty, COUNT(*) FROM orders GROUP BY y, qty WITH ROLLUP
@ordered SELECT user_id % 5, COUNT(*), SUM(amount) FROM orders GROUP BY user_id % 5 WITH ROLLUP
@ordered SELECT flag, score > 0, COUNT(*) FROM users GROUP BY flag, score > 0 WITH ROLLUP
SELECT qty, COUNT(*) FROM orders WHERE 1 = 0 GROUP BY qty WITH ROLLUP
@ordered SELECT COUNT(*), flag FROM users GROUP BY flag WITH ROLLUP
@ordered SELECT flag AS f, COUNT(*) AS n FROM users GROUP BY f WITH ROLLUP
@ordered SELECT qty, MIN(amount), COUNT(*) FROM orders WHERE amount > 100 AND amount < 50 GROUP BY `qty` WITH ROLLUP
@ordered SELECT Qty, COUNT(*) FROM orders GROUP BY orders.qty WITH ROLLUP
@ordered SELECT id, COUNT(*), MAX(amount) FROM orders WHERE id = 5 GROUP BY id WITH ROLLUP
@ordered SELECT id, MAX(created_at) FROM users WHERE id = 0b10 GROUP BY id WITH ROLLUP HAVING COUNT(*) > 2
@ordered SELECT qty, COUNT(*) FROM orders WHERE id = 7 GROUP BY qty WITH ROLLUP
@ordered @pad=1 SELECT flag, tag_bin, COUNT(*) FROM users WHERE id < 300 GROUP BY 1, 2 WITH ROLLUP
@ordered SELECT user_id, COUNT(*), SUM(amount) FROM orders WHERE user_id IN (1, 2, 3, 4, 5, 6, 7, 8) GROUP BY user_id WITH ROLLUP
@ordered SELECT user_id, qty, COUNT(*) FROM orders WHERE user_id < 20 GROUP BY user_id, qty WITH ROLLUP
@ordered SELECT u.flag, COUNT(*), SUM(o.amount) FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.flag WITH ROLLUP
@ordered @params=4 SELECT qty, COUNT(*), SUM(amount) FROM orders WHERE qty > ? GROUP BY qty WITH ROLLUP
@ordered SELECT flag, flag, COUNT(*) FROM users GROUP BY flag, flag WITH ROLLUP
SELECT qty, COUNT(*) FROM orders GROUP BY qty WITH ROLLUP ORDER BY qty
@ordered SELECT flag, flag + 1, COUNT(*) FROM users GROUP BY flag WITH ROLLUP
@ordered SELECT flag, flag * COUNT(*) FROM users GROUP BY flag WITH ROLLUP
SELECT n, COUNT(*) FROM (SELECT qty, COUNT(*) n FROM orders GROUP BY qty WITH ROLLUP) d GROUP BY n
@ordered SELECT qty, COUNT(*) FROM orders GROUP BY qty WITH ROLLUP UNION ALL SELECT 99, 1
