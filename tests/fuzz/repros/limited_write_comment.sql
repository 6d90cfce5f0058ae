-- seed 1 (issue #13 session of 2026-12-04): an UPDATE with LIMIT across shards runs as a
-- locking SELECT of the rows, then the UPDATE narrowed to them; the narrowed UPDATE was the
-- text up to its WHERE with `WHERE (…) AND id IN (…)` appended on the same line, so the
-- `-- WHERE 1=0` comment ending the first line swallowed it: the UPDATE ran without a WHERE
-- (58 rows changed on a shard, 0 on one server). Each spliced piece now ends its line.

INSERT INTO rg_events (id, n) VALUES (657, 1), (659, 2)

UPDATE rg_events SET n = NULL -- WHERE 1=0
WHERE id <=> 658 ORDER BY id LIMIT 2

UPDATE rg_events SET n = 5 # comment
WHERE id > 600 -- another
ORDER BY id -- and another
LIMIT 1 -- last
