// Replays every example request in fixtures/requests/ through the real app on the shipped
// knowledge and checks it gets exactly the cards its .expected.json names.
import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import { fixtureRequests } from '../../bench/fixtures.js';
import { cardProblems, KNOWLEDGE_EXTENSION, type Card } from '../../src/cards/index.js';
import { formatProblem } from '../../src/knowledge/index.js';
import { knowledgeFrom, repoRoot, testApp } from '../support/app.js';

const FIXTURE_NOW = '2026-06-01T12:00:00Z';

interface Expected {
  asOf?: string;
  cards: Array<{ rule: string; indicator: string; summary?: string }>;
}

const fixtures = fixtureRequests();
let app: Express;

beforeAll(async () => {
  const knowledge = await knowledgeFrom(repoRoot);
  expect(knowledge.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  app = testApp({ knowledge, now: FIXTURE_NOW });
});

describe('shipped knowledge', () => {
  it('serves every service in cds-services.json', async () => {
    const catalogue = JSON.parse(readFileSync(join(repoRoot, 'cds-services.json'), 'utf8')) as {
      services: Array<{ id: string }>;
    };
    const res = await request(app).get('/cds-services').expect(200);
    expect(res.body.services.map((s: { id: string }) => s.id).sort()).toEqual(
      catalogue.services.map((s) => s.id).sort(),
    );
    expect(catalogue.services.length).toBeGreaterThanOrEqual(4);
  });

  it('has example requests that must fire and that must not, for every service', () => {
    const catalogue = JSON.parse(readFileSync(join(repoRoot, 'cds-services.json'), 'utf8')) as {
      services: Array<{ id: string }>;
    };
    for (const { id } of catalogue.services) {
      const mine = fixtures.filter((f) => f.service === id).map((f) => expectedFor(f.service, f.name).cards.length);
      expect(mine.filter((n) => n > 0).length, `${id}: requests that fire`).toBeGreaterThanOrEqual(2);
      expect(mine.filter((n) => n === 0).length, `${id}: requests that must not fire`).toBeGreaterThanOrEqual(3);
    }
  });
});

describe.each(fixtures.map((f) => [`${f.service}/${f.name}`, f] as const))('%s', (_label, fixture) => {
  it('gets exactly the expected cards, each valid and attributed', async () => {
    const expected = expectedFor(fixture.service, fixture.name);
    expect(expected.asOf).toBe(FIXTURE_NOW);
    const res = await request(app).post(`/cds-services/${fixture.service}`).send(fixture.body).expect(200);
    const cards = res.body.cards as Card[];
    const actual = cards.map((c) => ({
      rule: (c.extension?.[KNOWLEDGE_EXTENSION] as { rule: string }).rule,
      indicator: c.indicator,
      summary: c.summary,
    }));
    expect(actual).toEqual(
      expected.cards.map((e) => ({ rule: e.rule, indicator: e.indicator, summary: e.summary ?? expect.any(String) })),
    );
    for (const card of cards) {
      expect(cardProblems(card)).toEqual([]);
      expect((card.extension?.[KNOWLEDGE_EXTENSION] as { service: string }).service).toBe(fixture.service);
    }
  });
});

function expectedFor(service: string, name: string): Expected {
  const file = join(repoRoot, 'fixtures', 'requests', service, `${name}.expected.json`);
  if (!existsSync(file)) throw new Error(`${file} is missing: every example request needs its expected cards`);
  return JSON.parse(readFileSync(file, 'utf8')) as Expected;
}
