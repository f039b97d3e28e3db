import { describe, expect, it } from 'vitest';
import { parseReportQuery } from '../../src/uptake/index.js';
import { uptakeStoreBehaviour } from './behaviour.js';
import { announcePgSkip, PG_SKIP_REASON, PG_URL, testUptakeStore } from './support.js';

announcePgSkip('store.pg.test.ts');

describe.skipIf(!PG_URL)(`uptake store on PostgreSQL${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`, () => {
  uptakeStoreBehaviour('postgres');
});

describe.skipIf(!PG_URL)(`uptake stores sharing one PostgreSQL database${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`, () => {
  it('migrates and reads each schema on its own, even when another schema already has the same tables', async () => {
    const first = await testUptakeStore('postgres');
    const second = await testUptakeStore('postgres');
    try {
      first.store.record({
        serviceId: 'svc-a',
        startedAt: new Date('2026-06-01T08:00:00Z'),
        durationMs: 1,
        status: 200,
      });
      await first.store.flush();
      expect((await first.store.report(parseReportQuery({}))).rows[0]).toMatchObject({ invocations: 1 });
      expect((await second.store.report(parseReportQuery({}))).rows).toEqual([]);
      expect(await second.store.status()).toMatchObject({ status: 'ok' });
    } finally {
      await first.cleanup();
      await second.cleanup();
    }
  });
});
