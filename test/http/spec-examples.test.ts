// Every example message of the CDS Hooks 2.0.1 specification (and the Hook Library's order-select R4
// context), copied byte for byte into ./examples, run through the server as the spec intends it.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { knowledgeFrom, repoRoot, testApp } from '../support/app.js';
import { contractProblem } from '../support/contract.js';
import { HOOKS } from '../../src/hooks/index.js';
import { templateProblems } from '../../src/prefetch/index.js';

const example = (name: string): Record<string, any> =>
  JSON.parse(readFileSync(new URL(`./examples/${name}`, import.meta.url), 'utf8')) as Record<string, any>;

describe('the discovery example', () => {
  const discovery = example('discovery-response.json') as {
    services: Array<{ id: string; hook: string; prefetch?: Record<string, string> }>;
  };

  it('is a discovery answer as this server documents its own', () => {
    expect(
      contractProblem({
        method: 'GET',
        url: '/cds-services',
        status: 200,
        contentType: 'application/json',
        body: discovery,
      }),
    ).toBeUndefined();
  });

  it('has prefetch templates this server accepts for the hooks they are declared for', () => {
    const checked = discovery.services.flatMap((service) =>
      Object.entries(service.prefetch ?? {}).map(([key, template]) => {
        const hook = HOOKS[service.hook];
        return [`${service.id}.${key}`, templateProblems(template, service.hook, hook.prefetchTokens, hook.userTypes)];
      }),
    );
    expect(checked).toEqual([
      ['static-patient-greeter.patientToGreet', []],
      ['order-echo.patient', []],
      ['order-echo.medications', []],
    ]);
  });
});

describe('the order-select R4 context of the Hook Library', () => {
  let app: Express;
  beforeAll(async () => {
    app = testApp({ knowledge: await knowledgeFrom(repoRoot), now: '2026-06-01T12:00:00Z' });
  });
  const call = (prefetch?: Record<string, unknown>) => ({
    hook: 'order-select',
    hookInstance: 'f4b5a7c2-1f0e-4d61-9a43-5a2d7c6e0b19',
    ...example('order-select-context-r4.json'),
    ...(prefetch ? { prefetch } : {}),
  });
  const searchset = { resourceType: 'Bundle', type: 'searchset', total: 0 };

  it('is served when the prefetch is there (the draft is not an NSAID: no card)', async () => {
    const res = await request(app)
      .post('/cds-services/nsaid-ckd-order-select')
      .send(call({ patient: { resourceType: 'Patient', id: '1288992' }, egfr: searchset, ckd: searchset }))
      .expect(200);
    expect(res.body).toEqual({ cards: [] });
  });

  it('is served when the EHR says there is no data for a key (null)', async () => {
    await request(app)
      .post('/cds-services/nsaid-ckd-order-select')
      .send(call({ patient: { resourceType: 'Patient', id: '1288992' }, egfr: null, ckd: null }))
      .expect(200);
  });

  it('gets 412 naming each missing prefetch key when there is no fhirServer to fetch them from', async () => {
    const res = await request(app).post('/cds-services/nsaid-ckd-order-select').send(call()).expect(412);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.map((i: { expression: string[] }) => i.expression[0]).sort()).toEqual([
      'prefetch.ckd',
      'prefetch.egfr',
      'prefetch.patient',
    ]);
  });
});
