#!/usr/bin/env bash
# Type-checks the k6 scenarios against @types/k6 (k6 itself is not needed): a wrong API, an unknown executor or a
# typo fails. Then checks that loadtest/budget.json maps to well-formed k6 threshold expressions.
# Usage: scripts/check-k6.sh   (needs node and npm)
set -euo pipefail
cd "$(dirname "$0")/../loadtest/k6"

npm ci --no-audit --no-fund --loglevel=error
npx --no-install tsc -p tsconfig.json --checkJs --noEmit --allowJs
echo "k6 scripts: type check passed"

node --input-type=module -e '
import { readFileSync } from "node:fs";
import { parseBudget, thresholdsFrom, ENDPOINTS } from "./lib/budget.js";
const budget = parseBudget(readFileSync("../budget.json", "utf8"));
const metric = new RegExp(`^(http_reqs|http_req_failed|audit_passed|sellout_s|(http_req_duration|http_req_failed)\\{endpoint:(${ENDPOINTS.join("|")})\\})$`);
const expr = /^(p\(\d+(\.\d+)?\)|avg|min|max|med|rate|count)(<|<=|>|>=|==|===|!=)\d+(\.\d+)?$/;
let n = 0;
for (const sellout of [true, false]) {
  for (const [m, exprs] of Object.entries(thresholdsFrom(budget, { sellout }))) {
    if (!metric.test(m)) throw new Error(`threshold on an unknown metric: ${m}`);
    for (const e of exprs) {
      if (!expr.test(e)) throw new Error(`malformed threshold ${m}: ${e}`);
      n++;
    }
  }
}
if (n === 0) throw new Error("budget.json maps to no threshold");
for (const bad of [`{"endpoints":{"joins":{}}}`, `{"overall":{"min_rpss":1}}`, `{"endpoints":{"join":{"p95":1}}}`]) {
  let threw = false;
  try { parseBudget(bad); } catch { threw = true; }
  if (!threw) throw new Error(`parseBudget accepted ${bad}`);
}
console.log(`k6 thresholds: ${n} expressions from budget.json are well formed`);
'
