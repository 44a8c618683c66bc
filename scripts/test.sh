#!/usr/bin/env bash
# Second command: install the test dependencies and run the whole suite on
# SQLite and on PostgreSQL (+ PostGIS). Starts PostgreSQL and installs PostGIS
# when it can (root with apt); without them the PostgreSQL lane is skipped
# locally with a message, and fails under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e ".[test]"

PG_HOST=127.0.0.1
PG_PORT=5432
export FIELDSALES_TEST_PG=1
export FIELDSALES_TEST_PG_URL=${FIELDSALES_TEST_PG_URL:-postgresql://postgres@$PG_HOST:$PG_PORT}

pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }

if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi

if pg_up; then
  PSQL=(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  has_postgis() { [ "$("${PSQL[@]}" -d postgres -c "select count(*) from pg_available_extensions where name='postgis'")" = "1" ]; }
  if ! has_postgis && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    major=$("${PSQL[@]}" -d postgres -c "show server_version_num" | cut -c1-2)
    echo "installing PostGIS for PostgreSQL $major"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$major-postgis-3") >/dev/null
  fi
  if has_postgis; then
    "${PSQL[@]}" -d postgres -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    export FIELDSALES_TEST_POSTGIS=1
  else
    echo "warning: PostGIS is not available; the PostGIS checks will fail under CI" >&2
  fi
else
  echo "warning: PostgreSQL is not reachable at $PG_HOST:$PG_PORT; its lane is skipped (fails under CI=true)" >&2
fi

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
