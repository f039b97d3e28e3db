// Text from clients reaches the ledger (hookInstance, card summaries built from draft orders,
// override comments). A NUL byte must not stop the ledger: PostgreSQL refuses it in text.
import { afterEach, describe, expect, it } from 'vitest';
import { PG_URL, shownEvaluations, testUptakeStore, type StoreKind, type TestStore } from './support.js';

const kinds: StoreKind[] = PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];
let current: TestStore | undefined;
afterEach(async () => {
  await current?.cleanup();
  current = undefined;
});

describe.each(kinds)('uptake ledger on %s', (kind) => {
  it('writes calls whose client text holds NUL bytes, and the calls after them', async () => {
    current = await testUptakeStore(kind);
    const { store } = current;
    const base = {
      serviceId: 'svc',
      hook: 'patient-view',
      startedAt: new Date('2026-06-01T12:00:00Z'),
      durationMs: 3,
      status: 200,
    };
    store.record({ ...base, hookInstance: 'before' });
    store.record({
      ...base,
      hookInstance: 'bad\u0000nul',
      evaluations: shownEvaluations([
        {
          uuid: '9a4f2c1e-1111-4aaa-8bbb-000000000001',
          summary: 'Drug\u0000name',
          indicator: 'info',
          source: { label: 'x' },
        },
      ]),
    });
    store.record({ ...base, hookInstance: 'after' });
    await store.flush();
    const status = await store.status();
    expect(status.status).toBe('ok');
    const report = await store.report({ groupBy: [] });
    expect(JSON.stringify(report)).toMatch(/"invocations":3/);
  });
});
