// A rule set may declare a rule's expected firing rate: its detector monitors from the version's first call
// and catches a rule that never fires at all, which a learned baseline cannot.
import { afterEach, beforeEach, expect, it } from 'vitest';
import request from 'supertest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureRequests } from '../../bench/fixtures.js';
import { asAdmin, knowledgeFrom, repoRoot, testApp, testKnowledge } from '../support/app.js';
import { createKnowledgeHolder } from '../../src/knowledge/index.js';
import { testUptakeStore, type TestStore } from './support.js';

let t: TestStore;
beforeEach(async () => {
  t = await testUptakeStore('sqlite');
});
afterEach(async () => {
  await t.cleanup();
});

const START = Date.parse('2026-02-02T08:00:00Z');

function call(i: number): Parameters<TestStore['store']['record']>[0] {
  return {
    serviceId: 'svc-declared',
    hook: 'patient-view',
    startedAt: new Date(START + i * 60_000),
    durationMs: 5,
    status: 200,
    context: { patientId: `p${i}` },
    evaluations: [{ disposition: 'shown', ruleSet: 'rs', version: '1.0.0', cql: [], status: 'ok', cards: [] }],
  };
}

it('alarms on a declared rule that never fires, with the declared rate as the rate before', async () => {
  t.store.declareFiringRates('svc-declared', 'rs', '1.0.0', { 'never-fires': 0.5 });
  // At 50 %, 18 silent calls in a row have probability 2·10⁻⁶.
  for (let i = 0; i < 30; i++) t.store.record(call(i));
  const { alerts } = await t.store.alerts({});
  const rule = alerts.filter((a) => a.rule === 'never-fires');
  expect(rule).toHaveLength(1);
  expect(rule[0]).toMatchObject({
    direction: 'down',
    method: 'silence-run',
    before: { rate: 0.5, calls: 0 },
    after: { rate: 0, calls: 18 },
  });
});

it('learns the baseline of rules that declare nothing', async () => {
  for (let i = 0; i < 30; i++) t.store.record(call(i));
  const { alerts, detectors } = await t.store.alerts({});
  expect(alerts).toEqual([]);
  expect(detectors.learning).toBeGreaterThan(0);
});

it.each([
  ['the rule set the server serves (expectedFiringRate)', false],
  ['the served knowledge, for calls another instance wrote', true],
])('takes the declared rates from %s', async (_name, otherInstance) => {
  const dir = mkdtempSync(join(tmpdir(), 'cds-declared-'));
  try {
    for (const entry of ['cds-services.json', 'cql', 'rules'])
      cpSync(join(repoRoot, entry), join(dir, entry), { recursive: true });
    const file = join(dir, 'rules', 'diabetes-hba1c', '1.0.0.json');
    const ruleSet = JSON.parse(readFileSync(file, 'utf8')) as {
      rules: Array<{ id: string; expectedFiringRate?: number }>;
    };
    ruleSet.rules.find((r) => r.id === 'hba1c-overdue')!.expectedFiringRate = 0.5;
    writeFileSync(file, JSON.stringify(ruleSet, null, 2));
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.problems.filter((p) => p.severity === 'error')).toEqual([]);
    if (otherInstance) {
      // Calls another instance wrote: this one has served none, and knows the declared rate from its knowledge.
      const live = knowledge.services.find((s) => s.definition.id === 'diabetes-hba1c')!.ruleSet;
      const app = testApp({ knowledge, deps: { uptake: t.store, clock: () => new Date(START) } });
      for (let i = 0; i < 20; i++) {
        t.store.record({
          ...call(i),
          serviceId: 'diabetes-hba1c',
          evaluations: [
            { disposition: 'shown', ruleSet: live.id, version: live.version, cql: [], status: 'ok', cards: [] },
          ],
        });
      }
      const res = await request(app).get('/uptake/alerts').set(asAdmin('quality')).expect(200);
      expect(res.body.alerts).toEqual([
        expect.objectContaining({ rule: 'hba1c-overdue', direction: 'down', before: { rate: 0.5, calls: 0 } }),
      ]);
      return;
    }
    let now = START;
    const app = testApp({ knowledge, deps: { uptake: t.store, clock: () => new Date(now) } });
    const quiet = fixtureRequests().find((f) => f.service === 'diabetes-hba1c' && f.name === 'prediabetes-only')!;
    for (let i = 0; i < 20; i++) {
      now += 60_000;
      await request(app).post('/cds-services/diabetes-hba1c').send(quiet.body).expect(200);
    }
    const res = await request(app).get('/uptake/alerts').set(asAdmin('quality')).expect(200);
    expect(res.body.alerts).toEqual([
      expect.objectContaining({ rule: 'hba1c-overdue', direction: 'down', before: { rate: 0.5, calls: 0 } }),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('takes the declared rates of knowledge swapped in by a reload, before this instance serves a call on it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cds-declared-reload-'));
  try {
    for (const entry of ['cds-services.json', 'cql', 'rules'])
      cpSync(join(repoRoot, entry), join(dir, entry), { recursive: true });
    // Served first: knowledge without the service (a reload adds it).
    const holder = createKnowledgeHolder(await knowledgeFrom(testKnowledge('basic')));
    testApp({
      knowledge: holder.current(),
      deps: { knowledge: holder, uptake: t.store, clock: () => new Date(START) },
    });
    const file = join(dir, 'rules', 'diabetes-hba1c', '1.0.0.json');
    const ruleSet = JSON.parse(readFileSync(file, 'utf8')) as {
      rules: Array<{ id: string; expectedFiringRate?: number }>;
    };
    ruleSet.rules.find((r) => r.id === 'hba1c-overdue')!.expectedFiringRate = 0.5;
    writeFileSync(file, JSON.stringify(ruleSet, null, 2));
    holder.swap(await knowledgeFrom(dir));
    const live = holder.current().services.find((s) => s.definition.id === 'diabetes-hba1c')!.ruleSet;
    // Calls another instance wrote on the reloaded knowledge: this one has served none since the reload.
    for (let i = 0; i < 20; i++) {
      t.store.record({
        ...call(i),
        serviceId: 'diabetes-hba1c',
        evaluations: [
          { disposition: 'shown', ruleSet: live.id, version: live.version, cql: [], status: 'ok', cards: [] },
        ],
      });
    }
    const { alerts } = await t.store.alerts({});
    expect(alerts).toEqual([
      expect.objectContaining({ rule: 'hba1c-overdue', direction: 'down', before: { rate: 0.5, calls: 0 } }),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
