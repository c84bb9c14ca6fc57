#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the run-store tests; sourced by .ci/run.
# Sets KCERT_TEST_POSTGRES (and KCERT_REQUIRE_POSTGRES=1, so those tests fail instead of skip),
# and KCERT_TEST_PGDATA (its data folder: the stall test SIGSTOPs the server found there).
# Installs Debian's postgresql when the machine has none. Stops the server on exit.
set -euo pipefail

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! PGBIN=$(pg_bin); then
  echo "ci: installing PostgreSQL (Debian package postgresql)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(pg_bin)
fi

# initdb refuses to run as root: the cluster belongs to the postgres user then.
PG_USER=$(id -un)
run_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  PG_USER=postgres
  id postgres >/dev/null 2>&1 || useradd --system --home /nonexistent postgres
  run_pg() { runuser -u postgres -- "$@"; }
fi

PGDATA_DIR=$(mktemp -d /tmp/kcert-pg.XXXXXX)
chown "$PG_USER" "$PGDATA_DIR"
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_pg "$PGBIN/initdb" -D "$PGDATA_DIR/data" -U kcert --auth=trust -E UTF8 >/dev/null
run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -l "$PGDATA_DIR/log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PGDATA_DIR -c fsync=off" start >/dev/null
run_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U kcert kcert

stop_postgres() { run_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PGDATA_DIR"; }
trap stop_postgres EXIT

export KCERT_TEST_POSTGRES="postgresql://kcert@127.0.0.1:$PGPORT/kcert"
export KCERT_REQUIRE_POSTGRES=1
export KCERT_TEST_PGDATA="$PGDATA_DIR/data"
echo "ci: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT"
