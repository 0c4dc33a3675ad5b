// Maps loadtest/budget.json to k6 thresholds, so k6 and `onsale loadtest` give the same verdict on the same
// budget. The comparison directions match (loadtest.Report).Check: a latency or error rate above its bound fails,
// requests per second below min_rps fail.

/**
 * @typedef {{p95_ms?: number, p99_ms?: number, error_rate?: number}} EndpointBudget
 * @typedef {{min_rps?: number, max_error_rate?: number, audit_must_pass?: boolean, max_sellout_s?: number}} OverallBudget
 * @typedef {{endpoints?: Record<string, EndpointBudget>, overall?: OverallBudget}} Budget
 */

/** The endpoint names of the Go generator; requests are tagged with them. */
export const ENDPOINTS = ['join', 'poll', 'stream', 'leave', 'hold', 'release', 'checkout', 'order', 'admin_event', 'admin_stats'];

/**
 * Parses and validates a budget file's text: unknown fields and endpoints are errors, as in LoadBudget.
 * @param {string} text
 * @returns {Budget}
 */
export function parseBudget(text) {
  /** @type {Budget} */
  const b = JSON.parse(text);
  const known = (/** @type {object} */ o, /** @type {string[]} */ keys, /** @type {string} */ where) => {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) throw new Error(`budget: unknown field ${where}.${k}`);
    }
  };
  known(b, ['endpoints', 'overall'], 'budget');
  for (const [ep, eb] of Object.entries(b.endpoints || {})) {
    if (!ENDPOINTS.includes(ep)) throw new Error(`budget: unknown endpoint ${ep}`);
    known(eb, ['p95_ms', 'p99_ms', 'error_rate'], `endpoints.${ep}`);
  }
  known(b.overall || {}, ['min_rps', 'max_error_rate', 'audit_must_pass', 'max_sellout_s'], 'overall');
  return b;
}

/**
 * k6 thresholds for a budget. `sellout` says whether the scenario sells out (the soak does not).
 * @param {Budget} budget
 * @param {{sellout?: boolean}} [opts]
 * @returns {Record<string, string[]>}
 */
export function thresholdsFrom(budget, opts = {}) {
  /** @type {Record<string, string[]>} */
  const t = {};
  for (const [ep, b] of Object.entries(budget.endpoints || {})) {
    /** @type {string[]} */
    const latency = [];
    if (b.p95_ms) latency.push(`p(95)<=${b.p95_ms}`);
    if (b.p99_ms) latency.push(`p(99)<=${b.p99_ms}`);
    if (latency.length > 0) t[`http_req_duration{endpoint:${ep}}`] = latency;
    if (b.error_rate !== undefined) t[`http_req_failed{endpoint:${ep}}`] = [`rate<=${b.error_rate}`];
  }
  const o = budget.overall || {};
  if (o.min_rps) t.http_reqs = [`rate>=${o.min_rps}`];
  if (o.max_error_rate !== undefined) t.http_req_failed = [`rate<=${o.max_error_rate}`];
  if (o.audit_must_pass) t.audit_passed = ['rate>=1'];
  if (opts.sellout && o.max_sellout_s) t.sellout_s = [`max<=${o.max_sellout_s}`];
  return t;
}
