#!/usr/bin/env bash
# Run a command against a private, throw-away PostgreSQL server on 127.0.0.1:$PGPORT.
# Installs Debian's postgresql package when missing (needs root). Usage: postgres.sh CMD...
set -euo pipefail
PGPORT=${PGPORT:-55432}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DATA=$(mktemp -d /tmp/jobs-pg.XXXXXX)
chown postgres "$DATA"
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$BIN/initdb" -D "$DATA/db" --auth=trust -U postgres >/dev/null
as_pg "$BIN/pg_ctl" -D "$DATA/db" -l "$DATA/log" -w start \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $DATA -c max_connections=200 -c fsync=on" >/dev/null
trap 'as_pg "$BIN/pg_ctl" -D "$DATA/db" -m fast stop >/dev/null; rm -rf "$DATA"' EXIT
as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres prefect
"$@" --database-url "postgresql+asyncpg://postgres@127.0.0.1:$PGPORT/prefect"
