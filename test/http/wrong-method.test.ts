// A method a path does not take: 405 naming the whole path as the caller sent it (mounted routers too), with
// Allow, on every path that has a route; a path no route has stays 404.
import { afterAll, beforeAll, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';

let t: TestStore;
let app: Express;
beforeAll(async () => {
  t = await testUptakeStore('sqlite');
  app = testApp({ knowledge: await knowledgeFrom(testKnowledge('basic')), deps: { uptake: t.store } });
}, 60_000);
afterAll(async () => {
  await t.cleanup();
});

it('answers 405 with the whole path and the methods it takes', async () => {
  for (const [method, path, allowed, key] of [
    ['delete', '/health', 'GET', undefined],
    ['post', '/ready', 'GET', undefined],
    ['put', '/docs', 'GET', undefined],
    ['delete', '/uptake/report', 'GET', 'quality'],
    ['put', '/uptake/alerts/a1/acknowledge', 'POST', 'quality'],
    ['post', '/uptake/experiments/e1', 'GET', 'quality'],
    ['get', '/cds-services/renal-test/feedback', 'POST', undefined],
  ] as const) {
    let call = request(app)[method](path);
    if (key) call = call.set(asAdmin(key));
    const res = await call;
    expect(res.status, `${method} ${path}`).toBe(405);
    expect(res.headers.allow, path).toBe(allowed);
    expect(res.body.issue[0], path).toEqual({
      severity: 'error',
      code: 'not-supported',
      diagnostics: `${method.toUpperCase()} is not allowed on ${path}; use ${allowed}`,
    });
  }
  await request(app).delete('/no-such-path').expect(404);
});
