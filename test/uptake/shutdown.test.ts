import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createUptakeStore, parseReportQuery } from '../../src/uptake/index.js';
import { Recorder, type LedgerEntry } from '../../src/uptake/recorder.js';
import { testUptakeConfig } from './support.js';

describe('closing the uptake store', () => {
  it('writes the calls still queued before it closes, so a graceful shutdown loses none', async () => {
    // A flush interval far longer than the test: only close() can write these.
    const { config, cleanup } = await testUptakeConfig('sqlite', { flushMs: 600_000 });
    try {
      const first = await createUptakeStore(config, { logger: createLogger('error', true) });
      for (let i = 0; i < 25; i++)
        first.record({
          serviceId: 'svc-a',
          hook: 'order-sign',
          startedAt: new Date('2026-06-01T08:00:00Z'),
          durationMs: 3,
          status: 200,
        });
      await first.close();
      const reopened = await createUptakeStore(config, { logger: createLogger('error', true) });
      try {
        expect((await reopened.report(parseReportQuery({}))).rows[0]).toMatchObject({ invocations: 25 });
      } finally {
        await reopened.close();
      }
    } finally {
      await cleanup();
    }
  });

  it('counts an answered call whose commit fails while it closes as unwritten, not as written or nothing', async () => {
    // A database that goes away during a rolling shutdown: every transaction fails as PostgreSQL's 57P01 does.
    const failing = {
      transaction: () => ({
        execute: async () => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
        },
      }),
    } as never;
    const recorder = new Recorder(failing, {
      flushMs: 10,
      queueLimit: 100,
      prepare: () => Promise.resolve(),
      onError: () => undefined,
      onRecovered: () => undefined,
    });
    const entry: LedgerEntry = { evaluations: [], cards: [], explanations: [] };
    const written = recorder.writeNow(entry);
    const closed = recorder.close();
    expect(await written).toBe(false);
    expect(await closed).toEqual({ unwritten: 1 });
  });
});
