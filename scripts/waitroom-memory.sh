#!/usr/bin/env bash
# Measures the waiting room's Redis memory per queued fan: starts a private, empty redis-server (used_memory is
# server-wide, so a shared server's other clients would blur the figure), joins N fans (default 1,000,000) with
# pipelined join script calls, and prints used_memory growth per fan. The target is at most 80 bytes per fan.
#
#   scripts/waitroom-memory.sh [fans]
set -euo pipefail

fans=${1:-1000000}
port=${ONSALE_MEMORY_REDIS_PORT:-6391}
dir=$(mktemp -d)
cleanup() {
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize yes \
  --logfile "$dir/redis.log" >/dev/null
for _ in $(seq 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$port" config get hash-max-listpack-entries | tr '\n' ' '
echo

cd "$(dirname "$0")/.."
ONSALE_TEST_REDIS_URL="redis://127.0.0.1:$port/0" ONSALE_BENCH_FANS="$fans" \
  go test -run '^$' -bench 'BenchmarkMemoryPerFan' -benchtime 1x -timeout 30m ./waitroom/redisstore/
