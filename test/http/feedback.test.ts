import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Express } from 'express';
import type { Knowledge } from '../../src/knowledge/index.js';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';

const NOW = '2026-06-01T12:00:00Z';
let knowledge: Knowledge;
let t: TestStore;
let app: Express;

beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});
beforeEach(async () => {
  t = await testUptakeStore('sqlite');
  app = testApp({ knowledge, now: NOW, config: { uptakeMinCell: 1 }, deps: { uptake: t.store } });
});
afterEach(async () => {
  await t.cleanup();
});

interface ServedCard {
  uuid: string;
  suggestions: Array<{ uuid: string }>;
  overrideReasons: Array<{ system: string; code: string }>;
}

async function serveRenalCard(): Promise<ServedCard> {
  const res = await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
  return res.body.cards[0] as ServedCard;
}

const accepted = (card: ServedCard) => ({
  card: card.uuid,
  outcome: 'accepted',
  acceptedSuggestions: [{ id: card.suggestions[0].uuid }],
  outcomeTimestamp: '2026-06-01T12:01:00Z',
});
const report = async (query = '') =>
  (await request(app).get(`/uptake/report${query}`).set(asAdmin('quality')).expect(200)).body.rows;

describe('POST /cds-services/{id}/feedback', () => {
  it('answers 200 once the feedback is stored, and the report counts it against the served card', async () => {
    const card = await serveRenalCard();
    const res = await request(app)
      .post('/cds-services/renal-test/feedback')
      .send({ feedback: [accepted(card)] })
      .expect(200);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'information',
          code: 'informational',
          diagnostics: `feedback[0]: stored (card ${card.uuid})`,
          expression: ['feedback[0]'],
        },
      ],
    });
    const [row] = await report();
    expect(row).toMatchObject({
      invocations: 1,
      cardsServed: 1,
      cardsWithFeedback: 1,
      accepted: 1,
      overridden: 0,
      suggestionsOffered: 2,
      suggestionsAccepted: 1,
    });
    // Served when the answer went out (the clock's 12:00 plus the evaluation), accepted at 12:01.
    expect(row.timeToFeedbackSeconds.median).toBeGreaterThan(0);
    expect(row.timeToFeedbackSeconds.median).toBeLessThanOrEqual(60);
  });

  it.each(['feedback-accepted.json', 'feedback-overridden-no-reason.json', 'feedback-overridden-with-reason.json'])(
    'stores the spec example %s, with an extension added, for a card it served',
    async (file) => {
      const card = await serveRenalCard();
      const example = JSON.parse(readFileSync(new URL(`./examples/${file}`, import.meta.url), 'utf8')) as {
        feedback: Array<Record<string, unknown>>;
      };
      const item: Record<string, unknown> = {
        ...example.feedback[0],
        card: card.uuid,
        extension: { 'org.example.reviewed': true },
      };
      if (item.acceptedSuggestions) item.acceptedSuggestions = [{ id: card.suggestions[0].uuid }];
      const res = await request(app)
        .post('/cds-services/renal-test/feedback')
        .send({ feedback: [item] })
        .expect(200);
      expect(res.body.issue[0].diagnostics.startsWith(`feedback[0]: stored (card ${card.uuid})`)).toBe(true);
    },
  );

  it('answers 400 naming each invalid item and field, and still stores the valid items of the batch', async () => {
    const card = await serveRenalCard();
    const res = await request(app)
      .post('/cds-services/renal-test/feedback')
      .send({
        feedback: [
          accepted(card),
          { card: card.uuid, outcome: 'ignored', outcomeTimestamp: '2026-06-01 12:00' },
          'not an item',
        ],
      })
      .expect(400);
    const issues = res.body.issue as Array<{ severity: string; expression: string[]; diagnostics: string }>;
    expect(issues.map((i) => [i.severity, i.expression[0]])).toEqual([
      ['information', 'feedback[0]'],
      ['error', 'feedback[1].outcome'],
      ['error', 'feedback[1].outcomeTimestamp'],
      ['error', 'feedback[2]'],
    ]);
    expect(issues[1].diagnostics).toBe('feedback[1].outcome must be one of accepted, overridden');
    expect(issues[2].diagnostics).toContain('must be an RFC 3339 date and time in UTC');
    expect((await report())[0]).toMatchObject({ cardsWithFeedback: 1, accepted: 1 });
  });

  it('answers 200 again for an item sent twice, says it was already stored, and counts it once', async () => {
    const card = await serveRenalCard();
    await request(app)
      .post('/cds-services/renal-test/feedback')
      .send({ feedback: [accepted(card)] })
      .expect(200);
    const res = await request(app)
      .post('/cds-services/renal-test/feedback')
      .send({ feedback: [accepted(card)] })
      .expect(200);
    expect(res.body.issue[0].diagnostics).toBe(`feedback[0]: already stored (card ${card.uuid}); nothing changed`);
    expect((await report())[0]).toMatchObject({ cardsWithFeedback: 1, accepted: 1, suggestionsAccepted: 1 });
  });

  it('stores an item repeated within one batch once', async () => {
    const card = await serveRenalCard();
    const res = await request(app)
      .post('/cds-services/renal-test/feedback')
      .send({ feedback: [accepted(card), accepted(card)] })
      .expect(200);
    expect(res.body.issue.map((i: { diagnostics: string }) => i.diagnostics)).toEqual([
      `feedback[0]: stored (card ${card.uuid})`,
      `feedback[1]: already stored (card ${card.uuid}); nothing changed`,
    ]);
    expect((await report())[0]).toMatchObject({ cardsWithFeedback: 1, accepted: 1 });
  });

  it('rejects a card it never served and a card served by another service', async () => {
    const renal = await serveRenalCard();
    const greeting = (
      await request(app)
        .post('/cds-services/greeter')
        .send({
          hook: 'patient-view',
          hookInstance: randomUUID(),
          context: { userId: 'Practitioner/abc', patientId: 'p1' },
        })
        .expect(200)
    ).body.cards[0] as ServedCard;
    const res = await request(app)
      .post('/cds-services/renal-test/feedback')
      .send({
        feedback: [
          { ...accepted(renal), card: randomUUID() },
          { card: greeting.uuid, outcome: 'overridden', outcomeTimestamp: '2026-06-01T12:01:00Z' },
        ],
      })
      .expect(400);
    expect(res.body.issue.map((i: { code: string; expression: string[] }) => [i.code, i.expression[0]])).toEqual([
      ['not-found', 'feedback[0].card'],
      ['invalid', 'feedback[1].card'],
    ]);
    expect(res.body.issue[1].diagnostics).toContain("was served by service 'greeter', not 'renal-test'");
  });

  it('keeps an override reason the card did not offer, marked client-added', async () => {
    const card = await serveRenalCard();
    const res = await request(app)
      .post('/cds-services/renal-test/feedback')
      .send({
        feedback: [
          {
            card: card.uuid,
            outcome: 'overridden',
            overrideReason: { reason: { system: 'http://example.org/local', code: 'on-dialysis' } },
            outcomeTimestamp: '2026-06-01T12:02:00Z',
          },
        ],
      })
      .expect(200);
    expect(res.body.issue[0].diagnostics).toContain('kept and marked client-added');
    expect((await report())[0].overrideReasons).toEqual([
      { system: 'http://example.org/local', code: 'on-dialysis', display: null, clientAdded: true, count: 1, share: 1 },
    ]);
  });

  it('answers 404 for an unknown service, 400 for a body without a feedback array, 405 for GET', async () => {
    await request(app).post('/cds-services/no-such-service/feedback').send({ feedback: [] }).expect(404);
    const res = await request(app).post('/cds-services/renal-test/feedback').send({ items: [] }).expect(400);
    expect(res.body.issue[0]).toMatchObject({ code: 'required', expression: ['feedback'] });
    await request(app).post('/cds-services/renal-test/feedback').send({ feedback: [] }).expect(400);
    await request(app).get('/cds-services/renal-test/feedback').expect(405);
    await request(app)
      .post('/cds-services/renal-test/feedback')
      .set('Content-Type', 'text/plain')
      .send('x')
      .expect(415);
  });

  it('answers 400 for more items than one request may hold, storing none, with one issue whatever the count', async () => {
    const card = await serveRenalCard();
    const item = { card: card.uuid, outcome: 'overridden', outcomeTimestamp: '2026-06-01T12:01:00Z' };
    const res = await request(app)
      .post('/cds-services/renal-test/feedback')
      .set('Content-Type', 'application/json')
      .send(`{"feedback":[${JSON.stringify(item)}${',0'.repeat(200_000)}]}`)
      .expect(400);
    expect(res.body.issue).toEqual([
      {
        severity: 'error',
        code: 'too-costly',
        diagnostics:
          'feedback holds 200001 items, more than the 1000 one request may hold: send them in several requests',
        expression: ['feedback'],
      },
    ]);
    await request(app)
      .post('/cds-services/renal-test/feedback')
      .send({ feedback: Array.from({ length: 1000 }, () => item) })
      .expect(200);
  });
});

describe('the uptake ledger behind the hook endpoints', () => {
  it('records failed calls of a known service with their status, and not calls of unknown services', async () => {
    await serveRenalCard();
    await request(app).post('/cds-services/renal-test').send({ hook: 'order-sign' }).expect(400);
    await request(app).post('/cds-services/no-such-service').send(renalRequest()).expect(404);
    const rows = await report('?groupBy=service');
    expect(
      rows.map((r: { group: unknown; invocations: number; failedInvocations: number }) => [
        r.group,
        r.invocations,
        r.failedInvocations,
      ]),
    ).toEqual([[{ service: 'renal-test' }, 1, 1]]);
  });

  it('reports the uptake store in /ready', async () => {
    const res = await request(app).get('/ready').expect(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.uptake).toMatchObject({ status: 'ok', database: 'sqlite', recorder: { state: 'ok', dropped: 0 } });
  });
});

describe('GET /uptake/report', () => {
  it('needs the quality admin key', async () => {
    await request(app).get('/uptake/report').expect(401);
    await request(app).get('/uptake/report').set(asAdmin('knowledge')).expect(403);
  });

  it('answers CSV when asked, with one line per group', async () => {
    await serveRenalCard();
    const res = await request(app)
      .get('/uptake/report?groupBy=service,rule&format=csv')
      .set(asAdmin('quality'))
      .expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="uptake-report-\d{8}T\d{6}Z\.csv"$/);
    const lines = res.text.trim().split('\r\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^renal-test,renal-test,,low-egfr,/);
  });

  it('answers 400 naming every unknown or malformed parameter', async () => {
    const res = await request(app)
      .get('/uptake/report?groupBy=service,patient&from=yesterday&sort=x&format=xml')
      .set(asAdmin('quality'))
      .expect(400);
    expect(res.body.issue.map((i: { expression: string[] }) => i.expression[0])).toEqual(['format']);
    const res2 = await request(app)
      .get('/uptake/report?groupBy=service,patient&from=yesterday&sort=x')
      .set(asAdmin('quality'))
      .expect(400);
    expect(res2.body.issue.map((i: { expression: string[] }) => i.expression[0]).sort()).toEqual([
      'from',
      'groupBy',
      'sort',
    ]);
  });

  it('withholds small cells with the configured k', async () => {
    const strict = testApp({ knowledge, now: NOW, config: { uptakeMinCell: 11 }, deps: { uptake: t.store } });
    await request(strict).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    const res = await request(strict).get('/uptake/report').set(asAdmin('quality')).expect(200);
    expect(res.body.minCell).toBe(11);
    expect(res.body.rows[0]).toMatchObject({
      invocations: null,
      cardsServed: null,
      suppressed: expect.arrayContaining(['invocations', 'cardsServed']),
    });
  });
});
