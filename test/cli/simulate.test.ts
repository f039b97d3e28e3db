import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import type { Express } from 'express';
import * as generator from '../../fixtures/generate.js';
import type { FixtureGenerator } from '../../src/cli/fixture-generator.js';
import { runCli } from '../../src/cli/program.js';
import { NO_ARM, simulateClinic } from '../../src/cli/simulate.js';
import { parseAcceptance } from '../../src/cli/simulate-options.js';
import { KNOWLEDGE_EXTENSION } from '../../src/cards/index.js';
import { asAdmin, knowledgeFrom, repoRoot, testApp } from '../support/app.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';

// The simulator loads the generator at run time under this type: this line stops compiling when they drift apart.
const fixtureGenerator: FixtureGenerator = generator;

/** A binomial proportion's acceptance band: p ± 4 standard errors (fails about once in 16,000 seeds). */
function expectNear(observed: number | null | undefined, p: number, n: number): void {
  const band = 4 * Math.sqrt((p * (1 - p)) / n);
  expect(observed).toBeGreaterThanOrEqual(p - band);
  expect(observed).toBeLessThanOrEqual(p + band);
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return url;
}

async function cds(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { io: { stdout: (t) => (out += t), stderr: (t) => (err += t) }, env: {} });
  return { code, out, err };
}

describe('simulateClinic against a running server with the shipped knowledge (auth off)', () => {
  let t: TestStore;
  let app: Express;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const knowledge = await knowledgeFrom(repoRoot);
    t = await testUptakeStore('sqlite');
    app = testApp({ knowledge, config: { uptakeMinCell: 1 }, deps: { uptake: t.store } });
    server = createServer(app);
    url = await listen(server);
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.cleanup();
  });

  it('gets a card on exactly the calls that should fire, and the server stores all feedback', async () => {
    const summary = await simulateClinic({
      url,
      practitioners: 8,
      patients: 40,
      calls: 200,
      seed: 11,
      acceptDefault: 0.4,
    });

    expect(summary.failure).toBeUndefined();
    expect(summary.errors).toEqual([]);
    expect(summary.hook).toBe('order-sign');
    expect(summary.prefetch).toEqual({ sent: ['patient', 'egfr', 'ckd'], omitted: [] });
    expect(summary.population).toEqual({ practitioners: 8, patients: 40, patientsExpectedToFire: 20 });
    expect(summary.calls).toEqual({
      planned: 200,
      made: 200,
      byStatus: { 200: 200 },
      expectedToFire: 113,
      withCards: 113,
      failed: 0,
    });
    expect(summary.cards).toEqual({ total: 113, byArm: { [NO_ARM]: 113 } });
    expect(summary.experiments).toEqual({});

    const sent = summary.feedback.sent[NO_ARM];
    const items = sent.accepted + sent.overridden;
    expect(summary.feedback.byStatus).toEqual({ 200: items });
    expect(summary.feedback.skipped).toBe(0);
    expectNear(items / 113, 0.8, 113);
    expect(summary.truth.acceptance).toEqual({ [NO_ARM]: 0.4 });
    expect(summary.observed.acceptance[NO_ARM]).toMatchObject(sent);
    expectNear(summary.observed.acceptance[NO_ARM].acceptance, 0.4, items);

    // The server's own figures: what it served and the feedback it joined to those cards.
    const report = await request(app)
      .get('/uptake/report?service=nsaid-ckd-order-sign')
      .set(asAdmin('quality'))
      .expect(200);
    expect(report.body.rows[0]).toMatchObject({
      invocations: 200,
      cardsServed: 113,
      cardsWithFeedback: items,
      accepted: sent.accepted,
      overridden: sent.overridden,
    });
  }, 120_000);

  it('plays order-select with the NSAID selected, and the same seed makes the same run', async () => {
    const options = { url, service: 'nsaid-ckd-order-select', practitioners: 5, patients: 20, calls: 30, seed: 5 };
    const first = await simulateClinic(options);
    const second = await simulateClinic(options, fetch, fixtureGenerator);
    expect(first.hook).toBe('order-select');
    expect(first.calls.withCards).toBe(first.calls.expectedToFire);
    expect(first.calls.withCards).toBeGreaterThan(0);
    expect(second.calls).toEqual(first.calls);
    expect(second.cards).toEqual(first.cards);
    expect(second.feedback).toEqual(first.feedback);
  });

  it('fails with the reason when more than the allowed share of calls end in an error, and stops early', async () => {
    let calls = 0;
    const failing: typeof fetch = (input, init) => {
      const hookCall = init?.method === 'POST' && !(input as string).endsWith('/feedback');
      if (hookCall && ++calls % 5 === 0) {
        const outcome = {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', diagnostics: 'the ledger is down' }],
        };
        return Promise.resolve(new Response(JSON.stringify(outcome), { status: 503 }));
      }
      return fetch(input, init);
    };
    const summary = await simulateClinic(
      { url, patients: 10, calls: 100, maxErrorShare: 0.02, concurrency: 2 },
      failing,
    );
    expect(summary.calls.byStatus['503']).toBe(3);
    expect(summary.calls.made).toBeLessThan(100);
    expect(summary.failure).toMatch(
      /^3 of \d+ calls ended in an error, more than 2 % of 100; stopped after \d+ of 100 calls/,
    );
    expect(summary.failure).toMatch(/; the first: call \d+: 503 the ledger is down$/);
  });

  it('names the services there are when the one asked for is not served', async () => {
    await expect(simulateClinic({ url, service: 'no-such-service' })).rejects.toThrow(
      `${url} has no service 'no-such-service'; it offers: nsaid-ckd-order-select, nsaid-ckd-order-sign,`,
    );
    await expect(simulateClinic({ url, service: 'diabetes-hba1c' })).rejects.toThrow(
      "service 'diabetes-hba1c' answers patient-view; the simulated clinic drafts medication orders",
    );
  });
});

describe('simulateClinic with what is signed after the cards (--complete-*)', () => {
  it("follows each card by the order-sign of what is then signed, and the server's completion agrees", async () => {
    const knowledge = await knowledgeFrom(repoRoot);
    // Moved on after the run, so that every card's completion window has closed when the report is read.
    let later = 0;
    const clock = () => new Date(Date.now() + later);
    const store = await testUptakeStore('sqlite', { clock });
    const app = testApp({ knowledge, config: { uptakeMinCell: 1 }, deps: { uptake: store.store, clock } });
    const server = createServer(app);
    const url = await listen(server);
    try {
      const options = {
        url,
        practitioners: 5,
        patients: 20,
        calls: 60,
        seed: 3,
        acceptDefault: 0.5,
        complete: { accepted: 0.9, otherwise: 0.2 },
      };
      const summary = await simulateClinic(options);
      expect(summary.failure).toBeUndefined();
      const follow = summary.followUps!;
      expect(follow.service).toBe('nsaid-ckd-order-sign');
      expect(follow.sent).toBe(summary.calls.withCards);
      expect(follow.byStatus).toEqual({ 200: follow.sent });
      const { accepted, overridden, none } = follow.drawn;
      expect(accepted.completed + accepted.notCompleted).toBe(summary.feedback.sent[NO_ARM].accepted);
      expect(overridden.completed + overridden.notCompleted).toBe(summary.feedback.sent[NO_ARM].overridden);
      expect(accepted.completed).toBeGreaterThan(accepted.notCompleted);
      expect(overridden.completed).toBeLessThan(overridden.notCompleted);
      // A draft signed as it was fires the card again; one carried out does not.
      expect(follow.cards).toBe(accepted.notCompleted + overridden.notCompleted + none.notCompleted);

      later = 400 * 24 * 3600_000;
      const report = await request(app)
        .get('/uptake/report?service=nsaid-ckd-order-sign')
        .set(asAdmin('quality'))
        .expect(200);
      const row = report.body.rows[0];
      expect(row.invocations).toBe(summary.calls.made + follow.sent);
      expect(row.cardsServed).toBe(summary.cards.total + follow.cards);
      // The cards that got feedback were each decided by their follow-up: the drawn truth, exactly.
      expect(row.completion.byFeedback.accepted).toMatchObject(accepted);
      expect(row.completion.byFeedback.overridden).toMatchObject(overridden);

      // The same seed plays the same first calls and feedback whether or not follow-ups are sent.
      later = 0;
      const without = await simulateClinic({ ...options, complete: undefined });
      expect(without.followUps).toBeUndefined();
      expect(without.feedback.sent).toEqual(summary.feedback.sent);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await store.cleanup();
    }
  }, 120_000);
});

describe('simulateClinic with experiment arms', () => {
  it('accepts each arm with its own probability and reports the truth beside the observed share', async () => {
    // A stand-in server whose cards carry an arm: what the server answers for calls in an experiment.
    const feedback: Array<{ card: string; outcome: string }> = [];
    let served = 0;
    const authorizations = new Set<string>();
    const fake: typeof fetch = (input, init) => {
      const path = new URL(input as string).pathname;
      authorizations.add((init?.headers as Record<string, string>).Authorization);
      const json = (body: unknown) => Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
      if (path === '/cds-services') {
        const knowledge = { [KNOWLEDGE_EXTENSION]: { ruleSet: 'nsaid-ckd' } };
        return json({ services: [{ id: 'nsaid-ckd-order-sign', hook: 'order-sign', extension: knowledge }] });
      }
      const body = JSON.parse(init?.body as string);
      if (path.endsWith('/feedback')) {
        feedback.push(body.feedback[0]);
        return json({ resourceType: 'OperationOutcome', issue: [] });
      }
      const arm = /[13579]$/.test(body.context.userId) ? 'new-wording' : 'usual';
      const uuid = `card-${++served}`;
      return json({
        cards: [
          {
            uuid,
            summary: 'Avoid NSAID',
            indicator: 'warning',
            source: { label: 'test' },
            suggestions: [{ uuid: `${uuid}-s1`, label: 'Remove', isRecommended: true }],
            overrideReasons: [{ code: 'short-course' }],
            extension: { [KNOWLEDGE_EXTENSION]: { experiment: 'wording-2027', arm } },
          },
        ],
      });
    };
    const summary = await simulateClinic(
      {
        practitioners: 20,
        patients: 50,
        calls: 2000,
        feedbackShare: 1,
        accept: { usual: 0.3, 'new-wording': 0.6 },
        seed: 3,
        headers: { Authorization: 'Bearer sim-token' },
      },
      fake,
    );

    expect(summary.experiments).toEqual({ 'wording-2027': ['new-wording', 'usual'] });
    expect(summary.truth.acceptance).toEqual({ usual: 0.3, 'new-wording': 0.6, [NO_ARM]: 0.3 });
    for (const [arm, p] of [
      ['usual', 0.3],
      ['new-wording', 0.6],
    ] as const) {
      const n = summary.cards.byArm[arm];
      expect(n).toBeGreaterThan(500);
      expect(summary.feedback.sent[arm].accepted + summary.feedback.sent[arm].overridden).toBe(n);
      expectNear(summary.observed.acceptance[arm].acceptance, p, n);
    }
    expect(feedback).toHaveLength(2000);
    expect([...authorizations]).toEqual(['Bearer sim-token']);
    const accepted = feedback.filter((f) => f.outcome === 'accepted');
    expect(accepted[0]).toMatchObject({ acceptedSuggestions: [{ id: `${accepted[0].card}-s1` }] });
    const overridden = feedback.find((f) => f.outcome === 'overridden');
    expect(overridden).toMatchObject({ overrideReason: { reason: { code: 'short-course' } } });
  }, 60_000);
});

describe('cds simulate', () => {
  it('exits 1 with a clear message when the server cannot be reached', async () => {
    const url = await closedPortUrl();
    const r = await cds('simulate', '--url', url, '--calls', '5');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `cannot reach a CDS server at ${url} (ECONNREFUSED); ` +
        'start one (e.g. CDS_AUTH=off npm run dev) or give its address with --url\n',
    );
  });

  it.each([
    ['usual', "--accept: 'usual' is not arm=probability (e.g. usual=0.30,new-wording=0.45)"],
    ['usual=', "--accept: 'usual=' is not arm=probability"],
    ['=0.3', "--accept: '=0.3' is not arm=probability"],
    ['usual=1.5', "--accept: the probability of arm 'usual' must be a number from 0 to 1, not '1.5'"],
    ['usual=-0.1', "--accept: the probability of arm 'usual' must be a number from 0 to 1, not '-0.1'"],
    ['usual=30%', "--accept: the probability of arm 'usual' must be a number from 0 to 1, not '30%'"],
    ['usual=0.3,usual=0.4', "--accept: arm 'usual' is given twice"],
    ['usual=0.3,', "--accept: '' is not arm=probability"],
    [',', "--accept ',' names no arm"],
  ])('refuses --accept %j, saying what is wrong, before calling any server', async (text, message) => {
    expect(() => parseAcceptance(text)).toThrow(message);
    const r = await cds('simulate', '--url', 'http://127.0.0.1:9', '--accept', text);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('refuses a --header that is not Name: value', async () => {
    const r = await cds('simulate', '--url', 'http://127.0.0.1:9', '--header', 'Bearer abc');
    expect(r.code).toBe(2);
    expect(r.err).toBe("--header 'Bearer abc' is not 'Name: value' (e.g. --header 'Authorization: Bearer …')\n");
  });

  it('reads --accept as a probability per arm', () => {
    expect(parseAcceptance('usual=0.30, new-wording=.45,no-card=1')).toEqual({
      usual: 0.3,
      'new-wording': 0.45,
      'no-card': 1,
    });
  });
});
