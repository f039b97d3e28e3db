import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createUptakeStore, parseReportQuery } from '../../src/uptake/index.js';
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
});
