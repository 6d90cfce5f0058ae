-- MariaDB accepts 4.3e1 and 44.0 as the integer shard key 43 / 44.
INSERT INTO ch_users (id, k) VALUES (4.3e1, 1)

INSERT INTO ch_users (id, k) VALUES (44.0, 2)

SELECT id FROM ch_users ORDER BY id
