// Steady soak: fans arrive at a constant rate for a long time against an event too large to sell out, to find
// leaks, slow drifts and whatever only shows after minutes.
//   k6 run -e BASE=http://127.0.0.1:8080 -e ADMIN=$ONSALE_ADMIN_TOKEN -e RATE=200 -e DURATION=30m soak.js
import { sleep } from 'k6';
import { parseBudget, thresholdsFrom } from './lib/budget.js';
import { audit, cfg, createEvent, expectedOutcomes, fan } from './lib/onsale.js';

const budget = parseBudget(open(__ENV.BUDGET || '../budget.json'));
const rate = Number(__ENV.RATE || 100);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    fans: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration: __ENV.DURATION || '10m',
      preAllocatedVUs: rate * 10,
      maxVUs: Number(__ENV.MAX_VUS || rate * 60),
    },
  },
  thresholds: thresholdsFrom(budget, { sellout: false, outcomes: expectedOutcomes() }),
};

export function setup() {
  return { event: createEvent({ capacity: Number(__ENV.CAPACITY || 10000000) }) };
}

/** @param {{event: string}} data */
export default function (data) {
  fan(data.event);
}

/** @param {{event: string}} data */
export function teardown(data) {
  sleep(Number(__ENV.SETTLE_S || 10));
  const st = audit(data.event);
  console.log(`event ${data.event} (${cfg.runId}): sold ${st ? st.sold : '?'} of ${st ? st.capacity : '?'}`);
}
