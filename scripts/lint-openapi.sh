#!/usr/bin/env bash
# Lints core/openapi.yaml with Redocly's CLI and its recommended rules (redocly.yaml says which are off and why).
# The CLI is installed once, at a pinned version, into ~/.cache/onsale/redocly (REDOCLY_HOME to put it elsewhere).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=2.77.0
HOME_DIR=${REDOCLY_HOME:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/onsale/redocly}
if ! command -v npm >/dev/null; then
  echo "npm is missing: apt-get install npm (Redocly's CLI lints the OpenAPI document)" >&2
  exit 1
fi
BIN="$HOME_DIR/$VERSION/node_modules/.bin/redocly"
if [ ! -x "$BIN" ]; then
  mkdir -p "$HOME_DIR/$VERSION"
  npm install --prefix "$HOME_DIR/$VERSION" --no-save --no-audit --no-fund --loglevel=error "@redocly/cli@$VERSION" >/dev/null
fi
cd "$ROOT"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$BIN" lint --config redocly.yaml core/openapi.yaml --format=summary
