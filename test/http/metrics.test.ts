import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKnowledgeHolder, createKnowledgeReloader, type Knowledge } from '../../src/knowledge/index.js';
import { createLogger } from '../../src/logger.js';
import { asAdmin, knowledgeFrom, sharedTranslator, testApp, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';

let knowledge: Knowledge;
let store: TestStore | undefined;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});
afterEach(async () => {
  await store?.cleanup();
  store = undefined;
});

const metricsOf = async (app: ReturnType<typeof testApp>) =>
  (await request(app).get('/metrics').set(asAdmin('operations')).expect(200)).text;

describe('GET /metrics', () => {
  it('needs an admin key with the operations role', async () => {
    const app = testApp({ knowledge });
    await request(app).get('/metrics').expect(401);
    await request(app).get('/metrics').set(asAdmin('quality')).expect(403);
    const res = await request(app).get('/metrics').set(asAdmin('operations')).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('counts hook calls by service and status, and the cards served by rule set, version, rule and indicator', async () => {
    const app = testApp({ knowledge, now: '2026-06-01T12:00:00Z' });
    await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    await request(app).post('/cds-services/renal-test').send({ hook: 'order-sign' }).expect(400);
    await request(app).post('/cds-services/made-up-4d1c9e').send(renalRequest()).expect(404);
    await request(app)
      .post('/cds-services/renal-test')
      .send(
        renalRequest({
          drafts: [
            {
              resourceType: 'MedicationRequest',
              id: 'd1',
              status: 'draft',
              intent: 'order',
              medicationCodeableConcept: 'x',
            },
          ],
        }),
      )
      .expect(200);
    const text = await metricsOf(app);
    expect(text).toContain('cds_hook_calls_total{service="renal-test",status="200"} 3');
    expect(text).toContain('cds_hook_calls_total{service="renal-test",status="400"} 1');
    expect(text).toContain('cds_hook_calls_total{service="(unknown)",status="404"} 1');
    expect(text).not.toContain('made-up-4d1c9e');
    expect(text).toContain('cds_hook_call_duration_seconds_count{service="renal-test"} 4');
    expect(text).toContain(
      'cds_cards_served_total{service="renal-test",rule_set="renal-test",version="1.0.0",rule="low-egfr",indicator="warning"} 2',
    );
    expect(text).toContain('cds_malformed_fhir_calls_total{service="renal-test"} 1');
    expect(text).toContain(
      'cds_knowledge_service_info{service="renal-test",hook="order-sign",rule_set="renal-test",version="1.0.0",available="true"} 1',
    );
  });

  it('counts feedback calls, reloads by outcome, and reports the uptake recorder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-metrics-'));
    cpSync(testKnowledge('basic'), dir, { recursive: true });
    const holder = createKnowledgeHolder(await knowledgeFrom(dir));
    const reloader = createKnowledgeReloader({
      dir,
      translator: await sharedTranslator(),
      holder,
      logger: createLogger('error', true),
    });
    store = await testUptakeStore('sqlite');
    const app = testApp({
      knowledge: holder.current(),
      now: '2026-06-01T12:00:00Z',
      deps: { knowledge: holder, reloader, uptake: store.store },
    });
    await reloader.reload('test');
    writeFileSync(join(dir, 'rules/renal-test/1.0.0.json'), '{');
    await reloader.reload('test');
    await request(app).post('/cds-services/renal-test/feedback').send({ feedback: 'x' }).expect(400);
    const text = await metricsOf(app);
    expect(text).toContain('cds_knowledge_reloads_total{outcome="ok"} 1');
    expect(text).toContain('cds_knowledge_reloads_total{outcome="refused"} 1');
    expect(text).toContain('cds_feedback_calls_total{service="renal-test",status="400"} 1');
    expect(text).toContain('cds_uptake_up 1');
    expect(text).toContain('cds_uptake_dropped 0');
    expect(text).toContain('cds_uptake_set_aside 0');
    expect(text).toMatch(/cds_knowledge_loaded_timestamp_seconds \d+/);
  });
});
