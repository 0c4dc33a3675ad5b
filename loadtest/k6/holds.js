// Hold-path stress: admitted fans hold and release seats as fast as they can, best-available adjacent and general
// admission mixed, with a share checking out; the waiting room admits everyone at once so only the hold path is
// measured.
//   k6 run -e BASE=http://127.0.0.1:8080 -e ADMIN=$ONSALE_ADMIN_TOKEN -e VUS=200 -e SEATED=40x50 holds.js
import { sleep } from 'k6';
import exec from 'k6/execution';
import { parseBudget, thresholdsFrom } from './lib/budget.js';
import { audit, cfg, createEvent, fansPaid, hold, pay, queue, release } from './lib/onsale.js';

const budget = parseBudget(open(__ENV.BUDGET || '../budget.json'));
const checkoutShare = Number(__ENV.CHECKOUT_SHARE || 0.02);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    holders: { executor: 'constant-vus', vus: Number(__ENV.VUS || 100), duration: __ENV.DURATION || '2m' },
  },
  thresholds: thresholdsFrom(budget, { sellout: false }),
};

export function setup() {
  return { event: createEvent({ admitPerMin: 10000000, maxActive: 1000000, capacity: Number(__ENV.CAPACITY || 100000) }) };
}

/** @type {string | null} */
let access = null;

/** @param {{event: string}} data */
export default function (data) {
  if (!access) {
    access = queue(data.event, `${cfg.runId}-holder-${exec.vu.idInTest}-${exec.vu.iterationInScenario}`, false);
    if (!access) {
      sleep(1);
      return;
    }
  }
  const h = hold(data.event, access);
  if (h.status === 403) access = null; // the access token expired: queue again
  if (!h.id) return;
  if (Math.random() < checkoutShare) {
    if (pay(h.id, access || '', 'server') === 'paid') fansPaid.add(1); // the server confirms: VUs keep holding
    access = null; // a fan's purchase spends its access
    return;
  }
  release(h.id, access || '');
}

/** @param {{event: string}} data */
export function teardown(data) {
  sleep(Number(__ENV.SETTLE_S || 10));
  const st = audit(data.event);
  console.log(`event ${data.event} (${cfg.runId}): sold ${st ? st.sold : '?'} of ${st ? st.capacity : '?'}`);
}
