// No identifier in a log line: every refusal (4xx) and failure path is driven with marker ids in
// every place an identifier can be (patient, user, encounter, order and resource ids, selections,
// feedback card and suggestion ids, query values), and the captured log is searched for the marker.
// The answers may quote them (they go back to the caller who sent them); the log must not.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { captureLogs, type CapturedLogs } from '../support/logs.js';
import { asAdmin, knowledgeFrom, repoRoot, testApp, testKnowledge } from '../support/app.js';
import { egfrObservation, medicationRequest, renalRequest } from '../support/requests.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';
import type { Knowledge } from '../../src/knowledge/index.js';
import type { Config } from '../../src/config.js';

const MARK = 'Qx7MARKq';
const id = (what: string) => `${what}-${MARK}`;

let basic: Knowledge;
let shipped: Knowledge;
let t: TestStore;
let logs: CapturedLogs;
const statuses = new Map<string, number>();

beforeAll(async () => {
  [basic, shipped] = await Promise.all([knowledgeFrom(testKnowledge('basic')), knowledgeFrom(repoRoot)]);
  t = await testUptakeStore('sqlite');
  logs = captureLogs();
}, 120_000);
afterAll(async () => {
  await t.cleanup();
});

function app(knowledge = basic, config: Partial<Config> = {}, fetchImpl?: typeof fetch): Express {
  return testApp({
    knowledge,
    now: '2026-06-01T12:00:00Z',
    config: { uptakeMinCell: 1, ...config },
    fetchImpl,
    deps: { uptake: t.store, logger: logs.logger },
  });
}

/** The renal request with a marker in every identifier it carries. */
function marked(more: { egfr?: Array<Record<string, unknown>>; prefetch?: boolean } = {}): Record<string, any> {
  const body = renalRequest({
    drafts: [medicationRequest(id('order'), '5640', 'Ibuprofen 400 mg')],
    egfr: more.egfr ?? [egfrObservation(id('obs'), 25, '2026-05-01')],
    prefetch: more.prefetch ?? true,
  }) as Record<string, any>;
  body.context.patientId = id('patient');
  body.context.userId = `Practitioner/${id('user')}`;
  body.context.encounterId = id('encounter');
  if (body.prefetch) body.prefetch.patient.id = id('patient');
  return body;
}

async function expectStatus(name: string, status: number, call: () => Promise<{ status: number }>) {
  const res = await call();
  statuses.set(name, res.status);
  expect(res.status, name).toBe(status);
}

describe('no identifier in any log line', () => {
  it('refuses requests carrying marker ids on every path without writing a marker to the log', async () => {
    const renal = '/cds-services/renal-test';
    await expectStatus('missing hook', 400, () => {
      const body = marked();
      delete body.hook;
      return request(app()).post(renal).send(body);
    });
    await expectStatus('malformed context field', 400, () => {
      const body = marked();
      body.context.userId = id('not-a-reference');
      return request(app()).post(renal).send(body);
    });
    await expectStatus('malformed JSON quoting ids', 400, () =>
      request(app())
        .post(renal)
        .set('Content-Type', 'application/json')
        .send(`{"context":{"patientId":"${id('patient')}"`),
    );
    await expectStatus('selection not among the drafts', 400, () =>
      request(app(shipped))
        .post('/cds-services/nsaid-ckd-order-select')
        .send({
          hook: 'order-select',
          hookInstance: randomUUID(),
          context: {
            userId: `Practitioner/${id('user')}`,
            patientId: id('patient'),
            selections: [`MedicationRequest/${id('selected')}`],
            draftOrders: {
              resourceType: 'Bundle',
              type: 'collection',
              entry: [{ resource: medicationRequest(id('order'), '5640', 'Ibuprofen') }],
            },
          },
        }),
    );
    await expectStatus('malformed FHIR data (reject)', 400, () => {
      const body = marked();
      body.prefetch.egfr.entry[0].resource.status = [id('status')];
      return request(app(basic, { fhirCheck: 'reject' }))
        .post(renal)
        .send(body);
    });
    await expectStatus('a value CQL cannot compute with', 400, () => {
      const obs = egfrObservation(id('obs'), 25, '2026-05-01');
      (obs.valueQuantity as Record<string, unknown>).value = 1e25;
      return request(app(basic, { fhirCheck: 'off' }))
        .post(renal)
        .send(marked({ egfr: [obs] }));
    });
    await expectStatus('an impossible date in the data', 400, () => {
      const body = marked();
      body.prefetch.patient.birthDate = '1950-02-30';
      return request(app()).post(renal).send(body);
    });
    await expectStatus('prefetch missing without fhirServer', 412, () =>
      request(app())
        .post(renal)
        .send(marked({ prefetch: false })),
    );
    await expectStatus('prefetch the FHIR server cannot give', 412, () =>
      request(app(basic, {}, () => Promise.resolve(new Response('no', { status: 404 }))))
        .post(renal)
        .send({ ...marked({ prefetch: false }), fhirServer: `https://fhir.example/${id('tenant')}` }),
    );
    await expectStatus('a searchset with a next link and no fhirServer', 412, () => {
      const body = marked();
      body.prefetch.egfr.link = [{ relation: 'next', url: `https://fhir.example/Observation?patient=${id('p')}` }];
      return request(app()).post(renal).send(body);
    });
    await expectStatus('more resources than one call may evaluate', 422, () =>
      request(app(basic, { maxResourcesPerCall: 1 }))
        .post(renal)
        .send(marked()),
    );
    await expectStatus('past the call deadline', 503, () =>
      request(app(basic, { callDeadlineMs: 1 }))
        .post(renal)
        .send(
          marked({ egfr: Array.from({ length: 2000 }, (_, i) => egfrObservation(id(`obs${i}`), 30, '2026-05-01')) }),
        ),
    );
    await expectStatus('a body over the limit', 413, () =>
      request(app(basic, { bodyLimitBytes: 1000 }))
        .post(renal)
        .send({ ...marked(), padding: id('x').repeat(200) }),
    );
    await expectStatus('a body that is not JSON', 415, () =>
      request(app()).post(renal).set('Content-Type', 'text/plain').send(id('patient')),
    );
    await expectStatus('a wrong method', 405, () =>
      request(app())
        .get(renal)
        .query({ patient: id('patient') }),
    );

    // Feedback: unknown card, unknown suggestion, impossible date, too many suggestions.
    const served = await request(app()).post(renal).send(marked()).expect(200);
    const card = served.body.cards[0] as { uuid: string; suggestions: Array<{ uuid: string }> };
    const feedback = (item: Record<string, unknown>) =>
      request(app())
        .post(`${renal}/feedback`)
        .send({ feedback: [item] });
    await expectStatus('feedback on an unknown card', 400, () =>
      feedback({ card: id('card'), outcome: 'overridden', outcomeTimestamp: '2026-06-01T12:01:00Z' }),
    );
    await expectStatus('feedback naming an unknown suggestion', 400, () =>
      feedback({
        card: card.uuid,
        outcome: 'accepted',
        acceptedSuggestions: [{ id: id('suggestion') }],
        outcomeTimestamp: '2026-06-01T12:01:00Z',
      }),
    );
    await expectStatus('feedback with an impossible date', 400, () =>
      feedback({ card: id('card'), outcome: 'overridden', outcomeTimestamp: '2026-02-30T12:01:00Z' }),
    );
    await expectStatus('feedback with a malformed item', 400, () => feedback({ card: id('card'), outcome: id('x') }));
    await expectStatus('a report with a malformed parameter', 400, () =>
      request(app())
        .get('/uptake/report')
        .query({ from: id('date'), client: id('client'), rule: id('rule') })
        .set(asAdmin('quality')),
    );
    await expectStatus('a report without an admin key', 401, () =>
      request(app())
        .get('/uptake/report')
        .query({ client: id('client') }),
    );
    await expectStatus('an explanation of an unknown card', 404, () =>
      request(app())
        .get(`/admin/explain/${id('card')}`)
        .set(asAdmin('knowledge')),
    );
    await expectStatus('a path no route knows', 404, () => request(app()).get(`/Patient/${id('patient')}`));
    // What a caller puts in the path of a hook call or its feedback, or in hookInstance when it is not a UUID.
    await expectStatus('a hook call of a service id no service has', 404, () =>
      request(app())
        .post(`/cds-services/${id('patient')}`)
        .send(marked()),
    );
    await expectStatus('feedback for a service id no service has', 404, () =>
      request(app())
        .post(`/cds-services/${id('patient')}/feedback`)
        .send({ feedback: [{ card: 'c', outcome: 'overridden', outcomeTimestamp: '2026-06-01T12:00:00Z' }] }),
    );
    const notUuid = marked();
    notUuid.hookInstance = id('mrn');
    await request(app()).post(renal).send(notUuid).expect(200);
    notUuid.context.userId = id('not-a-reference');
    await request(app()).post(renal).send(notUuid).expect(400);

    // A search holding fewer matches than it announces (and no next link) is evaluated and logged by its key only.
    const short = marked();
    short.prefetch.egfr.total = 5;
    await request(app()).post(renal).send(short).expect(200);

    await t.store.flush();
    const text = logs.text();
    expect(
      logs.lines.some(
        (l) => String(l.message).includes('evaluated with part') && JSON.stringify(l.prefetchKeys) === '["egfr"]',
      ),
    ).toBe(true);
    const carrying = logs.lines.filter((l) => JSON.stringify(l).includes(MARK));
    expect(carrying, `log lines carrying a marker id:\n${JSON.stringify(carrying, null, 2)}`).toEqual([]);
    // The refusals were logged, by code and location.
    expect(text).toContain('request rejected');
    expect(logs.lines.some((l) => l.at && JSON.stringify(l.at).includes('context.selections[0]'))).toBe(true);
    // Paths are logged by their route: a card's uuid is not.
    expect(logs.lines.some((l) => l.path === '/admin/explain/:card')).toBe(true);
    expect(logs.lines.some((l) => l.path === '/cds-services/:id' && l.status === 404)).toBe(true);
    expect(new Set(statuses.values())).toEqual(new Set([400, 401, 404, 405, 412, 413, 415, 422, 503]));
  }, 120_000);
});
