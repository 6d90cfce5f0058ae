INSERT INTO ch_users (id, k) VALUES (1, 1), (2, 2), (5, 3), (7, 4)

SET @x = (SELECT COUNT(*) FROM ch_users)

SELECT @x

SET @m = (SELECT MAX(id) FROM ch_users)

SELECT @m

SELECT @k := k FROM ch_users WHERE id = 7

SELECT @k

SELECT k INTO @i FROM ch_users WHERE id = 7

SELECT @i

SELECT id FROM ch_users WHERE id = @i

DO @d := (SELECT COUNT(*) FROM ch_users)

SELECT @d

INSERT INTO un_log (msg, n) VALUES ('x', (SELECT COUNT(*) FROM ch_users))

SET sql_select_limit = 0, @c = 0

SELECT 1
