-- SET autocommit = 1 commits the open transaction; the INSERT then autocommits.
BEGIN

SET autocommit = 0

SET autocommit = 1

INSERT INTO un_kv (k, v) VALUES ('a', 1)
