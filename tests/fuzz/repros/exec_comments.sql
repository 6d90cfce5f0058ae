-- Executable comments: MariaDB 10.11 runs /*!NNNNN only for NNNNN < 50700 or 99999 < NNNNN <= 101199,
-- and /*M!NNNNNN for NNNNNN <= its version. ch_users.id 5 and 7 live on different shards.
INSERT INTO ch_users (id, k) VALUES (5, 1), (7, 2)

SELECT id FROM ch_users WHERE id = 5 /*!99999 OR id = 7 */

SELECT id FROM ch_users WHERE id = 5 /*!110000 OR id = 7 */

SELECT id FROM ch_users WHERE id = 5 /*M!100000 OR id = 7 */

SELECT id /*!50700 , 1 AS extra */ FROM ch_users WHERE id = 5 ORDER BY id

UPDATE ch_users SET k = 10 WHERE id = 5 /*M!100000 OR id = 7 */

DELETE FROM ch_users WHERE id = 5 /*M!100000 OR id = 7 */

SELECT id, k FROM ch_users ORDER BY id

INSERT INTO ref_countries (id, pop) VALUES (101, 1), (128, 2)

SET @@sql_mode = 'ANSI_QUOTES'

/*!110000 SET @@sql_mode = '' */

UPDATE "ref_countries" SET pop = 345 WHERE id = 101 OR id = 128
