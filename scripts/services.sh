#!/usr/bin/env bash
# Makes sure the services the tests and benchmarks need are up: PostgreSQL, Redis and RabbitMQ at their
# ONSALE_TEST_* URLs (defaults below). A stopped service is started from its installed Debian package; a missing one
# is installed when running as root. Exits non-zero, naming the service, when one still cannot be reached.
#
#   scripts/services.sh up      # check, start or install (the default)
#   scripts/services.sh check   # check only
set -euo pipefail

mode=${1:-up}
redis_url=${ONSALE_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
database_url=${ONSALE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
amqp_url=${ONSALE_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}

log() { printf 'services: %s\n' "$*" >&2; }

# hostport URL DEFAULT_PORT → "host port"
hostport() {
  local rest=${1#*://}
  rest=${rest%%/*}
  rest=${rest##*@}
  local host=${rest%:*} port=${rest##*:}
  [ "$host" = "$rest" ] && port=$2
  [ -n "$host" ] || host=127.0.0.1
  printf '%s %s\n' "$host" "$port"
}

open_port() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

wait_port() { # name host port seconds
  local i
  for ((i = 0; i < $4 * 5; i++)); do
    open_port "$2" "$3" && return 0
    sleep 0.2
  done
  return 1
}

local_host() { case $1 in 127.*|localhost|::1) return 0;; esac; return 1; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "$* is not installed and this is not a root Debian machine: install it by hand"
    return 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  log "installing $*"
  # policy-rc.d keeps the packages' own service start out of the way; this script starts them itself.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null || apt_install postgresql || return 1
  local v
  v=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -z "$v" ]; then
    log "no PostgreSQL cluster found"
    return 1
  fi
  # Tests connect as postgres over TCP without a password, as on the CI machines.
  local hba=/etc/postgresql/$v/main/pg_hba.conf
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba" 2>/dev/null; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server || return 1
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$1" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

start_rabbitmq() {
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server || return 1
  rabbitmq-server -detached || true
}

ensure() { # name url default_port starter
  local name=$1 host port
  read -r host port < <(hostport "$2" "$3")
  if open_port "$host" "$port"; then
    log "$name is up at $host:$port"
    return 0
  fi
  if [ "$mode" = check ]; then
    log "$name is NOT reachable at $host:$port"
    return 1
  fi
  if ! local_host "$host"; then
    log "$name is NOT reachable at $host:$port (not local, so not started here)"
    return 1
  fi
  log "$name is down at $host:$port; starting it"
  "$4" "$port" || true
  if wait_port "$name" "$host" "$port" 60; then
    log "$name is up at $host:$port"
  else
    log "$name did NOT come up at $host:$port"
    return 1
  fi
}

case $mode in
  up|check) ;;
  *) echo "usage: $0 [up|check]" >&2; exit 2 ;;
esac

failed=0
ensure PostgreSQL "$database_url" 5432 start_postgres || failed=1
ensure Redis "$redis_url" 6379 start_redis || failed=1
ensure RabbitMQ "$amqp_url" 5672 start_rabbitmq || failed=1
if [ "$failed" != 0 ]; then
  log "a required service is missing"
  exit 1
fi
# RabbitMQ opens its port before it accepts AMQP; wait until it answers a status query, where we can ask.
if [ "$mode" = up ] && command -v rabbitmqctl >/dev/null; then
  for _ in $(seq 1 60); do rabbitmqctl -q status >/dev/null 2>&1 && break; sleep 1; done
fi
