#!/usr/bin/env bash
# Runs MariaDB's own regression suite (the `main` tests in tests.txt, or the tests named as arguments)
# against an already running MariaDB server, directly or through a proxy in front of it.
#
#   SERVER_PORT   the MariaDB server's TCP port (required); it must run with server.cnf's settings
#   SERVER_SOCK   its Unix socket (required: some tests read it)
#   ADMIN         client arguments for a direct admin login used to load the `mtr` database and to
#                 clean up between tests (default: -uroot, no password, over TCP to SERVER_PORT)
#   PORT          where the tests connect (default SERVER_PORT; the proxy's port to test the proxy)
#   PASSWORD      the password the tests log in with as root (default none)
#   VARDIR        scratch directory for the run (default /tmp/mtr-run)
#
# Prints the number of passing tests last; the passing names are in $VARDIR/pass.txt and the full
# log in $VARDIR/mtr.log. Needs the Debian packages mariadb-test and mariadb-client.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${SERVER_PORT:?set SERVER_PORT}" "${SERVER_SOCK:?set SERVER_SOCK}"
ADMIN=${ADMIN:-"-h127.0.0.1 -P$SERVER_PORT -uroot"}
PORT=${PORT:-$SERVER_PORT}
VARDIR=${VARDIR:-/tmp/mtr-run}
M=/usr/share/mysql/mysql-test
[ -d "$M" ] || { echo "mtr: install the Debian package mariadb-test" >&2; exit 2; }
mkdir -p "$VARDIR/log" "$VARDIR/tmp" "$VARDIR/bin"

# the mtr database that mariadb-test-run --extern expects (what mtr's own bootstrap loads)
if ! mariadb --no-defaults $ADMIN -N -e "SELECT 1 FROM mtr.saved_global_priv LIMIT 1" >/dev/null 2>&1; then
  { echo "DROP DATABASE IF EXISTS mtr; CREATE DATABASE mtr CHARSET=latin1;"
    for f in mtr_warnings mtr_check; do
      sed -e 's/^delimiter ||;/DELIMITER ||/' -e '/^[[:space:]]*--/d' "$M/include/$f.sql"; echo "DELIMITER ;"
    done
    echo "USE mysql;"; cat /usr/share/mysql/mysql_test_data_timezone.sql
    # as mtr's own bootstrap: no anonymous accounts, no grants on `test` to PUBLIC
    echo "DELETE FROM mysql.global_priv WHERE user = ''; DELETE FROM mysql.db WHERE user IN ('', 'PUBLIC'); FLUSH PRIVILEGES;"
    echo "CREATE TABLE mtr.saved_global_priv AS SELECT * FROM mysql.global_priv;"; } |
    mariadb --no-defaults $ADMIN || { echo "mtr: loading the mtr database failed" >&2; exit 2; }
fi

# the privilege tables as this run starts, which the wrapper restores before every test
export PRIV_TABLES="global_priv db tables_priv columns_priv procs_priv proxies_priv roles_mapping"
for t in $PRIV_TABLES; do echo "CREATE TABLE IF NOT EXISTS mtr.saved_$t AS SELECT * FROM mysql.$t;"; done |
  mariadb --no-defaults $ADMIN || { echo "mtr: saving the privilege tables failed" >&2; exit 2; }
# the server's default sql_mode, which the wrapper puts back before every test
mariadb --no-defaults $ADMIN -e "SET GLOBAL sql_mode = DEFAULT" || { echo "mtr: resetting sql_mode failed" >&2; exit 2; }
export MTR_SQL_MODE=$(mariadb --no-defaults $ADMIN -N -B -e "SELECT @@global.sql_mode")
# files and directories an earlier run's failing tests left behind (a test's SELECT … INTO
# OUTFILE or mkdir then fails)
find "$VARDIR/tmp" -maxdepth 1 -type f -delete
rm -rf "$VARDIR/zoneinfo"

# client folder: the system's clients, with mariadb-test wrapped to clean up before every test
for f in /usr/bin/*; do ln -sf "$f" "$VARDIR/bin/" 2>/dev/null; done
rm -f "$VARDIR/bin/mariadb-test"; cp "$here/mariadb-test-wrapper" "$VARDIR/bin/mariadb-test"

[ $# -gt 0 ] && tests=("$@") || mapfile -t tests < "$here/tests.txt"
pw=(); [ -n "${PASSWORD:-}" ] && pw=(--extern "password=$PASSWORD")
cd "$M"
MTR_CLEAN="$ADMIN" MTR_DAMAGE_LOG="$VARDIR/cleanup.log" MASTER_MYPORT=$PORT MASTER_MYSOCK=$SERVER_SOCK timeout 3600 \
  perl mariadb-test-run.pl --extern host=127.0.0.1 --extern port="$PORT" --extern user=root --extern protocol=tcp "${pw[@]}" \
  --client-bindir="$VARDIR/bin" --vardir="$VARDIR" --force --max-test-fail=0 --retry=0 --parallel=1 \
  --testcase-timeout=3 "${tests[@]}" > "$VARDIR/mtr.log" 2>&1
grep -aE '\[ pass \]' "$VARDIR/mtr.log" | awk '{print $1}' | sort > "$VARDIR/pass.txt"
echo "$(wc -l < "$VARDIR/pass.txt") of ${#tests[@]} tests pass (log: $VARDIR/mtr.log)"
