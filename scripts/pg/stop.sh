#!/usr/bin/env bash
# Stop a cluster started by scripts/pg/start.sh.
#
#   scripts/pg/stop.sh <datadir> [fast|immediate|smart]   (default: fast)
#
# No-op (exit 0) when the cluster is not running or <datadir> does not exist.
# Does not delete <datadir>.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 <datadir> [fast|immediate|smart]" >&2
  exit 2
fi
DATADIR=$1
MODE=${2:-fast}

if [ -z "${PG_BIN:-}" ]; then
  if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
    PG_BIN=/usr/lib/postgresql/15/bin
  else
    PG_BIN=$(pg_config --bindir)
  fi
fi
PG_USER=${PG_USER:-postgres}

[ -f "$DATADIR/postmaster.pid" ] || exit 0

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

# pg_ctl status: 0 running, 3 not running (e.g. a stale postmaster.pid).
if ! as_pg "$PG_BIN/pg_ctl" -D "$DATADIR" status >/dev/null 2>&1; then
  exit 0
fi
as_pg "$PG_BIN/pg_ctl" -D "$DATADIR" -m "$MODE" -w -t 60 stop >/dev/null
