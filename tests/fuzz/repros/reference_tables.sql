-- A reference table has one copy per shard; the client should see one copy's answer.
INSERT INTO ref_countries (id, pop) VALUES (1, 10), (2, 20)

UPDATE ref_countries SET pop = pop + 1

DELETE FROM ref_countries WHERE id = 2

-- A write the proxy cannot parse (NO_BACKSLASH_ESCAPES string ending in a backslash) reaches only s0.
SET sql_mode = 'NO_BACKSLASH_ESCAPES'

UPDATE ref_countries SET pop = 77 WHERE id = 1 AND 'x\' = 'x\'
