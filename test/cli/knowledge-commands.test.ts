import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';
import { repoRoot, testKnowledge } from '../support/app.js';

async function cds(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    io: { stdout: (t) => (out += t), stderr: (t) => (err += t) },
    env: { CDS_AUTH: 'off' },
  });
  return { code, out, err };
}

function copyOf(dir: string): string {
  const d = mkdtempSync(join(tmpdir(), 'cds-cli-'));
  cpSync(dir, d, { recursive: true });
  return d;
}

describe('cds validate', () => {
  it('passes the shipped knowledge with exit code 0', async () => {
    const r = await cds('validate', repoRoot);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/0 errors, 0 warnings; 5 services ready/);
  });

  it('prints every problem with its location and exits 1', async () => {
    const d = copyOf(testKnowledge('basic'));
    const rules = join(d, 'rules/renal-test/1.0.0.json');
    const ruleSet = JSON.parse(readFileSync(rules, 'utf8'));
    ruleSet.rules[0].card.indicator = 'urgent';
    ruleSet.rules[0].conditions.all[1].path = "$['Latest eGFR Value'].value";
    writeFileSync(rules, JSON.stringify(ruleSet, null, 2));
    const cqlFile = join(d, 'cql/RenalTest-1.0.0.cql');
    writeFileSync(
      cqlFile,
      readFileSync(cqlFile, 'utf8').replace('exists "Test Drug Drafts"', 'exists "Test Drug Draftz"'),
    );
    const r = await cds('validate', d);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^cql\/RenalTest-1\.0\.0\.cql:26:\d+: error: Could not resolve identifier Test Drug Draftz/m);
    expect(r.out).toMatch(/^rules\/renal-test\/1\.0\.0\.json \/rules\/0\/card\/indicator: error: /m);
    expect(r.out).toMatch(/error.*1 service ready, 1 unavailable \(renal-test\)/);
  });
});

describe('cds eval', () => {
  it('prints the cards and why: prefetch, define values, each condition with the value it saw', async () => {
    const r = await cds(
      'eval',
      '--service',
      'nsaid-ckd-order-sign',
      '--request',
      join(repoRoot, 'fixtures/requests/nsaid-ckd-order-sign/egfr-22-ibuprofen.json'),
      '--as-of',
      '2026-06-01T12:00:00Z',
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain('egfr: sent');
    expect(r.out).toMatch(/Latest eGFR = \{"value":22,"unit":"mL\/min\/\{1\.73_m2\}"\} {3}\[[\d.]+ ms\]/);
    expect(r.out).toMatch(/FIRED {2}nsaid-egfr-below-30 → 1 card/);
    expect(r.out).toContain("true  cql $['Latest eGFR'].value lessThan 30   (was 22)");
    expect(r.out).toMatch(/not fired {2}nsaid-ckd-stage-4-5/);
    expect(r.out).toMatch(/\[warning\] Avoid NSAID Ibuprofen/);
    expect(r.out).toMatch(/time: CQL [\d.]+ ms, rules [\d.]+ ms/);
  });

  it('gives the same as JSON with --json', async () => {
    const r = await cds(
      'eval',
      '-s',
      'nsaid-ckd-order-sign',
      '-r',
      join(repoRoot, 'fixtures/requests/nsaid-ckd-order-sign/egfr-45-ibuprofen.json'),
      '--as-of',
      '2026-06-01T12:00:00Z',
      '--json',
    );
    const doc = JSON.parse(r.out);
    expect(doc.cards).toEqual([]);
    expect(doc.explanation.cql['Latest eGFR'].value).toBe(45);
    expect(doc.explanation.rules.map((x: { fired: boolean }) => x.fired)).toEqual([false, false]);
    expect(Object.keys(doc.explanation.defineTimings)).toEqual(Object.keys(doc.explanation.cql));
  });

  it('says per key when a sent search held fewer matches than it announced, and that it was evaluated with part', async () => {
    const body = JSON.parse(
      readFileSync(join(repoRoot, 'fixtures/requests/nsaid-ckd-order-sign/egfr-22-ibuprofen.json'), 'utf8'),
    );
    const got = body.prefetch.egfr.entry.length;
    body.prefetch.egfr.total = got + 3;
    delete body.fhirServer;
    const file = join(mkdtempSync(join(tmpdir(), 'cds-eval-short-')), 'short.json');
    writeFileSync(file, JSON.stringify(body));
    const text = await cds('eval', '-s', 'nsaid-ckd-order-sign', '-r', file, '--as-of', '2026-06-01T12:00:00Z');
    expect(text.code).toBe(0);
    expect(text.out).toContain(
      `egfr: the sent search held ${got} of ${got + 3} matches (asked 10): evaluated with part`,
    );
    const json = JSON.parse((await cds('eval', '-s', 'nsaid-ckd-order-sign', '-r', file, '--json')).out);
    expect(json.explanation.prefetchShortfalls).toEqual([
      { key: 'egfr', from: 'ehr', asked: 10, got, total: got + 3, resolution: 'evaluated-with-part' },
    ]);
  });

  it('answers a bad request file with a clear message and a non-zero exit', async () => {
    const r = await cds('eval', '-s', 'nsaid-ckd-order-sign', '-r', '/nonexistent/request.json');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/cannot read \/nonexistent\/request\.json/);
  });
});

describe('cds test', () => {
  it('runs every rule set test case and reports pass per case', async () => {
    const r = await cds('test', 'imaging-repeat');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^pass {2}imaging-repeat@1\.0\.0 {2}imaging-repeat\/ct-head-repeat-12-days$/m);
    expect(r.out).toMatch(/8 passed, 0 failed/);
  });

  it('fails with a readable diff when a card differs from the expectation', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cds-cli-'));
    for (const part of ['cds-services.json', 'cql', 'rules', 'fixtures/requests/imaging-repeat'])
      cpSync(join(repoRoot, part), join(d, part), { recursive: true });
    const expected = join(d, 'fixtures/requests/imaging-repeat/ct-head-repeat-12-days.expected.json');
    const doc = JSON.parse(readFileSync(expected, 'utf8'));
    doc.cards[0].indicator = 'critical';
    writeFileSync(expected, JSON.stringify(doc));
    const r = await cds('test', 'imaging-repeat', '--dir', d);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL {2}imaging-repeat@1\.0\.0 {2}imaging-repeat\/ct-head-repeat-12-days$/m);
    expect(r.out).toContain('card 1 indicator:\n    - "critical"\n    + "warning"');
    expect(r.out).toMatch(/7 passed, 1 failed/);
  });

  it('reports a rule set without test cases', async () => {
    const r = await cds('test', '--dir', testKnowledge('basic'));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no test cases: renal-test@1\.0\.0/);
  });
});

describe('cds new and cds bump', () => {
  function shippedCopy(): string {
    const d = mkdtempSync(join(tmpdir(), 'cds-cli-'));
    for (const part of ['cds-services.json', 'cql', 'rules'])
      cpSync(join(repoRoot, part), join(d, part), { recursive: true });
    return d;
  }

  it('starts a draft rule set and its CQL library that validate as they are', async () => {
    const d = shippedCopy();
    const r = await cds('new', 'sepsis-lactate', '--dir', d, '--title', 'Sepsis: lactate');
    expect(r.code).toBe(0);
    const ruleSet = JSON.parse(readFileSync(join(d, 'rules/sepsis-lactate/0.1.0.json'), 'utf8'));
    expect(ruleSet).toMatchObject({
      id: 'sepsis-lactate',
      version: '0.1.0',
      status: 'draft',
      title: 'Sepsis: lactate',
      cql: { library: 'SepsisLactate', version: '0.1.0' },
    });
    expect(readFileSync(join(d, 'cql/SepsisLactate-0.1.0.cql'), 'utf8')).toMatch(
      /^library SepsisLactate version '0\.1\.0'/,
    );
    expect((await cds('validate', d)).code).toBe(0);
    expect((await cds('new', 'sepsis-lactate', '--dir', d)).err).toMatch(
      /exists already: use 'cds bump sepsis-lactate'/,
    );
  });

  it('copies the newest version to the next one as a draft, with its tests, and optionally the CQL', async () => {
    const d = shippedCopy();
    const r = await cds('bump', 'nsaid-ckd', '--with-cql', '--dir', d);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/nsaid-ckd: 1\.0\.0 → 1\.1\.0 \(draft\)/);
    const before = JSON.parse(readFileSync(join(d, 'rules/nsaid-ckd/1.0.0.json'), 'utf8'));
    const after = JSON.parse(readFileSync(join(d, 'rules/nsaid-ckd/1.1.0.json'), 'utf8'));
    expect(after).toEqual({
      ...before,
      version: '1.1.0',
      status: 'draft',
      cql: { library: 'NsaidCkd', version: '1.1.0' },
    });
    expect(readFileSync(join(d, 'cql/NsaidCkd-1.1.0.cql'), 'utf8')).toMatch(/library NsaidCkd version '1\.1\.0'/);
    expect((await cds('validate', d)).code).toBe(0);
    const patch = await cds('bump', 'nsaid-ckd', '--level', 'patch', '--dir', d);
    expect(patch.out).toMatch(/1\.1\.0 → 1\.1\.1/);
  });

  it('refuses an unknown rule set with a clear message', async () => {
    const r = await cds('bump', 'no-such-rules', '--dir', shippedCopy());
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no versions under rules\/no-such-rules\//);
  });
});

describe('cds validate and served versions', () => {
  it('reports a served version changed in place, reading the uptake ledger', async () => {
    const d = copyOf(testKnowledge('basic'));
    const dataDir = mkdtempSync(join(tmpdir(), 'cds-cli-data-'));
    const env = {
      CDS_AUTH: 'off',
      CDS_DATA_DIR: dataDir,
      CDS_PSEUDONYM_KEY: 'cli-test-pseudonym-key-0123456789abcdef',
    };
    const { createUptakeStore } = await import('../../src/uptake/index.js');
    const { loadConfig } = await import('../../src/config.js');
    const { createLogger } = await import('../../src/logger.js');
    const { knowledgeFrom } = await import('../support/app.js');
    const store = await createUptakeStore(loadConfig(env, { requireAuthSettings: false }), {
      logger: createLogger('error', true),
    });
    store.recordServed((await knowledgeFrom(d)).services[0].ruleSet.fingerprints);
    // close() waits for the fingerprints being written.
    await store.close();
    const rules = join(d, 'rules/renal-test/1.0.0.json');
    writeFileSync(
      rules,
      readFileSync(rules, 'utf8').replace('"Test drug with low eGFR"', '"Test drug with a low eGFR"'),
    );
    let out = '';
    const code = await runCli(['validate', d], { io: { stdout: (t) => (out += t), stderr: () => undefined }, env });
    expect(code).toBe(1);
    expect(out).toMatch(
      /^rules\/renal-test\/1\.0\.0\.json: error: rule set renal-test 1\.0\.0 has changed since it was first served/m,
    );
  });
});
