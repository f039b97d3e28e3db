// The amiodarone case replayed: the diabetes fixtures' traffic through the real app, then a reload whose
// diabetes value set no longer holds the codes the patients' conditions carry (same rule set and library
// versions, so nothing is refused). The rule set stops firing; the drift detectors must raise an alarm that
// /metrics and GET /uptake/alerts show, that can be acknowledged (stored with who), and that survives a restart.
// Run on SQLite (drift.test.ts) and PostgreSQL (drift.pg.test.ts, where two instances share the detectors).
import { afterAll, beforeAll, expect, it } from 'vitest';
import request from 'supertest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Express } from 'express';
import { fixtureRequests } from '../../bench/fixtures.js';
import { createKnowledgeHolder, type KnowledgeHolder } from '../../src/knowledge/index.js';
import { createUptakeStore, type UptakeStore } from '../../src/uptake/index.js';
import { createLogger } from '../../src/logger.js';
import { runCli } from '../../src/cli/program.js';
import { asAdmin, knowledgeFrom, repoRoot, testApp } from '../support/app.js';
import { TEST_PSEUDONYM_KEY, testUptakeConfig, type StoreKind } from './support.js';

const BASELINE = 40;
const START = Date.parse('2026-03-02T08:00:00Z');

/** The knowledge as shipped, in a directory of its own whose value sets the test may change. */
function knowledgeCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-drift-'));
  for (const entry of ['cds-services.json', 'cql', 'rules'])
    cpSync(join(repoRoot, entry), join(dir, entry), { recursive: true });
  return dir;
}

/** Every code of the diabetes value set changed, as when a terminology update renames the codes a rule relies on. */
function breakDiabetesValueSet(dir: string): void {
  const file = join(dir, 'cql', 'valuesets', 'diabetes.json');
  const text = readFileSync(file, 'utf8').replace(/"code": "([^"]+)"/g, '"code": "retired-$1"');
  writeFileSync(file, text);
}

export function driftRun(kind: StoreKind): void {
  let dir: string;
  let holder: KnowledgeHolder;
  let app: Express;
  let store: UptakeStore;
  let config: Awaited<ReturnType<typeof testUptakeConfig>>;
  let now = START;
  const diabetes = fixtureRequests().filter((f) => f.service === 'diabetes-hba1c');
  const open = () =>
    createUptakeStore(
      { ...config.config, driftBaselineCalls: BASELINE, driftScanMs: 0 },
      { logger: createLogger('error', true) },
    );
  const replay = async (calls: number) => {
    for (let i = 0; i < calls; i++) {
      const fixture = diabetes[i % diabetes.length];
      now += 60_000;
      await request(app)
        .post('/cds-services/diabetes-hba1c')
        .send({ ...fixture.body, hookInstance: `drift-${now}` })
        .expect(200);
    }
  };

  beforeAll(async () => {
    dir = knowledgeCopy();
    config = await testUptakeConfig(kind);
    store = await open();
    holder = createKnowledgeHolder(await knowledgeFrom(dir));
    app = testApp({
      knowledge: holder.current(),
      config: { uptakeMinCell: 1 },
      deps: { uptake: store, knowledge: holder, clock: () => new Date(now) },
    });
    // The baseline, then as long again in control: no alarm yet.
    await replay(BASELINE * 2);
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    await config?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('raises no alarm while the traffic is what it was', async () => {
    const res = await request(app).get('/uptake/alerts').set(asAdmin('quality')).expect(200);
    expect(res.body.alerts).toEqual([]);
    expect(res.body.detectors.monitoring).toBeGreaterThan(0);
    expect(res.body.scannedThrough).toBe(new Date(now).toISOString());
  });

  it('raises an alarm when a reload breaks a value set and the rule set stops firing', async () => {
    breakDiabetesValueSet(dir);
    const broken = await knowledgeFrom(dir);
    expect(broken.problems.filter((p) => p.severity === 'error')).toEqual([]);
    holder.swap(broken);
    const reloadedAt = now;
    // The rule set fired in 2 of the 8 fixtures: a silent run of 41 calls has probability 2e-6 at that rate.
    await replay(60);
    const res = await request(app).get('/uptake/alerts').set(asAdmin('quality')).expect(200);
    const alerts = res.body.alerts as Array<Record<string, any>>;
    const anyCard = alerts.find((a) => a.rule === '(any card)');
    expect(anyCard).toMatchObject({
      status: 'open',
      signal: 'firing',
      service: 'diabetes-hba1c',
      ruleSet: 'diabetes-hba1c',
      version: '1.0.0',
      direction: 'down',
      method: 'silence-run',
      after: { rate: 0 },
      acknowledged: null,
    });
    expect(anyCard!.before.rate).toBe(0.25);
    expect(anyCard!.before.calls).toBe(BASELINE);
    // The change is placed at the first silent call after the reload, and found within the calls replayed since.
    expect(Date.parse(anyCard!.changeStartedAt)).toBeGreaterThan(reloadedAt);
    expect(anyCard!.after.calls).toBe(41);
    // Nothing else changed: no alarm about errors, 412s or latency, and none upwards.
    expect(alerts.filter((a) => a.signal !== 'firing' || a.direction !== 'down')).toEqual([]);
    const metrics = await request(app).get('/metrics').set(asAdmin('operations')).expect(200);
    expect(metrics.text).toContain(
      'cds_rule_drift_alarm{service="diabetes-hba1c",rule_set="diabetes-hba1c",version="1.0.0",rule="(any card)",direction="down"} 1',
    );
  });

  it('keeps the alarms and the detectors across a restart, and lists them with `cds uptake alerts`', async () => {
    const before = (await request(app).get('/uptake/alerts').set(asAdmin('quality')).expect(200)).body;
    await store.close();
    store = await open();
    app = testApp({
      knowledge: holder.current(),
      config: { uptakeMinCell: 1 },
      deps: { uptake: store, knowledge: holder, clock: () => new Date(now) },
    });
    const after = (await request(app).get('/uptake/alerts').set(asAdmin('quality')).expect(200)).body;
    expect({ ...after, generatedAt: 'x' }).toEqual({ ...before, generatedAt: 'x' });
    let out = '';
    const code = await runCli(['uptake', 'alerts', '--status', 'open'], {
      env: {
        CDS_DATA_DIR: config.config.dataDir,
        ...(config.config.databaseUrl ? { CDS_DATABASE_URL: config.config.databaseUrl } : {}),
        CDS_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY,
      },
      io: { stdout: (s) => (out += s), stderr: () => undefined },
    });
    expect(code).toBe(0);
    expect((JSON.parse(out) as { alerts: Array<{ id: string }> }).alerts.map((a) => a.id)).toEqual(
      before.alerts.map((a: { id: string }) => a.id),
    );
  });

  it('acknowledges an alarm with who did it; it then leaves /metrics and stays quiet', async () => {
    const { alerts } = (await request(app).get('/uptake/alerts?status=open').set(asAdmin('quality')).expect(200)).body;
    for (const alert of alerts as Array<{ id: string }>) {
      const res = await request(app)
        .post(`/uptake/alerts/${alert.id}/acknowledge`)
        .set(asAdmin('quality'))
        .send({ note: 'value set update under review' })
        .expect(200);
      expect(res.body).toMatchObject({
        id: alert.id,
        status: 'acknowledged',
        acknowledged: { by: expect.any(String), note: 'value set update under review' },
        alreadyAcknowledged: false,
      });
    }
    const again = await request(app)
      .post(`/uptake/alerts/${(alerts as Array<{ id: string }>)[0].id}/acknowledge`)
      .set(asAdmin('quality'))
      .expect(200);
    expect(again.body.alreadyAcknowledged).toBe(true);
    const metrics = await request(app).get('/metrics').set(asAdmin('operations')).expect(200);
    expect(metrics.text).not.toContain('cds_rule_drift_alarm{');
    // The silent level is now the baseline being learned: more silence raises nothing new for the version. Its
    // rules fired in 1 of 8 calls each: their own silent runs (88 calls) end now, and each raises its alarm.
    await replay(BASELINE);
    const open = (await request(app).get('/uptake/alerts?status=open').set(asAdmin('quality')).expect(200)).body;
    expect(
      (open.alerts as Array<{ rule: string; direction: string; method: string }>)
        .map((a) => `${a.rule} ${a.direction} ${a.method}`)
        .sort(),
    ).toEqual(['hba1c-none-on-record down silence-run', 'hba1c-overdue down silence-run']);
  });

  // Instances share a PostgreSQL database (SQLite serves one instance; its lock would block this one process).
  it.skipIf(kind === 'sqlite')(
    'shares the detectors with another instance of the database: each call is read once',
    async () => {
      const other = await open();
      try {
        // Breaking the value set in the other direction: every diabetic patient fires again, on both instances.
        holder.swap(await knowledgeFrom(repoRoot));
        await replay(BASELINE);
        await store.flush();
        await Promise.all([store.scanDrift(), other.scanDrift(), store.scanDrift()]);
        const mine = await store.alerts({});
        const theirs = await other.alerts({});
        expect(theirs.alerts).toEqual(mine.alerts);
        expect(theirs.scannedThrough).toBe(new Date(now).toISOString());
        // One alarm per detector at most while it is open: concurrent scans did not read a call twice.
        const openKeys = mine.alerts
          .filter((a) => a.status === 'open')
          .map((a) => `${a.signal} ${a.ruleSet} ${a.rule}`);
        expect(new Set(openKeys).size).toBe(openKeys.length);
      } finally {
        await other.close();
      }
    },
  );

  it('answers unknown alarms with 404 and bad parameters with 400, naming them', async () => {
    const missing = await request(app).post('/uptake/alerts/no-such-alarm/acknowledge').set(asAdmin('quality'));
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).toContain("no drift alarm with id 'no-such-alarm'");
    const bad = await request(app).get('/uptake/alerts?status=closed&colour=red').set(asAdmin('quality'));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("status: 'closed' must be open, acknowledged or all");
    expect(JSON.stringify(bad.body)).toContain('colour: is not a parameter of the alerts');
    const note = await request(app).post('/uptake/alerts/x/acknowledge').set(asAdmin('quality')).send({ note: 42 });
    expect(note.status).toBe(400);
    await request(app).get('/uptake/alerts').set(asAdmin('operations')).expect(403);
  });
}
