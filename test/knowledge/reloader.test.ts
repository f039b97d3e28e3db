import { describe, expect, it, vi } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import express from 'express';
import {
  createKnowledgeHolder,
  createKnowledgeReloader,
  createThreadedCqlTranslator,
} from '../../src/knowledge/index.js';
import { answerCards, invokeService } from '../../src/engine/index.js';
import { adminRoutes } from '../../src/http/admin.js';
import { createLogger } from '../../src/logger.js';
import { asAdmin, knowledgeFrom, sharedTranslator, testApp, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';

const NOW = '2026-06-01T12:00:00Z';
const call = { clock: () => new Date(NOW), prefetch: { timeoutMs: 1000, maxPages: 1 } };

async function setUp() {
  const dir = mkdtempSync(join(tmpdir(), 'cds-reload-'));
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  const holder = createKnowledgeHolder(await knowledgeFrom(dir));
  const reloader = createKnowledgeReloader({
    dir,
    translator: await sharedTranslator(),
    holder,
    logger: createLogger('error', true),
  });
  const rules = join(dir, 'rules/renal-test/1.0.0.json');
  const setSummary = (summary: string) => {
    const doc = JSON.parse(readFileSync(rules, 'utf8'));
    doc.rules[0].card.summary = summary;
    writeFileSync(rules, JSON.stringify(doc));
  };
  return { dir, holder, reloader, setSummary, rules };
}

const summaryOf = async (holder: ReturnType<typeof createKnowledgeHolder>) =>
  answerCards((await invokeService(holder.current(), 'renal-test', renalRequest(), call)).outcome)[0].summary;

describe('hot reload', () => {
  it('serves the new knowledge after a reload, without a restart', async () => {
    const { holder, reloader, setSummary } = await setUp();
    setSummary('Reloaded: {{item.medicationCodeableConcept.text}}');
    const outcome = await reloader.reload('test');
    expect(outcome).toMatchObject({ ok: true, trigger: 'test', services: 2, problems: [] });
    expect(await summaryOf(holder)).toBe('Reloaded: Ibuprofen 400 mg');
  });

  it('refuses a set with errors, keeps the last good one serving and says why', async () => {
    const { holder, reloader, rules } = await setUp();
    const before = holder.current();
    writeFileSync(rules, '{ "id": "renal-test", ');
    const outcome = await reloader.reload('test');
    expect(outcome.ok).toBe(false);
    expect(outcome.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^rules\/renal-test\/1\.0\.0\.json:1:\d+: error: invalid JSON/)]),
    );
    expect(holder.current()).toBe(before);
    expect(await summaryOf(holder)).toBe('Ibuprofen 400 mg with eGFR 25 mL/min/1.73m2');
    expect(reloader.status()).toMatchObject({ reloads: 1, failures: 1, last: { ok: false } });
  });

  it('lets a call that started on the old knowledge finish on it', async () => {
    const { holder, reloader, setSummary } = await setUp();
    const snapshot = holder.current();
    setSummary('New wording');
    await reloader.reload('test');
    const old = await invokeService(snapshot, 'renal-test', renalRequest(), call);
    expect(answerCards(old.outcome)[0].summary).toBe('Ibuprofen 400 mg with eGFR 25 mL/min/1.73m2');
    expect(await summaryOf(holder)).toBe('New wording');
  });

  it('answers each of 200 concurrent calls during a reload, each from exactly one version', async () => {
    const { dir, holder, reloader } = await setUp();
    const app = testApp({ knowledge: holder.current(), now: NOW, deps: { knowledge: holder } });
    // Release 1.1.0 with its own wording and point the service at it.
    const v1 = JSON.parse(readFileSync(join(dir, 'rules/renal-test/1.0.0.json'), 'utf8'));
    writeFileSync(
      join(dir, 'rules/renal-test/1.1.0.json'),
      JSON.stringify({
        ...v1,
        version: '1.1.0',
        rules: [
          { ...v1.rules[0], card: { ...v1.rules[0].card, summary: 'v1.1: {{item.medicationCodeableConcept.text}}' } },
        ],
      }),
    );
    const catalogue = join(dir, 'cds-services.json');
    writeFileSync(
      catalogue,
      readFileSync(catalogue, 'utf8').replace('"version": "1.0.0", "parameters"', '"version": "1.1.0", "parameters"'),
    );
    const calls = Array.from({ length: 200 }, () => request(app).post('/cds-services/renal-test').send(renalRequest()));
    const [outcome, ...responses] = await Promise.all([reloader.reload('test'), ...calls]);
    expect(outcome.ok).toBe(true);
    expect(responses.filter((r) => r.status !== 200)).toEqual([]);
    for (const r of responses) {
      const card = r.body.cards[0];
      const version = card.extension['org.cdsengine.knowledge'].version;
      expect(card.summary).toBe(
        version === '1.1.0' ? 'v1.1: Ibuprofen 400 mg' : 'Ibuprofen 400 mg with eGFR 25 mL/min/1.73m2',
      );
      expect(['1.0.0', '1.1.0']).toContain(version);
    }
    const after = await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    expect(after.body.cards[0].extension['org.cdsengine.knowledge'].version).toBe('1.1.0');
  });

  it('goes on answering calls while a cold reload compiles in the translator thread', async () => {
    const { dir, holder, setSummary } = await setUp();
    // A translator that has compiled nothing yet: its first compile takes seconds.
    const translator = createThreadedCqlTranslator();
    try {
      const reloader = createKnowledgeReloader({ dir, translator, holder, logger: createLogger('error', true) });
      const app = testApp({ knowledge: holder.current(), now: NOW, deps: { knowledge: holder } });
      setSummary('After the reload');
      let reloaded = false;
      const reload = reloader.reload('test').then((outcome) => {
        reloaded = true;
        return outcome;
      });
      const during = await request(app).post('/cds-services/renal-test').send(renalRequest());
      expect(during.status).toBe(200);
      expect(reloaded).toBe(false);
      expect(during.body.cards[0].summary).toBe('Ibuprofen 400 mg with eGFR 25 mL/min/1.73m2');
      expect(await reload).toMatchObject({ ok: true });
      const after = await request(app).post('/cds-services/renal-test').send(renalRequest());
      expect(after.body.cards[0].summary).toBe('After the reload');
    } finally {
      await translator.close();
    }
  });

  it('reloads after the translator thread has ended for want of work, with a thread started anew', async () => {
    const { dir, holder, setSummary } = await setUp();
    const translator = createThreadedCqlTranslator({ idleMs: 100 });
    try {
      const reloader = createKnowledgeReloader({ dir, translator, holder, logger: createLogger('error', true) });
      setSummary('First reload');
      expect(await reloader.reload('test')).toMatchObject({ ok: true });
      expect(await summaryOf(holder)).toBe('First reload');
      await vi.waitFor(() => expect(translator.running()).toBe(false), { timeout: 10_000, interval: 50 });
      setSummary('Second reload');
      expect(await reloader.reload('test')).toMatchObject({ ok: true });
      expect(await summaryOf(holder)).toBe('Second reload');
    } finally {
      await translator.close();
    }
  });

  it('coalesces reloads asked for while one runs', async () => {
    const { reloader } = await setUp();
    const outcomes = await Promise.all([reloader.reload('a'), reloader.reload('b'), reloader.reload('c')]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(reloader.status().reloads).toBeLessThanOrEqual(2);
  });

  it('reloads by itself when a rule set file changes, when watching', async () => {
    const { holder, reloader, setSummary } = await setUp();
    reloader.watch(100);
    try {
      setSummary('Watched change');
      await vi.waitFor(async () => expect(await summaryOf(holder)).toBe('Watched change'), {
        timeout: 30_000,
        interval: 200,
      });
    } finally {
      reloader.close();
    }
  });

  it('POST /admin/reload answers 200 with the outcome, or 422 when the new knowledge was refused', async () => {
    const { reloader, rules, setSummary } = await setUp();
    const app = express().use('/admin', adminRoutes({ reloader }));
    setSummary('Admin reload');
    const ok = await request(app).post('/admin/reload').expect(200);
    expect(ok.body).toMatchObject({ ok: true, trigger: 'admin' });
    writeFileSync(rules, 'not json');
    const refused = await request(app).post('/admin/reload').expect(422);
    expect(refused.body.problems[0]).toMatch(/invalid JSON/);
    const status = await request(app).get('/admin/reload').expect(200);
    expect(status.body).toMatchObject({ reloads: 2, failures: 1 });
  });

  it('is guarded by a knowledge admin key in the server, and /ready reports reloads', async () => {
    const { holder, reloader, setSummary } = await setUp();
    const app = testApp({ knowledge: holder.current(), now: NOW, deps: { knowledge: holder, reloader } });
    await request(app).post('/admin/reload').expect(401);
    await request(app).post('/admin/reload').set(asAdmin('quality')).expect(403);
    setSummary('Released by an admin');
    await request(app).post('/admin/reload').set(asAdmin('knowledge')).expect(200);
    const call = await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    expect(call.body.cards[0].summary).toBe('Released by an admin');
    const ready = await request(app).get('/ready').expect(200);
    expect(ready.body.knowledge.reload).toMatchObject({
      reloads: 1,
      failures: 0,
      last: { ok: true, trigger: 'admin' },
    });
  });

  it('survives a dangling link or a file that vanishes in the knowledge directory', async () => {
    const { dir, reloader } = await setUp();
    symlinkSync('/nonexistent/rules.json', join(dir, 'rules/dangling.json'));
    const outcome = await reloader.reload('test');
    expect(outcome.ok).toBe(true);
  });
});
