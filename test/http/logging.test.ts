import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { captureLogs } from '../support/logs.js';
import { createApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { createKnowledgeHolder, type Knowledge } from '../../src/knowledge/index.js';
import { asAdmin, knowledgeFrom, TEST_ADMIN_KEYS, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { testUptakeConfig } from '../uptake/support.js';
import { createUptakeStore } from '../../src/uptake/index.js';

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

function capturingApp(): { app: ReturnType<typeof createApp>; lines: Array<Record<string, unknown>> } {
  const { logger, lines } = captureLogs();
  const app = createApp({
    config: defaultConfig({ auth: 'off' }),
    logger,
    knowledge: createKnowledgeHolder(knowledge),
    clock: () => new Date('2026-06-01T12:00:00Z'),
  });
  return { app, lines };
}

describe('logging', () => {
  it('writes one access line per request with service id, hookInstance, status and duration', async () => {
    const { app, lines } = capturingApp();
    const body = renalRequest();
    await request(app).post('/cds-services/renal-test').send(body).expect(200);
    const access = lines.filter((l) => l.message === 'request');
    expect(access).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: '/cds-services/renal-test',
        status: 200,
        serviceId: 'renal-test',
        hookInstance: body.hookInstance,
        durationMs: expect.any(Number),
      }),
    ]);
  });

  it('logs the whole route of requests answered by mounted routers, without the query string or path values', async () => {
    const { logger, lines } = captureLogs();
    const { config, cleanup } = await testUptakeConfig('sqlite');
    const uptake = await createUptakeStore(config, { logger });
    try {
      const app = createApp({
        config: defaultConfig({ auth: 'off', adminKeys: TEST_ADMIN_KEYS }),
        logger,
        knowledge: createKnowledgeHolder(knowledge),
        uptake,
      });
      await request(app).get('/admin/explain/unknown-card?patient=MRN-0042').set(asAdmin('knowledge')).expect(404);
      await request(app).get('/uptake/report?service=renal-test').set(asAdmin('quality')).expect(200);
      const paths = lines.filter((l) => l.message === 'request').map((l) => l.path);
      expect(paths).toEqual(['/admin/explain/:card', '/uptake/report']);
      expect(JSON.stringify(lines)).not.toContain('MRN-0042');
    } finally {
      await uptake.close();
      await cleanup();
    }
  });

  it('never logs patient data, even for rejected or failing requests', async () => {
    const { app, lines } = capturingApp();
    const body = renalRequest() as Record<string, any>;
    body.context.patientId = 'MRN-SECRET-0042';
    body.prefetch.patient.name = [{ family: 'Zzyzx-Secret' }];
    await request(app).post('/cds-services/renal-test').send(body).expect(200);
    const bad = { ...body, context: { ...body.context, userId: 'Zzyzx-Secret' } };
    await request(app).post('/cds-services/renal-test').send(bad).expect(400);
    await request(app)
      .post('/cds-services/renal-test')
      .set('Content-Type', 'application/json')
      .send('{"name":"Zzyzx-Secret",')
      .expect(400);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('MRN-SECRET-0042');
    expect(text).not.toContain('Zzyzx-Secret');
    expect(lines.filter((l) => l.message === 'request')).toHaveLength(3);
  });
});
