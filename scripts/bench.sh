#!/usr/bin/env bash
# The benchmark suite: one run on this machine, one table, each figure next to its ceiling or baseline measured in
# the same run (the machines are shared and noisy, so only the ratios are comparable between runs).
#
#   bare fasthttp      wrk against a fasthttp handler answering "ok"           (the HTTP ceiling: before and after)
#   queue status       wrk GET /v1/events/E/queue with a waiting fan's token     ÷ bare (and an admitted fan's)
#   queue join         wrk POST /v1/events/E/queue, a new fan each request      ÷ bare
#   hold (batched)     wrk POST /v1/events/E/holds, 1 GA unit each              ÷ bare, ÷ redis-benchmark
#   PostgreSQL naive   pgbench UPDATE … available - 1 WHERE id = 1, 16 clients  hold ÷ this
#   redis-benchmark    EVALSHA of the hold script, 50 clients, -P 16            (the Redis ceiling of a hold)
#   settlement         orders/s end to end on PostgreSQL + RabbitMQ             ÷ the 5,000/s target
#
# onsale runs on the real Redis (database ONSALE_BENCH_REDIS_DB, default 9, flushed first), PostgreSQL and RabbitMQ.
# Environment: DURATION (wrk seconds, default 10), CONNECTIONS (default 100), OUT (default out/bench.json).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10}
conns=${CONNECTIONS:-100}
out=${OUT:-out/bench.json}
db=${ONSALE_BENCH_REDIS_DB:-9}
bare_addr=127.0.0.1:18181
addr=127.0.0.1:18182
base=http://$addr
admin=bench-admin-token
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf 'bench: %s\n' "$*" >&2; }

need() { # command debian-package
  command -v "$1" >/dev/null && return 0
  log "installing $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }
}
need wrk wrk
need redis-benchmark redis-tools
need pgbench postgresql-contrib
need jq jq
need curl curl
scripts/services.sh up >&2

log "building"
mkdir -p bin "$(dirname "$out")"
go build -o bin/onsale ./cmd/onsale
go build -o bin/bareserver ./scripts/bareserver

wait_http() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; log "no answer from $1"; return 1; }

# wrk NAME ARGS… → "rps p99_ms" (p99 from wrk's latency distribution)
run_wrk() {
  local name=$1; shift
  log "wrk: $name"
  wrk -t2 -c"$conns" -d"${duration}s" --latency "$@" >"$work/$name.txt" 2>&1
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/$name.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/$name.txt")
  local non2xx
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$work/$name.txt")
  [ -z "$non2xx" ] || log "$name: $non2xx non-2xx answers"
  echo "${rps:-0} ${p99:-0}"
}

# 1. The ceiling.
bin/bareserver -addr "$bare_addr" & pids+=($!)
wait_http "http://$bare_addr/"
read -r bare bare_p99 < <(run_wrk bare "http://$bare_addr/")
kill "${pids[0]}"; pids=()

# 2. onsale on the real backends.
redis-cli -n "$db" flushdb >/dev/null
ONSALE_ADDR=$addr ONSALE_REDIS_URL="redis://127.0.0.1:6379/$db" \
  ONSALE_DATABASE_URL="${ONSALE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}" \
  ONSALE_AMQP_URL="${ONSALE_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}" \
  ONSALE_PREFIX="bench$(date +%s)" ONSALE_ADMIN_TOKEN=$admin ONSALE_TOKEN_SECRET=bench-token-secret-0123456789 \
  ONSALE_JOIN_RATE_PER_IP=0 ONSALE_MAX_CONNS_PER_IP=0 ONSALE_LOG_LEVEL=warn bin/onsale serve >"$work/serve.log" 2>&1 & pids+=($!)
wait_http "$base/healthz"
ev="bench$(date +%s)"
start=$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)
curl -fsS -X POST "$base/v1/admin/events" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d @- >/dev/null <<JSON
{"id":"$ev","name":"Benchmark","currency":"EUR","hold_ttl_s":3600,"max_per_fan":100000000,
 "sections":[{"id":"GA","kind":"general","capacity":10000000,"price":4500}],
 "waves":[{"id":"all","starts_at":"$start","admit_per_min":10000000,"max_active":10000000}]}
JSON
join=$(curl -fsS -X POST "$base/v1/events/$ev/queue" -H 'Content-Type: application/json' -d '{"fan":"bench-fan"}')
qt=$(jq -r .queue_token <<<"$join")
access=""
for _ in $(seq 1 100); do
  access=$(curl -fsS "$base/v1/events/$ev/queue" -H "Queue-Token: $qt" | jq -r '.access_token // empty')
  [ -n "$access" ] && break
  sleep 0.1
done
[ -n "$access" ] || { log "the bench fan was not admitted"; exit 1; }

read -r admitted admitted_p99 < <(run_wrk status-admitted -H "Queue-Token: $qt" "$base/v1/events/$ev/queue")

# The crowd's poll: a fan still waiting after open (admission at 1 a minute, 3 fans ahead), which the waiting room
# answers from the token and its cached counters alone. An admitted fan's poll (above) also mints an access token.
curl -fsS -X POST "$base/v1/admin/events" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d @- >/dev/null <<JSON
{"id":"$ev-wait","name":"Benchmark queue","currency":"EUR","hold_ttl_s":3600,"max_per_fan":4,
 "sections":[{"id":"GA","kind":"general","capacity":1000,"price":4500}],
 "waves":[{"id":"all","starts_at":"$start","admit_per_min":1,"max_active":1}]}
JSON
for i in 1 2 3; do
  curl -fsS -X POST "$base/v1/events/$ev-wait/queue" -H 'Content-Type: application/json' -d "{\"fan\":\"ahead-$i\"}" >/dev/null
done
wqt=$(curl -fsS -X POST "$base/v1/events/$ev-wait/queue" -H 'Content-Type: application/json' -d '{"fan":"bench-waiter"}' | jq -r .queue_token)
wstate=$(curl -fsS "$base/v1/events/$ev-wait/queue" -H "Queue-Token: $wqt" | jq -r .state)
[ "$wstate" = waiting ] || { log "the waiting fan reads $wstate, not waiting"; exit 1; }
read -r status status_p99 < <(run_wrk status -H "Queue-Token: $wqt" "$base/v1/events/$ev-wait/queue")

cat >"$work/join.lua" <<'LUA'
local n = 0
local tid = tostring(math.random(1, 1e9))
function request()
  n = n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, '{"fan":"f' .. tid .. '-' .. n .. '"}')
end
LUA
read -r joins join_p99 < <(run_wrk join -s "$work/join.lua" "$base/v1/events/$ev/queue")

cat >"$work/hold.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"items":[{"section":"GA","quantity":1}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $access"
LUA
read -r holds hold_p99 < <(run_wrk hold -s "$work/hold.lua" "$base/v1/events/$ev/holds")
kill "${pids[0]}"; pids=()

# The ceiling again: the machine's speed drifts, so the ratios use the mean of the runs before and after onsale's.
bin/bareserver -addr "$bare_addr" & pids+=($!)
wait_http "http://$bare_addr/"
read -r bare2 bare2_p99 < <(run_wrk bare-after "http://$bare_addr/")
kill "${pids[0]}"; pids=()
log "bare fasthttp: $bare before, $bare2 after"
bare_before=$bare
bare=$(awk -v a="$bare" -v b="$bare2" 'BEGIN { printf "%.0f", (a + b) / 2 }')
bare_p99=$(awk -v a="$bare_p99" -v b="$bare2_p99" 'BEGIN { printf "%.2f", (a + b) / 2 }')
redis-cli -n "$db" flushdb >/dev/null

# 3. PostgreSQL: the naive row-lock baseline.
log "pgbench"
pgdb="onsale_bench_$$"
pgurl=${ONSALE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
psql -q "$pgurl" -c "CREATE DATABASE $pgdb" >/dev/null
pgbench_url=${pgurl/\/postgres\?/\/$pgdb?}
psql -q "$pgbench_url" -c "CREATE TABLE inv (id int PRIMARY KEY, available int NOT NULL); INSERT INTO inv SELECT g, 100000000 FROM generate_series(1, 100) g" >/dev/null
echo 'UPDATE inv SET available = available - 1 WHERE id = 1 AND available > 0;' >"$work/pg.sql"
pg=$(pgbench -n -c 16 -j 2 -T "$duration" -f "$work/pg.sql" "$pgbench_url" 2>/dev/null | awk '/^tps/ {print $3}')
psql -q "$pgurl" -c "DROP DATABASE $pgdb WITH (FORCE)" >/dev/null

# 4. Redis: the hold script under redis-benchmark (and the Go store's own figures), from bench-inventory.sh.
log "redis-benchmark of the hold script"
BENCHTIME=${BENCHTIME:-2s} scripts/bench-inventory.sh >"$work/inventory.txt" 2>"$work/inventory.err"
rb=$(awk -F'  +' '/redis-benchmark EVALSHA, -c 50 -P 16/ {print $2}' "$work/inventory.txt" | tr -d ' ')
store_batched=$(awk -F'  +' '/Go store, batched/ {print $2}' "$work/inventory.txt" | tr -d ' ')

# 5. Settlement end to end on PostgreSQL + RabbitMQ.
log "settlement throughput"
settle=$(go test -run '^$' -bench '^BenchmarkSettleThroughput$' -benchtime 20000x ./settlement/ 2>/dev/null |
  awk '/^BenchmarkSettleThroughput/ { for (i = 2; i < NF; i++) if ($(i+1) == "orders/s") print $i }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf '\n%-34s %12s %9s  %s\n' "path" "per second" "p99 ms" "ratio"
printf '%-34s %12.0f %9s  %s\n' "bare fasthttp (ceiling)" "$bare" "$bare_p99" "1.00"
printf '%-34s %12.0f %9s  %s\n' "queue status, waiting fan" "$status" "$status_p99" "$(ratio "$status" "$bare") of bare (target ≥ 0.8)"
printf '%-34s %12.0f %9s  %s\n' "queue status, admitted fan" "$admitted" "$admitted_p99" "$(ratio "$admitted" "$bare") of bare (mints an access token)"
printf '%-34s %12.0f %9s  %s\n' "queue join (Redis)" "$joins" "$join_p99" "$(ratio "$joins" "$bare") of bare"
printf '%-34s %12.0f %9s  %s\n' "hold, HTTP, batched (Redis)" "$holds" "$hold_p99" "$(ratio "$holds" "$bare") of bare (target ≥ 0.45); $(ratio "$holds" "$pg")× PostgreSQL naive"
printf '%-34s %12.0f %9s  %s\n' "hold, Go store, batched" "${store_batched:-0}" "-" "$(ratio "${store_batched:-0}" "$rb") of redis-benchmark (target ≥ 50,000/s)"
printf '%-34s %12.0f %9s  %s\n' "PostgreSQL naive UPDATE (1 row)" "${pg:-0}" "-" "baseline"
printf '%-34s %12.0f %9s  %s\n' "redis-benchmark hold, -P 16" "${rb:-0}" "-" "Redis ceiling of a hold"
printf '%-34s %12.0f %9s  %s\n' "settlement, orders end to end" "${settle:-0}" "-" "$(ratio "${settle:-0}" 5000) of 5,000/s target"
printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

jq -n --arg when "$(date -u +%FT%TZ)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --argjson bare "$bare" --argjson bare_p99 "$bare_p99" --argjson status "$status" --argjson status_p99 "$status_p99" \
  --argjson admitted "$admitted" --argjson admitted_p99 "$admitted_p99" --argjson bare_before "$bare_before" --argjson bare_after "$bare2" \
  --argjson joins "$joins" --argjson join_p99 "$join_p99" --argjson holds "$holds" --argjson hold_p99 "$hold_p99" \
  --argjson store_batched "${store_batched:-0}" --argjson pg "${pg:-0}" --argjson rb "${rb:-0}" --argjson settle "${settle:-0}" \
  '{measured_at: $when, load_average: $load, duration_s: '"$duration"', connections: '"$conns"',
    bare_fasthttp: {rps: $bare, p99_ms: $bare_p99, rps_before: $bare_before, rps_after: $bare_after},
    queue_status: {rps: $status, p99_ms: $status_p99, ratio_to_bare: ($status / $bare)},
    queue_status_admitted: {rps: $admitted, p99_ms: $admitted_p99, ratio_to_bare: ($admitted / $bare)},
    queue_join: {rps: $joins, p99_ms: $join_p99, ratio_to_bare: ($joins / $bare)},
    hold_http_batched: {rps: $holds, p99_ms: $hold_p99, ratio_to_bare: ($holds / $bare), ratio_to_pg: (if $pg > 0 then $holds / $pg else null end)},
    hold_store_batched: {rps: $store_batched, ratio_to_redis_benchmark: (if $rb > 0 then $store_batched / $rb else null end)},
    postgres_naive_update: {tps: $pg}, redis_benchmark_hold_p16: {rps: $rb},
    settlement: {orders_per_s: $settle, ratio_to_target: ($settle / 5000)}}' >"$out"
log "wrote $out"
