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
set -euo pipefail
DIR=${RUNRIG_PG_DIR:-/tmp/runrig-test-pg}
PORT=${RUNRIG_PG_PORT:-55432}
BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$BIN/initdb" ] || BIN=$(dirname "$(command -v initdb || echo /nonexistent/initdb)")
[ -x "$BIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
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
	;;
stop)
	as_owner "$BIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null || true
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
