# A throwaway PostgreSQL 15 cluster on 127.0.0.1 for the tests (sourced, not run).
#
# In CI `.ci/run` sources it; locally, as root, in the shell that will run the tests:
#     source .ci/services/postgres.sh        # exports ACTIVITYLOG_TEST_POSTGRES_URL
#     .venv/bin/python -m pytest -q tests/test_postgres_store.py
#     eval "${cleanups[-1]}"                 # stop the server and remove its files
#
# The server runs as the unprivileged `postgres` user (initdb and pg_ctl refuse root), on a free
# loopback port, with its data and socket in a fresh temporary directory; fsync stays on so that
# per-commit figures mean what they say. UTF8 with the C.UTF-8 locale: without it initdb picks
# SQL_ASCII.

pg_bin=/usr/lib/postgresql/15/bin
if [ ! -x "$pg_bin/initdb" ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
        postgresql-15 postgresql-contrib-15 >/dev/null
fi
if [ -z "$(declare -p cleanups 2>/dev/null)" ]; then
    cleanups=()
fi

pg_dir=$(mktemp -d /tmp/activitylog-pg.XXXXXX)
chown postgres:postgres "$pg_dir"
(cd / && runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres \
    -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1) || {
    cat "$pg_dir/initdb.log" >&2
    rm -rf "$pg_dir"
    return 1 2>/dev/null || exit 1
}

pg_started=""
for _ in 1 2 3 4 5; do
    pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if (cd / && runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" \
        -w -o "-k $pg_dir -c listen_addresses=127.0.0.1 -p $pg_port -c fsync=on" start \
        >/dev/null); then
        pg_started=1
        break
    fi
    # Another process took the port between the probe and the start: try another one.
done
if [ -z "$pg_started" ]; then
    cat "$pg_dir/server.log" >&2
    rm -rf "$pg_dir"
    return 1 2>/dev/null || exit 1
fi
cleanups+=("runuser -u postgres -- '$pg_bin/pg_ctl' -D '$pg_dir/data' -m fast -w stop >/dev/null; rm -rf '$pg_dir'")

(cd / && runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres activitylog)
export ACTIVITYLOG_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$pg_port/activitylog"
echo "PostgreSQL: $ACTIVITYLOG_TEST_POSTGRES_URL (data in $pg_dir)"
unset pg_bin pg_dir pg_port pg_started
