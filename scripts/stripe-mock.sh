#!/usr/bin/env bash
# Installs stripe-mock (pinned) and starts it on loopback only, for the Stripe adapter's tests.
#   scripts/stripe-mock.sh          install if missing, start in the background, wait until it answers
#   scripts/stripe-mock.sh stop     stop the one this script started
# Then: export ONSALE_TEST_STRIPE_MOCK=http://127.0.0.1:12111
set -euo pipefail

VERSION=v0.203.0
HTTP_ADDR=${STRIPE_MOCK_HTTP_ADDR:-127.0.0.1:12111}
HTTPS_ADDR=${STRIPE_MOCK_HTTPS_ADDR:-127.0.0.1:12112}
PIDFILE=${STRIPE_MOCK_PIDFILE:-${TMPDIR:-/tmp}/onsale-stripe-mock.pid}
LOG=${STRIPE_MOCK_LOG:-${TMPDIR:-/tmp}/onsale-stripe-mock.log}
BIN="$(go env GOPATH)/bin/stripe-mock"

if [[ "${1:-start}" == stop ]]; then
	if [[ -f "$PIDFILE" ]]; then
		kill "$(cat "$PIDFILE")" 2>/dev/null || true
		rm -f "$PIDFILE"
	fi
	exit 0
fi

if curl -fsS -o /dev/null -H 'Authorization: Bearer sk_test_123' "http://$HTTP_ADDR/v1/customers" 2>/dev/null; then
	echo "stripe-mock already answers on $HTTP_ADDR"
	exit 0
fi

if [[ ! -x "$BIN" ]] || ! "$BIN" -version 2>/dev/null | grep -q "${VERSION#v}"; then
	echo "installing stripe-mock $VERSION"
	go install "github.com/stripe/stripe-mock@$VERSION"
fi

# Both addresses on loopback: without -https-addr it would also listen on every interface.
nohup "$BIN" -http-addr "$HTTP_ADDR" -https-addr "$HTTPS_ADDR" >"$LOG" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 1 100); do
	if curl -fsS -o /dev/null -H 'Authorization: Bearer sk_test_123' "http://$HTTP_ADDR/v1/customers" 2>/dev/null; then
		echo "stripe-mock $VERSION on http://$HTTP_ADDR (pid $(cat "$PIDFILE"))"
		exit 0
	fi
	sleep 0.1
done
echo "stripe-mock did not start; see $LOG" >&2
exit 1
