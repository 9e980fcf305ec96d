#!/usr/bin/env bash
# Start (or stop) a private PostgreSQL cluster for the test suite on 127.0.0.1:$PGPORT.
# Trust authentication on loopback only; data lives in a temporary directory.
set -euo pipefail
PGPORT=${PGPORT:-55432}
PGDATA=${KARAFKA_PGDATA:-${TMPDIR:-/tmp}/karafka-django-pg-$PGPORT}
action=${1:-start}

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] && command -v pg_ctl >/dev/null; then dir=$(dirname "$(command -v pg_ctl)"); fi
  echo "$dir"
}

PGBIN=$(find_bin)
if [ -z "$PGBIN" ]; then
  echo "postgres: installing the Debian package postgresql" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  else
    echo "postgres: PostgreSQL is not installed; install the 'postgresql' package" >&2; exit 1
  fi
  PGBIN=$(find_bin)
fi

as_owner() {  # PostgreSQL refuses to run as root: use the postgres account when we are root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    if as_owner "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; then
      echo "postgres: already running on 127.0.0.1:$PGPORT" >&2; exit 0
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      mkdir -p "$PGDATA"
      [ "$(id -u)" = 0 ] && chown postgres: "$PGDATA"
      as_owner "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust >/dev/null
    fi
    as_owner "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 \
      -o "-h 127.0.0.1 -p $PGPORT -k $PGDATA -c max_connections=200 -c fsync=off" start >/dev/null
    echo "postgres: running on 127.0.0.1:$PGPORT (data $PGDATA)" >&2
    ;;
  stop)
    as_owner "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
