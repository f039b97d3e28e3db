// A real PostgreSQL taken down in the middle of hook calls: the calls keep being answered, the
// outage shows in /ready, and what was served meanwhile is written once the database is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { createLogger } from '../../src/logger.js';
import { createUptakeStore, type UptakeStore } from '../../src/uptake/index.js';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { announcePgSkip, PG_SKIP_REASON, PG_URL, pgAdmin, testUptakeConfig } from './support.js';

announcePgSkip('outage.pg.test.ts');

describe.skipIf(!PG_URL)(
  `uptake on PostgreSQL when the database goes down${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`,
  () => {
    let store: UptakeStore;
    let app: Express;
    let database: string;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const made = await testUptakeConfig('postgres', { ownDatabase: true, flushMs: 20 });
      database = made.database!;
      cleanup = made.cleanup;
      store = await createUptakeStore(made.config, { logger: createLogger('error', true) });
      app = testApp({
        knowledge: await knowledgeFrom(testKnowledge('basic')),
        config: { uptakeMinCell: 1 },
        deps: { uptake: store },
      });
    });
    afterAll(async () => {
      await pgAdmin(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS true`).catch(() => undefined);
      await store?.close();
      await cleanup?.();
    });

    const takeDown = async () => {
      await pgAdmin(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS false`);
      await pgAdmin(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database}' AND pid <> pg_backend_pid()`,
      );
    };

    it('answers every hook call while the database is down, shows it in /ready, and writes the calls once it is back', async () => {
      await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
      await store.flush();

      await takeDown();
      for (let i = 0; i < 5; i++) {
        const res = await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
        expect(res.body.cards).toHaveLength(1);
      }
      await expect(store.flush()).rejects.toThrow();
      const ready = await request(app).get('/ready').expect(200);
      expect(ready.body.status).toBe('degraded');
      expect(ready.body.uptake).toMatchObject({
        status: 'unavailable',
        database: 'postgres',
        recorder: { state: 'failing', queued: 5, dropped: 0 },
      });
      expect(ready.body.uptake.error).toEqual(expect.any(String));

      const card = (await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200)).body.cards[0];
      const feedback = await request(app)
        .post('/cds-services/renal-test/feedback')
        .send({
          feedback: [
            {
              card: card.uuid,
              outcome: 'overridden',
              outcomeTimestamp: '2026-06-01T12:00:00Z',
              overrideReason: { userComment: 'n/a' },
            },
          ],
        })
        .expect(503);
      expect(feedback.body.issue[0].diagnostics).toContain('the feedback was not stored');

      await pgAdmin(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS true`);
      await store.flush();
      expect((await request(app).get('/ready').expect(200)).body.uptake).toMatchObject({
        status: 'ok',
        recorder: { state: 'ok', queued: 0 },
      });
      const report = await request(app).get('/uptake/report').set(asAdmin('quality')).expect(200);
      expect(report.body.rows[0]).toMatchObject({ invocations: 7, cardsServed: 7 });
    });
  },
);
