#!/usr/bin/env bash
# HTTP benchmarks of the seat-hold service next to a bare fasthttp server answering "ok" on the same machine in the
# same run: the hold endpoint (Redis inventory, batched) and the queue status endpoint (a waiting fan's poll, the
# most frequent request of an on-sale). The ratio (req/s relative to the bare server) is the figure to compare
# across machines; targets: hold ≥ 0.45, status ≥ 0.8.
#
#   scripts/bench-http.sh [BINARY...]
#
# `onsale serve` processes (default: bin/onsale, built from this tree) on Redis and a bare fasthttp server, all
# started once and loaded by wrk in turns: a round measures the bare server, then each binary's status and hold
# endpoints, and a last bare phase closes the run. Each endpoint's ratio is its req/s over the mean of the bare
# phases just before and just after its round, so a drift of the machine's speed between phases (the bare server
# alone gives 35k–75k req/s here from one minute to the next) moves both sides. Per phase: req/s, p99, and the CPU
# per request of the server process (from /proc) and of Redis (INFO cpu). The medians over the rounds close the
# table and are the figures to quote. Several binaries (an old and a new build) alternate within each round, in
# reverse order on even rounds, so an A/B pair is measured back to back. Each round holds on a new event whose keys
# are deleted at the end of the round, so Redis's keyspace stays small. Environment: ROUNDS (6), DURATION (wrk seconds,
# 4), CONNECTIONS (100), REDIS_URL (redis://127.0.0.1:6379/9; a private Redis keeps other users' load out of the
# Redis figure). (`scripts/bench-http.sh wrk [BINARY...]` is the same.)
#
#   scripts/bench-http.sh inprocess
#
# The Go benchmarks of package core: the same endpoints (and the hold on the embedded inventory) loaded by a
# fasthttp client in the test process itself, with the client's CPU and the server's in one figure
# (cpu-µs/req; backend-cpu-µs/req is Redis's), and the handlers' own cost per request (ns, allocations) without
# the network. The client shares the server's runtime (its scheduler, its garbage collector, its two cores), which
# costs the hold, whose handler parks and wakes, more than the bare handler: its hold ratio reads lower than wrk's.
#
#   ONSALE_BENCH_DURATION=5s ONSALE_BENCH_CONNS=128 scripts/bench-http.sh inprocess
#
# The Redis variant needs Redis (ONSALE_TEST_REDIS_URL, default redis://127.0.0.1:6379/0); it is skipped without it.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = inprocess ]; then
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

[ "${1:-}" != wrk ] || shift
rounds=${ROUNDS:-6}
duration=${DURATION:-4}
conns=${CONNECTIONS:-100}
redis_url=${REDIS_URL:-redis://127.0.0.1:6379/9}
bare_addr=127.0.0.1:18191
admin=bench-admin-token
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -z "${prefixes:-}" ] || for p in $prefixes; do drop_keys "$p:*"; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf 'bench-http: %s\n' "$*" >&2; }
if ! command -v wrk >/dev/null; then
  log "installing wrk"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } ||
    { log "needs wrk (apt-get install wrk)"; exit 1; }
fi

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
drop_keys() { rcli --scan --pattern "$1" | xargs -r -n 1000 redis-cli -h "${redis_host%:*}" -p "${redis_host##*:}" -n "$redis_db" unlink >/dev/null; }
redis_cpu() { rcli info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'; }
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.6f", ($14 + $15) / hz}' "/proc/$1/stat"; }
wait_http() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; log "no answer from $1"; return 1; }

# measure PID URL [wrk args…]: wrk against URL; prints "rps p99_ms server_µs/req redis_µs/req".
measure() {
  local p=$1 url=$2
  shift 2
  local c0 r0 c1 r1
  c0=$(proc_cpu "$p") r0=$(redis_cpu)
  wrk -t2 -c"$conns" -d"${duration}s" --latency "$@" "$url" >"$work/wrk.txt" 2>&1
  c1=$(proc_cpu "$p") r1=$(redis_cpu)
  local n rps p99 non2xx
  n=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$work/wrk.txt")
  [ -z "$non2xx" ] || log "$url: $non2xx non-2xx answers"
  awk -v n="$n" -v rps="$rps" -v p99="$p99" -v c0="$c0" -v c1="$c1" -v r0="$r0" -v r1="$r1" \
    'BEGIN { printf "%.0f %.2f %.2f %.2f\n", rps, p99, (c1 - c0) * 1e6 / n, (r1 - r0) * 1e6 / n }'
}

cat >"$work/hold.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"items":[{"section":"GA","quantity":1}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("ONSALE_ACCESS")
LUA

# event ADDR ID STARTS_AT: creates an event with room for every hold of a phase.
event() {
  curl -fsS -X POST "http://$1/v1/admin/events" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$2\",\"name\":\"Benchmark\",\"currency\":\"EUR\",\"hold_ttl_s\":3600,\"max_per_fan\":100000000,
      \"sections\":[{\"id\":\"GA\",\"kind\":\"general\",\"capacity\":10000000,\"price\":4500}],
      \"waves\":[{\"id\":\"all\",\"starts_at\":\"$3\",\"admit_per_min\":10000000,\"max_active\":10000000}]}" >/dev/null
}
# join ADDR EVENT → a queue token of the event's bench fan.
join() {
  curl -fsS -X POST "http://$1/v1/events/$2/queue" -H 'Content-Type: application/json' -d '{"fan":"bench-fan"}' |
    sed -n 's/.*"queue_token":"\([^"]*\)".*/\1/p'
}
# admitted ADDR EVENT → an access token of the event's bench fan (the event's wave has started).
admitted() {
  local qt access=""
  qt=$(join "$1" "$2")
  for _ in $(seq 1 100); do
    access=$(curl -fsS "http://$1/v1/events/$2/queue" -H "Queue-Token: $qt" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$access" ] && break
    sleep 0.1
  done
  [ -n "$access" ] || { log "the bench fan of $2 was not admitted"; return 1; }
  printf '%s\n' "$access"
}

# free ADDR: nothing answers at ADDR yet (a server left from an earlier run would be measured instead).
free() { ! curl -fs -m 1 "http://$1/" >/dev/null 2>&1 || { log "$1 is taken by another server"; exit 1; }; }
# started PID ADDR: the server at ADDR answers and PID is alive.
started() {
  wait_http "http://$2/healthz" && kill -0 "$1" 2>/dev/null && return 0
  log "the server for $2 did not start"
  exit 1
}
free "$bare_addr"
bin/bareserver -addr "$bare_addr" &
bare_pid=$!
pids+=("$bare_pid")
started "$bare_pid" "$bare_addr"
# Each binary's server: its pid, address, key prefix, and a fan waiting for a wave an hour away (the status polls).
declare -A spid saddr sprefix sqt
prefixes=""
i=0
for b in "${bins[@]}"; do
  i=$((i + 1))
  saddr[$b]=127.0.0.1:$((18191 + i))
  sprefix[$b]="benchhttp$$x$i"
  free "${saddr[$b]}"
  prefixes="$prefixes ${sprefix[$b]}"
  ONSALE_ADDR=${saddr[$b]} ONSALE_REDIS_URL=$redis_url ONSALE_PREFIX=${sprefix[$b]} ONSALE_ADMIN_TOKEN=$admin \
    ONSALE_TOKEN_SECRET=bench-token-secret-0123456789 ONSALE_JOIN_RATE_PER_IP=0 ONSALE_MAX_CONNS_PER_IP=0 ONSALE_LOG_LEVEL=warn \
    "$b" serve >"$work/serve$i.log" 2>&1 &
  spid[$b]=$!
  pids+=("${spid[$b]}")
  started "${spid[$b]}" "${saddr[$b]}"
  event "${saddr[$b]}" wait "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
  sqt[$b]=$(join "${saddr[$b]}" wait)
  # Warm-up: the first phases of a process run slower (page faults, growing pools and stacks).
  wrk -t2 -c"$conns" -d1s -H "Queue-Token: ${sqt[$b]}" "http://${saddr[$b]}/v1/events/wait/queue" >/dev/null 2>&1
done
wrk -t2 -c"$conns" -d1s "http://$bare_addr/" >/dev/null 2>&1

log "$rounds rounds of ${duration}s wrk phases, $conns connections, Redis $redis_url"
printf '%-5s %-28s %9s %8s %14s %13s\n' round phase req/s p99-ms server-µs/req redis-µs/req
bare_phase() {
  read -r brps bp99 bcpu _ < <(measure "$bare_pid" "http://$bare_addr/")
  printf '%-5s %-28s %9s %8s %14s %13s\n' "$1" bare "$brps" "$bp99" "$bcpu" -
  printf 'bare %s %s %s\n' "$1" "$brps" "$bcpu" >>"$work/phases"
}
for r in $(seq 1 "$rounds"); do
  bare_phase "$r"
  order=("${bins[@]}")
  if ((r % 2 == 0)); then
    order=()
    for ((j = ${#bins[@]} - 1; j >= 0; j--)); do order+=("${bins[j]}"); done
  fi
  for b in "${order[@]}"; do
    a=${saddr[$b]}
    ev="h$r"
    event "$a" "$ev" "$(date -u -d '-2 seconds' +%Y-%m-%dT%H:%M:%SZ)"
    access=$(admitted "$a" "$ev")
    ONSALE_ACCESS=$access wrk -t2 -c"$conns" -d1s -s "$work/hold.lua" "http://$a/v1/events/$ev/holds" >/dev/null 2>&1
    read -r rps p99 cpu rcpu < <(measure "${spid[$b]}" "http://$a/v1/events/wait/queue" -H "Queue-Token: ${sqt[$b]}")
    printf '%-5s %-28s %9s %8s %14s %13s\n' "$r" "status $(basename "$b")" "$rps" "$p99" "$cpu" "$rcpu"
    printf '%s status %s %s %s %s %s\n' "$b" "$r" "$rps" "$cpu" "$rcpu" "$p99" >>"$work/phases"
    read -r rps p99 cpu rcpu < <(ONSALE_ACCESS=$access measure "${spid[$b]}" "http://$a/v1/events/$ev/holds" -s "$work/hold.lua")
    printf '%-5s %-28s %9s %8s %14s %13s\n' "$r" "hold $(basename "$b")" "$rps" "$p99" "$cpu" "$rcpu"
    printf '%s hold %s %s %s %s %s\n' "$b" "$r" "$rps" "$cpu" "$rcpu" "$p99" >>"$work/phases"
  done
  # The round's holds go once every binary has run, before the next bare phase (which needs no Redis), so that
  # Redis's keyspace (and its cost per key) is the same in every round and no build's phase follows another's
  # deletes.
  for b in "${bins[@]}"; do drop_keys "${sprefix[$b]}:{ev:h$r}:*"; done
done
bare_phase $((rounds + 1))

# Each endpoint's ratio in round r is over the mean of bare phases r and r+1, its CPU ratio (cpu-ratio: the bare
# server's CPU per request over the endpoint's, server and Redis: the throughput ratio a CPU-bound machine would
# give if the load generator cost nothing) likewise; the medians over the rounds are the figures to quote.
printf '\n%-28s %7s %9s %14s %13s %8s  (medians of %s rounds)\n' endpoint ratio cpu-ratio server-µs/req redis-µs/req p99-ms "$rounds"
for b in "${bins[@]}"; do
  for what in status hold; do
    awk -v b="$b" -v w="$what" -v name="$what $(basename "$b")" -v target="$([ "$what" = hold ] && echo 0.45 || echo 0.8)" '
      $1 == "bare" { brps[$2] = $3; bcpu[$2] = $4; next }
      $1 == b && $2 == w { n++; r[n] = $3; rps[n] = $4; s[n] = $5; d[n] = $6; p[n] = $7 }
      function median(a, n,   i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
      }
      END {
        for (i = 1; i <= n; i++) {
          ratio[i] = rps[i] / ((brps[r[i]] + brps[r[i] + 1]) / 2)
          cpur[i] = ((bcpu[r[i]] + bcpu[r[i] + 1]) / 2) / (s[i] + d[i])
          list = list sprintf(" %.2f", ratio[i])
        }
        m = median(ratio, n)
        printf "%-28s %7.2f %9.2f %14.2f %13.2f %8.2f  target %s: %s (rounds:%s)\n", name, m, median(cpur, n),
          median(s, n), median(d, n), median(p, n), target, (m >= target) ? "met" : "NOT met", list
      }' "$work/phases"
  done
done
