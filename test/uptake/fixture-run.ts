// The issue's "done when": every fixture request through the real app on the shipped knowledge,
// feedback for some of the cards, then `cds uptake report` and GET /uptake/report give the same,
// exact figures (worked out here from the fixtures' .expected.json files and the feedback sent).
import { afterAll, beforeAll, expect, it } from 'vitest';
import request from 'supertest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import { fixtureRequests } from '../../bench/fixtures.js';
import { runCli } from '../../src/cli/program.js';
import type { Card } from '../../src/cards/index.js';
import { asAdmin, knowledgeFrom, repoRoot, testApp } from '../support/app.js';
import { TEST_PSEUDONYM_KEY, testUptakeStore, type StoreKind, type TestStore } from './support.js';

const FIXTURE_NOW = '2026-06-01T12:00:00Z';

interface Expectation {
  invocations: number;
  cards: number;
  withFeedback: number;
  accepted: number;
  overridden: number;
  clientAdded: number;
}

export function fixtureUptakeRun(kind: StoreKind): void {
  let t: TestStore;
  let app: Express;
  const expected = new Map<string, Expectation>();

  beforeAll(async () => {
    t = await testUptakeStore(kind);
    app = testApp({
      knowledge: await knowledgeFrom(repoRoot),
      now: FIXTURE_NOW,
      config: { uptakeMinCell: 1 },
      deps: { uptake: t.store },
    });
    const served = new Map<string, Card[]>();
    for (const fixture of fixtureRequests()) {
      const res = await request(app).post(`/cds-services/${fixture.service}`).send(fixture.body).expect(200);
      const wanted = JSON.parse(
        readFileSync(join(repoRoot, 'fixtures', 'requests', fixture.service, `${fixture.name}.expected.json`), 'utf8'),
      ) as { cards: unknown[] };
      const e = expected.get(fixture.service) ?? {
        invocations: 0,
        cards: 0,
        withFeedback: 0,
        accepted: 0,
        overridden: 0,
        clientAdded: 0,
      };
      e.invocations++;
      e.cards += wanted.cards.length;
      expected.set(fixture.service, e);
      served.set(fixture.service, [...(served.get(fixture.service) ?? []), ...(res.body.cards as Card[])]);
    }
    // Per service: the first card accepted (or overridden when it has no suggestion), the second
    // overridden with a reason it offered, the third with a reason of the client's own; the first
    // item sent twice.
    for (const [service, cards] of served) {
      const e = expected.get(service)!;
      const items: unknown[] = [];
      cards.slice(0, 3).forEach((card, i) => {
        const at = new Date(Date.parse(FIXTURE_NOW) + (i + 1) * 60_000).toISOString();
        if (i === 0 && card.suggestions?.length) {
          items.push({
            card: card.uuid,
            outcome: 'accepted',
            acceptedSuggestions: [{ id: card.suggestions[0].uuid }],
            outcomeTimestamp: at,
          });
          e.accepted++;
        } else {
          const offered = i === 1 ? card.overrideReasons?.[0] : undefined;
          const reason = offered ?? { system: 'http://example.org/local', code: 'clinician-judgement' };
          items.push({ card: card.uuid, outcome: 'overridden', overrideReason: { reason }, outcomeTimestamp: at });
          e.overridden++;
          if (!offered) e.clientAdded++;
        }
        e.withFeedback++;
      });
      if (items.length === 0) continue;
      const first = await request(app).post(`/cds-services/${service}/feedback`).send({ feedback: items }).expect(200);
      expect(first.body.issue.map((i: { diagnostics: string }) => i.diagnostics.includes(': stored'))).toEqual(
        items.map(() => true),
      );
      await request(app)
        .post(`/cds-services/${service}/feedback`)
        .send({ feedback: [items[0]] })
        .expect(200);
    }
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('shows, over HTTP, exactly the invocations, cards and outcomes of the fixture run per service', async () => {
    const res = await request(app).get('/uptake/report?groupBy=service').set(asAdmin('quality')).expect(200);
    const rows = res.body.rows as Array<Record<string, any>>;
    expect(rows.map((r) => r.group.service)).toEqual(
      [...expected.keys()].filter((s) => expected.get(s)!.invocations > 0).sort(),
    );
    for (const row of rows) {
      const e = expected.get(row.group.service as string)!;
      expect(row, row.group.service as string).toMatchObject({
        invocations: e.invocations,
        failedInvocations: 0,
        cardsServed: e.cards,
        cardsWithFeedback: e.withFeedback,
        accepted: e.accepted,
        overridden: e.overridden,
      });
      expect(
        row.overrideReasons
          .filter((r: { clientAdded: boolean }) => r.clientAdded)
          .reduce((n: number, r: { count: number }) => n + r.count, 0),
      ).toBe(e.clientAdded);
    }
    const total = [...expected.values()].reduce((n, e) => n + e.cards, 0);
    expect(total).toBeGreaterThan(0);
  });

  it('shows the same figures with `cds uptake report`, as JSON and as CSV', async () => {
    const env = {
      CDS_DATA_DIR: t.config.dataDir,
      ...(t.config.databaseUrl ? { CDS_DATABASE_URL: t.config.databaseUrl } : {}),
      CDS_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY,
      CDS_UPTAKE_MIN_CELL: '1',
    };
    const run = async (args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli(args, { env, io: { stdout: (s) => (out += s), stderr: (s) => (err += s) } });
      return { code, out, err };
    };
    const http = (await request(app).get('/uptake/report?groupBy=service').set(asAdmin('quality')).expect(200)).body;
    const json = await run(['uptake', 'report', '--group-by', 'service']);
    expect(json.code, json.err).toBe(0);
    expect({ ...JSON.parse(json.out), generatedAt: 'x' }).toEqual({ ...http, generatedAt: 'x' });
    const csv = await run(['uptake', 'report', '--group-by', 'service', '--format', 'csv']);
    const httpCsv = (
      await request(app).get('/uptake/report?groupBy=service&format=csv').set(asAdmin('quality')).expect(200)
    ).text;
    expect(csv.out).toBe(httpCsv);
    const bad = await run(['uptake', 'report', '--group-by', 'patient']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("groupBy: 'patient' is not one of");
  });
}
