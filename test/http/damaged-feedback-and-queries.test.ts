// Feedback bodies, report queries and explanation ids damaged at random (seeded): every answer is a
// JSON OperationOutcome or a report, never a server error.
import { expect, it } from 'vitest';
import request from 'supertest';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { testUptakeStore } from '../uptake/support.js';

const VALUES: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  'x',
  '',
  '\u0000',
  {},
  [],
  [null],
  [{}],
  'a'.repeat(5000),
  { id: {} },
  [{ id: 5 }],
  { reason: 'x' },
  { reason: { code: {} } },
  '2026-06-01T12:00:00+05:00',
  '2026-02-30T12:00:00Z',
  '../../etc/passwd',
  '%00',
];
const QUERY_NAMES = [
  'from',
  'to',
  'service',
  'ruleSet',
  'version',
  'rule',
  'indicator',
  'client',
  'groupBy',
  'format',
  'minCell',
  'unknown',
];

it('answers damaged feedback, report queries and explanation ids without a server error', async () => {
  const t = await testUptakeStore('sqlite');
  try {
    const app = testApp({
      knowledge: await knowledgeFrom(testKnowledge('basic')),
      now: '2026-06-01T12:00:00Z',
      config: { uptakeMinCell: 1, adminRateLimitPerMinute: 0 },
      deps: { uptake: t.store },
    });
    const card = (await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200)).body.cards[0];
    let state = 7;
    const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)];
    const failures: string[] = [];
    for (let i = 0; i < 300; i++) {
      const item: Record<string, unknown> = {
        card: card.uuid,
        outcome: pick(['accepted', 'overridden']),
        acceptedSuggestions: [{ id: card.suggestions[0].uuid }],
        overrideReason: { reason: card.overrideReasons?.[0] ?? { code: 'x' }, userComment: 'c' },
        outcomeTimestamp: '2026-06-01T12:01:00Z',
      };
      item[pick(Object.keys(item))] = pick(VALUES);
      const roll = next();
      const body = roll < 0.15 ? pick(VALUES) : roll < 0.3 ? { feedback: pick(VALUES) } : { feedback: [item] };
      const res = await request(app)
        .post('/cds-services/renal-test/feedback')
        .set('content-type', 'application/json')
        .send(JSON.stringify(body));
      if (res.status >= 500 || res.body?.resourceType !== 'OperationOutcome')
        failures.push(`feedback ${res.status}: ${JSON.stringify(body).slice(0, 160)}`);
    }
    for (let i = 0; i < 200; i++) {
      const query = new URLSearchParams();
      for (let j = 0; j < 3; j++) query.append(pick(QUERY_NAMES), String(pick(VALUES)));
      const report = await request(app).get(`/uptake/report?${query}`).set(asAdmin('quality'));
      if (report.status >= 500) failures.push(`report ${report.status}: ${query}`);
      const explain = await request(app)
        .get(`/admin/explain/${encodeURIComponent(String(pick(VALUES)))}`)
        .set(asAdmin('knowledge'));
      if (explain.status >= 500) failures.push(`explain ${explain.status}`);
    }
    expect(failures).toEqual([]);
  } finally {
    await t.cleanup();
  }
}, 120_000);
