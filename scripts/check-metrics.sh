#!/usr/bin/env bash
# Checks that every metric the Grafana dashboard and the alert rules use is exported by the real binary:
# builds cmd/onsale, serves it on a free loopback port against the real Redis, PostgreSQL and RabbitMQ
# (isolated: its own key and queue prefix, its own database), drives an on-sale through the HTTP API
# (event, joins, status polls, admission, a hold paid for, a hold released, admission paused and resumed,
# stats, availability), then runs `deploycheck metrics --metrics-url` on its /metrics. Everything it created
# (the process, the database, the Redis keys, the RabbitMQ queues and exchanges) is removed at exit.
#
#   scripts/check-metrics.sh                     build deploycheck from deploy/ and check
#   DEPLOYCHECK=/path/deploycheck scripts/check-metrics.sh    use an already built deploycheck
#
# Services come from ONSALE_TEST_REDIS_URL, ONSALE_TEST_DATABASE_URL (an admin connection that may create
# databases) and ONSALE_TEST_AMQP_URL, with the defaults of internal/testenv. A service that cannot be reached
# skips the check (exit 0) on a developer's machine and fails it under CI (CI=true or
# ONSALE_TEST_REQUIRE_SERVICES=1). Needs curl, jq, psql, redis-cli; rabbitmqctl (run locally) removes the
# RabbitMQ queues and exchanges afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDIS_URL=${ONSALE_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
ADMIN_DB_URL=${ONSALE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
AMQP_URL=${ONSALE_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
DASHBOARDS=("$ROOT"/deploy/grafana/dashboards/*.json)
RULES=("$ROOT"/deploy/prometheus/rules/*.yml)

START=$SECONDS
STEP=start
ERR=
say() { STEP=$*; printf '[check-metrics %2ss] %s\n' "$((SECONDS - START))" "$*"; }
fail() { ERR=$*; echo "check-metrics: $*" >&2; exit 1; }
required() { [ "${CI:-}" = true ] || [ "${ONSALE_TEST_REQUIRE_SERVICES:-}" = 1 ]; }
missing() {
  if required; then fail "$1 is not available (required under CI)"; fi
  echo "check-metrics: $1 is not available: live metric check skipped (CI=true makes this fail)"
  exit 0
}

for tool in go curl jq psql redis-cli; do
  command -v "$tool" >/dev/null || missing "the $tool command"
done

# Reachability first, so a machine without the services skips before building anything.
redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || missing "Redis ($REDIS_URL)"
psql "$ADMIN_DB_URL" -Atqc 'SELECT 1' >/dev/null 2>&1 || missing "PostgreSQL"
amqp_hostport=${AMQP_URL#*://}
amqp_hostport=${amqp_hostport#*@}
amqp_hostport=${amqp_hostport%%/*}
amqp_host=${amqp_hostport%:*}
amqp_port=${amqp_hostport##*:}
[ "$amqp_port" = "$amqp_hostport" ] && amqp_port=5672
AMQP_VHOST=${AMQP_URL#*://}
case "$AMQP_VHOST" in */*) AMQP_VHOST=${AMQP_VHOST#*/} AMQP_VHOST=${AMQP_VHOST%%\?*} ;; *) AMQP_VHOST= ;; esac
[ -n "$AMQP_VHOST" ] || AMQP_VHOST=/ # the URL's path is the percent-encoded vhost; none means "/"
AMQP_VHOST=$(printf '%b' "${AMQP_VHOST//%/\\x}")
(exec 3<>"/dev/tcp/$amqp_host/$amqp_port") 2>/dev/null || missing "RabbitMQ ($amqp_host:$amqp_port)"

ID=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
PREFIX=chkmetrics$ID        # Redis keys "$PREFIX:..." and RabbitMQ "$PREFIX.*"
DB=onsale_chkmetrics_$ID
# The admin URL with its database replaced by ours (the query string, e.g. sslmode, is kept).
DB_URL=$(printf '%s' "$ADMIN_DB_URL" | sed -E "s#^([a-z]+://[^/?]*)(/[^?]*)?#\\1/$DB#")
ADMIN_TOKEN=check-metrics-admin-$ID
WORK=$(mktemp -d)
PID=

stop_server() {
  [ -n "$PID" ] || return 0
  kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}

cleanup() {
  local rc=$?
  set +e
  trap '' PIPE # a reader that went away (… | head) must not stop the cleanup half-way
  stop_server
  echo "[check-metrics $((SECONDS - START))s] cleanup: server stopped"
  PGOPTIONS="-c client_min_messages=warning" psql "$ADMIN_DB_URL" -Atqc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null
  # SCAN + UNLINK only our prefix: the Redis is shared, never flushed.
  redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" | xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null
  echo "[check-metrics $((SECONDS - START))s] cleanup: database and Redis keys removed"
  if command -v rabbitmqctl >/dev/null; then
    # rabbitmqctl deletes one queue per call (about 2 s each) and has no delete_exchange, so one eval deletes
    # every queue and exchange under the prefix through the broker's own functions.
    rabbitmqctl -q eval "
      P = <<\"$PREFIX.\">>, V = <<\"$AMQP_VHOST\">>, N = byte_size(P),
      Mine = fun({resource, _, _, Name}) -> binary:longest_common_prefix([Name, P]) =:= N end,
      Qs = [rabbit_amqqueue:delete(Q, false, false, <<\"check-metrics\">>)
            || Q <- rabbit_amqqueue:list(V), Mine(amqqueue:get_name(Q))],
      Xs = [rabbit_exchange:delete(element(2, X), false, <<\"check-metrics\">>)
            || X <- rabbit_exchange:list(V), Mine(element(2, X))],
      {length(Qs), length(Xs)}." >"$WORK/rabbit" 2>&1
    left=$( (rabbitmqctl -q list_queues -p "$AMQP_VHOST" name; rabbitmqctl -q list_exchanges -p "$AMQP_VHOST" name) 2>/dev/null |
      grep -c "^$PREFIX\.")
    if [ "$left" = 0 ]; then
      echo "check-metrics: RabbitMQ {queues, exchanges} deleted: $(cat "$WORK/rabbit")"
    else
      echo "check-metrics: $left RabbitMQ queues or exchanges named $PREFIX.* left behind: $(cat "$WORK/rabbit")" >&2
    fi
  else
    echo "check-metrics: no rabbitmqctl here: RabbitMQ queues and exchanges named $PREFIX.* are left behind" >&2
  fi
  echo "[check-metrics $((SECONDS - START))s] cleanup: RabbitMQ done"
  if [ "$rc" != 0 ] && [ -s "$WORK/serve.log" ]; then
    echo "--- last lines of the server's log" >&2
    tail -n 20 "$WORK/serve.log" >&2
  fi
  if [ "$rc" != 0 ]; then
    echo "check-metrics: FAILED at \"$STEP\"${ERR:+: $ERR}" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "build cmd/onsale"
(cd "$ROOT" && go build -o "$WORK/onsale" ./cmd/onsale)
DC=${DEPLOYCHECK:-}
if [ -z "$DC" ]; then
  (cd "$ROOT/deploy" && go build -o "$WORK/deploycheck" ./cmd/deploycheck)
  DC=$WORK/deploycheck
fi
psql "$ADMIN_DB_URL" -Atqc "CREATE DATABASE $DB" >/dev/null

# start_server starts onsale serve on a free loopback port (the kernel picks it: -addr 127.0.0.1:0, read back
# from the log) and waits for /readyz.
BASE=
start_server() {
  : >"$WORK/serve.log"
  ONSALE_ADDR=127.0.0.1:0 ONSALE_PREFIX=$PREFIX ONSALE_REDIS_URL=$REDIS_URL ONSALE_DATABASE_URL=$DB_URL \
    ONSALE_AMQP_URL=$AMQP_URL ONSALE_JOIN_RATE_PER_IP=0 ONSALE_MAX_CONNS_PER_IP=0 ONSALE_ADMIN_TOKEN=$ADMIN_TOKEN \
    ONSALE_TOKEN_SECRET=check-metrics-token-secret-$ID ONSALE_LOG_FORMAT=json ONSALE_ROLES=core,waitroom,settler \
    "$WORK/onsale" serve >>"$WORK/serve.log" 2>&1 &
  PID=$!
  local addr=
  for _ in $(seq 1 150); do
    kill -0 "$PID" 2>/dev/null || fail "onsale serve exited at start"
    addr=$(jq -r 'select(.msg == "onsale serving") | .addr' "$WORK/serve.log" 2>/dev/null | sed -n 1p)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || fail "onsale serve did not listen within 15 s"
  BASE=http://$addr
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$BASE/readyz" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$BASE/readyz not ready within 15 s"
}

# api METHOD PATH [BODY] [curl args...]: prints the body; fails the check on any status but 2xx.
api() {
  local method=$1 path=$2 body=${3:-}
  shift $(($# < 3 ? $# : 3))
  local args=(-sS -X "$method" -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' "$@")
  [ -n "$body" ] && args+=(--data "$body")
  local code
  code=$(curl "${args[@]}" "$BASE$path") || fail "$method $path: request failed"
  case "$code" in 2??) cat "$WORK/body" ;; *) fail "$method $path: HTTP $code: $(cat "$WORK/body")" ;; esac
}
admin() { api "$1" "$2" "${3:-}" -H "Authorization: Bearer $ADMIN_TOKEN"; }

EVENT=chk-$ID
now=$(date -u +%s)
event=$(jq -n --arg id "$EVENT" --arg start "$(date -u -d "@$((now - 60))" +%Y-%m-%dT%H:%M:%SZ)" '{
  id: $id, name: "metrics check", currency: "EUR", hold_ttl_s: 600, max_per_fan: 4,
  sections: [{id: "GA", kind: "general", capacity: 100, price: 4500},
             {id: "A", kind: "seated", price: 9000, rows: [{row: "1", seats: 10}]}],
  waves: [{id: "general", starts_at: $start, admit_per_min: 6000, max_active: 100}]}')

# The inventory audit (onsale_inventory_audit_differences) runs when the server starts and then once a minute
# (core/server.go: AuditEvery defaults to time.Minute; cmd/onsale/serve.go builds core.Config without it, and no
# flag or variable sets it). So the event is created by one process and the traffic served by a second one
# started after it: that one audits the existing event at once instead of a minute later.
say "serve (prefix $PREFIX, database $DB), create event $EVENT"
start_server
admin POST /v1/admin/events "$event" >/dev/null
stop_server
say "restart, so the start-up audit sees the event"
start_server

say "joins and status polls until admitted"
declare -A QT AT
for fan in alice bob carol; do
  QT[$fan]=$(api POST "/v1/events/$EVENT/queue" "{\"fan\":\"$fan\"}" | jq -re .queue_token)
done
for fan in alice bob carol; do
  for i in $(seq 1 100); do
    st=$(api GET "/v1/events/$EVENT/queue" "" -H "Queue-Token: ${QT[$fan]}")
    if [ "$(jq -r .state <<<"$st")" = admitted ]; then
      AT[$fan]=$(jq -re .access_token <<<"$st")
      break
    fi
    [ "$i" = 100 ] && fail "$fan not admitted within 20 s: $st"
    sleep 0.2
  done
done

say "a hold paid for, a hold released, a hold on seats"
hold=$(api POST "/v1/events/$EVENT/holds" '{"items":[{"section":"GA","quantity":2}]}' \
  -H "Authorization: Bearer ${AT[alice]}" | jq -re .hold_id)
order=$(api POST "/v1/holds/$hold/checkout" '{"payment_method":"pm_card_visa"}' \
  -H "Authorization: Bearer ${AT[alice]}" | jq -re .order_id)
released=$(api POST "/v1/events/$EVENT/holds" '{"items":[{"section":"A","quantity":2,"adjacent":true}]}' \
  -H "Authorization: Bearer ${AT[bob]}" | jq -re .hold_id)
api GET "/v1/holds/$released" "" -H "Authorization: Bearer ${AT[bob]}" >/dev/null
api DELETE "/v1/holds/$released" "" -H "Authorization: Bearer ${AT[bob]}" >/dev/null
api POST "/v1/events/$EVENT/holds" '{"seats":["A-1-5"]}' -H "Authorization: Bearer ${AT[carol]}" >/dev/null
api DELETE "/v1/events/$EVENT/queue" "" -H "Queue-Token: ${QT[carol]}" >/dev/null
for i in $(seq 1 100); do
  status=$(api GET "/v1/orders/$order" "" -H "Authorization: Bearer ${AT[alice]}" | jq -r .status)
  [ "$status" = paid ] && break
  case "$status" in failed | refunded) fail "order $order ended $status" ;; esac
  [ "$i" = 100 ] && fail "order $order not paid within 20 s (status $status)"
  sleep 0.2
done
say "order $order paid"
admin PATCH "/v1/admin/events/$EVENT/admission" '{"paused":true}' >/dev/null
admin PATCH "/v1/admin/events/$EVENT/admission" '{"paused":false}' >/dev/null
admin GET "/v1/admin/events/$EVENT/stats" >/dev/null
admin GET "/v1/admin/events/$EVENT" >/dev/null
api GET "/v1/events/$EVENT/availability" >/dev/null

say "deploycheck metrics --metrics-url $BASE/metrics"
curl -fsS "$BASE/metrics" >"$WORK/scrape.metrics"
echo "scrape: $(grep -c '^# TYPE onsale_' "$WORK/scrape.metrics") onsale_* families, $(wc -l <"$WORK/scrape.metrics") lines"
"$DC" metrics --metrics-url "$BASE/metrics" "${DASHBOARDS[@]}" "${RULES[@]}"
say "every metric the dashboard and the rules use is exported by onsale serve"
