// Bounds of one hook call: its deadline covers the evaluation, its work budget, and the numbers and
// dates CQL cannot compute with, refused before evaluation in every CDS_FHIR_CHECK mode.
import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { egfrObservation, renalRequest } from '../support/requests.js';
import { invokeService } from '../../src/engine/index.js';
import { CdsError } from '../../src/errors.js';
import { servicesById, type Knowledge } from '../../src/knowledge/index.js';
import type { Config } from '../../src/config.js';
import type { UptakeStore } from '../../src/uptake/index.js';

const NOW = '2026-06-01T12:00:00Z';
let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

const app = (config: Partial<Config> = {}) => testApp({ knowledge, now: NOW, config });

describe('the call deadline (CDS_CALL_DEADLINE_MS)', () => {
  it('stops the evaluation at the next CQL define once the deadline has passed, with 503 call-deadline', async () => {
    const service = servicesById(knowledge, 'renal-test')[0];
    const expressions = service.ruleSet.library!.expressions as unknown as Record<
      string,
      { context?: string; execute: (ctx: unknown) => Promise<unknown> }
    >;
    const names = Object.keys(expressions).filter((n) => expressions[n].context === 'Patient');
    expect(names.length).toBeGreaterThan(1);
    const deadline = { at: performance.now() + 60_000, ms: 60_000 };
    const executed: string[] = [];
    const restore: Array<() => void> = [];
    for (const name of names) {
      const original = expressions[name].execute;
      expressions[name].execute = async function (this: unknown, ctx: unknown) {
        executed.push(name);
        // The first define takes the call past its deadline.
        deadline.at = performance.now() - 1;
        return original.call(this, ctx);
      };
      restore.push(() => (expressions[name].execute = original));
    }
    try {
      const err = await invokeService(knowledge, 'renal-test', renalRequest(), {
        clock: () => new Date(NOW),
        prefetch: { timeoutMs: 100, maxPages: 1 },
        deadline,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CdsError);
      expect((err as CdsError).status).toBe(503);
      expect((err as CdsError).code).toBe('call-deadline');
      expect((err as CdsError).message).toContain('deadline of 60000 ms');
      expect(executed).toEqual([names[0]]);
    } finally {
      for (const r of restore) r();
    }
  });

  it('answers 200 within a deadline that leaves time for the evaluation', async () => {
    await request(app({ callDeadlineMs: 60_000 }))
      .post('/cds-services/renal-test')
      .send(renalRequest())
      .expect(200);
  });

  it('answers when the ledger write before the answer hangs, once the deadline is near, and records the call once', async () => {
    let writes = 0;
    let queued = 0;
    const hanging = {
      noteInUse: () => undefined,
      recordNow: () => {
        writes++;
        return new Promise<void>(() => undefined);
      },
      record: () => {
        queued++;
      },
      recordServed: () => undefined,
      declareFiringRates: () => undefined,
    } as unknown as UptakeStore;
    const started = Date.now();
    await request(testApp({ knowledge, now: NOW, config: { callDeadlineMs: 300 }, deps: { uptake: hanging } }))
      .post('/cds-services/renal-test')
      .send(renalRequest())
      .expect(200);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(writes).toBe(1);
    expect(queued).toBe(0);
  });

  it('answers 503 over HTTP, with an OperationOutcome naming the setting', async () => {
    const egfr = Array.from({ length: 3000 }, (_, i) => egfrObservation(`o${i}`, 30, '2026-05-01'));
    const res = await request(app({ callDeadlineMs: 1 }))
      .post('/cds-services/renal-test')
      .send(renalRequest({ egfr }))
      .expect(503);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toContain('CDS_CALL_DEADLINE_MS');
  });
});

describe('the work budget (CDS_MAX_RESOURCES_PER_CALL)', () => {
  it('answers 422 too-much-data before evaluating a call with more resources than the budget', async () => {
    const egfr = Array.from({ length: 5 }, (_, i) => egfrObservation(`o${i}`, 25, '2026-05-01'));
    // Patient 1 + 5 observations + 1 draft order = 7.
    const res = await request(app({ maxResourcesPerCall: 6 }))
      .post('/cds-services/renal-test')
      .send(renalRequest({ egfr }))
      .expect(422);
    expect(res.body.issue[0]).toMatchObject({ code: 'too-costly' });
    expect(res.body.issue[0].diagnostics).toContain('7 FHIR resources, more than the 6');
    await request(app({ maxResourcesPerCall: 7 }))
      .post('/cds-services/renal-test')
      .send(renalRequest({ egfr }))
      .expect(200);
  });
});

describe("CQL's own bounds, in every CDS_FHIR_CHECK mode", () => {
  const cases: Array<[string, (o: Record<string, unknown>) => void, string]> = [
    [
      'a Quantity value above the largest CQL Decimal',
      (o) => ((o.valueQuantity as Record<string, unknown>).value = 1e21),
      'valueQuantity.value',
    ],
    [
      'a Quantity value below the least CQL Decimal',
      (o) => ((o.valueQuantity as Record<string, unknown>).value = -1e20 * 1.5),
      'valueQuantity.value',
    ],
    ['an integer above 2^31 - 1', (o) => (o.valueInteger = 2 ** 31), 'valueInteger'],
    ['a dateTime in year 0000', (o) => (o.effectiveDateTime = '0000-06-01'), 'effectiveDateTime'],
    ['a dateTime of 30 February', (o) => (o.effectiveDateTime = '2026-02-30T10:00:00Z'), 'effectiveDateTime'],
    ['a dateTime at hour 24', (o) => (o.effectiveDateTime = '2026-05-01T24:00:00Z'), 'effectiveDateTime'],
    [
      'a dateTime past 9999-12-31 once in UTC',
      (o) => (o.effectiveDateTime = '9999-12-31T23:00:00-05:00'),
      'effectiveDateTime',
    ],
  ];
  for (const mode of ['off', 'warn', 'reject'] as const) {
    for (const [what, damage, field] of cases) {
      it(`answers 400 naming the place for ${what} (CDS_FHIR_CHECK=${mode})`, async () => {
        const observation = egfrObservation('o-bound', 25, '2026-05-01');
        damage(observation);
        const res = await request(app({ fhirCheck: mode }))
          .post('/cds-services/renal-test')
          .send(renalRequest({ egfr: [observation] }))
          .expect(400);
        expect(res.body.issue[0].expression).toEqual([`prefetch.egfr.entry[0].resource.${field}`]);
      });
    }
  }

  it('accepts the values at the bounds themselves', async () => {
    const observation = egfrObservation('o-edge', 25, '9999-12-31T23:59:59Z');
    observation.valueInteger = 2 ** 31 - 1;
    const res = await request(app({ fhirCheck: 'reject' }))
      .post('/cds-services/renal-test')
      .send(renalRequest({ egfr: [observation, egfrObservation('o-edge2', 1e20, '0001-01-01')] }));
    expect(res.status).toBe(200);
  });
});
