#!/usr/bin/env bash
# Replicas only: start GTID replication from REPLICATION_SOURCE_HOST, then make the server
# read-only. Run by the mysql image's entrypoint on first start (sourced instead if the file
# lost its executable bit), against its temporary set-up server; the replication settings are
# stored in the data directory and the replica threads start by themselves when the real
# server starts.
#
# docker-compose.yml starts a replica only once its primary is healthy (`depends_on` with
# `condition: service_healthy`), and the I/O thread keeps retrying (SOURCE_CONNECT_RETRY)
# should the primary be briefly unreachable.

set -eo pipefail

: "${REPLICATION_SOURCE_HOST:?set REPLICATION_SOURCE_HOST to the host name of the primary}"

mysql --protocol=socket -uroot -p"${MYSQL_ROOT_PASSWORD}" <<SQL
CHANGE REPLICATION SOURCE TO
    SOURCE_HOST = '${REPLICATION_SOURCE_HOST}',
    SOURCE_PORT = 3306,
    SOURCE_USER = 'repl',
    SOURCE_PASSWORD = 'repl',
    SOURCE_AUTO_POSITION = 1,
    SOURCE_CONNECT_RETRY = 5,
    SOURCE_RETRY_COUNT = 100000,
    GET_SOURCE_PUBLIC_KEY = 1;
START REPLICA;
-- Persisted in mysqld-auto.cnf: no client write, the proxy's included, reaches a replica.
SET PERSIST read_only = ON;
SET PERSIST super_read_only = ON;
SQL
