// A control character (NUL above all) in a report parameter or an id in the path: 400 naming it, on SQLite
// and on PostgreSQL alike (which refuses NUL in a query's parameters: the lookup failed as if the database
// were down, 503, logged as a server failure).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { announcePgSkip, PG_URL, testUptakeStore, type TestStore } from '../uptake/support.js';

announcePgSkip('control-characters.pg.test.ts');

const kinds: Array<'sqlite' | 'postgres'> = ['sqlite', ...(PG_URL ? (['postgres'] as const) : [])];

describe.each(kinds)('control characters in what names a ledger query (%s)', (kind) => {
  let t: TestStore;
  let app: Express;
  beforeAll(async () => {
    t = await testUptakeStore(kind);
    app = testApp({
      knowledge: await knowledgeFrom(testKnowledge('basic')),
      config: { uptakeMinCell: 1, adminRateLimitPerMinute: 0 },
      deps: { uptake: t.store },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  it('refuses a report, alerts or variation parameter holding one, naming it', async () => {
    for (const [path, field] of [
      ['/uptake/report?service=a%00b', 'service'],
      ['/uptake/report?format=csv&rule=%00', 'rule'],
      ['/uptake/report?format=measure-report&version=1%0A', 'version'],
      ['/uptake/alerts?service=%00', 'service'],
      ['/uptake/variation?ruleSet=%7F', 'ruleSet'],
    ]) {
      const res = await request(app).get(path).set(asAdmin('quality'));
      expect(res.status, path).toBe(400);
      expect(res.body.issue[0], path).toMatchObject({
        diagnostics: `${field}: must not contain control characters`,
        expression: [field],
      });
    }
  });

  it('refuses a card uuid or an alert id holding one', async () => {
    const explain = await request(app).get('/admin/explain/a%00b').set(asAdmin('knowledge'));
    expect(explain.status).toBe(400);
    expect(explain.body.issue[0].diagnostics).toBe(
      'the card uuid must be at most 256 characters, without control characters',
    );
    const ack = await request(app).post('/uptake/alerts/%00/acknowledge').set(asAdmin('quality'));
    expect(ack.status).toBe(400);
    expect(ack.body.issue[0].diagnostics).toBe(
      'the alert id must be at most 64 characters, without control characters',
    );
    // The ledger was asked nothing it could not answer: it is still up.
    const ready = await request(app).get('/ready');
    expect(ready.body.uptake.status).toBe('ok');
  });
});
