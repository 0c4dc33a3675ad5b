#!/usr/bin/env bash
# HTTP benchmarks of the seat-hold service: the hold endpoint (embedded and Redis inventory) and the queue status
# endpoint under concurrent load over loopback, each measured in the same run as a bare fasthttp handler answering
# "ok". The ratio (req/s relative to the bare handler) is the figure to compare across machines; targets: hold ≥ 0.45,
# status ≥ 0.8. Also the handlers' own cost per request (ns, allocations) without the network.
#
#   scripts/bench-http.sh                 # 2 s phases, 64 connections
#   ONSALE_BENCH_DURATION=5s ONSALE_BENCH_CONNS=128 scripts/bench-http.sh
#
# The Redis variant needs Redis (ONSALE_TEST_REDIS_URL, default redis://127.0.0.1:6379/0); it is skipped without it.
set -euo pipefail
cd "$(dirname "$0")/.."
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
