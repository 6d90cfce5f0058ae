INSERT INTO ch_users (id, k) VALUES (1, 1), (2, 1), (5, 2), (7, 2)

SELECT id FROM ch_users WHERE k = 1

SELECT FOUND_ROWS()

UPDATE ch_users SET k = 3 WHERE k = 2

SELECT ROW_COUNT()

SET @@max_sort_length = 21

SELECT COUNT (*) FROM ch_users
