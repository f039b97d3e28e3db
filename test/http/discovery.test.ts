import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import type { Knowledge } from '../../src/knowledge/index.js';

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

describe('GET /cds-services', () => {
  it('lists every service with the CDS Hooks 2.0.1 fields', async () => {
    const res = await request(testApp({ knowledge })).get('/cds-services').expect(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const ids = res.body.services.map((s: { id: string }) => s.id);
    expect(ids).toEqual(['renal-test', 'greeter']);
    const renal = res.body.services[0];
    expect(renal).toMatchObject({
      hook: 'order-sign',
      title: 'Renal test service',
      description: expect.any(String),
      id: 'renal-test',
      prefetch: {
        patient: 'Patient/{{context.patientId}}',
        egfr: expect.stringContaining('Observation?patient={{context.patientId}}'),
      },
    });
    expect(res.body.services[1].usageRequirements).toBe('None.');
  });

  it('names the knowledge versions behind each service in an extension', async () => {
    const res = await request(testApp({ knowledge })).get('/cds-services').expect(200);
    expect(res.body.services[0].extension['org.cdsengine.knowledge']).toEqual({
      ruleSet: 'renal-test',
      version: '1.0.0',
      status: 'active',
      cql: [
        { library: 'RenalTest', version: '1.0.0' },
        { library: 'FHIRHelpers', version: '4.0.1' },
      ],
    });
  });

  it('omits prefetch when a service has none, and never sends null or empty values', async () => {
    const res = await request(testApp({ knowledge })).get('/cds-services').expect(200);
    const greeter = res.body.services[1];
    expect(greeter).not.toHaveProperty('prefetch');
    expect(JSON.stringify(res.body)).not.toMatch(/null|""|\[\]|\{\}/);
  });

  it('answers {"services": []} when no service is configured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-empty-'));
    writeFileSync(join(dir, 'cds-services.json'), JSON.stringify({ services: [] }));
    const empty = await knowledgeFrom(dir);
    const res = await request(testApp({ knowledge: empty }))
      .get('/cds-services')
      .expect(200);
    expect(res.body).toEqual({ services: [] });
  });

  it('answers 405 with an OperationOutcome to other methods', async () => {
    const res = await request(testApp({ knowledge })).delete('/cds-services').expect(405);
    expect(res.headers.allow).toBe('GET');
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('health and readiness', () => {
  it('GET /health answers while the process is alive', async () => {
    await request(testApp({ knowledge })).get('/health').expect(200, { status: 'ok' });
  });

  it('GET /ready is ready when every service loaded', async () => {
    const res = await request(testApp({ knowledge })).get('/ready').expect(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.knowledge.services).toHaveLength(2);
  });

  it('GET /ready answers 503 and says why when the catalogue cannot be loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-bad-'));
    writeFileSync(join(dir, 'cds-services.json'), '{"services": [ { "id": "x" ');
    const broken = await knowledgeFrom(dir);
    const res = await request(testApp({ knowledge: broken }))
      .get('/ready')
      .expect(503);
    expect(res.body.status).toBe('unavailable');
    expect(res.body.knowledge.error).toMatch(/cds-services\.json:1:\d+: error: invalid JSON/);
  });
});

describe('CORS', () => {
  it('answers a preflight allowing Authorization and Content-Type', async () => {
    const res = await request(testApp({ knowledge }))
      .options('/cds-services/renal-test')
      .set('Origin', 'https://ehr.example.org')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type')
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(res.headers['access-control-allow-headers']).toMatch(/Content-Type/);
    expect(res.headers['access-control-allow-methods']).toMatch(/POST/);
  });

  it('answers preflights of the feedback endpoint, and CORS headers on error answers too', async () => {
    const app = testApp({ knowledge });
    const preflight = await request(app)
      .options('/cds-services/renal-test/feedback')
      .set('Origin', 'https://ehr.example.org')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type')
      .expect(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('*');
    const refused = await request(app)
      .post('/cds-services/renal-test')
      .set('Origin', 'https://ehr.example.org')
      .send({ hook: 'order-sign' })
      .expect(400);
    expect(refused.headers['access-control-allow-origin']).toBe('*');
  });

  it('allows only the configured origins when a list is given', async () => {
    const app = testApp({ knowledge, config: { corsOrigins: ['https://ehr.example.org'] } });
    const allowed = await request(app).get('/cds-services').set('Origin', 'https://ehr.example.org').expect(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://ehr.example.org');
    const other = await request(app).get('/cds-services').set('Origin', 'https://evil.example.com').expect(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});
