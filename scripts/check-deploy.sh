#!/usr/bin/env bash
# Checks everything under deploy/ offline (the Go module proxy and Debian/Ubuntu packages are the only
# downloads, each once): kustomize renders and strict typed validation of base and overlays, the compose
# file, the Dockerfile and the static binary it builds, Prometheus config and rules (promtool check + unit
# tests), the Grafana dashboard, and the metric names the dashboard and rules use.
#
#   scripts/check-deploy.sh                          all offline checks
#   scripts/check-deploy.sh --metrics-url URL        also: every metric used is exported by a live /metrics
#   scripts/check-deploy.sh --scrape FILE            the same against a saved scrape
#
# It also runs scripts/check-metrics.sh against the local services: onsale serve, started on the real Redis,
# PostgreSQL and RabbitMQ, must export every metric the dashboard and rules use after serving an on-sale
# (skipped where a service is missing, failed under CI; CHECK_LIVE_METRICS=0 skips it).
#
# Tools it needs and does not find are installed into ~/.cache/onsale/deploy-tools and reused:
# promtool from the distribution's prometheus package (extracted, so no service starts), kustomize by
# go install when there is no kubectl, actionlint by go install. Set DEPLOY_TOOLS to put them elsewhere.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${DEPLOY_TOOLS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/onsale/deploy-tools}
KUSTOMIZE_VERSION=v5.8.1
ACTIONLINT_VERSION=v1.7.12
METRICS_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --metrics-url) METRICS_ARGS+=(--metrics-url "$2"); shift 2 ;;
    --metrics-url=*) METRICS_ARGS+=(--metrics-url "${1#*=}"); shift ;;
    --scrape) METRICS_ARGS+=(--scrape "$2"); shift 2 ;;
    --scrape=*) METRICS_ARGS+=(--scrape "${1#*=}"); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "check-deploy: unknown argument $1" >&2; exit 2 ;;
  esac
done

mkdir -p "$TOOLS"
export PATH="$TOOLS:$PATH"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
START=$SECONDS
CHECKS=0
step() { CHECKS=$((CHECKS + 1)); printf '\n== [%ss] %s\n' "$((SECONDS - START))" "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# promtool: from PATH, from an earlier run, or extracted from the prometheus package without installing it.
ensure_promtool() {
  if command -v promtool >/dev/null; then return; fi
  echo "installing promtool into $TOOLS"
  local dl="$WORK/deb"
  mkdir -p "$dl"
  if ! (cd "$dl" && apt-get download prometheus >/dev/null 2>&1); then
    as_root apt-get update -qq
    (cd "$dl" && apt-get download prometheus)
  fi
  dpkg-deb --fsys-tarfile "$dl"/prometheus_*.deb | tar -x -C "$dl" ./usr/bin/promtool
  install -m 0755 "$dl/usr/bin/promtool" "$TOOLS/promtool"
}

# kustomize: kubectl's built-in one, a kustomize binary, or go install of a pinned release.
KUSTOMIZE=()
ensure_kustomize() {
  if command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1; then
    KUSTOMIZE=(kubectl kustomize)
  elif command -v kustomize >/dev/null; then
    KUSTOMIZE=(kustomize build)
  else
    echo "installing kustomize $KUSTOMIZE_VERSION into $TOOLS"
    GOBIN="$TOOLS" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    KUSTOMIZE=(kustomize build)
  fi
}

# actionlint: the GitHub workflow's syntax, expressions and action inputs.
ensure_actionlint() {
  if command -v actionlint >/dev/null && actionlint -version | grep -q "${ACTIONLINT_VERSION#v}"; then return; fi
  echo "installing actionlint $ACTIONLINT_VERSION into $TOOLS"
  GOBIN="$TOOLS" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
}

ensure_promtool
ensure_kustomize
ensure_actionlint
promtool --version 2>&1 | sed -n 1p
"${KUSTOMIZE[@]}" --help >/dev/null

step "deploy module: gofmt, go vet, go test (the checkers catch each kind of mistake)"
cd "$ROOT/deploy"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted" >&2; exit 1; fi
go vet ./...
go test -count=1 ./...
go build -o "$WORK/deploycheck" ./cmd/deploycheck
DC="$WORK/deploycheck"
cd "$ROOT"

step "kubernetes: render base and overlays, strict typed decode, references and policy"
for dir in base overlays/dev overlays/eks; do
  out="$WORK/k8s-${dir//\//-}.yaml"
  "${KUSTOMIZE[@]}" "deploy/k8s/$dir" >"$out"
  "$DC" k8s "$out"
done

step "compose: Compose Specification loader, images, build file, mounts"
"$DC" compose deploy/compose.yaml
if docker compose version >/dev/null 2>&1; then
  docker compose -f deploy/compose.yaml config -q && echo "docker compose config: ok"
fi

step "image: Dockerfile, and the binary built as it builds it is static"
"$DC" dockerfile deploy/docker/Dockerfile
if compgen -G "cmd/onsale/*.go" >/dev/null; then
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags="-s -w" -o "$WORK/onsale" ./cmd/onsale
  "$DC" static "$WORK/onsale"
  echo "binary size: $(du -h "$WORK/onsale" | cut -f1)"
else
  echo "cmd/onsale has no sources yet: binary check skipped"
fi
if [ "${CHECK_IMAGE:-0}" = 1 ]; then
  docker build -f deploy/docker/Dockerfile -t onsale:check .
  docker image ls onsale:check
fi

step "prometheus: config, rules, rule unit tests"
promtool check config deploy/prometheus/prometheus.yml
promtool check rules deploy/prometheus/rules/*.yml
promtool test rules deploy/prometheus/tests/*.yml

step "grafana and metric names: dashboards parse, name provisioned datasources, use only listed metrics"
"$DC" grafana deploy/grafana/provisioning/datasources/prometheus.yml deploy/grafana/dashboards/*.json
"$DC" metrics ${METRICS_ARGS[@]+"${METRICS_ARGS[@]}"} deploy/grafana/dashboards/*.json deploy/prometheus/rules/*.yml

if [ "${CHECK_LIVE_METRICS:-1}" = 0 ]; then
  echo "CHECK_LIVE_METRICS=0: live metric check skipped"
elif compgen -G "cmd/onsale/*.go" >/dev/null; then
  step "metric names exported by onsale serve on the real Redis, PostgreSQL and RabbitMQ after an on-sale"
  DEPLOYCHECK="$DC" "$ROOT/scripts/check-metrics.sh"
fi

step "CI workflow: actionlint"
actionlint .github/workflows/*.yml && echo "actionlint: ok"

echo
echo "check-deploy: all $CHECKS groups of checks succeeded in $((SECONDS - START)) s"
