#!/usr/bin/env bash
# Runs BenchmarkSettleThroughput from a compiled test binary and reports, per settled order, the CPU time of the
# test process (its user and system time) and of RabbitMQ (beam.smp ticks from /proc).
#
# The broker's ticks are everyone's: another process talking AMQP to it during the run (another benchmark on a
# shared machine) inflates the figure, so the script lists any other client it saw, sampled every 200 ms; compare
# only runs that say "alone".
#
#	go test -c -o /work/bin/settlement.test ./settlement/
#	settlement/benchcpu.sh /work/bin/settlement.test [orders]
set -euo pipefail
bin=${1:?test binary}
n=${2:-20000}
cd "$(dirname "$0")"
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
beam=$(pgrep -o beam.smp)
b0=$(ticks "$beam")
out=$(mktemp)
/usr/bin/time -f '%U %S' -o "$out.time" "$bin" -test.run '^$' -test.bench SettleThroughput -test.benchtime "${n}x" >"$out" 2>&1 &
runner=$!
: >"$out.peers"
while kill -0 "$runner" 2>/dev/null; do
	# The benchmark is time's child; any other pid on the broker's port is someone else's.
	for p in $(ss -tnpH '( dport = :5672 )' 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
		[ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$runner" ] || echo "$p" >>"$out.peers"
	done
	sleep 0.2
done
wait "$runner" || { cat "$out"; exit 1; }
b1=$(ticks "$beam")
grep -E 'orders/s|ledger writes' "$out"
read -r u s <"$out.time"
hz=$(getconf CLK_TCK)
awk -v u="$u" -v s="$s" -v b="$((b1 - b0))" -v hz="$hz" -v n="$n" 'BEGIN {
	printf "cpu per order: go %.0f µs (process incl. setup), rabbitmq %.0f µs\n", (u+s)/n*1e6, b/hz/n*1e6 }'
others=$(sort -u "$out.peers" | tr '\n' ' ')
if [ -n "$others" ]; then
	echo "broker shared: other AMQP clients during the run (pids ${others% }): rabbitmq figure inflated"
else
	echo "broker alone: no other AMQP client seen"
fi
rm -f "$out" "$out.time" "$out.peers"
