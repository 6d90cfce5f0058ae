INSERT INTO un_log (msg, n) VALUES ('a', 1)

SELECT LAST_INSERT_ID()

SELECT LAST_INSERT_ID() AS lid, @@identity, @@last_insert_id
