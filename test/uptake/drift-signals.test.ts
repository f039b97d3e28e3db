// The service's own signals: errors, 412s and latency, each against the service's baseline calls, and an
// acknowledged latency alarm learning the new 95th percentile.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createUptakeStore, type InvocationInput, type UptakeStore } from '../../src/uptake/index.js';
import { testUptakeConfig } from './support.js';

const BASELINE = 40;
const START = Date.parse('2026-02-09T08:00:00Z');
let store: UptakeStore;
let cleanup: () => Promise<void>;
let n = 0;

beforeEach(async () => {
  const t = await testUptakeConfig('sqlite');
  cleanup = t.cleanup;
  store = await createUptakeStore(
    { ...t.config, driftBaselineCalls: BASELINE, driftScanMs: 0 },
    { logger: createLogger('error', true) },
  );
});
afterEach(async () => {
  await store.close();
  await cleanup();
});

function calls(count: number, status: number, durationMs: (i: number) => number): void {
  for (let i = 0; i < count; i++, n++) {
    const call: InvocationInput = {
      serviceId: 'svc-signals',
      hook: 'patient-view',
      startedAt: new Date(START + n * 60_000),
      durationMs: durationMs(i),
      status,
    };
    store.record(call);
  }
}

it('alarms on a burst of errors, not on the 412s and 499s around it', async () => {
  calls(BASELINE, 200, (i) => 10 + (i % 10));
  calls(5, 412, () => 5);
  calls(3, 499, () => 5);
  calls(30, 200, (i) => 10 + (i % 10));
  expect((await store.alerts({})).alerts).toEqual([]);
  calls(20, 500, () => 5);
  const { alerts } = await store.alerts({});
  // Five 412s are not enough for their own detector (1 in 40 expected), and are no errors.
  expect(alerts.map((a) => [a.signal, a.rule, a.direction])).toEqual([['errors', '(errors)', 'up']]);
  const errors = alerts.find((a) => a.signal === 'errors')!;
  // No error among the baseline's 40 calls: the baseline is one in 40.
  expect(errors.before).toEqual({ rate: 0.025, calls: BASELINE });
  expect(errors.after.rate).toBeGreaterThan(0.5);
});

it('alarms when calls become slower than the baseline 95th percentile, and learns the new level once acknowledged', async () => {
  calls(BASELINE, 200, (i) => 10 + (i % 20));
  calls(200, 200, (i) => 10 + (i % 20));
  expect((await store.alerts({})).alerts).toEqual([]);
  calls(40, 200, () => 80);
  const [latency] = (await store.alerts({})).alerts;
  expect(latency).toMatchObject({
    signal: 'latency',
    rule: '(latency)',
    direction: 'up',
    before: { rate: 0.05, calls: 0 },
  });
  await store.acknowledgeAlert(latency.id, 'quality-lead', 'new CQL library, slower by design');
  calls(BASELINE + 200, 200, () => 80 + (n % 5));
  expect((await store.alerts({ status: 'open' })).alerts).toEqual([]);
});
