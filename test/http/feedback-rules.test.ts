// What feedback the server takes: real dates only (RFC 3339, T and Z in either case), no more accepted
// suggestions than the card's selectionBehavior allows, and only from the client the card was served to.
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import type { Knowledge } from '../../src/knowledge/index.js';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';
import { authApp, bearer, claims, client, newSigner, sign, type Signer } from '../auth/support.js';

const NOW = '2026-06-01T12:00:00Z';
const SERVICE = '/cds-services/renal-test';
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
  selectionBehavior?: string;
  suggestions: Array<{ uuid: string }>;
}

async function serve(on = app, headers: Record<string, string> = {}): Promise<ServedCard> {
  const res = await request(on).post(SERVICE).set(headers).send(renalRequest()).expect(200);
  return res.body.cards[0] as ServedCard;
}

const overridden = (card: ServedCard, outcomeTimestamp: string) => ({
  card: card.uuid,
  outcome: 'overridden',
  overrideReason: { userComment: 'not now' },
  outcomeTimestamp,
});

describe('feedback dates', () => {
  for (const [timestamp, field] of [
    ['2026-02-30T10:00:00Z', 'day'],
    ['2026-04-31T10:00:00Z', 'day'],
    ['2026-02-29T10:00:00Z', 'day'],
    ['2026-06-01T24:00:00Z', 'hour'],
    ['2026-06-01T10:60:00Z', 'minute'],
    ['2026-06-01T10:00:60Z', 'second'],
    ['2026-13-01T10:00:00Z', 'month'],
  ]) {
    it(`refuses outcomeTimestamp ${timestamp} with 400 naming the item and the ${field}`, async () => {
      const card = await serve();
      const res = await request(app)
        .post(`${SERVICE}/feedback`)
        .send({ feedback: [overridden(card, timestamp)] })
        .expect(400);
      const issue = res.body.issue.find((i: { severity: string }) => i.severity === 'error');
      expect(issue.expression).toEqual(['feedback[0].outcomeTimestamp']);
      expect(issue.diagnostics).toContain(field);
    });
  }

  it('accepts 29 February of a leap year and RFC 3339 date-times with a lower-case t and z', async () => {
    const card = await serve();
    await request(app)
      .post(`${SERVICE}/feedback`)
      .send({ feedback: [overridden(card, '2028-02-29T10:00:00Z')] })
      .expect(200);
    const other = await serve();
    await request(app)
      .post(`${SERVICE}/feedback`)
      .send({ feedback: [overridden(other, '2026-06-01t12:05:00z')] })
      .expect(200);
    const { rows } = (await request(app).get('/uptake/report').set(asAdmin('quality')).expect(200)).body;
    // Five minutes after the card was served: the lower-case form is read as the same instant.
    expect(rows[0].overridden).toBe(2);
  });

  for (const query of ['from=2026-02-30', 'to=2026-04-31', 'from=2026-06-01T24:00:00Z', 'from=2025-02-29']) {
    it(`refuses the report parameter ${query} with 400 naming it`, async () => {
      const res = await request(app).get(`/uptake/report?${query}`).set(asAdmin('quality')).expect(400);
      expect(res.body.issue[0].expression).toEqual([query.split('=')[0]]);
    });
  }
});

describe('feedback and selectionBehavior', () => {
  it('refuses feedback accepting two suggestions of an at-most-one card, naming the item', async () => {
    const card = await serve();
    expect(card.selectionBehavior).toBe('at-most-one');
    expect(card.suggestions.length).toBeGreaterThan(1);
    const res = await request(app)
      .post(`${SERVICE}/feedback`)
      .send({
        feedback: [
          {
            card: card.uuid,
            outcome: 'accepted',
            acceptedSuggestions: card.suggestions.map((s) => ({ id: s.uuid })),
            outcomeTimestamp: '2026-06-01T12:01:00Z',
          },
        ],
      })
      .expect(400);
    expect(res.body.issue[0].expression).toEqual(['feedback[0].acceptedSuggestions']);
    expect(res.body.issue[0].diagnostics).toContain('at-most-one');
    const one = {
      card: card.uuid,
      outcome: 'accepted',
      acceptedSuggestions: [{ id: card.suggestions[1].uuid }],
      outcomeTimestamp: '2026-06-01T12:01:00Z',
    };
    await request(app)
      .post(`${SERVICE}/feedback`)
      .send({ feedback: [one] })
      .expect(200);
  });
});

describe('feedback from the client that was served', () => {
  let a: Signer;
  let b: Signer;
  beforeAll(async () => {
    [a, b] = await Promise.all([newSigner(), newSigner()]);
  });
  const OTHER_ISS = 'https://other-ehr.test.example/';

  async function token(signer: Signer, path: string, more: Record<string, unknown> = {}) {
    return bearer(await sign(signer, claims(path, more)));
  }

  it('refuses feedback on a card served to another client (another iss), naming the item', async () => {
    const server = authApp({
      knowledge,
      clients: [client(a), client(b, { iss: OTHER_ISS })],
      deps: { uptake: t.store },
    });
    const card = await serve(server, await token(a, SERVICE));
    const item = overridden(card, '2026-06-01T12:02:00Z');
    const refused = await request(server)
      .post(`${SERVICE}/feedback`)
      .set(await token(b, `${SERVICE}/feedback`, { iss: OTHER_ISS }))
      .send({ feedback: [item] })
      .expect(400);
    expect(refused.body.issue[0].expression).toEqual(['feedback[0].card']);
    expect(refused.body.issue[0].diagnostics).toContain('was not served to this client');
    await request(server)
      .post(`${SERVICE}/feedback`)
      .set(await token(a, `${SERVICE}/feedback`))
      .send({ feedback: [item] })
      .expect(200);
  });

  it('refuses feedback from the same issuer for another tenant', async () => {
    const server = authApp({
      knowledge,
      clients: [client(a, { tenants: ['site-1', 'site-2'] })],
      deps: { uptake: t.store },
    });
    const card = await serve(server, await token(a, SERVICE, { tenant: 'site-1' }));
    const item = overridden(card, '2026-06-01T12:02:00Z');
    await request(server)
      .post(`${SERVICE}/feedback`)
      .set(await token(a, `${SERVICE}/feedback`, { tenant: 'site-2' }))
      .send({ feedback: [item] })
      .expect(400);
    await request(server)
      .post(`${SERVICE}/feedback`)
      .set(await token(a, `${SERVICE}/feedback`, { tenant: 'site-1' }))
      .send({ feedback: [item] })
      .expect(200);
  });
});
