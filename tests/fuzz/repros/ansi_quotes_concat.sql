-- After SET sql_mode = CONCAT(@@sql_mode, ...) ANSI_QUOTES is still on.
SET sql_mode = 'ANSI_QUOTES'

SET sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')

SELECT @@sql_mode

SELECT COUNT(*) FROM "ch_users"
