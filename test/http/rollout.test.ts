// Rollout as an EHR and a knowledge engineer see it: shadow versions never reach an answer, a
// no-card arm answers {"cards": []} while its cards are recorded, assignment is deterministic and
// follows the weights, and a stop is honoured.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { knowledgeFrom, sharedTranslator, testApp, testKnowledge, asAdmin } from '../support/app.js';
import { createEvaluationPool, createShadowQueue, chooseVersion, type ShadowQueue } from '../../src/engine/index.js';
import { createCachingTranslator, loadKnowledge, type Knowledge, type Service } from '../../src/knowledge/index.js';
import { createLogger } from '../../src/logger.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';
import { KNOWLEDGE_EXTENSION, type Card } from '../../src/cards/index.js';

const NOW = '2026-06-01T12:00:00Z';

const view = (userId: string, patientId = 'patient-1') => ({
  hook: 'patient-view',
  hookInstance: randomUUID(),
  context: { userId, patientId },
});

interface Harness {
  app: Express;
  store: TestStore;
  shadows: ShadowQueue;
  knowledge: Knowledge;
  cleanup: () => Promise<void>;
}

/** With `workers` >= 2 calls (and shadow versions) are evaluated on a pool of threads, as CDS_WORKERS does. */
async function harness(workers: number): Promise<Harness> {
  const elmCacheDir = mkdtempSync(join(tmpdir(), 'cds-rollout-elm-'));
  const translator = createCachingTranslator(elmCacheDir, sharedTranslator);
  const knowledge = await loadKnowledge(testKnowledge('rollout'), { translator });
  const store = await testUptakeStore('sqlite');
  const shadows = createShadowQueue(10_000, (err) => {
    throw err;
  });
  const pool =
    workers >= 2
      ? createEvaluationPool({
          size: workers,
          setup: { knowledgeDir: testKnowledge('rollout'), elmCacheDir, shadowLimit: 100 },
          logger: createLogger('error', true),
          recording: true,
        })
      : undefined;
  await pool?.prepare(knowledge);
  const app = testApp({ knowledge, now: NOW, deps: { uptake: store.store, shadowQueue: shadows, evaluator: pool } });
  return {
    app,
    store,
    shadows,
    knowledge,
    cleanup: async () => {
      await pool?.close();
      await store.cleanup();
      rmSync(elmCacheDir, { recursive: true, force: true });
    },
  };
}

const provenance = (card: Card) =>
  card.extension?.[KNOWLEDGE_EXTENSION] as { version: string; experiment?: string; arm?: string };

describe.each([1, 2])('rollout over HTTP, evaluated on %i thread(s)', (workers) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(workers);
  }, 60_000);
  afterAll(async () => {
    await h.cleanup();
  });

  it('loads the rollout of each service from the knowledge', () => {
    expect(h.knowledge.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const trial = h.knowledge.services.find((s) => s.definition.id === 'greeter-trial')!;
    expect(trial.rollout?.shadows.map((r) => r.version)).toEqual(['1.2.0']);
    expect(trial.rollout?.experiment?.arms.map((a) => [a.name, a.ruleSet.version, a.show])).toEqual([
      ['usual', '1.0.0', true],
      ['welcome', '1.1.0', true],
      ['no-card', '1.0.0', false],
    ]);
  });

  it('never answers with a shadow version, and records each shadow evaluation after the answer', async () => {
    const answers: Card[][] = [];
    for (let i = 0; i < 20; i++) {
      const res = await request(h.app)
        .post('/cds-services/greeter-shadow')
        .send(view(`Practitioner/s${i}`))
        .expect(200);
      answers.push(res.body.cards as Card[]);
    }
    for (const cards of answers) {
      expect(cards).toHaveLength(1);
      expect(cards[0].summary).toMatch(/^Hello Practitioner\/s\d+$/);
      expect(provenance(cards[0]).version).toBe('1.0.0');
      expect(provenance(cards[0]).arm).toBeUndefined();
    }
    await h.shadows.drain();
    await h.store.store.flush();
    const rows = await h.store.store.database
      .selectFrom('uptake_evaluation')
      .select(['disposition', 'rule_set_version', 'card_count', 'status'])
      .where('service_id', '=', 'greeter-shadow')
      .execute();
    const count = (disposition: string, version: string) =>
      rows.filter((r) => r.disposition === disposition && r.rule_set_version === version).length;
    expect(count('shown', '1.0.0')).toBe(20);
    expect(count('shadow', '1.1.0')).toBe(20);
    expect(count('shadow', '1.2.0')).toBe(20);
    expect(rows.every((r) => r.status === 'ok' && r.card_count === 1)).toBe(true);
    const shadowCards = await h.store.store.database
      .selectFrom('uptake_card')
      .select(['summary', 'disposition'])
      .where('service_id', '=', 'greeter-shadow')
      .where('disposition', '=', 'shadow')
      .execute();
    expect(shadowCards).toHaveLength(40);
    expect(shadowCards.some((c) => c.summary.startsWith('Welcome'))).toBe(true);
    expect(shadowCards.some((c) => c.summary.startsWith('Hi'))).toBe(true);
  });

  it('answers a no-card arm with no cards, and records its cards as suppressed', async () => {
    const byArm = new Map<string, number>();
    const empties: string[] = [];
    for (let i = 0; i < 60; i++) {
      const user = `Practitioner/t${i}`;
      const res = await request(h.app).post('/cds-services/greeter-trial').send(view(user)).expect(200);
      const cards = res.body.cards as Card[];
      if (cards.length === 0) {
        expect(res.body).toEqual({ cards: [] });
        empties.push(user);
        continue;
      }
      expect(cards).toHaveLength(1);
      const p = provenance(cards[0]);
      expect(p.experiment).toBe('greeting-2026');
      expect(['usual', 'welcome']).toContain(p.arm);
      expect(cards[0].summary).toBe(`${p.arm === 'usual' ? 'Hello' : 'Welcome'} ${user}`);
      // The shadow version (a warning) is never what an EHR gets.
      expect(cards[0].indicator).toBe('info');
      byArm.set(p.arm!, (byArm.get(p.arm!) ?? 0) + 1);
    }
    expect(empties.length).toBeGreaterThan(0);
    expect(byArm.get('usual')).toBeGreaterThan(0);
    expect(byArm.get('welcome')).toBeGreaterThan(0);
    await h.shadows.drain();
    await h.store.store.flush();
    const db = h.store.store.database;
    const suppressed = await db
      .selectFrom('uptake_card')
      .select(['arm', 'summary', 'experiment_id'])
      .where('disposition', '=', 'suppressed')
      .execute();
    expect(suppressed).toHaveLength(empties.length);
    expect(
      suppressed.every(
        (c) => c.arm === 'no-card' && c.experiment_id === 'greeting-2026' && c.summary.startsWith('Hello'),
      ),
    ).toBe(true);
    const calls = await db
      .selectFrom('uptake_invocation')
      .select(['experiment_arm', 'card_count'])
      .where('service_id', '=', 'greeter-trial')
      .execute();
    expect(calls).toHaveLength(60);
    expect(calls.filter((c) => c.experiment_arm === 'no-card').every((c) => c.card_count === 0)).toBe(true);
    // The shadow version ran on every call of every arm.
    const shadowRows = await db
      .selectFrom('uptake_evaluation')
      .select('id')
      .where('service_id', '=', 'greeter-trial')
      .where('disposition', '=', 'shadow')
      .execute();
    expect(shadowRows).toHaveLength(60);
  });

  it('gives one practitioner the same arm on every call', async () => {
    const arms = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const res = await request(h.app)
        .post('/cds-services/greeter-trial')
        .send(view('Practitioner/same', `patient-${i}`))
        .expect(200);
      const cards = res.body.cards as Card[];
      arms.add(cards.length === 0 ? 'no-card' : provenance(cards[0]).arm!);
    }
    expect(arms.size).toBe(1);
  });

  it('serves the live version before the start, and records why the call was not in the experiment', async () => {
    const res = await request(h.app).post('/cds-services/greeter-later').send(view('Practitioner/early')).expect(200);
    expect(provenance(res.body.cards[0]).arm).toBeUndefined();
    expect(res.body.cards[0].summary).toBe('Hello Practitioner/early');
    await h.store.store.flush();
    const row = await h.store.store.database
      .selectFrom('uptake_invocation')
      .select(['experiment_id', 'experiment_arm', 'experiment_reason'])
      .where('service_id', '=', 'greeter-later')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ experiment_id: 'greeting-2030', experiment_arm: null, experiment_reason: 'not-started' });
  });

  it('records a call without the unit id as not in the experiment', async () => {
    const res = await request(h.app)
      .post('/cds-services/greeter-patients')
      .send({ hook: 'patient-view', hookInstance: randomUUID(), context: { userId: 'Practitioner/x', patientId: '' } });
    // patientId is required by patient-view: the request is refused, nothing is randomised.
    expect(res.status).toBe(400);
  });

  it('stops an experiment: later calls get the live version, recorded as stopped; the stop is kept', async () => {
    const stop = await request(h.app)
      .post('/admin/experiments/greeting-2026/stop')
      .set(asAdmin('knowledge'))
      .send({ reason: 'interim look' })
      .expect(200);
    expect(stop.body).toMatchObject({ experiment: 'greeting-2026', reason: 'interim look', alreadyStopped: false });
    expect(typeof stop.body.stoppedAt).toBe('string');
    const again = await request(h.app)
      .post('/admin/experiments/greeting-2026/stop')
      .set(asAdmin('knowledge'))
      .expect(200);
    expect(again.body).toMatchObject({ alreadyStopped: true, stoppedAt: stop.body.stoppedAt, reason: 'interim look' });
    for (let i = 0; i < 10; i++) {
      const res = await request(h.app)
        .post('/cds-services/greeter-trial')
        .send(view(`Practitioner/t${i}`))
        .expect(200);
      expect(res.body.cards).toHaveLength(1);
      expect(provenance(res.body.cards[0]).arm).toBeUndefined();
      expect(res.body.cards[0].summary).toBe(`Hello Practitioner/t${i}`);
    }
    await h.store.store.flush();
    const stopped = await h.store.store.database
      .selectFrom('uptake_invocation')
      .select('id')
      .where('experiment_id', '=', 'greeting-2026')
      .where('experiment_reason', '=', 'stopped')
      .execute();
    expect(stopped).toHaveLength(10);
  });

  it('refuses to stop an unknown experiment, without the knowledge role, or with a malformed reason', async () => {
    const unknown = await request(h.app).post('/admin/experiments/no-such/stop').set(asAdmin('knowledge')).expect(404);
    expect(unknown.body.issue[0].diagnostics).toMatch(/no experiment with id 'no-such'/);
    await request(h.app).post('/admin/experiments/greeting-by-patient/stop').set(asAdmin('quality')).expect(403);
    const bad = await request(h.app)
      .post('/admin/experiments/greeting-by-patient/stop')
      .set(asAdmin('knowledge'))
      .send({ reason: 42 })
      .expect(400);
    expect(bad.body.issue[0].expression).toEqual(['reason']);
    await request(h.app).get('/admin/experiments/greeting-by-patient/stop').set(asAdmin('knowledge')).expect(405);
    // A reason in another media type is not silently dropped.
    await request(h.app)
      .post('/admin/experiments/greeting-by-patient/stop')
      .set(asAdmin('knowledge'))
      .set('Content-Type', 'text/plain')
      .send('{"reason": "harm at site 2"}')
      .expect(415);
  });
});

describe('assignment', () => {
  let store: TestStore;
  let service: Service;
  beforeAll(async () => {
    const knowledge = await knowledgeFrom(testKnowledge('rollout'));
    service = knowledge.services.find((s) => s.definition.id === 'greeter-patients')!;
    store = await testUptakeStore('sqlite');
  }, 60_000);
  afterAll(async () => {
    await store.cleanup();
  });

  it('puts 10,000 units in the arms with the shares of the weights, within binomial bounds', () => {
    const rollout = {
      assign: (experiment: NonNullable<NonNullable<Service['rollout']>['experiment']>, unit: string) =>
        store.store.assignArm(experiment.id, unit, experiment.arms),
      isStopped: () => false,
    };
    const counts = new Map<string, number>();
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const choice = chooseVersion(
        service,
        { hook: 'patient-view', context: { patientId: `p-${i}`, userId: 'Practitioner/1' } } as never,
        new Date(NOW),
        undefined,
        rollout,
      );
      counts.set(choice.experiment!.arm!, (counts.get(choice.experiment!.arm!) ?? 0) + 1);
    }
    // Weights 3 : 1. Within 4 standard deviations of n·p (a false alarm about once in 16,000 runs).
    const expected = n * 0.75;
    const sd = Math.sqrt(n * 0.75 * 0.25);
    expect(Math.abs(counts.get('usual')! - expected)).toBeLessThan(4 * sd);
    expect(counts.get('usual')! + counts.get('welcome')!).toBe(n);
  });

  it('assigns by the keyed hash, not by the look of the id: consecutive ids fall in both arms', () => {
    const arms = ['a', 'b'].map((name) => ({ name, weight: 1 }));
    const picks = Array.from({ length: 40 }, (_, i) => store.store.assignArm('exp', `Practitioner/${i}`, arms).name);
    const evenOdd = picks.every((p, i) => p === (i % 2 === 0 ? picks[0] : picks[1]));
    expect(evenOdd).toBe(false);
    expect(new Set(picks).size).toBe(2);
    // Another experiment assigns independently.
    const other = Array.from({ length: 40 }, (_, i) => store.store.assignArm('exp-2', `Practitioner/${i}`, arms).name);
    expect(other).not.toEqual(picks);
  });
});
