// The onsale HTTP API (shared/API.md) as k6 fans use it: every request is tagged with the endpoint name the Go
// generator uses, so budgets address the same endpoints.
import http from 'k6/http';
import { sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate, Trend } from 'k6/metrics';

/** Configuration from the environment (k6 run -e NAME=value). */
export const cfg = {
  base: (__ENV.BASE || 'http://127.0.0.1:8080').replace(/\/$/, ''),
  admin: __ENV.ADMIN || '',
  event: __ENV.EVENT || '',
  capacity: Number(__ENV.CAPACITY || 1000),
  seated: __ENV.SEATED || '', // e.g. "20x25": a seated section A of 20 rows of 25 seats
  maxPerFan: Number(__ENV.MAX_PER_FAN || 4),
  admitPerMin: Number(__ENV.ADMIT_PER_MIN || 60000),
  maxActive: Number(__ENV.MAX_ACTIVE || 2000),
  holdTTL: Number(__ENV.HOLD_TTL_S || 120),
  checkoutTTL: Number(__ENV.CHECKOUT_TTL_S || 30), // pay_by of the created event's orders
  quantity: Number(__ENV.QUANTITY || 2),
  // The payment mix, as `onsale loadtest`: shares of the fans; the rest confirm pm_card_visa in the page.
  payServer: Number(__ENV.PAY_SERVER || 0.10),
  pay3ds: Number(__ENV.PAY_3DS || 0.15),
  pay3dsFail: Number(__ENV.PAY_3DS_FAIL || 0.05),
  decline: Number(__ENV.DECLINE || 0.05),
  payLate: Number(__ENV.PAY_LATE || 0.05),
  abandonQueue: Number(__ENV.ABANDON_QUEUE || 0.05),
  abandonAdmitted: Number(__ENV.ABANDON_ADMITTED || 0.02),
  abandonHold: Number(__ENV.ABANDON_HOLD || 0.03),
  abandonCheckout: Number(__ENV.ABANDON_CHECKOUT || 0.02),
  patienceS: Number(__ENV.PATIENCE_S || 30),
  thinkS: Number(__ENV.THINK_S || 0.5),
  runId: __ENV.RUN_ID || `k6${Date.now().toString(36)}`,
};

export const auditPassed = new Rate('audit_passed');
export const selloutS = new Trend('sellout_s');
export const queueTime = new Trend('queue_time', true);
export const fansPaid = new Counter('fans_paid');
export const fansSoldOut = new Counter('fans_sold_out');
export const timeToPay = new Trend('time_to_pay', true); // checkout sent to the order seen paid
// One sample per order in each: the outcome mix, for thresholds around the shares the mix calls for.
export const payOutcomes = {
  paid: new Rate('pay_paid'),
  declined: new Rate('pay_declined'),
  '3ds-failed': new Rate('pay_3ds_failed'),
  'hold-expired': new Rate('pay_hold_expired'),
};

/**
 * How a fan pays: the card and whether the page confirms it (Stripe's test payment methods).
 * @typedef {'browser' | '3ds' | '3ds-fail' | 'decline' | 'late' | 'server'} PayPath
 * @type {Record<PayPath, string>}
 */
const cards = {
  browser: 'pm_card_visa',
  '3ds': 'pm_card_threeDSecure2Required',
  '3ds-fail': 'pm_card_threeDSecure2Required',
  decline: 'pm_card_chargeDeclined',
  late: 'pm_card_authenticationRequired', // passes 3-D Secure only after pay_by: must end failed hold-expired
  server: 'pm_card_visa',
};

// A late fan authenticates this long after pay_by, so neither clock can put it before the deadline.
const lateMarginMs = 500;

/** @returns {PayPath} a path drawn from the mix */
export function drawPath() {
  let p = Math.random();
  /** @type {[PayPath, number][]} */
  const shares = [['server', cfg.payServer], ['3ds', cfg.pay3ds], ['3ds-fail', cfg.pay3dsFail], ['decline', cfg.decline], ['late', cfg.payLate]];
  for (const [path, share] of shares) {
    if (p < share) return path;
    p -= share;
  }
  return 'browser';
}

/** @returns {Record<string, number>} the share of the orders each outcome should have, from the mix */
export function expectedOutcomes() {
  return {
    paid: Math.max(0, 1 - cfg.pay3dsFail - cfg.decline - cfg.payLate),
    declined: cfg.decline,
    '3ds-failed': cfg.pay3dsFail,
    'hold-expired': cfg.payLate,
  };
}

// Contention answers are expected (sold-out, seats-unavailable: 409; hold-expired: 410): not failures.
const contention = http.expectedStatuses({ min: 200, max: 299 }, 409, 410);

/**
 * @param {string} endpoint
 * @param {Record<string, string>} [headers]
 * @returns {import('k6/http').Params}
 */
function params(endpoint, headers = {}) {
  return { headers: { 'Content-Type': 'application/json', ...headers }, tags: { endpoint }, responseCallback: contention };
}

/** @param {string} token */
const bearer = (token) => ({ Authorization: `Bearer ${token}` });

/** @returns {string} a fresh Idempotency-Key */
function key() {
  return `${cfg.runId}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Parses a JSON body, or null.
 * @param {import('k6/http').RefinedResponse<any>} res
 * @returns {any}
 */
function body(res) {
  try {
    return typeof res.body === 'string' ? JSON.parse(res.body) : null;
  } catch (_) {
    return null;
  }
}

/**
 * Sends a mutating request, retrying timeouts and 5xx with the same Idempotency-Key.
 * @param {string} method
 * @param {string} url
 * @param {string | null} payload
 * @param {import('k6/http').Params} p
 */
function send(method, url, payload, p) {
  const k = key();
  p.headers = { ...(p.headers || {}), 'Idempotency-Key': k };
  let res = http.request(method, url, payload, p);
  for (let attempt = 0; attempt < 3 && (res.status === 0 || res.status >= 500 || res.status === 429); attempt++) {
    const after = Number(res.headers['Retry-After'] || 0);
    sleep(after > 0 ? after : 0.1 * 2 ** attempt);
    res = http.request(method, url, payload, p);
  }
  return res;
}

/**
 * Creates the run's event through the admin API and returns its id.
 * @param {{openInS?: number, admitPerMin?: number, maxActive?: number, capacity?: number}} [over]
 * @returns {string}
 */
export function createEvent(over = {}) {
  if (cfg.event) return cfg.event;
  const id = `${cfg.runId}-${Math.floor(Date.now() / 1000).toString(36)}`;
  /** @type {any[]} */
  const sections = [{ id: 'GA', kind: 'general', capacity: over.capacity || cfg.capacity, price: 4500 }];
  if (cfg.seated) {
    const [rows, seats] = cfg.seated.split('x').map(Number);
    sections.push({ id: 'A', kind: 'seated', price: 9000, rows: Array.from({ length: rows }, (_, i) => ({ row: String(i + 1), seats })) });
  }
  const ev = {
    id, name: `k6 ${cfg.runId}`, currency: 'EUR', hold_ttl_s: cfg.holdTTL, checkout_ttl_s: cfg.checkoutTTL,
    max_per_fan: cfg.maxPerFan, sections,
    waves: [{
      id: 'general', starts_at: new Date(Date.now() + 1000 * (over.openInS || 0)).toISOString().replace(/\.\d+Z$/, 'Z'),
      admit_per_min: over.admitPerMin || cfg.admitPerMin, max_active: over.maxActive || cfg.maxActive,
    }],
  };
  const res = http.post(`${cfg.base}/v1/admin/events`, JSON.stringify(ev), params('admin_event', bearer(cfg.admin)));
  if (res.status !== 201) throw new Error(`create event ${id}: ${res.status} ${res.body}`);
  return id;
}

/**
 * The organizer's counters of an event, or null.
 * @param {string} event
 */
export function stats(event) {
  const res = http.get(`${cfg.base}/v1/admin/events/${event}/stats`, params('admin_stats', bearer(cfg.admin)));
  return res.status === 200 ? body(res) : null;
}

/**
 * The audit k6 can do from the counters: nothing sold beyond capacity, available + held + sold within it, per
 * section too. (The Go generator also matches paid orders' seats and units, which needs every fan's orders.)
 * @param {string} event
 */
export function audit(event) {
  const st = stats(event);
  if (!st) {
    auditPassed.add(false);
    return null;
  }
  /** @param {any} s */
  const fits = (s) => s.sold <= s.capacity && s.available + s.held + s.sold <= s.capacity;
  auditPassed.add(fits(st) && (st.sections || []).every(fits));
  return st;
}

/**
 * Records the sell-out time once, from the scenario's start; call it every second from one observer VU.
 * @param {string} event
 * @param {{done: boolean}} state
 */
export function observe(event, state) {
  const st = stats(event);
  if (!state.done && st && st.capacity > 0 && st.sold >= st.capacity) {
    selloutS.add((Date.now() - exec.scenario.startTime) / 1000);
    state.done = true;
  }
}

/**
 * Joins the queue and waits (honouring poll_after_ms and Retry-After) until admitted; returns the access token, or
 * null when the fan leaves, the event sells out, or the queue closes.
 * @param {string} event
 * @param {string} fanName
 * @param {boolean} mayLeave
 * @returns {string | null}
 */
export function queue(event, fanName, mayLeave) {
  const url = `${cfg.base}/v1/events/${event}/queue`;
  const joined = Date.now();
  const leaveAt = mayLeave ? joined + Math.random() * cfg.patienceS * 1000 : Infinity;
  const res = send('POST', url, JSON.stringify({ fan: fanName }), params('join'));
  let st = body(res);
  if (!(res.status === 200 || res.status === 201) || !st) return null;
  const token = st.queue_token;
  for (;;) {
    if (st.state === 'admitted' && st.access_token) {
      queueTime.add(Date.now() - joined);
      return st.access_token;
    }
    if (st.state === 'sold-out' || st.state === 'closed') {
      fansSoldOut.add(1);
      return null;
    }
    const wait = st.poll_after_ms ? st.poll_after_ms / 1000 : 1;
    if (Date.now() + wait * 1000 > leaveAt) {
      http.del(url, null, params('leave', { 'Queue-Token': token }));
      return null;
    }
    sleep(st.state === 'admitted' ? 0 : wait);
    const poll = http.get(url, params('poll', { 'Queue-Token': token }));
    if (poll.status !== 200) return null;
    st = body(poll);
  }
}

/**
 * Holds units: general admission, or best-available adjacent seats when the event has a seated section.
 * @param {string} event
 * @param {string} access
 * @returns {{id: string, status: number} | {id: null, status: number}}
 */
export function hold(event, access) {
  const quantity = 1 + Math.floor(Math.random() * cfg.quantity);
  const items = cfg.seated && Math.random() < 0.5
    ? [{ section: 'A', quantity, adjacent: true }]
    : [{ section: 'GA', quantity }];
  const res = send('POST', `${cfg.base}/v1/events/${event}/holds`, JSON.stringify({ items }), params('hold', bearer(access)));
  const h = body(res);
  return res.status === 201 && h ? { id: h.hold_id, status: res.status } : { id: null, status: res.status };
}

/**
 * Releases a hold.
 * @param {string} holdId
 * @param {string} access
 */
export function release(holdId, access) {
  return send('DELETE', `${cfg.base}/v1/holds/${holdId}`, null, params('release', bearer(access)));
}

/**
 * The outcome of a settled order, named as `onsale loadtest` names it.
 * @param {any} o
 */
function outcomeOf(o) {
  if (o.status !== 'failed') return o.status;
  switch (o.failure_reason) {
    case 'hold-expired': return 'hold-expired';
    case 'payment_intent_authentication_failure': return '3ds-failed';
    case 'capture-failed': case '': case undefined: case 'canceled': return 'failed';
  }
  return 'declined';
}

/**
 * The test provider's confirm or authenticate call (what Stripe.js and the bank's page do).
 * @param {string} pi
 * @param {'confirm' | 'authenticate'} action
 * @param {object} payload
 */
function testPayment(pi, action, payload) {
  return http.post(`${cfg.base}/v1/test-payments/${pi}/${action}`, JSON.stringify(payload), params(action));
}

/**
 * Checks a hold out and pays the way the path says: the server confirms the card, or the page confirms it and
 * the fan answers 3-D Secure (a late fan only after pay_by). Polls the order until it settles and records the
 * time to pay and the outcome.
 * @param {string} holdId
 * @param {string} access
 * @param {PayPath} [path]
 * @returns {string} the order's final status, or why there is none
 */
export function pay(holdId, access, path = drawPath()) {
  const started = Date.now();
  const payload = path === 'server' ? { payment_method: cards.server } : {};
  const res = send('POST', `${cfg.base}/v1/holds/${holdId}/checkout`, JSON.stringify(payload), params('checkout', bearer(access)));
  const o = body(res);
  if (res.status !== 202 || !o) return `checkout ${res.status}`;
  const settleMs = 1000 * Number(__ENV.SETTLE_S || 30);
  let until = Date.now() + settleMs;
  let stage = 'checked-out';
  let payBy = 0;
  /** @param {string} pi */
  const authenticate = (pi) => {
    if (path === 'late') {
      const at = (payBy || started + 1000 * cfg.checkoutTTL) + lateMarginMs;
      until = Math.max(until, at + settleMs);
      sleep(Math.max(0, at - Date.now()) / 1000); // on the bank's page past the deadline
    } else {
      sleep(Math.random() * cfg.thinkS);
    }
    testPayment(pi, 'authenticate', { outcome: path === '3ds-fail' ? 'fail' : 'succeed' });
    stage = 'authenticated';
  };
  while (Date.now() < until) {
    sleep(0.25);
    const r = http.get(`${cfg.base}/v1/orders/${o.order_id}`, params('order', bearer(access)));
    const s = body(r);
    if (r.status !== 200 || !s) continue;
    if (['paid', 'failed', 'refunded'].includes(s.status)) {
      const outcome = outcomeOf(s);
      for (const [k, rate] of Object.entries(payOutcomes)) rate.add(k === outcome);
      if (s.status === 'paid') timeToPay.add(Date.now() - started);
      if (path === 'late') auditPassed.add(outcome === 'hold-expired'); // a late authorization is never captured
      return s.status;
    }
    if (s.status !== 'requires_action' || path === 'server' || !s.payment) continue;
    if (s.pay_by) {
      payBy = Date.parse(s.pay_by);
      until = Math.max(until, payBy + lateMarginMs + settleMs);
    }
    const pi = s.payment_intent || String(s.payment.client_secret || '').split('_secret_')[0];
    if (!pi) continue;
    if (stage === 'checked-out' && s.payment.client_secret && !s.payment.next_action) {
      sleep(Math.random() * cfg.thinkS); // types the card
      const c = testPayment(pi, 'confirm', { payment_method: cards[path] });
      stage = 'confirmed';
      const answer = body(c);
      if (c.status === 200 && answer && answer.status === 'requires_action') authenticate(pi);
    } else if (stage === 'confirmed' && s.payment.next_action) {
      authenticate(pi);
    }
  }
  for (const rate of Object.values(payOutcomes)) rate.add(false);
  if (path === 'late') auditPassed.add(false); // not settled: nothing to check against
  return 'pending';
}

/**
 * One fan's whole visit, with abandonment at every step.
 * @param {string} event
 */
export function fan(event) {
  const p = Math.random();
  const quits = {
    queue: p < cfg.abandonQueue,
    admitted: p >= cfg.abandonQueue && p < cfg.abandonQueue + cfg.abandonAdmitted,
    hold: p >= cfg.abandonQueue + cfg.abandonAdmitted && p < cfg.abandonQueue + cfg.abandonAdmitted + cfg.abandonHold,
    checkout: p >= cfg.abandonQueue + cfg.abandonAdmitted + cfg.abandonHold &&
      p < cfg.abandonQueue + cfg.abandonAdmitted + cfg.abandonHold + cfg.abandonCheckout,
  };
  const name = `${cfg.runId}-fan-${exec.scenario.iterationInTest}`;
  const access = queue(event, name, quits.queue);
  if (!access || quits.admitted) return;
  sleep(Math.random() * cfg.thinkS);
  const h = hold(event, access);
  if (!h.id) {
    if (h.status === 409) fansSoldOut.add(1);
    return;
  }
  sleep(Math.random() * cfg.thinkS);
  if (quits.hold) {
    release(h.id, access);
    return;
  }
  if (quits.checkout) return; // walks away: the hold expires
  if (pay(h.id, access) === 'paid') fansPaid.add(1);
}
