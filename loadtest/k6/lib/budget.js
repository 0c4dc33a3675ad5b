// Maps loadtest/budget.json to k6 thresholds, so k6 and `onsale loadtest` give the same verdict on the same
// budget. The comparison directions match (loadtest.Report).Check: a latency or error rate above its bound fails,
// requests per second below min_rps fail.

/**
 * @typedef {{p95_ms?: number, p99_ms?: number, error_rate?: number}} EndpointBudget
 * @typedef {{min_rps?: number, max_error_rate?: number, audit_must_pass?: boolean, max_sellout_s?: number}} OverallBudget
 * @typedef {{time_to_pay?: {p95_ms?: number, p99_ms?: number}, outcome_tolerance?: number}} PaymentBudget
 * @typedef {{endpoints?: Record<string, EndpointBudget>, overall?: OverallBudget, payments?: PaymentBudget}} Budget
 */

/** The endpoint names of the Go generator; requests are tagged with them. */
export const ENDPOINTS = ['join', 'poll', 'stream', 'leave', 'hold', 'release', 'checkout', 'confirm', 'authenticate', 'order',
  'admin_event', 'admin_stats', 'refund', 'tickets', 'checkin'];

/** The outcomes the mix predicts, and the Rate metric of each (lib/onsale.js records one sample per order). */
export const OUTCOME_METRICS = { paid: 'pay_paid', declined: 'pay_declined', '3ds-failed': 'pay_3ds_failed', 'hold-expired': 'pay_hold_expired' };

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
  known(b, ['endpoints', 'overall', 'payments'], 'budget');
  for (const [ep, eb] of Object.entries(b.endpoints || {})) {
    if (!ENDPOINTS.includes(ep)) throw new Error(`budget: unknown endpoint ${ep}`);
    known(eb, ['p95_ms', 'p99_ms', 'error_rate'], `endpoints.${ep}`);
  }
  known(b.overall || {}, ['min_rps', 'max_error_rate', 'audit_must_pass', 'max_sellout_s'], 'overall');
  known(b.payments || {}, ['time_to_pay', 'outcome_tolerance'], 'payments');
  known((b.payments || {}).time_to_pay || {}, ['p95_ms', 'p99_ms'], 'payments.time_to_pay');
  return b;
}

/**
 * k6 thresholds for a budget. `sellout` says whether the scenario sells out (the soak does not); `outcomes`, the
 * share of the orders each outcome should have (from the payment mix), adds the payment thresholds: time to pay,
 * and each outcome's share within the budget's tolerance. (`onsale loadtest` takes the expected shares from the
 * orders' own cards; VUs share no state, so k6 takes them from the configured mix.)
 * @param {Budget} budget
 * @param {{sellout?: boolean, outcomes?: Record<string, number>}} [opts]
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
  const p = budget.payments || {};
  if (opts.outcomes) {
    /** @type {string[]} */
    const ttp = [];
    if (p.time_to_pay && p.time_to_pay.p95_ms) ttp.push(`p(95)<=${p.time_to_pay.p95_ms}`);
    if (p.time_to_pay && p.time_to_pay.p99_ms) ttp.push(`p(99)<=${p.time_to_pay.p99_ms}`);
    if (ttp.length > 0) t.time_to_pay = ttp;
    const tol = p.outcome_tolerance;
    if (tol !== undefined) {
      const round = (/** @type {number} */ v) => Number(Math.min(1, Math.max(0, v)).toFixed(4));
      for (const [outcome, metric] of Object.entries(OUTCOME_METRICS)) {
        const want = opts.outcomes[outcome] || 0;
        t[metric] = [`rate>=${round(want - tol)}`, `rate<=${round(want + tol)}`];
      }
    }
  }
  return t;
}
