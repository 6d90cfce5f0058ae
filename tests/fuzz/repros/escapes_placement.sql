-- '\a' is 'a' (unknown escape), so 'b\ack\\slash' is back\slash.
INSERT INTO st_accounts (code, owner) VALUES ('b\ack\\slash', 1)

SELECT code FROM st_accounts WHERE code = 'back\\slash'
