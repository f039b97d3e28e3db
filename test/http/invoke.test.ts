import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { knowledgeFrom, repoRoot, testApp, testKnowledge } from '../support/app.js';
import { egfrObservation, medicationRequest, renalRequest } from '../support/requests.js';
import { cardProblems } from '../../src/cards/index.js';
import type { Knowledge } from '../../src/knowledge/index.js';

const NOW = '2026-06-01T12:00:00Z';
let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

const app = () => testApp({ knowledge, now: NOW });
const example = (name: string) => JSON.parse(readFileSync(join(repoRoot, 'test', 'http', 'examples', name), 'utf8'));

describe('POST /cds-services/{id}', () => {
  it('answers 200 with one valid card per offending draft order', async () => {
    const body = renalRequest({
      drafts: [medicationRequest('d1', '5640', 'Ibuprofen 400 mg'), medicationRequest('d2', '7258', 'Naproxen 250 mg')],
    });
    const res = await request(app()).post('/cds-services/renal-test').send(body).expect(200);
    expect(res.body.cards).toHaveLength(2);
    expect(res.body.cards.map((c: { summary: string }) => c.summary)).toEqual([
      'Ibuprofen 400 mg with eGFR 25 mL/min/1.73m2',
      'Naproxen 250 mg with eGFR 25 mL/min/1.73m2',
    ]);
    for (const card of res.body.cards) expect(cardProblems(card)).toEqual([]);
    expect(res.body.cards[1].suggestions[0].actions[0].resourceId).toBe('MedicationRequest/d2');
    expect(res.body).not.toHaveProperty('systemActions');
  });

  it('gives every card and suggestion its own uuid', async () => {
    const res = await request(app()).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    const card = res.body.cards[0];
    const ids = [card.uuid, ...card.suggestions.map((s: { uuid: string }) => s.uuid)];
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    const again = await request(app()).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    expect(again.body.cards[0].uuid).not.toBe(card.uuid);
  });

  it('names the service, rule set, version, rule and CQL libraries that produced each card', async () => {
    const res = await request(app()).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    expect(res.body.cards[0].extension['org.cdsengine.knowledge']).toEqual({
      service: 'renal-test',
      ruleSet: 'renal-test',
      version: '1.0.0',
      rule: 'low-egfr',
      cql: [
        { library: 'RenalTest', version: '1.0.0' },
        { library: 'FHIRHelpers', version: '4.0.1' },
      ],
    });
  });

  it('answers {"cards": []} when the rule does not fire', async () => {
    const res = await request(app())
      .post('/cds-services/renal-test')
      .send(renalRequest({ egfr: [egfrObservation('o1', 45, '2026-05-01')] }))
      .expect(200);
    expect(res.body).toEqual({ cards: [] });
  });

  it('decides on the draft orders: no card when no test drug is drafted', async () => {
    const res = await request(app())
      .post('/cds-services/renal-test')
      .send(renalRequest({ drafts: [medicationRequest('d9', '1191', 'Aspirin')] }))
      .expect(200);
    expect(res.body.cards).toEqual([]);
  });

  it('uses the latest eGFR and the evaluation time for the look-back window', async () => {
    const old = egfrObservation('old', 20, '2024-01-01');
    const res = await request(app())
      .post('/cds-services/renal-test')
      .send(renalRequest({ egfr: [old] }))
      .expect(200);
    expect(res.body.cards).toEqual([]);
    const recent = await request(testApp({ knowledge, now: '2024-02-01T00:00:00Z' }))
      .post('/cds-services/renal-test')
      .send(renalRequest({ egfr: [old] }))
      .expect(200);
    expect(recent.body.cards).toHaveLength(1);
  });

  it('serves with verification off and the rate limit turned off', async () => {
    const open = testApp({ knowledge, now: NOW, config: { rateLimitPerMinute: 0 } });
    const res = await request(open).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    expect(res.body.cards).toHaveLength(1);
  });

  it('accepts application/fhir+json', async () => {
    const res = await request(app())
      .post('/cds-services/renal-test')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify(renalRequest()))
      .expect(200);
    expect(res.body.cards).toHaveLength(1);
  });

  it('accepts application/json+fhir, the older FHIR media type some EHRs still send', async () => {
    const res = await request(app())
      .post('/cds-services/renal-test')
      .set('Content-Type', 'application/json+fhir; charset=utf-8')
      .send(JSON.stringify(renalRequest()))
      .expect(200);
    expect(res.body.cards).toHaveLength(1);
  });

  it('accepts extension objects and unknown fields anywhere in the request', async () => {
    const body = renalRequest() as Record<string, any>;
    body.extension = { 'com.example.timestamp': '2017-11-27T22:13:25Z' };
    body.someFutureField = { any: 'thing' };
    body.context.someFutureContextField = 'x';
    const res = await request(app()).post('/cds-services/renal-test').send(body).expect(200);
    expect(res.body.cards).toHaveLength(1);
  });

  it('serves a service that needs no data from the context alone', async () => {
    const res = await request(app())
      .post('/cds-services/greeter')
      .send({
        hook: 'patient-view',
        hookInstance: 'greet-1',
        context: { userId: 'Practitioner/example', patientId: '1288992' },
      })
      .expect(200);
    expect(res.body.cards.map((c: { summary: string }) => c.summary)).toEqual(['Hello Practitioner/example']);
  });
});

describe('the specification examples', () => {
  it('accepts the 2.0.1 example patient-view request with prefetch and fhirAuthorization', async () => {
    const res = await request(app())
      .post('/cds-services/greeter')
      .send(example('request-patient-view-prefetch-fhirauth.json'))
      .expect(200);
    expect(res.body.cards).toHaveLength(1);
  });

  it('rejects the example request whose context lacks patientId with 400 naming the field', async () => {
    const res = await request(app())
      .post('/cds-services/greeter')
      .send(example('request-patient-view-extension.json'))
      .expect(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue).toEqual([expect.objectContaining({ code: 'required', expression: ['context.patientId'] })]);
  });
});

describe('errors', () => {
  it('answers 404 with an OperationOutcome for an unknown service', async () => {
    const res = await request(app()).post('/cds-services/no-such-service').send(renalRequest()).expect(404);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'not-found',
          diagnostics: "no CDS service with id 'no-such-service' (see GET /cds-services)",
        },
      ],
    });
  });

  it('answers 400 naming the hook when the service does not serve it', async () => {
    const body = { ...renalRequest(), hook: 'patient-view' };
    const res = await request(app()).post('/cds-services/renal-test').send(body).expect(400);
    expect(res.body.issue[0].expression).toEqual(['hook']);
    expect(res.body.issue[0].diagnostics).toMatch(/order-sign/);
  });

  it('quotes at most 100 characters of a hook it does not serve, however long', async () => {
    const body = { ...renalRequest(), hook: `x${'h'.repeat(1_000_000)}` };
    const res = await request(app()).post('/cds-services/renal-test').send(body).expect(400);
    expect(res.body.issue[0].diagnostics).toBe(
      `hook 'x${'h'.repeat(99)}…' is not served by this service (it serves order-sign)`,
    );
  });

  it('answers 400 for malformed JSON without echoing the body', async () => {
    const res = await request(app())
      .post('/cds-services/renal-test')
      .set('Content-Type', 'application/json')
      .send('{"hook": "order-sign", "context": {"patientId": "SECRET-MRN-123" ')
      .expect(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toMatch(/not valid JSON/);
    expect(JSON.stringify(res.body)).not.toContain('SECRET-MRN-123');
  });

  it('answers 400 listing every missing required field', async () => {
    const res = await request(app()).post('/cds-services/renal-test').send({ context: {} }).expect(400);
    const where = res.body.issue.map((i: { expression: string[] }) => i.expression[0]);
    expect(where).toEqual(expect.arrayContaining(['hook', 'hookInstance']));
  });

  it('answers 400 when the body is not an object', async () => {
    for (const body of ['[]', '"text"', 'null', '42']) {
      const res = await request(app())
        .post('/cds-services/renal-test')
        .set('Content-Type', 'application/json')
        .send(body)
        .expect(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await request(app())
      .post('/cds-services/renal-test')
      .set('Content-Type', 'text/plain')
      .send('hello')
      .expect(415);
    expect(res.body.issue[0].diagnostics).toMatch(/application\/json/);
  });

  it('answers 413 when the body is over the configured limit', async () => {
    const small = testApp({ knowledge, now: NOW, config: { bodyLimitBytes: 1024 } });
    const body = renalRequest({
      egfr: Array.from({ length: 50 }, (_, i) => egfrObservation(`o${i}`, 50, '2026-05-01')),
    });
    const res = await request(small).post('/cds-services/renal-test').send(body).expect(413);
    expect(res.body.issue[0].diagnostics).toMatch(/1024 bytes/);
  });

  it('accepts a whole patient record of several megabytes by default', async () => {
    const many = Array.from({ length: 8000 }, (_, i) => egfrObservation(`o${i}`, 60, '2025-01-01'));
    const body = renalRequest({ egfr: [...many, egfrObservation('latest', 25, '2026-05-30')] });
    expect(JSON.stringify(body).length).toBeGreaterThan(2_000_000);
    const res = await request(app()).post('/cds-services/renal-test').send(body).expect(200);
    expect(res.body.cards).toHaveLength(1);
  });

  it('answers 412 naming the missing prefetch key when there is no fhirServer', async () => {
    const res = await request(app())
      .post('/cds-services/renal-test')
      .send(renalRequest({ prefetch: false }))
      .expect(412);
    expect(res.body.issue.map((i: { expression: string[] }) => i.expression[0]).sort()).toEqual([
      'prefetch.egfr',
      'prefetch.patient',
    ]);
  });

  it('answers 405 to GET on a service endpoint', async () => {
    await request(app()).get('/cds-services/renal-test').expect(405);
  });

  it('answers 404 with an OperationOutcome for unknown paths', async () => {
    const res = await request(app()).get('/nothing-here').expect(404);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('keeps serving after a run of bad requests', async () => {
    const server = app();
    const bad = [
      '{',
      '{"hook":1}',
      '[]',
      '{"hook":"order-sign","hookInstance":"x","context":null}',
      '{"hook":"order-sign","hookInstance":"x","context":{"draftOrders":"nope"}}',
    ];
    const statuses = await Promise.all(
      bad.map((b) =>
        request(server)
          .post('/cds-services/renal-test')
          .set('Content-Type', 'application/json')
          .send(b)
          .then((r) => r.status),
      ),
    );
    expect(statuses.every((s) => s === 400)).toBe(true);
    const ok = await request(server).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    expect(ok.body.cards).toHaveLength(1);
  });
});
