-- Runs once, on first start, on every MySQL server of docker-compose.yml (primaries and
-- replicas alike, so that a replica has the same accounts and schema as its primary).

CREATE DATABASE IF NOT EXISTS app;

-- The account shardgate logs in with (`[backend]` in shardgate.toml). MySQL 8's default
-- caching_sha2_password is fine: the proxy's backend login fetches the server's RSA key when
-- the connection is not encrypted. REPLICATION CLIENT lets its health monitor run
-- SHOW REPLICA STATUS to measure lag. `_shardgate_app` is the proxy's own database
-- (`[backend] own_database`: placements, resharding state), which it creates when needed.
CREATE USER 'shardgate'@'%' IDENTIFIED BY 'shardgate';
GRANT ALL PRIVILEGES ON app.* TO 'shardgate'@'%';
GRANT ALL PRIVILEGES ON `\_shardgate\_app`.* TO 'shardgate'@'%';
GRANT REPLICATION CLIENT ON *.* TO 'shardgate'@'%';

-- The account replicas connect to their primary with.
CREATE USER 'repl'@'%' IDENTIFIED BY 'repl';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
