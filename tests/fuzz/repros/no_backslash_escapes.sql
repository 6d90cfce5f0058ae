-- Under NO_BACKSLASH_ESCAPES 'back\slash' is the 10 characters back\slash.
INSERT INTO st_accounts (code, owner) VALUES ('back\\slash', 1)

SET sql_mode = 'NO_BACKSLASH_ESCAPES'

SELECT code, owner FROM st_accounts WHERE code = 'back\slash'

INSERT INTO st_accounts (code, owner) VALUES ('c:\dir', 2)

SET sql_mode = DEFAULT

SELECT code, owner FROM st_accounts WHERE code = 'c:\\dir'
