import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';
import { EXPERIMENT_ID, seedExperiment, seedShadow, SHADOW_SERVICE, STOPPED_AT } from '../uptake/experiment-seed.js';
import { TEST_PSEUDONYM_KEY, testUptakeStore, type TestStore } from '../uptake/support.js';

let t: TestStore;
let knowledgeDir: string;

beforeAll(async () => {
  t = await testUptakeStore('sqlite');
  await seedExperiment(t.store.database);
  await seedShadow(t.store.database);
  // Only cds-services.json is read: the arms, weights and shadow versions the knowledge declares.
  knowledgeDir = mkdtempSync(join(tmpdir(), 'cds-cli-knowledge-'));
  const arms = [
    { name: 'usual', version: '1.0.0', weight: 1 },
    { name: 'new-wording', version: '1.1.0', weight: 1 },
    { name: 'no-card', version: '1.0.0', weight: 1, show: false },
  ];
  writeFileSync(
    join(knowledgeDir, 'cds-services.json'),
    JSON.stringify({
      services: [
        {
          id: 'svc-x',
          hook: 'order-sign',
          description: 'x',
          knowledge: { ruleSet: 'svc-x', version: '1.0.0' },
          rollout: { experiment: { id: EXPERIMENT_ID, unit: 'practitioner', arms } },
        },
        {
          id: 'svc-declared',
          hook: 'order-sign',
          description: 'y',
          knowledge: { ruleSet: 'svc-y', version: '1.0.0' },
          rollout: { shadow: [{ version: '1.1.0' }] },
        },
      ],
    }),
  );
});
afterAll(async () => {
  await t.cleanup();
});

async function cds(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const env = {
    CDS_AUTH: 'off',
    CDS_DATA_DIR: t.config.dataDir,
    CDS_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY,
    CDS_KNOWLEDGE_DIR: knowledgeDir,
    CDS_UPTAKE_MIN_CELL: '1',
  };
  const code = await runCli(args, { io: { stdout: (s) => (out += s), stderr: (s) => (err += s) }, env });
  return { code, out, err };
}

describe('cds experiment report', () => {
  it('prints the report by assigned arm with the arms and weights of cds-services.json', async () => {
    const r = await cds('experiment', 'report', EXPERIMENT_ID);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.experiment).toMatchObject({
      declared: true,
      status: 'stopped',
      stopped: { at: STOPPED_AT, by: 'qa-lead' },
    });
    expect(report.arms.map((a: { arm: string; units: number }) => [a.arm, a.units])).toEqual([
      ['usual', 15],
      ['new-wording', 15],
      ['no-card', 14],
    ]);
    expect(report.sampleRatio).toMatchObject({ weights: [1, 1, 1], flagged: false });
  });

  it('prints CSV for a period', async () => {
    const r = await cds(
      'experiment',
      'report',
      EXPERIMENT_ID,
      '--format',
      'csv',
      '--from',
      '2027-01-05',
      '--to',
      '2027-01-05',
    );
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^scope,experiment,/);
    // 2027-01-05: site B only (7, 7 and 6 units); no call outside the experiment that day.
    expect(lines.slice(1, 4).map((l) => l.split(',')[13])).toEqual(['7', '7', '6']);
    expect(lines).toHaveLength(1 + 3 + 3);
  });

  it('exits 2 naming an unknown experiment or a malformed option', async () => {
    const missing = await cds('experiment', 'report', 'no-such-trial');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^no experiment with id 'no-such-trial': .*cds-services\.json does not declare it/);
    const bad = await cds('experiment', 'report', EXPERIMENT_ID, '--from', 'last week');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^from: 'last week' must be a date/);
  });
});

describe('cds shadow report', () => {
  it('prints each shadow version against the live one', async () => {
    const r = await cds('shadow', 'report', SHADOW_SERVICE);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out);
    expect(
      report.comparisons.map((c: { shadow: { version: string }; kappa: number }) => [c.shadow.version, c.kappa]),
    ).toEqual([
      ['2.1.0', 0.6411],
      ['2.2.0', 1],
    ]);
    const csv = await cds('shadow', 'report', SHADOW_SERVICE, '--format', 'csv');
    expect(csv.out.trimEnd().split('\r\n')).toHaveLength(3);
  });

  it('knows a declared service without calls, and exits 2 for an unknown one', async () => {
    const declared = await cds('shadow', 'report', 'svc-declared');
    expect(declared.code).toBe(0);
    expect(JSON.parse(declared.out)).toMatchObject({ declaredShadows: ['1.1.0'], comparisons: [] });
    const missing = await cds('shadow', 'report', 'no-such-service');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^no CDS service with id 'no-such-service'/);
  });
});

describe('cds uptake set-aside and acknowledge', () => {
  it('lists the entries the database refused, writes them again with --retry, exits 1 while some are refused', async () => {
    const empty = await cds('uptake', 'set-aside');
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.out)).toEqual({ entries: 0, reasons: [] });
    // An entry whose invocation has no service id: refused by the database on every attempt.
    const entry = {
      invocation: { id: 'inv-set-aside', started_at: Date.parse('2026-06-03T10:00:00Z') },
      evaluations: [],
      cards: [],
      explanations: [],
    };
    await t.store.database
      .insertInto('uptake_set_aside')
      .values({ id: 's1', set_aside_at: 1, reason: 'earlier', entry: JSON.stringify(entry) })
      .execute();
    const retried = await cds('uptake', 'set-aside', '--retry');
    expect(retried.code).toBe(1);
    const summary = JSON.parse(retried.out);
    expect(summary).toMatchObject({ retried: { written: 0, refused: 1 }, entries: 1 });
    expect(summary.reasons[0].reason).not.toBe('earlier');
    await t.store.database.deleteFrom('uptake_set_aside').execute();
  });

  it('exits 1 naming an unknown alarm', async () => {
    const r = await cds('uptake', 'acknowledge', 'no-such', '--by', 'qa');
    expect(r.code).toBe(1);
    expect(r.err).toContain("no drift alarm with id 'no-such'");
  });
});
