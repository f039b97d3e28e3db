// Every example request replayed against the shipped knowledge with rollout added to every service:
// a shadow version of each rule set (a draft whose cards say SHADOW and are critical) and an
// experiment by patient with a no-card arm. Each answer must be exactly what the live version
// answers (its expected cards) or, in the no-card arm, exactly {"cards": []}: shadow and suppressed
// cards never reach the EHR.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { fixtureRequests } from '../../bench/fixtures.js';
import { KNOWLEDGE_EXTENSION, type Card } from '../../src/cards/index.js';
import { createShadowQueue, type ShadowQueue } from '../../src/engine/index.js';
import { formatProblem } from '../../src/knowledge/index.js';
import { knowledgeFrom, repoRoot, testApp } from '../support/app.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';

const FIXTURE_NOW = '2026-06-01T12:00:00Z';
const SHADOW_VERSION = '99.0.0';

interface CatalogueService {
  id: string;
  knowledge: { ruleSet: string; version: string };
  rollout?: unknown;
}

let dir: string;
let app: Express;
let store: TestStore;
let shadows: ShadowQueue;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cds-rollout-replay-'));
  for (const part of ['cql', 'rules', 'fixtures']) cpSync(join(repoRoot, part), join(dir, part), { recursive: true });
  const catalogue = JSON.parse(readFileSync(join(repoRoot, 'cds-services.json'), 'utf8')) as {
    services: CatalogueService[];
  };
  for (const service of catalogue.services) {
    const { ruleSet, version } = service.knowledge;
    const live = JSON.parse(readFileSync(join(dir, 'rules', ruleSet, `${version}.json`), 'utf8')) as {
      version: string;
      status: string;
      rules: Array<{ card: { summary: string; indicator: string } }>;
    };
    live.version = SHADOW_VERSION;
    live.status = 'draft';
    for (const rule of live.rules) {
      rule.card.summary = `SHADOW ${rule.card.summary}`;
      rule.card.indicator = 'critical';
    }
    writeFileSync(join(dir, 'rules', ruleSet, `${SHADOW_VERSION}.json`), JSON.stringify(live, null, 2));
    service.rollout = {
      shadow: [{ version: SHADOW_VERSION }],
      experiment: {
        id: `replay-${service.id}`,
        unit: 'patient',
        arms: [
          { name: 'usual', version, weight: 1 },
          { name: 'no-card', version, weight: 1, show: false },
        ],
      },
    };
  }
  writeFileSync(join(dir, 'cds-services.json'), JSON.stringify(catalogue, null, 2));
  const knowledge = await knowledgeFrom(dir);
  expect(knowledge.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  store = await testUptakeStore('sqlite');
  shadows = createShadowQueue(10_000, (err) => {
    throw err;
  });
  app = testApp({ knowledge, now: FIXTURE_NOW, deps: { uptake: store.store, shadowQueue: shadows } });
}, 120_000);

afterAll(async () => {
  await store?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('every example request with shadow versions and a no-card arm', () => {
  it('answers each with exactly the live cards or no cards, never a shadow or suppressed card', async () => {
    const arms = { usual: 0, 'no-card': 0 };
    let fired = 0;
    for (const fixture of fixtureRequests()) {
      const expected = JSON.parse(
        readFileSync(join(repoRoot, 'fixtures', 'requests', fixture.service, `${fixture.name}.expected.json`), 'utf8'),
      ) as {
        cards: Array<{ rule: string; indicator: string; summary?: string }>;
      };
      const res = await request(app).post(`/cds-services/${fixture.service}`).send(fixture.body).expect(200);
      const cards = res.body.cards as Card[];
      const label = `${fixture.service}/${fixture.name}`;
      expect(JSON.stringify(res.body), label).not.toMatch(/SHADOW|99\.0\.0/);
      if (cards.length === 0 && expected.cards.length > 0) {
        // The no-card arm: nothing at all is sent.
        expect(res.body, label).toEqual({ cards: [] });
        arms['no-card']++;
        continue;
      }
      const actual = cards.map((c) => ({
        rule: (c.extension?.[KNOWLEDGE_EXTENSION] as { rule: string }).rule,
        indicator: c.indicator,
        summary: c.summary,
      }));
      expect(actual, label).toEqual(
        expected.cards.map((e) => ({ rule: e.rule, indicator: e.indicator, summary: e.summary ?? expect.any(String) })),
      );
      for (const card of cards)
        expect((card.extension?.[KNOWLEDGE_EXTENSION] as { arm?: string }).arm, label).toBe('usual');
      if (cards.length > 0) {
        arms.usual++;
        fired++;
      }
    }
    expect(fired).toBeGreaterThan(0);
    expect(arms['no-card']).toBeGreaterThan(0);
    // What was kept: suppressed cards for the no-card calls, a shadow evaluation for every call.
    await shadows.drain();
    await store.store.flush();
    const db = store.store.database;
    const dispositions = await db.selectFrom('uptake_card').select(['disposition', 'summary']).execute();
    expect(dispositions.filter((c) => c.disposition === 'shown').every((c) => !c.summary.startsWith('SHADOW'))).toBe(
      true,
    );
    expect(dispositions.filter((c) => c.disposition === 'shadow').every((c) => c.summary.startsWith('SHADOW'))).toBe(
      true,
    );
    expect(dispositions.filter((c) => c.disposition === 'suppressed').length).toBeGreaterThan(0);
    const shadowEvaluations = await db
      .selectFrom('uptake_evaluation')
      .select('id')
      .where('disposition', '=', 'shadow')
      .execute();
    expect(shadowEvaluations).toHaveLength(fixtureRequests().length);
  });
});
