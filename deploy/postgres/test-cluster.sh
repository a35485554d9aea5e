#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for runrig's tests: made in a temporary
# directory, listening on loopback only, with fsync off (it holds nothing
# worth keeping). It prints the RUNRIG_TEST_POSTGRES line to export.
#
#   eval "$(deploy/postgres/test-cluster.sh start)"   # then: make test
#   deploy/postgres/test-cluster.sh stop
#
# Needs PostgreSQL's server binaries (Debian: apt-get install postgresql).
# As root it runs the cluster as the "postgres" user, as initdb requires.
# Where PgBouncer is installed (apt-get install pgbouncer) it also starts
# one in transaction mode in front of the cluster, on the next port, and
# prints RUNRIG_TEST_PGBOUNCER: the tests then run the store and two
# replicas through it, as a relay behind a transaction-mode pooler runs.
set -euo pipefail
DIR=${RUNRIG_PG_DIR:-/tmp/runrig-test-pg}
PORT=${RUNRIG_PG_PORT:-55432}
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$BIN/initdb" ] || BIN=$(dirname "$(command -v initdb || echo /nonexistent/initdb)")
[ -x "$BIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
PGB=${PGBOUNCER:-$(command -v pgbouncer || ls /usr/sbin/pgbouncer 2>/dev/null || true)}
as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
# start_pgbouncer runs PgBouncer in transaction mode on PORT+1, every
# database passed through to the cluster, trusting loopback as it does.
start_pgbouncer() {
	local d="$DIR/pgbouncer"
	if [ -f "$d/pgbouncer.pid" ] && kill -0 "$(cat "$d/pgbouncer.pid")" 2>/dev/null; then
		return
	fi
	mkdir -p "$d"
	printf '%s\n' "[databases]" "* = host=127.0.0.1 port=$PORT" "[pgbouncer]" \
		"listen_addr = 127.0.0.1" "listen_port = $((PORT + 1))" "unix_socket_dir =" \
		"auth_type = trust" "auth_file = $d/users.txt" "pool_mode = transaction" \
		"max_client_conn = 500" "default_pool_size = 40" \
		"logfile = $d/pgbouncer.log" "pidfile = $d/pgbouncer.pid" >"$d/pgbouncer.ini"
	echo '"postgres" ""' >"$d/users.txt"
	if [ "$(id -u)" = 0 ]; then chown -R postgres "$d"; fi
	as_owner "$PGB" -d "$d/pgbouncer.ini" >/dev/null
}
case "${1:-start}" in
start)
	if [ ! -f "$DIR/PG_VERSION" ]; then
		mkdir -p "$DIR"
		[ "$(id -u)" = 0 ] && chown postgres "$DIR"
		as_owner "$BIN/initdb" -D "$DIR" -A trust -U postgres --no-sync >/dev/null
	fi
	if ! as_owner "$BIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
		as_owner "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -o \
			"-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
			start >/dev/null
	fi
	echo "export RUNRIG_TEST_POSTGRES='postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable'"
	if [ -n "$PGB" ]; then
		start_pgbouncer
		echo "export RUNRIG_TEST_PGBOUNCER='postgres://postgres@127.0.0.1:$((PORT + 1))/postgres?sslmode=disable'"
	fi
	;;
stop)
	[ -f "$DIR/pgbouncer/pgbouncer.pid" ] && kill "$(cat "$DIR/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
	as_owner "$BIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null || true
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
