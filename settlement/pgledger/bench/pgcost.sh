#!/usr/bin/env bash
# PostgreSQL's cost per settled order: runs the settlement throughput benchmark against a PostgreSQL of its own
# (a private cluster, so nothing else's work is counted) and reports the cluster's CPU, the benchmark backends'
# CPU, WAL bytes and the statements that cost most, per order.
#
#   settlement/pgledger/bench/pgcost.sh [test-binary] [orders]
#
# The cluster is made once under $PGCOST_DIR (default /tmp/pgcost) on port $PGCOST_PORT (default 5499), with the
# main server's settings that matter here (autovacuum off, 128MB shared buffers, fsync and synchronous commit on)
# and pg_stat_statements preloaded. The test binary defaults to one built from this checkout:
#   go test -c -o /work/bin/settlement.test ./settlement/
set -euo pipefail
bin=${1:-/work/bin/settlement.test}
orders=${2:-20000}
dir=${PGCOST_DIR:-/tmp/pgcost}
port=${PGCOST_PORT:-5499}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
here=$(cd "$(dirname "$0")/../.." && pwd) # settlement/, where the benchmark runs

if [ ! -f "$dir/data/PG_VERSION" ]; then
  mkdir -p "$dir" && chown postgres "$dir"
  su postgres -c "$pgbin/initdb -D $dir/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >"$dir/initdb.log"
  cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_buffers = 128MB
wal_buffers = 4MB
max_wal_size = 1GB
autovacuum = off
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
CONF
fi
if ! su postgres -c "$pgbin/pg_ctl -D $dir/data status" >/dev/null; then
  su postgres -c "$pgbin/pg_ctl -D $dir/data -l $dir/log start -w" >/dev/null
fi
psql() { command psql -h 127.0.0.1 -p "$port" -U postgres -X -Atq "$@"; }
psql -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
pm=$(head -1 "$dir/data/postmaster.pid")
hz=$(getconf CLK_TCK)

# CPU ticks of the whole cluster: the postmaster, its live children and (in cutime/cstime) the children it reaped.
cluster_ticks() {
  local t=0 p f
  read -ra f <"/proc/$pm/stat"
  t=$((f[13] + f[14] + f[15] + f[16]))
  for p in $(pgrep -P "$pm"); do
    read -ra f 2>/dev/null <"/proc/$p/stat" || continue
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}

# The benchmark's own backends (their databases are named onsale_test_…), sampled every 100 ms: a backend's last
# sample before it exits counts.
sample_backends() {
  declare -A last
  while [ ! -f "$dir/stop" ]; do
    for p in $(pgrep -P "$pm" -f 'postgres: postgres onsale_test_'); do
      read -ra f 2>/dev/null <"/proc/$p/stat" || continue
      last[$p]=$((f[13] + f[14]))
    done
    sleep 0.1
  done
  local t=0
  for p in "${!last[@]}"; do t=$((t + last[$p])); done
  echo "$t" >"$dir/backend_ticks"
}

rm -f "$dir/stop"
psql -c 'SELECT pg_stat_statements_reset()' >/dev/null
psql -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
lsn0=$(psql -c 'SELECT pg_current_wal_lsn()')
c0=$(cluster_ticks)
sample_backends &
sampler=$!
out=$(cd "$here" && ONSALE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable" \
  "$bin" -test.run '^$' -test.bench SettleThroughput -test.benchtime "${orders}x" 2>&1) || { echo "$out"; exit 1; }
c1=$(cluster_ticks)
touch "$dir/stop"
wait "$sampler"
lsn1=$(psql -c 'SELECT pg_current_wal_lsn()')
echo "$out" | grep -E 'Benchmark|orders:'
awk -v c="$((c1 - c0))" -v b="$(cat "$dir/backend_ticks")" -v hz="$hz" -v n="$orders" \
  'BEGIN { printf "cluster CPU %.0f µs/order, benchmark backends %.0f µs/order\n", c/hz/n*1e6, b/hz/n*1e6 }'
# The WAL of the benchmark's statements (pg_stat_statements; its databases are dropped by now), and of everything (LSN), which includes creating
# and dropping the two test databases.
psql -c "SELECT 'WAL ' || round(sum(s.wal_bytes) / $orders) || ' B/order in statements, ' ||
  round(pg_wal_lsn_diff('$lsn1', '$lsn0') / $orders) || ' B/order all; ' || sum(s.calls) || ' calls' FROM pg_stat_statements s
  WHERE s.dbid NOT IN (SELECT oid FROM pg_database)"
psql -F ' | ' -c "SELECT round(s.total_exec_time::numeric * 1000 / $orders, 1) AS exec_us_per_order, s.calls,
  round(s.rows::numeric / s.calls, 1) AS rows_per_call,
  round((s.shared_blks_hit + s.shared_blks_read)::numeric / $orders, 1) AS blks_per_order,
  round(s.wal_bytes / $orders) AS wal_b_per_order, left(regexp_replace(s.query, '\s+', ' ', 'g'), 110)
  FROM pg_stat_statements s WHERE s.dbid NOT IN (SELECT oid FROM pg_database)
  ORDER BY s.total_exec_time DESC LIMIT 12"
