// The variation report on a seeded ledger with one planted outlier, run on SQLite (variation.test.ts) and
// PostgreSQL (variation.pg.test.ts). Every card suggests an HbA1c order; feedback and later order-sign calls
// (the completion evidence) are recorded through the store as the server records them.
//
//   20 clinicians c00–c19, 40 cards each, every card with feedback: c_i accepts 22 + (i mod 5) of 40
//   (55–65 %), except the planted c07, who accepts 6 of 40 (15 %). With the pooled cards below, overall 475 of
//   817 (58.1 %): at n = 40 the 99.8 % limits are 0.5814 ± 3.09·√(0.5814·0.4186/40) = [0.340, 0.822]; c07
//   alone falls outside.
//   Half of every clinician's cards (the even ones) are completed by an order-sign an hour later: 50 %
//   each, no completion outlier. Even clinicians call from ehr-a, odd ones from ehr-b: 60 % and 55.5 %, both
//   within the limits at n = 400.
//   3 small clinicians s0–s2 with 4 cards each (s0 accepts none) and 5 cards of calls naming no clinician:
//   pooled (17 cards), never listed.
import { afterAll, beforeAll, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { runCli } from '../../src/cli/program.js';
import { createPseudonymizer, type InvocationInput, type UptakeStore } from '../../src/uptake/index.js';
import { asAdmin, knowledgeFrom, repoRoot, testApp } from '../support/app.js';
import { TEST_PSEUDONYM_KEY, testUptakeStore, type StoreKind, type TestStore } from './support.js';

export const VARIATION_SERVICE = 'diabetes-hba1c';
const SERVICE = VARIATION_SERVICE;
const START = Date.parse('2026-04-06T08:00:00Z');
const HBA1C = {
  resourceType: 'ServiceRequest',
  status: 'draft',
  intent: 'order',
  code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
};

let counter = 0;
const uuid = (prefix: string) => `${prefix}-${String(++counter).padStart(6, '0')}`;

interface SeedCard {
  user?: string;
  iss: string;
  accepted: boolean;
  completed: boolean;
}

function seedCards(): SeedCard[] {
  const out: SeedCard[] = [];
  for (let c = 0; c < 20; c++) {
    const accepts = c === 7 ? 6 : 22 + (c % 5);
    for (let i = 0; i < 40; i++) {
      out.push({
        user: `Practitioner/c${String(c).padStart(2, '0')}`,
        iss: c % 2 === 0 ? 'https://ehr-a.example.org' : 'https://ehr-b.example.org',
        accepted: i < accepts,
        completed: i % 2 === 0,
      });
    }
  }
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < 4; i++)
      out.push({ user: `Practitioner/s${s}`, iss: 'https://ehr-a.example.org', accepted: s > 0, completed: false });
  }
  for (let i = 0; i < 5; i++) out.push({ iss: 'https://ehr-b.example.org', accepted: true, completed: true });
  return out;
}

/** The ledger above: 20 clinicians (c07 the planted acceptance outlier), 3 small ones and 5 unnamed cards. */
export async function seedVariation(store: UptakeStore): Promise<void> {
  // Feedback is taken only from the client that was served: one list per client.
  const feedback = new Map<string, unknown[]>();
  seedCards().forEach((seed, n) => {
    const at = START + n * 60_000;
    const patientId = `patient-${n}`;
    const card = {
      uuid: uuid('card'),
      indicator: 'info',
      summary: 'Consider ordering HbA1c',
      suggestions: [{ uuid: uuid('suggestion'), label: 'Order HbA1c', actions: [{ type: 'create', resource: HBA1C }] }],
    };
    const call: InvocationInput = {
      serviceId: SERVICE,
      hook: 'patient-view',
      hookInstance: uuid('hook'),
      startedAt: new Date(at),
      durationMs: 20,
      status: 200,
      client: { iss: seed.iss },
      context: { patientId, ...(seed.user ? { userId: seed.user } : {}) },
      evaluations: [
        {
          disposition: 'shown',
          ruleSet: SERVICE,
          version: '1.0.0',
          cql: [],
          status: 'ok',
          cards: [{ card, rule: 'hba1c-overdue' }],
        },
      ],
    };
    store.record(call);
    if (seed.completed) {
      store.record({
        serviceId: 'nsaid-ckd-order-sign',
        hook: 'order-sign',
        hookInstance: uuid('hook'),
        startedAt: new Date(at + 3_600_000),
        durationMs: 20,
        status: 200,
        client: { iss: seed.iss },
        context: {
          patientId,
          draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...HBA1C, id: 'o1' } }] },
        },
        evaluations: [],
      });
    }
    if (!feedback.has(seed.iss)) feedback.set(seed.iss, []);
    feedback.get(seed.iss)!.push(
      seed.accepted
        ? {
            card: card.uuid,
            outcome: 'accepted',
            acceptedSuggestions: [{ id: card.suggestions[0].uuid }],
            outcomeTimestamp: new Date(at + 30_000).toISOString(),
          }
        : {
            card: card.uuid,
            outcome: 'overridden',
            overrideReason: { reason: { system: 'http://example.org/local', code: 'not-now' } },
            outcomeTimestamp: new Date(at + 30_000).toISOString(),
          },
    );
  });
  await store.flush();
  for (const [iss, items] of feedback) {
    for (let i = 0; i < items.length; i += 200) await store.ingestFeedback(SERVICE, items.slice(i, i + 200), { iss });
  }
}

export function variationRun(kind: StoreKind): void {
  let t: TestStore;
  let app: Express;
  const pseudonym = createPseudonymizer(TEST_PSEUDONYM_KEY);

  beforeAll(async () => {
    t = await testUptakeStore(kind);
    app = testApp({
      knowledge: await knowledgeFrom(repoRoot),
      config: { uptakeMinCell: 11 },
      deps: { uptake: t.store },
    });
    await seedVariation(t.store);
  }, 60_000);
  afterAll(async () => {
    await t?.cleanup();
  });

  const variation = async (query: string) =>
    (await request(app).get(`/uptake/variation?${query}`).set(asAdmin('quality')).expect(200)).body as Record<
      string,
      any
    >;

  it('lists the planted clinician as the only outlier, below the 99.8 % limit in acceptance', async () => {
    const r = await variation(`service=${SERVICE}&by=clinician`);
    expect(r.outliers).toEqual([
      {
        unit: pseudonym('user', 'Practitioner/c07'),
        measure: 'acceptance',
        direction: 'below',
        rate: 0.15,
        trials: 40,
        limits: { low998: 0.3403, high998: 0.8224 },
      },
    ]);
    expect(r.overall).toMatchObject({
      units: 23,
      cards: 817,
      acceptance: { successes: 462 + 8 + 5, trials: 817 },
      completion: { successes: 405, trials: 817 },
    });
    expect(r.units).toHaveLength(20);
    const planted = r.units.find((u: { unit: string }) => u.unit === pseudonym('user', 'Practitioner/c07'));
    expect(planted.acceptance).toMatchObject({
      successes: 6,
      trials: 40,
      position: 'outside-99.8',
      direction: 'below',
    });
    expect(planted.completion).toMatchObject({ successes: 20, trials: 40, position: 'within' });
    for (const u of r.units) expect(u.completion.position).toBe('within');
  });

  it('pools the clinicians with fewer than k cards and the cards naming none, and never lists them', async () => {
    const r = await variation(`service=${SERVICE}&by=clinician`);
    expect(r.minCell).toBe(11);
    expect(r.pooled).toMatchObject({
      withheld: false,
      units: 3,
      cards: 17,
      acceptance: { successes: 13, trials: 17 },
    });
    const text = JSON.stringify(r);
    for (const s of ['s0', 's1', 's2']) expect(text).not.toContain(pseudonym('user', `Practitioner/${s}`)!);
  });

  it('compares sites the same way: no site falls outside', async () => {
    const r = await variation(`service=${SERVICE}&by=site`);
    expect(r.units.map((u: { unit: string; cards: number }) => [u.unit, u.cards])).toEqual([
      ['https://ehr-a.example.org', 412],
      ['https://ehr-b.example.org', 405],
    ]);
    expect(r.outliers).toEqual([]);
    expect(r.units[0].site).toEqual({ iss: 'https://ehr-a.example.org', tenant: null });
  });

  it('gives the same report with `cds uptake variation`, and names bad parameters', async () => {
    const env = {
      CDS_DATA_DIR: t.config.dataDir,
      ...(t.config.databaseUrl ? { CDS_DATABASE_URL: t.config.databaseUrl } : {}),
      CDS_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY,
      CDS_UPTAKE_MIN_CELL: '11',
    };
    let out = '';
    const code = await runCli(['uptake', 'variation', '--service', SERVICE, '--by', 'clinician'], {
      env,
      io: { stdout: (s) => (out += s), stderr: () => undefined },
    });
    expect(code).toBe(0);
    const http = await variation(`service=${SERVICE}&by=clinician`);
    expect({ ...JSON.parse(out), generatedAt: 'x' }).toEqual({ ...http, generatedAt: 'x' });
    const bad = await request(app).get('/uptake/variation?by=ward&limit=3').set(asAdmin('quality'));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("by: 'ward' must be one of clinician, site");
    expect(JSON.stringify(bad.body)).toContain('limit: is not a parameter of the variation report');
  });

  it('withholds everything, marked as withheld, when the whole query holds fewer than k cards', async () => {
    const r = await variation(`service=${SERVICE}&by=clinician&from=2026-04-06T08:00:00Z&to=2026-04-06T08:05:00Z`);
    expect(r.units).toEqual([]);
    expect(r.outliers).toEqual([]);
    expect(r.overall.cards).toBeNull();
    expect(r.pooled).toMatchObject({ withheld: true, cards: null });
  });
}
