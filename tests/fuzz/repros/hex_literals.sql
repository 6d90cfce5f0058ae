-- Hex literals are numbers in numeric context (0x2A = 42); X'2A' is a string.
INSERT INTO ch_users (id, k) VALUES (0, 1), (42, 2), (624, 3), (65535, 4)

SELECT id FROM ch_users WHERE id = 0x2A

SELECT id FROM ch_users WHERE id = 0xffff

SELECT id FROM ch_users WHERE id = 0x270

SELECT id FROM ch_users WHERE id = X'2A'
