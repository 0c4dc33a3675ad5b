#!/usr/bin/env bash
# Rebuilds the vendored browser libraries in core/web/assets from their npm releases: jsQR (the scanner's QR
# decoder where the browser has no BarcodeDetector) and noble-ed25519 (offline verification where WebCrypto has no
# Ed25519). Versions are pinned here; the output is committed, so nothing is fetched at build or run time.
set -euo pipefail
JSQR=1.4.0
NOBLE=3.2.0
ESBUILD=0.25.12
out=$(cd "$(dirname "$0")/../core/web/assets" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "jsqr@$JSQR" "@noble/ed25519@$NOBLE" >/dev/null
npm install --silent --no-save "esbuild@$ESBUILD" >/dev/null
mkdir jsqr noble
tar xzf "jsqr-$JSQR.tgz" -C jsqr
tar xzf "noble-ed25519-$NOBLE.tgz" -C noble
{
  echo "/*! jsQR $JSQR, Apache-2.0, https://github.com/cozmo/jsQR (see jsqr.LICENSE) */"
  npx esbuild jsqr/package/dist/jsQR.js --minify --legal-comments=inline --log-level=warning
} >"$out/jsqr.js"
npx esbuild noble/package/index.js --bundle --format=iife --global-name=nobleEd25519 --minify \
  --legal-comments=inline --target=es2020 --log-level=warning >"$out/ed25519.js"
cp jsqr/package/LICENSE "$out/jsqr.LICENSE"
cp noble/package/LICENSE "$out/ed25519.LICENSE"
wc -c "$out"/*.js
