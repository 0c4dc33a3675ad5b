#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: brings up every service the tests need (PostgreSQL, Redis,
# RabbitMQ, a 3-node Redis Cluster, stripe-mock, Chromium), then runs all Go tests under the race detector with
# services required, then the deploy and k6 checks. One command on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

export ONSALE_TEST_REQUIRE_SERVICES=1
export PATH="$(go env GOPATH)/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step services
scripts/services.sh up

if [ -x scripts/stripe-mock.sh ]; then
  step stripe-mock
  eval "$(scripts/stripe-mock.sh start)"
fi

if [ -x scripts/redis-cluster.sh ]; then
  step "redis cluster"
  eval "$(scripts/redis-cluster.sh start)"
  trap 'scripts/redis-cluster.sh stop >/dev/null 2>&1 || true' EXIT
fi

step "chromium, poppler-utils"
# Chromium drives the pages; poppler's pdftoppm renders the tickets' PDF for its test.
if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null
  else
    echo "chromium or pdftoppm is missing: apt-get install chromium poppler-utils" >&2
    exit 1
  fi
fi
chromium --version
pdftoppm_version=$(pdftoppm -v 2>&1 || true)
echo "${pdftoppm_version%%$'\n'*}"

step "go vet"
go vet ./...

step "go test -race"
go test -race -count=1 -timeout 15m ./...

for check in scripts/check-deploy.sh scripts/check-k6.sh; do
  if [ -x "$check" ]; then
    step "$check"
    "$check"
  fi
done
