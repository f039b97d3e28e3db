// The call sequences of fixtures/sequences/completion.json through the real app on the shipped knowledge:
// every linkage row the ledger records, each card's completion once its window has closed, and the report's
// completion figures over HTTP and `cds uptake report`. Run on SQLite (completion.test.ts) and PostgreSQL.
import { afterAll, beforeAll, expect, it } from 'vitest';
import request from 'supertest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { runCli } from '../../src/cli/program.js';
import type { Card } from '../../src/cards/index.js';
import { asAdmin, knowledgeFrom, repoRoot, sharedTranslator, testApp } from '../support/app.js';
import { createCachingTranslator, loadKnowledge } from '../../src/knowledge/index.js';
import { createEvaluationPool, type EvaluationPool } from '../../src/engine/index.js';
import { createLogger } from '../../src/logger.js';
import { TEST_PSEUDONYM_KEY, testUptakeStore, type StoreKind, type TestStore } from './support.js';

interface Step {
  at: string;
  request: string;
  service?: string;
  hook?: string;
  patientId?: string;
  draftOrders?: unknown[];
  authoredOn?: string;
  /** Resources added to the entries of the request's prefetch Bundles, by key. */
  prefetchEntries?: Record<string, unknown[]>;
}

interface ExpectedLink {
  card: [number, number];
  suggestion: number;
  action: number;
  completed: boolean;
  evidenceStep: number;
  source: string;
  minutes?: number;
}

interface Sequence {
  name: string;
  steps: Step[];
  expected: {
    links: ExpectedLink[];
    cards: Array<{ card: [number, number]; state: string; withoutEvidence?: boolean }>;
  };
}

const SEQUENCES = (
  JSON.parse(readFileSync(join(repoRoot, 'fixtures', 'sequences', 'completion.json'), 'utf8')) as {
    sequences: Sequence[];
  }
).sequences;

/** A step's request: the fixture named, with the step's patient, hook, drafts and authoring time. */
function stepBody(step: Step): { service: string; body: Record<string, any> } {
  const [service, name] = step.request.split('/');
  const body = JSON.parse(
    readFileSync(join(repoRoot, 'fixtures', 'requests', service, `${name}.json`), 'utf8'),
  ) as Record<string, any>;
  body.hookInstance = `${body.hookInstance ?? 'h'}-${step.at}`;
  if (step.hook) {
    body.hook = step.hook;
    if (step.hook !== 'order-select') delete body.context.selections;
  }
  if (step.patientId) body.context.patientId = step.patientId;
  if (step.draftOrders)
    body.context.draftOrders = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: step.draftOrders.map((r) => ({ resource: r })),
    };
  if (step.authoredOn)
    for (const e of body.context.draftOrders?.entry ?? [])
      (e.resource as Record<string, unknown>).authoredOn = step.authoredOn;
  for (const [key, resources] of Object.entries(step.prefetchEntries ?? {}))
    body.prefetch[key].entry = [...(body.prefetch[key].entry ?? []), ...resources.map((resource) => ({ resource }))];
  return { service: step.service ?? service, body };
}

/**
 * With `workers` >= 2 the calls are evaluated on a pool of threads (CDS_WORKERS), which send the ledger the
 * evidence of each call's data instead of the data: the same linkage rows are expected.
 */
export function completionRun(kind: StoreKind, { workers = 1 }: { workers?: number } = {}): void {
  let t: TestStore;
  let app: Express;
  let pool: EvaluationPool | undefined;
  const elmCacheDir = workers >= 2 ? mkdtempSync(join(tmpdir(), 'cds-completion-elm-')) : undefined;
  let now = new Date();
  /** Per sequence, per step: the invocation id and the cards answered (suppressed ones are never answered). */
  const served: Array<Array<{ cards: Card[] }>> = [];

  beforeAll(async () => {
    t = await testUptakeStore(kind);
    const knowledge = elmCacheDir
      ? await loadKnowledge(repoRoot, { translator: createCachingTranslator(elmCacheDir, sharedTranslator) })
      : await knowledgeFrom(repoRoot);
    if (elmCacheDir) {
      pool = createEvaluationPool({
        size: workers,
        setup: { knowledgeDir: repoRoot, elmCacheDir, shadowLimit: 100 },
        logger: createLogger('error', true),
        recording: true,
      });
      await pool.prepare(knowledge);
    }
    app = testApp({
      knowledge,
      config: { uptakeMinCell: 1 },
      deps: { uptake: t.store, clock: () => now, evaluator: pool },
    });
    for (const sequence of SEQUENCES) {
      const steps: Array<{ cards: Card[] }> = [];
      for (const step of sequence.steps) {
        now = new Date(step.at);
        const { service, body } = stepBody(step);
        const res = await request(app).post(`/cds-services/${service}`).send(body);
        expect(res.status, `${sequence.name} ${step.request}: ${JSON.stringify(res.body)}`).toBe(200);
        steps.push({ cards: res.body.cards as Card[] });
        // Each call is written before the next comes, as calls minutes apart are.
        await t.store.flush();
      }
      served.push(steps);
    }
  }, 60_000);
  afterAll(async () => {
    await pool?.close();
    await t?.cleanup();
    if (elmCacheDir) rmSync(elmCacheDir, { recursive: true, force: true });
  });

  const linkRows = async () =>
    t.store.database
      .selectFrom('uptake_completion as c')
      .innerJoin('uptake_invocation as i', 'i.id', 'c.evidence_invocation_id')
      .select([
        'c.card_uuid',
        'c.suggestion_uuid',
        'c.action_index',
        'c.completed',
        'c.evidence_source',
        'c.evidence_hook',
        'c.time_to_completion_ms',
        'i.hook_instance',
        'i.started_at',
      ])
      .execute();

  it('records every linkage row the sequences expect, and no other', async () => {
    const rows = await linkRows();
    const expected = SEQUENCES.flatMap((sequence, s) =>
      sequence.expected.links.map((link) => {
        const card = served[s][link.card[0]].cards[link.card[1]];
        const evidence = stepBody(sequence.steps[link.evidenceStep]);
        return {
          card_uuid: card.uuid,
          suggestion_uuid: card.suggestions![link.suggestion].uuid,
          action_index: link.action,
          completed: link.completed ? 1 : 0,
          evidence_source: link.source,
          evidence_hook: evidence.body.hook,
          hook_instance: evidence.body.hookInstance,
          started_at: Date.parse(sequence.steps[link.evidenceStep].at),
        };
      }),
    );
    const key = (r: { card_uuid?: string; suggestion_uuid?: string; action_index: number }) =>
      `${r.card_uuid}/${r.suggestion_uuid}/${r.action_index}`;
    const sort = <T extends { card_uuid?: string; suggestion_uuid?: string; action_index: number }>(list: T[]) =>
      [...list].sort((a, b) => key(a).localeCompare(key(b)));
    expect(
      sort(rows.map(({ time_to_completion_ms: _, ...r }) => ({ ...r, started_at: Number(r.started_at) }))),
    ).toEqual(sort(expected));
  });

  it('measures the time to completion from the card to the call that showed it', async () => {
    const rows = await linkRows();
    for (const [s, sequence] of SEQUENCES.entries()) {
      for (const link of sequence.expected.links) {
        const card = served[s][link.card[0]].cards[link.card[1]];
        const row = rows.find(
          (r) =>
            r.card_uuid === card.uuid &&
            r.suggestion_uuid === card.suggestions![link.suggestion].uuid &&
            r.action_index === link.action,
        )!;
        if (link.minutes === undefined) expect(row.time_to_completion_ms).toBeNull();
        else {
          // From the answer (the card's call start plus its duration) to the later call's start.
          const ms = Number(row.time_to_completion_ms);
          expect(ms).toBeLessThanOrEqual(link.minutes * 60_000);
          expect(ms).toBeGreaterThan(link.minutes * 60_000 - 30_000);
        }
      }
    }
  });

  const expectedByService = () => {
    const out = new Map<string, { completed: number; notCompleted: number; withoutEvidence: number }>();
    for (const [s, sequence] of SEQUENCES.entries()) {
      for (const c of sequence.expected.cards) {
        const step = sequence.steps[c.card[0]];
        const service = stepBody(step).service;
        const e = out.get(service) ?? { completed: 0, notCompleted: 0, withoutEvidence: 0 };
        if (c.state === 'completed') e.completed++;
        else e.notCompleted++;
        if (c.withoutEvidence) e.withoutEvidence++;
        out.set(service, e);
        expect(served[s][c.card[0]].cards[c.card[1]]).toBeDefined();
      }
    }
    return out;
  };

  it('reports completion next to acceptance, per service, over the cards whose window has closed', async () => {
    const res = await request(app).get('/uptake/report?groupBy=service').set(asAdmin('quality')).expect(200);
    const rows = res.body.rows as Array<{ group: { service: string }; completion: Record<string, any> }>;
    const expected = expectedByService();
    for (const [service, e] of expected) {
      const row = rows.find((r) => r.group.service === service)!;
      expect(row.completion, service).toMatchObject({
        completed: e.completed,
        notCompleted: e.notCompleted,
        cardsDecided: e.completed + e.notCompleted,
        open: 0,
        notCompletedWithoutEvidence: e.withoutEvidence,
      });
      expect(row.completion.completion.rate).toBe(
        Math.round((e.completed / (e.completed + e.notCompleted)) * 10000) / 10000,
      );
    }
    // Services whose cards suggest nothing matchable are measured as none, never as zero completed.
    const hba1c = rows.find((r) => r.group.service === 'diabetes-hba1c')!;
    expect(hba1c.completion.timeToCompletionSeconds.median).toBeGreaterThan(3 * 3600 - 30);
    expect(hba1c.completion.byFeedback.none).toEqual({ completed: 1, notCompleted: 0, open: 0 });
  });

  it('crosses completion with the feedback outcome: accepted but not done, overridden but done', async () => {
    const signed = served[2][0].cards[0];
    const ordered = served[0][0].cards[0];
    await request(app)
      .post('/cds-services/nsaid-ckd-order-select/feedback')
      .send({
        feedback: [
          {
            card: signed.uuid,
            outcome: 'accepted',
            acceptedSuggestions: [{ id: signed.suggestions![0].uuid }],
            outcomeTimestamp: '2026-06-03T14:01:00Z',
          },
        ],
      })
      .expect(200);
    await request(app)
      .post('/cds-services/diabetes-hba1c/feedback')
      .send({
        feedback: [
          {
            card: ordered.uuid,
            outcome: 'overridden',
            overrideReason: { reason: { system: 'http://example.org/local', code: 'later' } },
            outcomeTimestamp: '2026-06-01T08:01:00Z',
          },
        ],
      })
      .expect(200);
    const res = await request(app).get('/uptake/report?groupBy=service').set(asAdmin('quality')).expect(200);
    const rows = res.body.rows as Array<{ group: { service: string }; completion: Record<string, any> }>;
    const select = rows.find((r) => r.group.service === 'nsaid-ckd-order-select')!;
    expect(select.completion.byFeedback).toEqual({
      accepted: { completed: 0, notCompleted: 1, open: 0 },
      overridden: { completed: 0, notCompleted: 0, open: 0 },
      // The naproxen cards of the second and fourth sequences, done without feedback.
      none: { completed: 2, notCompleted: 0, open: 0 },
    });
    const hba1c = rows.find((r) => r.group.service === 'diabetes-hba1c')!;
    expect(hba1c.completion.byFeedback.overridden).toEqual({ completed: 1, notCompleted: 0, open: 0 });
  });

  it('keeps the service window: a later call outside it is no evidence', async () => {
    const windows = await t.store.database.selectFrom('uptake_intent').select('window_ms').distinct().execute();
    expect(windows.map((w) => Number(w.window_ms))).toEqual([72 * 3_600_000]);
    const knowledge = await knowledgeFrom(repoRoot);
    for (const s of knowledge.services)
      if (s.definition.id === 'diabetes-hba1c') s.definition.completionWindowHours = 2;
    const short = testApp({ knowledge, config: { uptakeMinCell: 1 }, deps: { uptake: t.store, clock: () => now } });
    const [first, second] = SEQUENCES[0].steps;
    now = new Date('2026-06-05T08:00:00Z');
    const card = (await request(short).post('/cds-services/diabetes-hba1c').send(stepBody(first).body).expect(200)).body
      .cards[0] as Card;
    await t.store.flush();
    now = new Date('2026-06-05T11:00:00Z');
    await request(short).post('/cds-services/nsaid-ckd-order-sign').send(stepBody(second).body).expect(200);
    await t.store.flush();
    const intent = await t.store.database
      .selectFrom('uptake_intent')
      .select('window_ms')
      .where('card_uuid', '=', card.uuid!)
      .executeTakeFirstOrThrow();
    expect(Number(intent.window_ms)).toBe(2 * 3_600_000);
    const links = await t.store.database
      .selectFrom('uptake_completion')
      .selectAll()
      .where('card_uuid', '=', card.uuid!)
      .execute();
    expect(links).toEqual([]);
  });

  it('records what suppressed cards would do: the experiment report gives completion by assigned arm', async () => {
    const experiment = 'completion-trial';
    const order = {
      resourceType: 'ServiceRequest',
      code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
    };
    const at = Date.parse('2026-05-04T08:00:00Z');
    // Per arm: the first patient's HbA1c is ordered an hour later, the second's never.
    const patients = [
      { arm: 'card', disposition: 'shown' as const, ordered: true },
      { arm: 'card', disposition: 'shown' as const, ordered: false },
      { arm: 'no-card', disposition: 'suppressed' as const, ordered: true },
      { arm: 'no-card', disposition: 'suppressed' as const, ordered: false },
    ];
    patients.forEach((p, i) => {
      const patientId = `arm-patient-${i}`;
      const started = new Date(at + i * 60_000);
      t.store.record({
        serviceId: 'diabetes-hba1c',
        hook: 'patient-view',
        hookInstance: `arm-${i}`,
        startedAt: started,
        durationMs: 10,
        status: 200,
        context: { patientId, userId: 'Practitioner/arm-doc' },
        experiment: { id: experiment, arm: p.arm, unit: { kind: 'patient', id: patientId } },
        evaluations: [
          {
            disposition: p.disposition,
            ruleSet: 'diabetes-hba1c',
            version: '1.0.0',
            cql: [],
            experiment: { id: experiment, arm: p.arm },
            status: 'ok',
            cards: [
              {
                rule: 'hba1c-overdue',
                card: {
                  uuid: `arm-card-${i}`,
                  indicator: 'info',
                  summary: 'HbA1c due',
                  suggestions: [
                    {
                      uuid: `arm-suggestion-${i}`,
                      label: 'Order HbA1c',
                      actions: [{ type: 'create', resource: order }],
                    },
                  ],
                },
              },
            ],
          },
        ],
      });
      if (p.ordered) {
        t.store.record({
          serviceId: 'nsaid-ckd-order-sign',
          hook: 'order-sign',
          hookInstance: `arm-sign-${i}`,
          startedAt: new Date(started.getTime() + 3_600_000),
          durationMs: 10,
          status: 200,
          context: {
            patientId,
            draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...order, id: 'x' } }] },
          },
          evaluations: [],
        });
      }
    });
    await t.store.flush();
    const report = (await t.store.experimentReport(experiment))!;
    const byArm = Object.fromEntries(report.arms.map((a) => [a.arm, a.completion]));
    for (const arm of ['card', 'no-card']) {
      expect(byArm[arm], arm).toMatchObject({
        cardsMeasured: 2,
        completed: 1,
        notCompleted: 1,
        completion: { rate: 0.5 },
        timeToCompletionSeconds: { median: 3600 - 0.01, p90: 3600 - 0.01 },
        byFeedback: { none: { completed: 1, notCompleted: 1, open: 0 } },
      });
    }
    expect(report.comparisons[0].completion.difference).toBe(0);
    const http = await request(app).get(`/uptake/experiments/${experiment}`).set(asAdmin('quality')).expect(200);
    expect(http.body.arms.map((a: { completion: unknown }) => a.completion)).toEqual(
      report.arms.map((a) => a.completion),
    );
    const csv = (
      await request(app).get(`/uptake/experiments/${experiment}?format=csv`).set(asAdmin('quality')).expect(200)
    ).text.split('\r\n');
    const header = csv[0].split(',');
    const noCard = csv.find((l) => l.startsWith(`experiment,${experiment},`) && l.includes(',no-card,'))!.split(',');
    expect(noCard[header.indexOf('completionRate')]).toBe('0.5');
    expect(noCard[header.indexOf('completed')]).toBe('1');
  });

  it('gives the same completion figures with `cds uptake report`, and withholds small cells as withheld', async () => {
    const env = {
      CDS_DATA_DIR: t.config.dataDir,
      ...(t.config.databaseUrl ? { CDS_DATABASE_URL: t.config.databaseUrl } : {}),
      CDS_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY,
      CDS_UPTAKE_MIN_CELL: '1',
    };
    let out = '';
    const code = await runCli(['uptake', 'report', '--group-by', 'service'], {
      env,
      io: { stdout: (s) => (out += s), stderr: () => undefined },
    });
    expect(code).toBe(0);
    const http = (await request(app).get('/uptake/report?groupBy=service').set(asAdmin('quality')).expect(200)).body;
    expect(JSON.parse(out).rows.map((r: { completion: unknown }) => r.completion)).toEqual(
      http.rows.map((r: { completion: unknown }) => r.completion),
    );
    let withheld = '';
    await runCli(['uptake', 'report', '--group-by', 'service'], {
      env: { ...env, CDS_UPTAKE_MIN_CELL: '5' },
      io: { stdout: (s) => (withheld += s), stderr: () => undefined },
    });
    const row = (JSON.parse(withheld).rows as Array<Record<string, any>>).find(
      (r) => r.group.service === 'nsaid-ckd-order-select',
    )!;
    expect(row.completion.completed).toBeNull();
    expect(row.completion.completion).toEqual({ rate: null, low: null, high: null });
    expect(row.suppressed).toEqual(expect.arrayContaining(['completion.completed', 'completion.completion']));
  });
}
