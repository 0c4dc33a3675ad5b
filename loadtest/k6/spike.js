// Spike on-sale: a crowd arrives at open, far larger than the venue; the event sells out.
//   k6 run -e BASE=http://127.0.0.1:8080 -e ADMIN=$ONSALE_ADMIN_TOKEN -e PEAK=2000 -e CAPACITY=5000 spike.js
import { sleep } from 'k6';
import { parseBudget, thresholdsFrom } from './lib/budget.js';
import { audit, cfg, createEvent, expectedOutcomes, fan, observe, selloutS } from './lib/onsale.js';

const budget = parseBudget(open(__ENV.BUDGET || '../budget.json'));
const peak = Number(__ENV.PEAK || 1000); // fans arriving per second at open
const duration = __ENV.DURATION || '3m';

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    fans: {
      executor: 'ramping-arrival-rate',
      startRate: peak,
      timeUnit: '1s',
      preAllocatedVUs: Math.min(peak * 2, 5000),
      maxVUs: Number(__ENV.MAX_VUS || 20000),
      stages: [
        { target: peak, duration: '5s' },
        { target: Math.ceil(peak / 10), duration: '20s' },
        { target: 0, duration: '30s' },
      ],
      exec: 'default',
    },
    observer: { executor: 'constant-vus', vus: 1, duration, exec: 'observer' },
  },
  thresholds: thresholdsFrom(budget, { sellout: true, outcomes: expectedOutcomes() }),
};

export function setup() {
  return { event: createEvent() };
}

/** @param {{event: string}} data */
export default function (data) {
  fan(data.event);
}

const seen = { done: false };

/** @param {{event: string}} data */
export function observer(data) {
  observe(data.event, seen);
  sleep(1);
}

/** @param {{event: string}} data */
export function teardown(data) {
  sleep(Number(__ENV.SETTLE_S || 10)); // let pending orders settle before the audit
  const st = audit(data.event);
  if (st && st.sold < st.capacity) {
    selloutS.add(Number.MAX_SAFE_INTEGER); // never sold out: a sell-out budget fails, as in `onsale loadtest`
  }
  console.log(`event ${data.event} (${cfg.runId}): sold ${st ? st.sold : '?'} of ${st ? st.capacity : '?'}`);
}
