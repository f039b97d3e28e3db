import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Knowledge } from '../../src/knowledge/index.js';
import { hashAdminKey } from '../../src/auth/index.js';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { captureLogs } from './support.js';

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

const ADMIN_PATHS = ['/admin/reload', '/uptake/summary'];

describe('the admin and reporting surface', () => {
  it.each(ADMIN_PATHS)('answers 401 with a JSON OperationOutcome to %s without a key', async (path) => {
    const res = await request(testApp({ knowledge })).get(path).expect(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'login', diagnostics: 'a valid admin bearer key is required' }],
    });
  });

  it.each(ADMIN_PATHS)('answers 401 to %s with a key that is not configured', async (path) => {
    const res = await request(testApp({ knowledge }))
      .post(path)
      .set('Authorization', 'Bearer not-a-configured-key')
      .expect(401);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });

  it('does not accept the hash of a key in place of the key', async () => {
    const key = 'quality-key-hash-test';
    const app = testApp({ knowledge, config: { adminKeys: [{ role: 'quality', sha256: hashAdminKey(key) }] } });
    await request(app)
      .get('/uptake/summary')
      .set('Authorization', `Bearer ${hashAdminKey(key)}`)
      .expect(401);
    const res = await request(app).get('/uptake/summary').set('Authorization', `Bearer ${key}`);
    expect(res.status).not.toBe(401);
  });

  it('answers 403 when a read-only quality key tries the knowledge admin endpoints', async () => {
    const res = await request(testApp({ knowledge })).post('/admin/reload').set(asAdmin('quality')).expect(403);
    expect(res.body).toEqual({
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'forbidden', diagnostics: "this key does not have the 'knowledge' role" }],
    });
  });

  it('answers 403 when a knowledge key tries to read uptake reports', async () => {
    await request(testApp({ knowledge })).get('/uptake/summary').set(asAdmin('knowledge')).expect(403);
  });

  it('lets each role through to its own prefix', async () => {
    const app = testApp({ knowledge });
    expect([401, 403]).not.toContain((await request(app).get('/uptake/summary').set(asAdmin('quality'))).status);
    expect([401, 403]).not.toContain((await request(app).post('/admin/reload').set(asAdmin('knowledge'))).status);
  });

  it('is closed to everyone when no admin keys are configured', async () => {
    const app = testApp({ knowledge, config: { adminKeys: [] } });
    await request(app).get('/uptake/summary').set(asAdmin('quality')).expect(401);
    await request(app).post('/admin/reload').set(asAdmin('knowledge')).expect(401);
  });

  it('answers 429 once an address has made its admin requests for the minute, guessed keys included', async () => {
    const app = testApp({ knowledge, config: { adminRateLimitPerMinute: 3 } });
    for (let i = 0; i < 2; i++)
      await request(app).get('/uptake/summary').set('Authorization', `Bearer guess-${i}`).expect(401);
    await request(app).get('/uptake/summary').set(asAdmin('quality')).expect(404);
    const res = await request(app).post('/admin/reload').set(asAdmin('knowledge')).expect(429);
    expect(res.body.issue[0]).toMatchObject({
      code: 'throttled',
      diagnostics: expect.stringMatching(
        /^too many admin requests from this address: at most 3 a minute are served; try again in \d+ s$/,
      ),
    });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    // The CDS Hooks endpoints have their own allowance.
    await request(app).get('/cds-services').expect(200);
  });

  it('does not accept an EHR JWT as an admin key', async () => {
    const jwtLike = 'eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2ln';
    await request(testApp({ knowledge })).get('/uptake/summary').set('Authorization', `Bearer ${jwtLike}`).expect(401);
  });

  it('needs no key for /health and /ready', async () => {
    const app = testApp({ knowledge });
    await request(app).get('/health').expect(200);
    await request(app).get('/ready').expect(200);
  });

  it('logs refusals without the key that was presented', async () => {
    const logs = captureLogs();
    const app = testApp({ knowledge, deps: { logger: logs.logger } });
    await request(app).post('/admin/reload').set('Authorization', 'Bearer wrong-key-5d1f9a').expect(401);
    await request(app).post('/admin/reload').set(asAdmin('quality')).expect(403);
    expect(logs.lines.map((l) => l.message)).toEqual(
      expect.arrayContaining(['admin authentication failed', 'admin access refused']),
    );
    expect(logs.text()).not.toContain('wrong-key-5d1f9a');
    expect(logs.text()).not.toContain(asAdmin('quality').Authorization.slice('Bearer '.length));
  });
});
