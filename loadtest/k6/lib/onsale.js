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
  quantity: Number(__ENV.QUANTITY || 2),
  decline: Number(__ENV.DECLINE || 0.05),
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
    id, name: `k6 ${cfg.runId}`, currency: 'EUR', hold_ttl_s: cfg.holdTTL, max_per_fan: cfg.maxPerFan, sections,
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
 * Checks a hold out with a card that succeeds or declines, and polls the order until it settles.
 * @param {string} holdId
 * @param {string} access
 * @param {boolean} decline
 * @returns {string} the order's final status, or why there is none
 */
export function checkout(holdId, access, decline) {
  const pm = decline ? 'pm_card_chargeDeclined' : 'pm_card_visa';
  const res = send('POST', `${cfg.base}/v1/holds/${holdId}/checkout`, JSON.stringify({ payment_method: pm }), params('checkout', bearer(access)));
  const o = body(res);
  if (res.status !== 202 || !o) return `checkout ${res.status}`;
  for (let i = 0; i < 120; i++) {
    sleep(0.25);
    const r = http.get(`${cfg.base}/v1/orders/${o.order_id}`, params('order', bearer(access)));
    const s = body(r);
    if (r.status === 200 && s && ['paid', 'failed', 'refunded'].includes(s.status)) return s.status;
  }
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
  if (checkout(h.id, access, Math.random() < cfg.decline) === 'paid') fansPaid.add(1);
}
