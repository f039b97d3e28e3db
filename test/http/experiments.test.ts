import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import type { Knowledge } from '../../src/knowledge/index.js';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';
import { withRollout } from '../uptake/quality-ledger.js';
import { EXPERIMENT_ID, seedExperiment, seedShadow, SHADOW_SERVICE, STOPPED_AT } from '../uptake/experiment-seed.js';

const NOW = '2027-01-10T00:00:00Z';
let knowledge: Knowledge;
let t: TestStore;
let app: Express;

beforeAll(async () => {
  knowledge = withRollout(await knowledgeFrom(testKnowledge('basic')));
});
beforeEach(async () => {
  t = await testUptakeStore('sqlite');
  await seedExperiment(t.store.database);
  await seedShadow(t.store.database);
  app = testApp({ knowledge, now: NOW, config: { uptakeMinCell: 1 }, deps: { uptake: t.store } });
});
afterEach(async () => {
  await t.cleanup();
});

const get = (path: string) => request(app).get(path).set(asAdmin('quality'));

describe('GET /uptake/experiments', () => {
  it('lists the experiments of the knowledge and of the ledger with their status and counts', async () => {
    const res = await get('/uptake/experiments').expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.experiments).toEqual([
      expect.objectContaining({
        id: EXPERIMENT_ID,
        services: ['renal-test', 'svc-x'],
        declared: true,
        unit: 'practitioner',
        status: 'stopped',
        stopped: { at: STOPPED_AT, by: 'qa-lead', reason: 'harm at site B' },
        callsInExperiment: 139,
        callsNotInExperiment: 35,
        units: 44,
        cardsShown: 65,
      }),
    ]);
  });

  it('needs the quality admin key, takes no parameters and only GET', async () => {
    await request(app).get('/uptake/experiments').expect(401);
    await request(app).get('/uptake/experiments').set(asAdmin('knowledge')).expect(403);
    const bad = await get('/uptake/experiments?status=running').expect(400);
    expect(bad.body.issue[0]).toMatchObject({
      expression: ['status'],
      diagnostics: expect.stringContaining('is not a parameter of the experiment list'),
    });
    const post = await request(app).post('/uptake/experiments').set(asAdmin('quality')).expect(405);
    expect(post.headers.allow).toBe('GET');
  });
});

describe('GET /uptake/experiments/{id}', () => {
  it('answers the report by assigned arm, with the declared arms and weights', async () => {
    const res = await get(`/uptake/experiments/${EXPERIMENT_ID}`).expect(200);
    expect(res.body.experiment).toMatchObject({
      id: EXPERIMENT_ID,
      declared: true,
      status: 'stopped',
      stopped: { at: STOPPED_AT, by: 'qa-lead' },
    });
    expect(res.body.arms.map((a: { arm: string; units: number; calls: number }) => [a.arm, a.units, a.calls])).toEqual([
      ['usual', 15, 53],
      ['new-wording', 15, 51],
      ['no-card', 14, 35],
    ]);
    expect(res.body.comparisons[0]).toMatchObject({
      arm: 'new-wording',
      reference: 'usual',
      firing: { difference: 0.1202, alwaysValid: { pValue: 0.0323 } },
    });
    expect(res.body.sampleRatio).toMatchObject({ weights: [1, 1, 1], flagged: false });
    expect(res.body.sites).toHaveLength(2);
  });

  it('answers CSV when asked, for the period asked', async () => {
    const res = await get(`/uptake/experiments/${EXPERIMENT_ID}?format=csv&to=2027-01-04`).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toMatch(
      new RegExp(`^attachment; filename="experiment-${EXPERIMENT_ID}-\\d{8}T\\d{6}Z\\.csv"$`),
    );
    const lines = res.text.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^scope,experiment,status,/);
    // Site A only that day: 3 arms overall, 3 for the one site, 2 reasons (no-unit, not-started).
    expect(lines).toHaveLength(1 + 3 + 3 + 2);
    expect(lines[1]).toMatch(
      /^experiment,exp-wording,stopped,2027-01-06T09:00:00.000Z,qa-lead,,,usual,,1.0.0,1,true,,8,32,/,
    );
  });

  it('withholds small cells with the configured k', async () => {
    const strict = testApp({ knowledge, now: NOW, config: { uptakeMinCell: 11 }, deps: { uptake: t.store } });
    const res = await request(strict).get(`/uptake/experiments/${EXPERIMENT_ID}`).set(asAdmin('quality')).expect(200);
    expect(res.body.minCell).toBe(11);
    expect(res.body.arms[0]).toMatchObject({
      units: 15,
      accepted: null,
      overridden: null,
      suppressed: ['accepted', 'overridden', 'acceptance'],
    });
    expect(res.body.comparisons[0]).toMatchObject({ acceptance: { difference: null }, suppressed: ['acceptance'] });
    expect(res.body.callsNotInExperiment).toContainEqual({ reason: 'not-started', calls: null });
    const list = await request(strict).get('/uptake/experiments').set(asAdmin('quality')).expect(200);
    expect(list.body.minCell).toBe(11);
  });

  it('answers 404 for an experiment neither declared nor in the ledger', async () => {
    const res = await get('/uptake/experiments/no-such-trial').expect(404);
    expect(res.body.issue[0].diagnostics).toBe(
      "no experiment with id 'no-such-trial': the knowledge being served does not declare it " +
        'and the uptake ledger has no call of it (see GET /uptake/experiments)',
    );
  });

  it('answers 400 naming every unknown or malformed parameter', async () => {
    const res = await get(`/uptake/experiments/${EXPERIMENT_ID}?from=yesterday&format=xml&arm=usual`).expect(400);
    expect(res.body.issue.map((i: { expression: string[] }) => i.expression[0]).sort()).toEqual([
      'arm',
      'format',
      'from',
    ]);
    const order = await get(`/uptake/experiments/${EXPERIMENT_ID}?from=2027-01-05&to=2027-01-04`).expect(400);
    expect(order.body.issue[0].diagnostics).toBe('to: must be after from');
    await get(`/uptake/experiments/${'x'.repeat(300)}`).expect(400);
  });

  it('answers 405 for other methods', async () => {
    const res = await request(app).delete(`/uptake/experiments/${EXPERIMENT_ID}`).set(asAdmin('quality')).expect(405);
    expect(res.headers.allow).toBe('GET');
  });
});

describe('GET /uptake/shadow/{service}', () => {
  it('answers each shadow version against the live one', async () => {
    const res = await get(`/uptake/shadow/${SHADOW_SERVICE}`).expect(200);
    expect(res.body).toMatchObject({ service: SHADOW_SERVICE, declaredShadows: null, withoutLive: 2 });
    expect(res.body.comparisons[0]).toMatchObject({
      shadow: { version: '2.1.0' },
      table: { bothFired: 40, liveOnly: 6, shadowOnly: 12, neither: 42 },
      kappa: 0.6411,
      cardsDiffer: 4,
    });
    expect(res.body.comparisons[0].disagreements).toHaveLength(20);
  });

  it('answers a served service without shadow data with its declared shadow versions', async () => {
    const res = await get('/uptake/shadow/renal-test').expect(200);
    expect(res.body).toMatchObject({ service: 'renal-test', declaredShadows: ['1.1.0'], comparisons: [] });
  });

  it('answers CSV when asked', async () => {
    const res = await get(`/uptake/shadow/${SHADOW_SERVICE}?format=csv`).expect(200);
    expect(res.headers['content-disposition']).toMatch(
      new RegExp(`^attachment; filename="shadow-${SHADOW_SERVICE}-\\d{8}T\\d{6}Z\\.csv"$`),
    );
    const lines = res.text.trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^svc-s,svc-s,2\.1\.0,svc-s,2\.0\.0,100,0,40,6,12,42,0\.6411,0\.46,0\.52,0\.06,/);
  });

  it('answers 404 for an unknown service, 400 for bad parameters and 405 for other methods', async () => {
    const missing = await get('/uptake/shadow/no-such-service').expect(404);
    expect(missing.body.issue[0].diagnostics).toMatch(/^no CDS service with id 'no-such-service'/);
    const bad = await get(`/uptake/shadow/${SHADOW_SERVICE}?from=2027-02-30&version=2.1.0`).expect(400);
    expect(bad.body.issue.map((i: { expression: string[] }) => i.expression[0]).sort()).toEqual(['from', 'version']);
    const post = await request(app).post(`/uptake/shadow/${SHADOW_SERVICE}`).set(asAdmin('quality')).expect(405);
    expect(post.headers.allow).toBe('GET');
    await request(app).get(`/uptake/shadow/${SHADOW_SERVICE}`).set(asAdmin('knowledge')).expect(403);
  });
});
