#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster for tests.
#
#   scripts/pg/start.sh <datadir> <port>
#
# - initdb's <datadir> on first use (trust auth, TCP on 127.0.0.1 only, no unix
#   socket), otherwise just starts the existing cluster (so stop.sh + start.sh is
#   a restart that keeps the data);
# - runs the server as the `postgres` OS user when invoked as root (the datadir
#   is chowned; its parent directories must be traversable by `postgres`);
# - creates database `lastcall` with `CREATE EXTENSION vector` (pgvector);
# - prints the DATABASE_URL (postgres://postgres@127.0.0.1:<port>/lastcall) as
#   the only line on stdout; progress and errors go to stderr.
#
# Test settings: max_connections=200, fsync/synchronous_commit/full_page_writes
# off unless PG_DURABLE=1 (benchmarks that measure commit cost keep them on, as
# a production server does). Server log: <datadir>/server.log.
# Env: PG_BIN (default: /usr/lib/postgresql/15/bin, else from pg_config on PATH),
#      PG_USER (OS user to run as when root; default postgres).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <datadir> <port>" >&2
  exit 2
fi
DATADIR=$1
PORT=$2
case "$PORT" in ''|*[!0-9]*) echo "start.sh: bad port: $PORT" >&2; exit 2 ;; esac

if [ -z "${PG_BIN:-}" ]; then
  if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
    PG_BIN=/usr/lib/postgresql/15/bin
  elif command -v pg_config >/dev/null 2>&1; then
    PG_BIN=$(pg_config --bindir)
  else
    echo "start.sh: PostgreSQL binaries not found (run scripts/ci/install-system.sh or set PG_BIN)" >&2
    exit 1
  fi
fi
PG_USER=${PG_USER:-postgres}
DURABILITY=off
[ "${PG_DURABLE:-0}" = 1 ] && DURABILITY=on

mkdir -p "$DATADIR"
DATADIR=$(cd "$DATADIR" && pwd -P)
LOGFILE="$DATADIR/server.log"

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

if [ "$(id -u)" -eq 0 ]; then
  chown -R "$PG_USER:" "$DATADIR"
  chmod 700 "$DATADIR"
  if ! runuser -u "$PG_USER" -- test -w "$DATADIR"; then
    echo "start.sh: user $PG_USER cannot reach $DATADIR (a parent directory is not traversable?)" >&2
    exit 1
  fi
fi

if [ ! -s "$DATADIR/PG_VERSION" ]; then
  echo "start.sh: initdb $DATADIR" >&2
  if ! out=$(as_pg "$PG_BIN/initdb" -D "$DATADIR" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync 2>&1); then
    echo "$out" >&2
    exit 1
  fi
  cat >>"$DATADIR/postgresql.conf" <<CONF

# --- lastcall test settings (scripts/pg/start.sh) ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
max_connections = 200
shared_buffers = 128MB
fsync = $DURABILITY
synchronous_commit = $DURABILITY
full_page_writes = $DURABILITY
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
CONF
fi

if as_pg "$PG_BIN/pg_ctl" -D "$DATADIR" status >/dev/null 2>&1; then
  # Already running (start.sh is idempotent); line 4 of postmaster.pid is the port.
  running_port=$(sed -n 4p "$DATADIR/postmaster.pid")
  if [ "$running_port" != "$PORT" ]; then
    echo "start.sh: $DATADIR is already running on port $running_port, not $PORT" >&2
    exit 1
  fi
  echo "start.sh: already running on 127.0.0.1:$PORT" >&2
else
  echo "start.sh: starting on 127.0.0.1:$PORT" >&2
  if ! as_pg "$PG_BIN/pg_ctl" -D "$DATADIR" -l "$LOGFILE" -o "-p $PORT" -w -t 60 start >/dev/null; then
    echo "start.sh: pg_ctl start failed; tail of $LOGFILE:" >&2
    tail -n 30 "$LOGFILE" >&2 || true
    exit 1
  fi
fi

export PGOPTIONS="-c client_min_messages=warning"
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres)
if [ "$("${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'lastcall'")" != 1 ]; then
  "${PSQL[@]}" -d postgres -c "CREATE DATABASE lastcall" >&2
fi
"${PSQL[@]}" -d lastcall -c "CREATE EXTENSION IF NOT EXISTS vector" >&2

echo "postgres://postgres@127.0.0.1:$PORT/lastcall"
