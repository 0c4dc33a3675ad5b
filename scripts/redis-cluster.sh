#!/usr/bin/env bash
# Starts or stops a 3-node Redis Cluster on 127.0.0.1 (ports 7101-7103 by default) for the inventory's cluster test:
#   eval "$(scripts/redis-cluster.sh start)"   # prints: export ONSALE_TEST_REDIS_CLUSTER=127.0.0.1:7101,…
#   scripts/redis-cluster.sh stop
# start is idempotent: a cluster already up on those ports is reused. Messages go to stderr, the export to stdout.
# Data lives under a temporary directory that stop removes. ONSALE_CLUSTER_PORT sets the first port.
set -euo pipefail

first=${ONSALE_CLUSTER_PORT:-7101}
ports=("$first" "$((first + 1))" "$((first + 2))")
dir=${ONSALE_CLUSTER_DIR:-${TMPDIR:-/tmp}/onsale-redis-cluster-$first}

addrs() {
	local out=()
	for p in "${ports[@]}"; do out+=("127.0.0.1:$p"); done
	(IFS=,; echo "${out[*]}")
}

start() {
	command -v redis-server >/dev/null || { echo "redis-server not found (apt-get install redis-server)" >&2; exit 1; }
	if redis-cli -p "$first" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
		echo "Redis Cluster already up on $(addrs)" >&2
		echo "export ONSALE_TEST_REDIS_CLUSTER=$(addrs)"
		return
	fi
	mkdir -p "$dir"
	for p in "${ports[@]}"; do
		if redis-cli -p "$p" ping >/dev/null 2>&1; then
			echo "port $p already answers but is not a healthy cluster; stop it first" >&2
			exit 1
		fi
		mkdir -p "$dir/$p"
		redis-server --port "$p" --bind 127.0.0.1 --protected-mode yes --daemonize yes \
			--dir "$dir/$p" --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" \
			--cluster-enabled yes --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 5000 \
			--appendonly no --save ''
	done
	for p in "${ports[@]}"; do
		for _ in $(seq 50); do
			redis-cli -p "$p" ping >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
	local nodes=()
	for p in "${ports[@]}"; do nodes+=("127.0.0.1:$p"); done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log"
	for _ in $(seq 100); do
		if redis-cli -p "$first" cluster info | grep -q 'cluster_state:ok'; then
			echo "Redis Cluster up on $(addrs), data in $dir" >&2
			echo "export ONSALE_TEST_REDIS_CLUSTER=$(addrs)"
			return
		fi
		sleep 0.1
	done
	echo "cluster did not reach state ok; see $dir" >&2
	exit 1
}

stop() {
	for p in "${ports[@]}"; do
		redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
	done
	for p in "${ports[@]}"; do
		for _ in $(seq 50); do
			redis-cli -p "$p" ping >/dev/null 2>&1 || break
			sleep 0.1
		done
	done
	rm -rf "$dir"
	echo "Redis Cluster on $(addrs) stopped" >&2
}

case "${1:-}" in
start) start ;;
stop) stop ;;
addrs) addrs ;;
*) echo "usage: $0 start|stop|addrs" >&2; exit 2 ;;
esac
