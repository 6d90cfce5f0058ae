-- seed 11 (issue #13 session of 2026-12-04): a join of a utf8mb4_general_ci key (`tag`, with an
-- index) and a utf8mb4_bin one (`code`) compares under utf8mb4_bin (the _bin collation wins a
-- coercion of two columns): 'Abc  ' = 'Abc' (PAD SPACE), 'abc ' <> 'Abc'. One MariaDB answers
-- one row. The proxy answered it from copies of both tables, made as Aria temporary tables;
-- Aria knows its one-row copy of st_accounts exactly, MariaDB 10.11 makes it a constant table,
-- and its index lookup of the constant on `tag` found no row. The copies now keep the table's
-- engine (InnoDB), over which MariaDB plans as over the tables; the Join primitive refuses keys
-- of two collations (the copies answer them).

INSERT INTO `st_accounts` (`code`, `owner`, `balance`, `label`) VALUES ('Abc', '8', '32240.3835', 'ABC')

INSERT INTO `st_tags` (`id`, `tag`, `weight`, `note`) VALUES ('1000069', 'abc ', '-74', '10'), ('1000080', 'Abc  ', '44', NULL)

SELECT g.tag, g.weight, a.code, a.balance FROM st_tags g JOIN st_accounts a ON g.tag = a.code ORDER BY g.id, a.code
