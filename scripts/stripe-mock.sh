#!/usr/bin/env bash
# Installs stripe-mock (pinned) and starts it on loopback only, for the Stripe adapter's tests.
#   eval "$(scripts/stripe-mock.sh start)"   install if missing, start in the background, wait until it answers,
#                                            and print `export ONSALE_TEST_STRIPE_MOCK=…` (the only line on stdout)
#   scripts/stripe-mock.sh stop              stop the one this script started
set -euo pipefail

VERSION=v0.203.0
HTTP_ADDR=${STRIPE_MOCK_HTTP_ADDR:-127.0.0.1:12111}
HTTPS_ADDR=${STRIPE_MOCK_HTTPS_ADDR:-127.0.0.1:12112}
PIDFILE=${STRIPE_MOCK_PIDFILE:-${TMPDIR:-/tmp}/onsale-stripe-mock.pid}
LOG=${STRIPE_MOCK_LOG:-${TMPDIR:-/tmp}/onsale-stripe-mock.log}
BIN="$(go env GOPATH)/bin/stripe-mock"

say() { echo "$*" >&2; }
answers() { curl -fsS -o /dev/null -H 'Authorization: Bearer sk_test_123' "http://$HTTP_ADDR/v1/customers" 2>/dev/null; }

case "${1:-start}" in
stop)
	if [[ -f "$PIDFILE" ]]; then
		kill "$(cat "$PIDFILE")" 2>/dev/null || true
		rm -f "$PIDFILE"
	fi
	exit 0
	;;
start) ;;
*)
	say "usage: $0 [start|stop]"
	exit 2
	;;
esac

if answers; then
	say "stripe-mock already answers on $HTTP_ADDR"
else
	if [[ ! -x "$BIN" ]]; then
		say "installing stripe-mock $VERSION"
		go install "github.com/stripe/stripe-mock@$VERSION" >&2
	fi
	# Both addresses on loopback: without -https-addr it would also listen on every interface.
	nohup "$BIN" -http-addr "$HTTP_ADDR" -https-addr "$HTTPS_ADDR" >"$LOG" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 1 150); do
		answers && break
		sleep 0.1
	done
	if ! answers; then
		say "stripe-mock did not start; see $LOG"
		exit 1
	fi
	say "stripe-mock $VERSION on http://$HTTP_ADDR (pid $(cat "$PIDFILE"))"
fi
echo "export ONSALE_TEST_STRIPE_MOCK=http://$HTTP_ADDR"
