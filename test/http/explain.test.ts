import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knowledge } from '../../src/knowledge/index.js';
import { asAdmin, knowledgeFrom, repoRoot, testApp } from '../support/app.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';

const NOW = '2026-06-01T12:00:00Z';
let knowledge: Knowledge;
let store: TestStore | undefined;
beforeAll(async () => {
  knowledge = await knowledgeFrom(repoRoot);
});
afterEach(async () => {
  await store?.store.close();
  await store?.cleanup();
  store = undefined;
});

const fixture = (service: string, name: string) =>
  JSON.parse(readFileSync(join(repoRoot, 'fixtures/requests', service, `${name}.json`), 'utf8')) as Record<string, any>;

describe('GET /admin/explain/{card}', () => {
  it('explains a served card from what was kept: conditions with their values, the defines the rule used', async () => {
    store = await testUptakeStore('sqlite');
    const app = testApp({ knowledge, now: NOW, deps: { uptake: store.store } });
    const body = fixture('nsaid-ckd-order-sign', 'egfr-22-ibuprofen');
    const served = await request(app).post('/cds-services/nsaid-ckd-order-sign').send(body).expect(200);
    const uuid = served.body.cards[0].uuid as string;

    const res = await request(app).get(`/admin/explain/${uuid}`).set(asAdmin('knowledge')).expect(200);
    expect(res.body.card).toMatchObject({
      uuid,
      service: 'nsaid-ckd-order-sign',
      ruleSet: 'nsaid-ckd',
      version: '1.0.0',
      rule: 'nsaid-egfr-below-30',
      indicator: 'warning',
    });
    expect(res.body.explanation.rule).toBe('nsaid-egfr-below-30');
    expect(res.body.explanation.conditions.all).toContainEqual(
      expect.objectContaining({
        fact: 'cql',
        path: "$['Latest eGFR'].value",
        operator: 'lessThan',
        value: 30,
        factResult: 22,
        result: true,
      }),
    );
    expect(res.body.explanation.defines['Latest eGFR']).toEqual({ value: 22, unit: 'mL/min/{1.73_m2}' });
    expect(res.body.explanation.item).toMatchObject({ medication: 'Ibuprofen 400 mg oral tablet' });
  });

  it('keeps identifiers out of the explanation', async () => {
    store = await testUptakeStore('sqlite');
    const app = testApp({ knowledge, now: NOW, deps: { uptake: store.store } });
    const body = fixture('nsaid-ckd-order-sign', 'egfr-22-ibuprofen');
    const patient = body.prefetch.patient;
    const served = await request(app).post('/cds-services/nsaid-ckd-order-sign').send(body).expect(200);
    const res = await request(app)
      .get(`/admin/explain/${served.body.cards[0].uuid}`)
      .set(asAdmin('knowledge'))
      .expect(200);
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(patient.id);
    expect(text).not.toContain(patient.identifier[0].value);
    expect(text).not.toContain(patient.name[0].family);
    expect(text).not.toContain(body.context.userId);
  });

  it('needs a knowledge admin key and answers 404 for a card it never served', async () => {
    store = await testUptakeStore('sqlite');
    const app = testApp({ knowledge, now: NOW, deps: { uptake: store.store } });
    await request(app).get('/admin/explain/4e0a3a1e-3283-4575-ab82-028d55fe2719').expect(401);
    await request(app).get('/admin/explain/4e0a3a1e-3283-4575-ab82-028d55fe2719').set(asAdmin('quality')).expect(403);
    const missing = await request(app)
      .get('/admin/explain/4e0a3a1e-3283-4575-ab82-028d55fe2719')
      .set(asAdmin('knowledge'))
      .expect(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');
  });
});
