#!/usr/bin/env bash
# Measures the inventory's hold path on Redis and prints holds/s with ratios:
#   - BenchmarkHoldOneRoundTrip: the Go store, one EVALSHA round trip per hold (batching off)
#   - BenchmarkHoldBatched: the Go store, concurrent holds batched (≤ 64 holds a round trip, one batch on the wire unless full)
#   - redis-benchmark running the same hold script with EVALSHA, 50 clients, without and with pipelining (-P 16),
#     against a throwaway event with a huge capacity: the server's own ceiling for the script.
# Compare the ratios of one run, not absolute figures: the machine's load moves them.
# Environment: REDIS_HOST (127.0.0.1), REDIS_PORT (6379), BENCHTIME (3s), REQUESTS (200000) for redis-benchmark.
#
# `scripts/bench-inventory.sh cost` instead counts the server's instructions per hold, which the machine's load does
# not move: a private redis-server (COST_PORT, 7301) under valgrind's callgrind serves COST_HOLDS (2000) holds of
# the Go store, COST_BATCH (25) per script call; COST_SEATED=1 holds 2 adjacent seats instead of 1 general unit;
# COST_FANS (4096) fans take turns (1: the HTTP benchmark's single fan); COST_OUT=<file> keeps the callgrind profile
# for callgrind_annotate.
#
# `scripts/bench-inventory.sh ab OLD NEW` compares two test binaries of inventory/redisstore (`go test -c`, one built
# from a worktree of the old commit): BenchmarkHoldBatched with AB_HOLDS (100000) holds, alternating old and new
# AB_ROUNDS (3) times, against a private redis-server (AB_PORT, 7302), with the server's CPU per hold from
# /proc/<pid>/stat, which the machine's load moves less than holds/s.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = ab ]; then
	[ $# -eq 3 ] || { echo "usage: $0 ab OLD.test NEW.test" >&2; exit 2; }
	port=${AB_PORT:-7302}
	dir=$(mktemp -d)
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
	rs=$!
	trap 'kill $rs 2>/dev/null; wait $rs 2>/dev/null; rm -rf "$dir"' EXIT
	for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
	ticks() { awk '{ print $14 + $15 }' "/proc/$rs/stat"; }
	hz=$(getconf CLK_TCK)
	printf '%-4s %10s %12s %10s %18s %16s\n' build holds/s holds/trip allocs/op "server µs/hold" "client µs/hold"
	for _ in $(seq "${AB_ROUNDS:-3}"); do
		for which in old new; do
			bin=$2
			[ "$which" = new ] && bin=$3
			t0=$(ticks)
			out=$(ONSALE_TEST_REDIS_URL=redis://127.0.0.1:$port/0 /usr/bin/time -f 'cpu %U %S' "$bin" -test.run '^$' \
				-test.bench '^BenchmarkHoldBatched$' -test.benchtime "${AB_HOLDS:-100000}x" -test.benchmem 2>&1)
			t1=$(ticks)
			echo "$out" | awk -v w="$which" -v st=$((t1 - t0)) -v hz="$hz" '
				/^BenchmarkHoldBatched/ { n = $2; for (i = 3; i < NF; i++) { if ($(i+1) == "holds/s") h = $i;
					if ($(i+1) == "holds/roundtrip") r = $i; if ($(i+1) == "allocs/op") a = $i } }
				/^cpu / { c = $2 + $3 }
				END { printf "%-4s %10.0f %12.1f %10s %18.1f %16.1f\n", w, h, r, a, st / hz / n * 1e6, c / n * 1e6 }'
			redis-cli -p "$port" flushall >/dev/null
		done
	done
	printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	exit 0
fi

if [ "${1:-}" = cost ]; then
	for tool in valgrind callgrind_control callgrind_annotate redis-server redis-cli go; do
		command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
	done
	port=${COST_PORT:-7301}
	holds=${COST_HOLDS:-2000}
	batch=${COST_BATCH:-25}
	dir=$(mktemp -d)
	go test -c -o "$dir/redisstore.test" ./inventory/redisstore/
	valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
		redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/valgrind.log" 2>&1 &
	vg=$!
	trap 'kill $vg 2>/dev/null; wait $vg 2>/dev/null; rm -rf "$dir"' EXIT
	for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.2; done
	HOLDCOST_N=$holds HOLDCOST_K=$batch HOLDCOST_SEATED=${COST_SEATED:-0} HOLDCOST_FANS=${COST_FANS:-4096} \
		HOLDCOST_BEFORE="callgrind_control -z $vg" HOLDCOST_AFTER="callgrind_control -d $vg" \
		ONSALE_TEST_REDIS_URL=redis://127.0.0.1:$port/0 \
		"$dir/redisstore.test" -test.run '^TestHoldCost$' -test.count=1 >"$dir/test.log" 2>&1 || { cat "$dir/test.log" >&2; exit 1; }
	[ -z "${COST_OUT:-}" ] || cp "$dir/cg.out.1" "$COST_OUT"
	# The dump after the measured holds; serverCron runs on the clock, not per hold, so it is left out.
	callgrind_annotate --inclusive=yes --threshold=100 "$dir/cg.out.1" 2>/dev/null | awk -v n="$holds" -v k="$batch" '
		/PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
		/:serverCron / { gsub(",", "", $1); cron = $1 }
		/:evalShaCommand / { gsub(",", "", $1); script = $1 }
		END { printf "%d holds, %d per call: %.0f server instructions per hold (%.0f in EVALSHA)\n", n, k, (total - cron) / n, script / n }'
	exit 0
fi

host=${REDIS_HOST:-127.0.0.1}
port=${REDIS_PORT:-6379}
benchtime=${BENCHTIME:-3s}
requests=${REQUESTS:-200000}
export ONSALE_TEST_REDIS_URL=${ONSALE_TEST_REDIS_URL:-redis://$host:$port/0}
cli() { redis-cli -h "$host" -p "$port" "$@"; }

for tool in redis-cli redis-benchmark go; do
	command -v "$tool" >/dev/null || { echo "$tool not found" >&2; exit 1; }
done
cli ping >/dev/null

echo "== go benchmarks (benchtime $benchtime)" >&2
gobench=$(go test -run '^$' -bench '^BenchmarkHold(OneRoundTrip|Batched)$' -benchtime "$benchtime" ./inventory/redisstore/)
echo "$gobench" >&2
metric() { echo "$gobench" | awk -v name="$1" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == "holds/s") print $i }'; }
one=$(metric BenchmarkHoldOneRoundTrip)
batched=$(metric BenchmarkHoldBatched)

# A throwaway event on its own prefix: one general section of 10,000,000 units, no per-fan limit in practice.
prefix="bench$(date +%s%N | tail -c 9)"
p="$prefix:{ev:bench}:"
cleanup() {
	cli --scan --pattern "$prefix:*" | xargs -r -n 500 redis-cli -h "$host" -p "$port" unlink >/dev/null
}
trap cleanup EXIT
create=$(cat inventory/lua/common.lua inventory/lua/single.lua inventory/lua/create.lua | cli -x script load)
hold=$(cat inventory/lua/common.lua inventory/lua/hold.lua | cli -x script load)
cli evalsha "$create" 6 "$p" "${p}meta" "${p}deadline" "${p}def" "${p}sec:GA" "${p}seats:GA" \
	'{"id":"bench"}' 3600000 7200000 900000 1000000000 EUR GA 1 general 10000000 100 0 "" >/dev/null

# One hold of 1 unit for a random fan: KEYS prefix, meta, deadline, the section's counters and seats, then the hold's
# fan and hold (no idempotency key); ARGV 1 hold, 1 section "GA", then the hold's spec: no idempotency key, 0 seats,
# 1 item (GA, 1, not adjacent).
rb() {
	redis-benchmark -h "$host" -p "$port" -n "$requests" -c 50 -r 100000000 "$@" \
		evalsha "$hold" 7 "$p" "${p}meta" "${p}deadline" "${p}sec:GA" "${p}seats:GA" \
		"${p}fan:f__rand_int__" "${p}hold:bench.__rand_int__" 1 1 GA "- 0 1 GA 1 0" |
		tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1
}
echo "== redis-benchmark EVALSHA hold script, $requests requests, 50 clients" >&2
rb_plain=$(rb)
rb_piped=$(rb -P 16)
ping=$(redis-benchmark -h "$host" -p "$port" -n "$requests" -c 50 -q -t ping_mbulk | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1)
left=$(cli hget "${p}sec:GA" avail)
[ "$left" -lt 10000000 ] || { echo "the redis-benchmark holds did not take units" >&2; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
printf '\n%-44s %12s %12s %12s\n' "hold path" "holds/s" "vs 1 RT" "vs rb -P16"
row() { printf '%-44s %12.0f %12s %12s\n' "$1" "$2" "$(ratio "$2" "$one")" "$(ratio "$2" "$rb_piped")"; }
row "Go store, one round trip per hold" "$one"
row "Go store, batched (64 a trip)" "$batched"
row "redis-benchmark EVALSHA, -c 50" "$rb_plain"
row "redis-benchmark EVALSHA, -c 50 -P 16" "$rb_piped"
printf '%-44s %12.0f %12s %12s\n' "redis-benchmark PING (reference)" "$ping" "" ""
printf '\nload average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
