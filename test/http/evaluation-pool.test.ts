// Evaluation on a pool of threads (CDS_WORKERS >= 2): the same answers as on the HTTP thread, one
// knowledge version per call through a reload under load, and a thread that dies fails only its calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import {
  createCachingTranslator,
  createKnowledgeHolder,
  createKnowledgeReloader,
  loadKnowledge,
  recordingFiles,
  type Knowledge,
} from '../../src/knowledge/index.js';
import {
  createEvaluationPool,
  explainCards,
  invokeService,
  type EvaluationPool,
  type Evaluator,
} from '../../src/engine/index.js';
import { parseLeavingOut } from '../../src/http/json-envelope.js';
import { evidenceResources } from '../../src/uptake/intents.js';
import { createLogger } from '../../src/logger.js';
import { defaultConfig } from '../../src/config.js';
import { asAdmin, repoRoot, sharedTranslator, testApp, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';

const NOW = '2026-06-01T12:00:00Z';
const dirs: string[] = [];
const pools: EvaluationPool[] = [];

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Knowledge loaded in this thread with the ELM written to `cacheDir`, and a pool of `size` threads holding it,
 * loaded from the sources this thread read (as the server does).
 */
async function pooled(knowledgeDir: string, size = 2, retryMs?: number, recording = false) {
  const cacheDir = mkdtempSync(join(tmpdir(), 'cds-pool-elm-'));
  dirs.push(cacheDir);
  const translator = createCachingTranslator(cacheDir, sharedTranslator);
  const recorded = recordingFiles();
  const knowledge = await loadKnowledge(knowledgeDir, { translator, files: recorded.files });
  const pool = createEvaluationPool({
    size,
    setup: { knowledgeDir, elmCacheDir: cacheDir, shadowLimit: 10 },
    logger: createLogger('error', true),
    recording,
    retryMs,
  });
  pools.push(pool);
  await pool.prepare(knowledge, { sources: recorded.sources() });
  return { knowledge, pool, translator };
}

/** Cards as compared between runs: their uuids are new on every call. */
function withoutUuids(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUuids);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'uuid')
      .map(([key, v]) => [key, withoutUuids(v)]),
  );
}

describe('evaluation on a pool of threads', () => {
  let shipped: Awaited<ReturnType<typeof pooled>>;
  beforeAll(async () => {
    shipped = await pooled(defaultConfig().knowledgeDir, 2, undefined, true);
  }, 120_000);

  it('answers the shipped example requests with the same cards as the HTTP thread does', async () => {
    const inThread = testApp({ knowledge: shipped.knowledge, now: NOW });
    const onPool = testApp({ knowledge: shipped.knowledge, now: NOW, deps: { evaluator: shipped.pool } });
    const root = join(repoRoot, 'fixtures', 'requests');
    let compared = 0;
    for (const service of readdirSync(root)) {
      const files = readdirSync(join(root, service)).filter(
        (f) => f.endsWith('.json') && !f.endsWith('.expected.json'),
      );
      for (const file of files.slice(0, 2)) {
        const body = JSON.parse(readFileSync(join(root, service, file), 'utf8')) as object;
        const [a, b] = await Promise.all([
          request(inThread).post(`/cds-services/${service}`).send(body),
          request(onPool).post(`/cds-services/${service}`).send(body),
        ]);
        expect(b.status, `${service}/${file}`).toBe(a.status);
        expect(withoutUuids(b.body), `${service}/${file}`).toEqual(withoutUuids(a.body));
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(8);
    // Both threads answered some of them.
    expect(shipped.pool.status()).toHaveLength(2);
  }, 60_000);

  /** Each shipped example request, evaluated whole on this thread and on `pool` as the HTTP thread hands it over. */
  async function bothWays({ knowledge, pool }: { knowledge: Knowledge; pool: EvaluationPool }) {
    const root = join(repoRoot, 'fixtures', 'requests');
    const out = [];
    for (const service of readdirSync(root)) {
      for (const file of readdirSync(join(root, service)).filter(
        (f) => f.endsWith('.json') && !f.endsWith('.expected.json'),
      )) {
        const text = readFileSync(join(root, service, file), 'utf8');
        const options = { clock: () => new Date(NOW), prefetch: { timeoutMs: 1000, maxPages: 1 } };
        const whole = await invokeService(knowledge, service, JSON.parse(text), options).catch(() => undefined);
        if (!whole) continue;
        const bytes = new TextEncoder().encode(text);
        const onPool = await pool.invoke(knowledge, service, parseLeavingOut(bytes, 'prefetch'), options, bytes);
        out.push({ name: `${service}/${file}`, whole: whole.outcome, onPool: onPool.outcome });
      }
    }
    return out;
  }

  it('gives the uptake ledger the same evidence and card explanations as the whole data on the HTTP thread', async () => {
    let withEvidence = 0;
    let explained = 0;
    for (const { name, whole, onPool } of await bothWays(shipped)) {
      const expected = evidenceResources(whole.request.context, whole.prefetchData);
      // The data itself stays in the thread: the evidence comes back instead.
      expect(onPool.prefetchData, name).toBeUndefined();
      expect(onPool.evidence, name).toEqual(expected);
      if (expected.length > 0) withEvidence++;
      expect(onPool.evaluations.length, name).toBe(whole.evaluations.length);
      for (const [i, e] of whole.evaluations.entries()) {
        const a = e.evaluation;
        const b = onPool.evaluations[i].evaluation;
        if (!a || !b) {
          expect(b, name).toEqual(a);
          continue;
        }
        // Card uuids are new on every evaluation: explanations compared in card order, without their timings.
        const ofCards = (ev: typeof a) =>
          Object.values(explainCards(ev, e.ruleSet.rules)).map(({ timings, ...rest }) => ({
            ...rest,
            timings: Object.keys(timings),
          }));
        expect(ofCards(b), name).toEqual(ofCards(a));
        explained += ofCards(a).length;
        expect(withoutUuids(b.cards), name).toEqual(withoutUuids(a.cards));
        expect(b.trace.problems, name).toEqual(a.trace.problems);
      }
    }
    expect(withEvidence).toBeGreaterThan(10);
    expect(explained).toBeGreaterThan(5);
  }, 60_000);

  it('without a ledger sends back the cards but neither the evidence nor the values of the defines', async () => {
    const unrecorded = await pooled(defaultConfig().knowledgeDir, 1);
    let valued = 0;
    for (const { name, whole, onPool } of await bothWays(unrecorded)) {
      expect(onPool.evidence, name).toBeUndefined();
      for (const [i, e] of whole.evaluations.entries()) {
        const b = onPool.evaluations[i].evaluation;
        expect(withoutUuids(b?.cards), name).toEqual(withoutUuids(e.evaluation?.cards));
        expect(b?.trace.cql ?? {}, name).toEqual({});
        expect(b?.trace.rules ?? [], name).toEqual([]);
        if (Object.keys(e.evaluation?.trace.cql ?? {}).length > 0) valued++;
      }
    }
    expect(valued).toBeGreaterThan(10);
  }, 60_000);

  it('answers a bad request with the same error status and issues as the HTTP thread does', async () => {
    const body = { hook: 'order-sign', hookInstance: 'x', context: { userId: 'Practitioner/1' } };
    const inThread = await request(testApp({ knowledge: shipped.knowledge, now: NOW }))
      .post('/cds-services/nsaid-ckd-order-sign')
      .send(body);
    const onPool = await request(testApp({ knowledge: shipped.knowledge, now: NOW, deps: { evaluator: shipped.pool } }))
      .post('/cds-services/nsaid-ckd-order-sign')
      .send(body);
    expect(inThread.status).toBe(400);
    expect(onPool.status).toBe(400);
    expect(onPool.body).toEqual(inThread.body);
  });

  it('refuses 400 a call whose data nests too deep for a thread to answer, as the HTTP thread does, and stops no thread', async () => {
    // Two thousand levels of objects: a thread could build the answer, the HTTP thread could not read it.
    const file = join(repoRoot, 'fixtures', 'requests', 'nsaid-ckd-order-select');
    const body = JSON.parse(
      readFileSync(
        join(
          file,
          readdirSync(file).find((f) => !f.endsWith('.expected.json'))!,
        ),
        'utf8',
      ),
    ) as { prefetch: { patient: Record<string, unknown> } };
    body.prefetch.patient.extension = [JSON.parse(`${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`)];
    const text = JSON.stringify(body);
    const before = shipped.pool.health();
    const [inThread, onPool] = await Promise.all(
      [
        testApp({ knowledge: shipped.knowledge, now: NOW }),
        testApp({ knowledge: shipped.knowledge, now: NOW, deps: { evaluator: shipped.pool } }),
      ].map((app) =>
        request(app).post('/cds-services/nsaid-ckd-order-select').set('Content-Type', 'application/json').send(text),
      ),
    );
    expect(inThread.status).toBe(400);
    expect(onPool.status).toBe(400);
    expect(onPool.body.issue[0].diagnostics).toMatch(
      /^the request body nests arrays and objects deeper than 256 levels/,
    );
    expect(onPool.body).toEqual(inThread.body);
    expect(shipped.pool.health()).toMatchObject({ crashes: before.crashes, stuck: before.stuck, ready: 2 });
  });
});

describe('a reload under load with two evaluation threads', () => {
  it('answers every one of 200+ concurrent calls, each from the one knowledge version it was taken on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-pool-reload-'));
    dirs.push(dir);
    cpSync(testKnowledge('basic'), dir, { recursive: true });
    const { knowledge, pool, translator } = await pooled(dir);
    const holder = createKnowledgeHolder(knowledge);
    const reloader = createKnowledgeReloader({
      dir,
      translator,
      holder,
      logger: createLogger('error', true),
      beforeSwap: (next, loadedWith) => pool.prepare(next, loadedWith),
    });
    // Which snapshot each call was taken on, and the summary its card was made with there.
    const versionOf = (summary: string | undefined) => (summary?.startsWith('Reloaded: ') ? 'new' : 'old');
    const summaryOf = (k: Knowledge) =>
      versionOf(k.services.find((s) => s.definition.id === 'renal-test')?.ruleSet.rules[0].card.summary);
    const seen: Array<{ taken: string; answered: string | undefined }> = [];
    const observing: Evaluator = {
      ...pool,
      wantsRaw: true,
      invoke: async (k, ...rest) => {
        const result = await pool.invoke(k, ...rest);
        const card = result.outcome.evaluations[0].evaluation?.cards[0];
        seen.push({ taken: summaryOf(k), answered: card && versionOf(card.summary) });
        return result;
      },
    };
    const app = testApp({ knowledge, now: NOW, deps: { knowledge: holder, evaluator: observing, reloader } });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cds-services/renal-test`;
    try {
      const rules = join(dir, 'rules/renal-test/1.0.0.json');
      const doc = JSON.parse(readFileSync(rules, 'utf8'));
      doc.rules[0].card.summary = `Reloaded: ${doc.rules[0].card.summary}`;
      writeFileSync(rules, JSON.stringify(doc));
      const statuses: number[] = [];
      let reloaded = false;
      let done = 0;
      const body = JSON.stringify(renalRequest());
      const one = async (): Promise<void> => {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        statuses.push(res.status);
        await res.arrayBuffer();
        done++;
      };
      // 20 calls at a time until at least 200 were answered and the reload is done, with calls in flight all along.
      const reload = (async () => {
        while (done < 20) await new Promise((resolve) => setTimeout(resolve, 5));
        const outcome = await reloader.reload('test');
        reloaded = outcome.ok;
      })();
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (done < 200 || !reloaded) {
            await one();
            if (done > 5000) break;
          }
        }),
      );
      await reload;
      expect(reloaded).toBe(true);
      expect(statuses.length).toBeGreaterThanOrEqual(200);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect(seen).toHaveLength(statuses.length);
      for (const s of seen) expect(s.answered).toBe(s.taken);
      const versions = new Set(seen.map((s) => s.taken));
      expect(versions).toEqual(new Set(['old', 'new']));
      // The old generation is let go once no call holds it.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(pool.status().map((t) => t.generations)).toEqual([[2], [2]]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }, 120_000);
});

describe('an evaluation thread that stops', () => {
  it('fails only its calls in flight with a clear 500, is replaced, and the server goes on answering', async () => {
    const { knowledge, pool } = await pooled(testKnowledge('basic'));
    const app = testApp({ knowledge, now: NOW, deps: { evaluator: pool } });
    const [first] = pool.workers();
    const firstId = first.threadId;
    // Calls in flight on both threads; one is stopped under them.
    const calls = Array.from({ length: 40 }, () => request(app).post('/cds-services/renal-test').send(renalRequest()));
    const answers = Promise.all(calls.map((c) => c.then((r) => r)));
    while (!pool.status().some((t) => t.threadId === firstId && t.inFlight > 0))
      await new Promise((resolve) => setImmediate(resolve));
    await first.terminate();
    const results = await answers;
    const failed = results.filter((r) => r.status !== 200);
    expect(failed.length).toBeGreaterThan(0);
    for (const r of failed) {
      expect(r.status).toBe(500);
      expect(r.body.issue[0].diagnostics).toMatch(/the thread evaluating this call stopped before it answered/);
      expect(JSON.stringify(r.body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
    }
    expect(results.some((r) => r.status === 200)).toBe(true);
    // Another thread takes its place and loads the knowledge; every call is answered again.
    while (pool.status().length < 2 || pool.status().some((t) => t.generations.length === 0))
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pool.status().map((t) => t.threadId)).not.toContain(firstId);
    const after = await Promise.all(
      Array.from({ length: 10 }, () => request(app).post('/cds-services/renal-test').send(renalRequest())),
    );
    expect(after.map((r) => r.status)).toEqual(Array(10).fill(200));
  }, 120_000);
});

/** The basic test knowledge with a define that runs for many seconds (a call on it keeps its thread busy). */
function slowKnowledge(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-pool-slow-'));
  dirs.push(dir);
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  const file = join(dir, 'cql/RenalTest-1.0.0.cql');
  const slow =
    'define "Slow": Count((expand { Interval[1, 4000] }) A where exists ' +
    '((expand { Interval[1, 4000] }) B where start of B = start of A + 100000))';
  writeFileSync(file, `${readFileSync(file, 'utf8')}\n${slow}\n`);
  return dir;
}

describe('an evaluation thread stuck inside one CQL define', () => {
  it('answers the call 503 call-deadline soon after its deadline, and is stopped and replaced', async () => {
    // One define that runs for many seconds: the thread's own deadline check, between defines, cannot stop it.
    const { knowledge, pool } = await pooled(slowKnowledge());
    const app = testApp({ knowledge, now: NOW, config: { callDeadlineMs: 300 }, deps: { evaluator: pool } });
    const before = pool.status().map((t) => t.threadId);
    const res = await request(app).post('/cds-services/renal-test').send(renalRequest());
    expect(res.status).toBe(503);
    expect(res.body.issue[0].code).toBeDefined();
    expect(JSON.stringify(res.body)).toMatch(/call-deadline|not answered within/);
    // The stuck thread is stopped (not left to finish its define) and another takes its place.
    const replaced = () =>
      pool.status().some((t) => !before.includes(t.threadId) && t.generations.length > 0) && pool.status().length === 2;
    for (let waited = 0; !replaced() && waited < 30_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pool.status().filter((t) => !before.includes(t.threadId))).toHaveLength(1);
  }, 120_000);
});

describe('an evaluation thread whose answer cannot be read', () => {
  it('is stopped at once: its call is answered 500, not left to wait for its deadline, and another thread starts', async () => {
    // A call that keeps its thread busy for seconds: it is in flight when the unreadable answer arrives.
    const { knowledge, pool } = await pooled(slowKnowledge());
    const app = testApp({ knowledge, now: NOW, config: { callDeadlineMs: 60_000 }, deps: { evaluator: pool } });
    const before = pool.status().map((t) => t.threadId);
    const answer = request(app)
      .post('/cds-services/renal-test')
      .send(renalRequest())
      .then((r) => r);
    while (!pool.status().some((t) => t.inFlight > 0)) await new Promise((resolve) => setTimeout(resolve, 10));
    const busy = pool.workers().find((w) => pool.status().some((t) => t.threadId === w.threadId && t.inFlight > 0))!;
    const started = performance.now();
    // What Node emits when a message from the thread fails to deserialize.
    busy.emit('messageerror', new Error('unreadable'));
    const res = await answer;
    expect(res.status).toBe(500);
    expect(res.body.issue[0].diagnostics).toMatch(/the thread evaluating this call stopped before it answered/);
    expect(performance.now() - started).toBeLessThan(10_000);
    for (let waited = 0; pool.health().ready < 2 && waited < 30_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pool.status().map((t) => t.threadId)).not.toContain(busy.threadId);
    expect(pool.status().filter((t) => !before.includes(t.threadId))).toHaveLength(1);
    expect(pool.health().crashes).toBe(1);
  }, 120_000);
});

describe('a thread being stopped', () => {
  it('is given no new call: the call goes to a thread that will answer it', async () => {
    const { knowledge, pool } = await pooled(testKnowledge('basic'));
    const app = testApp({ knowledge, now: NOW, deps: { evaluator: pool } });
    // Both threads idle: the first would be chosen. It is being stopped (its answer could not be read).
    const [first] = pool.workers();
    first.emit('messageerror', new Error('unreadable'));
    const res = await request(app).post('/cds-services/renal-test').send(renalRequest());
    expect(res.status).toBe(200);
  }, 120_000);
});

describe('threads started while the knowledge files hold a set a reload refused', () => {
  it('load the set being served from its sources, and every call is answered by it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-pool-refused-'));
    dirs.push(dir);
    cpSync(testKnowledge('basic'), dir, { recursive: true });
    const { knowledge, pool, translator } = await pooled(dir, 2, 100);
    const holder = createKnowledgeHolder(knowledge);
    const reloader = createKnowledgeReloader({
      dir,
      translator,
      holder,
      logger: createLogger('error', true),
      beforeSwap: (next, loadedWith) => pool.prepare(next, loadedWith),
    });
    const app = testApp({ knowledge, now: NOW, deps: { knowledge: holder, evaluator: pool, reloader } });
    const served = await request(app).post('/cds-services/renal-test').send(renalRequest());
    expect(served.status).toBe(200);
    // The files now hold a rule set with another summary and CQL that does not compile: the reload is refused.
    const rules = join(dir, 'rules/renal-test/1.0.0.json');
    const doc = JSON.parse(readFileSync(rules, 'utf8'));
    doc.rules[0].card.summary = `Edited: ${doc.rules[0].card.summary}`;
    writeFileSync(rules, JSON.stringify(doc));
    const cql = join(dir, 'cql/RenalTest-1.0.0.cql');
    writeFileSync(cql, `${readFileSync(cql, 'utf8')}\ndefine "Broken": this is not CQL\n`);
    const outcome = await reloader.reload('test');
    expect(outcome.ok).toBe(false);
    expect(holder.current()).toBe(knowledge);
    // Every thread stops; those started in their place load the set served, not the files.
    const before = pool.workers().map((w) => w.threadId);
    await Promise.all(pool.workers().map((w) => w.terminate()));
    const replaced = () =>
      pool.status().filter((t) => !before.includes(t.threadId) && t.generations.length > 0).length === 2;
    for (let waited = 0; !replaced() && waited < 20_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pool.status().map((t) => t.generations)).toEqual([[1], [1]]);
    const after = await Promise.all(
      Array.from({ length: 6 }, () => request(app).post('/cds-services/renal-test').send(renalRequest())),
    );
    expect(after.map((r) => r.status)).toEqual(Array(6).fill(200));
    for (const r of after) expect(withoutUuids(r.body)).toEqual(withoutUuids(served.body));
  }, 120_000);
});

describe('the evaluation threads in /ready and /metrics', () => {
  const waitFor = async (done: () => boolean) => {
    for (let waited = 0; !done() && waited < 20_000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
  };
  const metricsOf = async (app: ReturnType<typeof testApp>) =>
    (await request(app).get('/metrics').set(asAdmin('operations')).expect(200)).text;

  it('reports the threads wanted, ready and starting, and counts a crash and the thread started in its place', async () => {
    const { knowledge, pool } = await pooled(testKnowledge('basic'));
    const app = testApp({ knowledge, now: NOW, deps: { evaluator: pool } });
    const ready = await request(app).get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    expect(ready.body.workers).toEqual({
      wanted: 2,
      ready: 2,
      starting: 0,
      crashes: 0,
      stuck: 0,
      restarts: 0,
      failedRestarts: 0,
    });
    expect(await metricsOf(app)).toContain('cds_evaluation_threads{state="ready"} 2');
    await pool.workers()[0].terminate();
    await waitFor(() => pool.health().restarts === 1 && pool.health().ready === 2);
    const after = await request(app).get('/ready');
    expect(after.body.status).toBe('ready');
    expect(after.body.workers).toMatchObject({ ready: 2, crashes: 1, restarts: 1, failedRestarts: 0 });
    const text = await metricsOf(app);
    expect(text).toContain('cds_evaluation_thread_stops_total{reason="crashed"} 1');
    expect(text).toContain('cds_evaluation_thread_stops_total{reason="stuck"} 0');
    expect(text).toContain('cds_evaluation_thread_restarts_total 1');
    expect(text).toContain('cds_evaluation_threads{state="wanted"} 2');
  }, 120_000);

  it('is degraded while one thread serves and threads fail to start, and unavailable once none serves', async () => {
    // Threads told to read the files (no sources), which no longer hold the set served.
    const dir = mkdtempSync(join(tmpdir(), 'cds-pool-failing-'));
    dirs.push(dir);
    cpSync(testKnowledge('basic'), dir, { recursive: true });
    const cacheDir = mkdtempSync(join(tmpdir(), 'cds-pool-elm-'));
    dirs.push(cacheDir);
    const knowledge = await loadKnowledge(dir, { translator: createCachingTranslator(cacheDir, sharedTranslator) });
    const pool = createEvaluationPool({
      size: 2,
      setup: { knowledgeDir: dir, elmCacheDir: cacheDir, shadowLimit: 10 },
      logger: createLogger('error', true),
      recording: false,
      retryMs: 100,
    });
    pools.push(pool);
    await pool.prepare(knowledge);
    const app = testApp({ knowledge, now: NOW, deps: { evaluator: pool } });
    const cql = join(dir, 'cql/RenalTest-1.0.0.cql');
    writeFileSync(cql, `${readFileSync(cql, 'utf8')}\ndefine "Broken": this is not CQL\n`);
    const [first, second] = pool.workers();
    await first.terminate();
    await waitFor(() => pool.health().failedRestarts >= 1);
    const degraded = await request(app).get('/ready');
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.workers).toMatchObject({ wanted: 2, ready: 1, crashes: 1 });
    expect(degraded.body.workers.failedRestarts).toBeGreaterThanOrEqual(1);
    await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    await second.terminate();
    await waitFor(() => pool.health().ready === 0 && pool.health().failedRestarts >= 3);
    const unavailable = await request(app).get('/ready');
    expect(unavailable.status).toBe(503);
    expect(unavailable.body.status).toBe('unavailable');
    expect(unavailable.body.workers).toMatchObject({ ready: 0, crashes: 2 });
    expect(await metricsOf(app)).toMatch(/cds_evaluation_thread_restart_failures_total [3-9]/);
  }, 120_000);
});
