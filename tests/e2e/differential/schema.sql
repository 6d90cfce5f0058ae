-- Schema-awareness corpus of tests/differential.rs (issue #13, point 2): forms the proxy plans
-- with the columns it reads from information_schema. `SELECT *` / `t.*` ordered, grouped or
-- de-duplicated across shards, `JOIN … USING` / `NATURAL JOIN` of co-located tables (`orders`
-- and `profiles` are both sharded by `user_id` on one ring), and INSERT without a column list.
-- Orders are made total with the unique id, so `@ordered` compares row by row.

-- ===== SELECT * ordered by any column across shards =====
@ordered SELECT * FROM users ORDER BY name, id
@ordered SELECT * FROM users ORDER BY name DESC, id DESC
@ordered SELECT * FROM users ORDER BY score DESC, id
@ordered SELECT * FROM users ORDER BY score, id LIMIT 25
@ordered SELECT * FROM users ORDER BY created_at, id LIMIT 25
@ordered SELECT * FROM users ORDER BY balance, id LIMIT 10 OFFSET 5
@ordered SELECT * FROM users ORDER BY ratio DESC, id LIMIT 40
@ordered SELECT * FROM users ORDER BY email, id LIMIT 50
@ordered SELECT * FROM users ORDER BY tag_bin, id LIMIT 60
@ordered SELECT * FROM users ORDER BY flag, id DESC LIMIT 30
@ordered SELECT * FROM users ORDER BY tag, id LIMIT 30
@ordered SELECT * FROM users ORDER BY UPPER(name), id LIMIT 30
@ordered SELECT * FROM users ORDER BY score + flag, id LIMIT 30
@ordered SELECT * FROM users ORDER BY id % 7, id LIMIT 35
@ordered SELECT * FROM users ORDER BY COALESCE(score, -1) DESC, id LIMIT 20
@ordered SELECT * FROM users WHERE id IN (1, 2, 3, 4, 5, 6, 7, 8, -8, 1000000000013) ORDER BY name, id
@ordered SELECT * FROM users WHERE score > 500 ORDER BY ratio, id
@ordered SELECT * FROM users WHERE tag = 'alpha' ORDER BY score, id
@ordered SELECT * FROM users WHERE name LIKE 'J%' ORDER BY created_at DESC, id
@ordered SELECT * FROM users WHERE id < 0 ORDER BY balance, id
@ordered SELECT * FROM users WHERE id > 1000000000000 ORDER BY score DESC, id LIMIT 10
@ordered SELECT * FROM users WHERE email IS NULL ORDER BY name, id LIMIT 20
@ordered SELECT * FROM orders ORDER BY user_id, id
@ordered SELECT * FROM orders ORDER BY user_id DESC, id LIMIT 50
@ordered SELECT * FROM orders ORDER BY status, id LIMIT 80
@ordered SELECT * FROM orders ORDER BY qty DESC, amount, id LIMIT 40
@ordered SELECT * FROM orders ORDER BY amount DESC, id LIMIT 30 OFFSET 30
@ordered SELECT * FROM orders ORDER BY created_at, id LIMIT 20 OFFSET 100
@ordered SELECT * FROM orders WHERE amount > 500 ORDER BY amount DESC, id
@ordered SELECT * FROM orders WHERE status = 'paid' ORDER BY qty, id
@ordered SELECT * FROM orders WHERE user_id IN (1, 2, 3, 17, -8) ORDER BY amount, id
@ordered SELECT * FROM orders WHERE qty IS NULL ORDER BY user_id, id LIMIT 25
@ordered SELECT * FROM orders ORDER BY amount * qty DESC, id LIMIT 15
@ordered SELECT * FROM profiles ORDER BY level, user_id
@ordered SELECT * FROM profiles ORDER BY bio DESC, user_id LIMIT 40
@ordered SELECT * FROM profiles WHERE level > 5 ORDER BY bio, user_id

-- ===== t.* and * with other items =====
@ordered SELECT u.* FROM users u ORDER BY u.name, u.id
@ordered SELECT u.* FROM users u ORDER BY name, id LIMIT 20
@ordered SELECT users.* FROM users ORDER BY users.score DESC, users.id LIMIT 20
@ordered SELECT *, id * 2 AS twice FROM users ORDER BY twice LIMIT 10
@ordered SELECT *, score + 1 AS s1 FROM users ORDER BY s1, id LIMIT 20
@ordered SELECT *, amount * 2 AS doubled FROM orders ORDER BY doubled DESC, id LIMIT 20
@ordered SELECT id AS k, u.* FROM users u ORDER BY name, k LIMIT 15
@ordered SELECT name, u.*, score FROM users u ORDER BY score, id LIMIT 15
@ordered SELECT u.*, 'x' AS marker FROM users u ORDER BY tag_bin, id LIMIT 10
@ordered SELECT o.*, o.amount AS a2 FROM orders o ORDER BY a2 DESC, o.id LIMIT 12
@ordered SELECT *, LENGTH(name) AS len FROM users ORDER BY len DESC, id LIMIT 12
@ordered SELECT * FROM users ORDER BY 3, id LIMIT 12
@ordered SELECT * FROM orders ORDER BY 3 DESC, 1 LIMIT 12

-- ===== SELECT DISTINCT * =====
@ordered SELECT DISTINCT * FROM orders ORDER BY user_id, id LIMIT 20
@ordered SELECT DISTINCT * FROM users ORDER BY id LIMIT 10
SELECT DISTINCT * FROM profiles WHERE level = 3
@ordered SELECT DISTINCT o.* FROM orders o WHERE o.amount > 900 ORDER BY o.id

-- ===== SELECT * with GROUP BY (grouped by the key: every column follows the group) =====
@ordered SELECT * FROM users GROUP BY id ORDER BY id LIMIT 20
@ordered SELECT * FROM orders GROUP BY id ORDER BY amount DESC, id LIMIT 20
@ordered SELECT *, COUNT(*) FROM orders GROUP BY id ORDER BY id LIMIT 15
@ordered SELECT *, COUNT(*) AS n FROM users GROUP BY id ORDER BY name, id LIMIT 15
@ordered SELECT u.*, COUNT(*) AS n FROM users u GROUP BY u.id ORDER BY n DESC, u.id LIMIT 10
SELECT * FROM users GROUP BY id HAVING score > 990
SELECT * FROM profiles GROUP BY user_id HAVING level = 6
@ordered SELECT * FROM profiles GROUP BY user_id ORDER BY level DESC, user_id LIMIT 25
@ordered SELECT u.*, COUNT(o.id) AS n, SUM(o.amount) AS total FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY n DESC, u.id LIMIT 10
@ordered SELECT u.*, MAX(o.amount) AS top FROM users u JOIN orders o ON o.user_id = u.id GROUP BY u.id ORDER BY top DESC, u.id LIMIT 10
@ordered SELECT p.*, COUNT(*) AS n FROM profiles p JOIN orders o ON o.user_id = p.user_id GROUP BY p.user_id ORDER BY n DESC, p.user_id LIMIT 10
@ordered SELECT * FROM users GROUP BY 1 ORDER BY 1 LIMIT 5

-- ===== Joins with * ordered across shards =====
@ordered SELECT * FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.id LIMIT 30
@ordered SELECT * FROM users u JOIN orders o ON o.user_id = u.id ORDER BY u.name, o.id LIMIT 30
@ordered SELECT u.*, o.amount FROM users u JOIN orders o ON o.user_id = u.id ORDER BY o.amount DESC, o.id LIMIT 20
@ordered SELECT o.*, u.name FROM orders o JOIN users u ON u.id = o.user_id ORDER BY u.name, o.id LIMIT 25
@ordered SELECT o.* FROM orders o JOIN users u ON u.id = o.user_id WHERE u.score > 900 ORDER BY o.amount, o.id
@ordered SELECT * FROM users u LEFT JOIN orders o ON o.user_id = u.id ORDER BY u.id, o.id LIMIT 40
@ordered SELECT * FROM users u JOIN flags f ON f.flag = u.flag ORDER BY f.label, u.id LIMIT 20
@ordered SELECT u.*, f.* FROM users u JOIN flags f ON f.flag = u.flag ORDER BY u.score, u.id LIMIT 20
@ordered SELECT * FROM orders o JOIN profiles p ON p.user_id = o.user_id ORDER BY p.level, o.id LIMIT 30

-- ===== JOIN … USING and NATURAL JOIN of co-located tables =====
SELECT * FROM orders JOIN profiles USING (user_id)
@ordered SELECT * FROM orders JOIN profiles USING (user_id) ORDER BY id
@ordered SELECT * FROM orders JOIN profiles USING (user_id) ORDER BY level, id LIMIT 30
@ordered SELECT * FROM profiles JOIN orders USING (user_id) ORDER BY amount DESC, id LIMIT 30
@ordered SELECT * FROM orders NATURAL JOIN profiles ORDER BY id LIMIT 40
@ordered SELECT * FROM profiles NATURAL JOIN orders ORDER BY bio, id LIMIT 40
@ordered SELECT * FROM orders LEFT JOIN profiles USING (user_id) ORDER BY id LIMIT 40
@ordered SELECT * FROM orders NATURAL LEFT JOIN profiles ORDER BY id LIMIT 40
@ordered SELECT user_id, o.id, p.bio FROM orders o JOIN profiles p USING (user_id) ORDER BY o.id LIMIT 25
@ordered SELECT o.*, p.level FROM orders o JOIN profiles p USING (user_id) ORDER BY p.level DESC, o.id LIMIT 25
@ordered SELECT p.*, o.amount FROM orders o NATURAL JOIN profiles p ORDER BY o.amount, o.id LIMIT 25
SELECT COUNT(*) FROM orders JOIN profiles USING (user_id)
SELECT COUNT(*), SUM(amount) FROM orders NATURAL JOIN profiles
SELECT COUNT(*) FROM orders LEFT JOIN profiles USING (user_id) WHERE level IS NULL
@ordered SELECT level, COUNT(*), SUM(amount) FROM orders JOIN profiles USING (user_id) GROUP BY level ORDER BY level
@ordered SELECT user_id, COUNT(*) AS n FROM orders NATURAL JOIN profiles GROUP BY user_id ORDER BY n DESC, user_id LIMIT 10
SELECT * FROM orders JOIN profiles USING (user_id) WHERE user_id = 17
SELECT * FROM orders NATURAL JOIN profiles WHERE user_id IN (1, 4, 7, -8)
@ordered SELECT DISTINCT level FROM orders JOIN profiles USING (user_id) ORDER BY level
@ordered SELECT * FROM orders JOIN profiles USING (user_id) WHERE amount > 800 ORDER BY user_id, id

-- ===== INSERT without a column list: the shard key found by position =====
@dml=orders INSERT INTO orders VALUES (900001, 17, 12.50, '2024-01-01 00:00:00', 'new', 3)
@dml=orders INSERT INTO orders VALUES (900002, 1, 1.00, NULL, NULL, NULL), (900003, -8, 2.00, NULL, 'paid', 1), (900004, 1000000000013, 3.00, NULL, NULL, 2), (900005, 2, 4.00, NULL, 'new', 9)
@dml=orders INSERT IGNORE INTO orders VALUES (900001, 17, 99.00, NULL, NULL, NULL), (900006, 3, 5.00, NULL, NULL, NULL)
@dml=orders REPLACE INTO orders VALUES (900002, 1, 7.00, NULL, 'replaced', NULL)
@dml=users INSERT INTO users VALUES (7000001, 'pos1@example.com', 'Positional', '2024-02-02 00:00:00', 5, 1.5, 0.25, 'alpha', 'alpha', 1, 'a'), (7000002, NULL, 'Second', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
@dml=profiles INSERT INTO profiles VALUES (7000001, 'positional', 4), (7000002, NULL, NULL), (17000003, 'third', 1)
@dml=notes INSERT INTO notes VALUES (3000, 'positional'), (3001, 'positional two')

-- Shard-key UPDATEs of a table whose primary key is its shard key: rows found again by the
-- primary key they are given (issue #13, `moving_update.rs`)
@dml=profiles UPDATE profiles SET user_id = 6000001, bio = 'moved' WHERE user_id = 4
@dml=profiles UPDATE profiles SET user_id = 10 WHERE user_id = 13
@dml=profiles UPDATE profiles SET user_id = 6000002 WHERE user_id IN (16, 19)
@dml=profiles UPDATE profiles SET user_id = 6000003, level = level + 1 WHERE user_id = 22 AND level IS NOT NULL
@dml=profiles UPDATE profiles SET bio = 'stays', user_id = 7 WHERE user_id = 7
