#!/usr/bin/env bash
# HTTP benchmarks of the seat-hold service: the hold endpoint (embedded and Redis inventory) and the queue status
# endpoint under concurrent load over loopback, each measured in the same run as a bare fasthttp handler answering
# "ok". The ratio (req/s relative to the bare handler) is the figure to compare across machines; targets: hold ≥ 0.45,
# status ≥ 0.8. Also the handlers' own cost per request (ns, allocations) without the network. The in-process
# benchmarks report CPU per request too (cpu-µs/req: client and server; backend-cpu-µs/req: Redis's), which the
# neighbours' load disturbs far less than req/s.
#
#   scripts/bench-http.sh                 # 2 s phases, 64 connections
#   ONSALE_BENCH_DURATION=5s ONSALE_BENCH_CONNS=128 scripts/bench-http.sh
#
# The Redis variant needs Redis (ONSALE_TEST_REDIS_URL, default redis://127.0.0.1:6379/0); it is skipped without it.
#
#   scripts/bench-http.sh wrk [BINARY...]
#
# The hold endpoint of `onsale serve` processes (default: bin/onsale, built from this tree) on Redis, loaded by wrk
# in turns with a bare fasthttp server: for each, req/s, p99, and the CPU per request of the server process (from
# /proc) and of Redis (INFO cpu). Several binaries (an old and a new build) alternate within each round, so an A/B
# pair is measured back to back, in alternating order; the medians over the rounds close the table. Environment:
# ROUNDS (3), DURATION (wrk seconds, 5), CONNECTIONS (64),
# REDIS_URL (redis://127.0.0.1:6379/9; a private Redis keeps other users' load out of the Redis figure).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != wrk ]; then
  export ONSALE_BENCH_DURATION="${ONSALE_BENCH_DURATION:-2s}"
  export ONSALE_BENCH_CONNS="${ONSALE_BENCH_CONNS:-64}"
  echo "phases of ${ONSALE_BENCH_DURATION}, ${ONSALE_BENCH_CONNS} connections, GOMAXPROCS=$(nproc)"
  go test -run '^$' -bench 'HTTP' -benchtime 1x -count "${COUNT:-1}" ./core | tee /tmp/onsale-bench-http.txt
  go test -run '^$' -bench 'Handler' -benchtime 20000x -count "${COUNT:-1}" ./core
  awk '/^BenchmarkHTTP/ {
    name=$1; ratio=""; p99="";
    for (i = 2; i < NF; i++) { if ($(i+1) == "ratio") ratio=$i; if ($(i+1) == "p99-ms") p99=$i }
    target = (name ~ /Status/) ? 0.8 : 0.45
    printf "%-32s ratio %s (target %.2f%s)  p99 %s ms\n", name, ratio, target, (ratio+0 >= target) ? ", met" : ", NOT met", p99
  }' /tmp/onsale-bench-http.txt
  exit 0
fi

shift
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
conns=${CONNECTIONS:-64}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379/9}
bare_addr=127.0.0.1:18191
addr=127.0.0.1:18192
admin=bench-admin-token
work=$(mktemp -d)
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf 'bench-http: %s\n' "$*" >&2; }
command -v wrk >/dev/null || { log "needs wrk (apt-get install wrk)"; exit 1; }

mkdir -p bin
go build -o bin/bareserver ./scripts/bareserver
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
  go build -o bin/onsale ./cmd/onsale
  bins=(bin/onsale)
fi

redis_host=${redis_url#redis://}
redis_db=${redis_host##*/}
redis_host=${redis_host%/*}
rcli() { redis-cli -h "${redis_host%:*}" -p "${redis_host##*:}" -n "$redis_db" "$@"; }
redis_cpu() { rcli info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'; }
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.6f", ($14 + $15) / hz}' "/proc/$1/stat"; }
wait_http() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; log "no answer from $1"; return 1; }

# measure NAME PID URL [wrk args…]: wrk against URL; prints "rps p99_ms server_µs/req redis_µs/req".
measure() {
  local name=$1 p=$2 url=$3
  shift 3
  wrk -t2 -c"$conns" -d1s "$@" "$url" >/dev/null 2>&1 # warm-up
  local c0 r0 c1 r1
  c0=$(proc_cpu "$p") r0=$(redis_cpu)
  wrk -t2 -c"$conns" -d"${duration}s" --latency "$@" "$url" >"$work/$name.txt" 2>&1
  c1=$(proc_cpu "$p") r1=$(redis_cpu)
  local n rps p99 non2xx
  n=$(awk '/requests in/ {print $1}' "$work/$name.txt")
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/$name.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/$name.txt")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$work/$name.txt")
  [ -z "$non2xx" ] || log "$name: $non2xx non-2xx answers"
  awk -v n="$n" -v rps="$rps" -v p99="$p99" -v c0="$c0" -v c1="$c1" -v r0="$r0" -v r1="$r1" \
    'BEGIN { printf "%.0f %.2f %.2f %.2f\n", rps, p99, (c1 - c0) * 1e6 / n, (r1 - r0) * 1e6 / n }'
}

cat >"$work/hold.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"items":[{"section":"GA","quantity":1}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ONSALE_ACCESS")
LUA

# hold_run BINARY → one measurement of its hold endpoint on a fresh prefix.
hold_run() {
  local prefix="benchhttp$$x$RANDOM"
  ONSALE_ADDR=$addr ONSALE_REDIS_URL=$redis_url ONSALE_PREFIX=$prefix ONSALE_ADMIN_TOKEN=$admin \
    ONSALE_TOKEN_SECRET=bench-token-secret-0123456789 ONSALE_JOIN_RATE_PER_IP=0 ONSALE_LOG_LEVEL=warn \
    "$1" serve >"$work/serve.log" 2>&1 &
  pid=$!
  wait_http "http://$addr/healthz"
  local ev start qt access=""
  ev="b$RANDOM"
  start=$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)
  curl -fsS -X POST "http://$addr/v1/admin/events" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$ev\",\"name\":\"Benchmark\",\"currency\":\"EUR\",\"hold_ttl_s\":3600,\"max_per_fan\":100000000,
      \"sections\":[{\"id\":\"GA\",\"kind\":\"general\",\"capacity\":10000000,\"price\":4500}],
      \"waves\":[{\"id\":\"all\",\"starts_at\":\"$start\",\"admit_per_min\":10000000,\"max_active\":10000000}]}" >/dev/null
  qt=$(curl -fsS -X POST "http://$addr/v1/events/$ev/queue" -H 'Content-Type: application/json' -d '{"fan":"bench-fan"}' |
    sed -n 's/.*"queue_token":"\([^"]*\)".*/\1/p')
  for _ in $(seq 1 100); do
    access=$(curl -fsS "http://$addr/v1/events/$ev/queue" -H "Queue-Token: $qt" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$access" ] && break
    sleep 0.1
  done
  [ -n "$access" ] || { log "the bench fan was not admitted"; exit 1; }
  ONSALE_ACCESS=$access measure hold "$pid" "http://$addr/v1/events/$ev/holds" -s "$work/hold.lua"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  rcli --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h "${redis_host%:*}" -p "${redis_host##*:}" -n "$redis_db" del >/dev/null
}

bare_run() {
  bin/bareserver -addr "$bare_addr" &
  pid=$!
  wait_http "http://$bare_addr/"
  measure bare "$pid" "http://$bare_addr/"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
}

log "rounds of ${duration}s wrk phases, $conns connections, Redis $redis_url"
printf '%-5s %-28s %9s %8s %14s %13s %7s %9s\n' round server req/s p99-ms server-µs/req redis-µs/req ratio cpu-ratio
for r in $(seq 1 "$rounds"); do
  read -r brps bp99 bcpu _ < <(bare_run)
  printf '%-5s %-28s %9s %8s %14s %13s %7s %9s\n' "$r" bare "$brps" "$bp99" "$bcpu" - 1.00 1.00
  # The build that runs first in a round tends to do better (the machine's speed drifts), so even rounds run the
  # builds in reverse order.
  order=("${bins[@]}")
  if ((r % 2 == 0)); then
    order=()
    for ((i = ${#bins[@]} - 1; i >= 0; i--)); do order+=("${bins[i]}"); done
  fi
  for b in "${order[@]}"; do
    read -r rps p99 cpu rcpu < <(hold_run "$b")
    ratio=$(awk -v a="$rps" -v b="$brps" 'BEGIN {printf "%.2f", a / b}')
    # cpu-ratio: the bare server's CPU per request over the hold's (server and Redis): the throughput ratio a
    # CPU-bound machine would give if the load generator cost nothing.
    printf '%-5s %-28s %9s %8s %14s %13s %7s %9s\n' "$r" "hold $(basename "$b")" "$rps" "$p99" "$cpu" "$rcpu" \
      "$ratio" "$(awk -v a="$bcpu" -v b="$cpu" -v c="$rcpu" 'BEGIN {printf "%.2f", a / (b + c)}')"
    printf '%s %s %s %s\n' "$b" "$ratio" "$cpu" "$rcpu" >>"$work/summary"
  done
done
# Medians over the rounds: one round's figures swing with the machine, the middle of several much less.
printf '\n%-28s %7s %14s %13s  (medians of %s rounds)\n' server ratio server-µs/req redis-µs/req "$rounds"
for b in "${bins[@]}"; do
  awk -v b="$b" '$1 == b {print $2, $3, $4}' "$work/summary" | awk -v name="hold $(basename "$b")" '
    { r[NR] = $1; s[NR] = $2; d[NR] = $3 }
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
    }
    END { printf "%-28s %7.2f %14.2f %13.2f\n", name, median(r, NR), median(s, NR), median(d, NR) }'
done
