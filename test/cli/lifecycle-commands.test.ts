// cds release and cds retire: they change only a rule set file's status, and refuse when the version
// is not ready (no tests, a failing test, too little shadow time) or still in use.
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createUptakeStore } from '../../src/uptake/index.js';
import { withStatus } from '../../src/knowledge/index.js';
import { knowledgeFrom, testKnowledge } from '../support/app.js';

const DRAFT = 'rules/greeter/1.1.0.json';
const greeting = {
  hook: 'patient-view',
  hookInstance: 'c0a8d5b2-4444-4aaa-8bbb-000000000001',
  context: { userId: 'Practitioner/7', patientId: 'p1' },
};

interface Setup {
  dir: string;
  env: Record<string, string>;
  cds: (...args: string[]) => Promise<{ code: number; out: string; err: string }>;
  read: (file?: string) => string;
}

/**
 * The basic test knowledge with greeter 1.1.0 as a draft in shadow of the greeter service;
 * `tests` are its own test cases, `rollout` replaces the service's rollout.
 */
function setup({ tests, rollout }: { tests?: unknown[]; rollout?: unknown } = {}): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'cds-release-'));
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  const doc = JSON.parse(readFileSync(join(dir, 'rules/greeter/1.0.0.json'), 'utf8'));
  doc.version = '1.1.0';
  doc.status = 'draft';
  doc.rules[0].card.summary = 'Good morning {{user.reference}}';
  if (tests) doc.tests = tests;
  writeFileSync(join(dir, DRAFT), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(dir, 'greeting.json'), JSON.stringify(greeting));
  const catalogueFile = join(dir, 'cds-services.json');
  const catalogue = JSON.parse(readFileSync(catalogueFile, 'utf8'));
  catalogue.services[1].rollout = rollout ?? { shadow: [{ version: '1.1.0' }] };
  writeFileSync(catalogueFile, JSON.stringify(catalogue, null, 2));
  const env = {
    CDS_AUTH: 'off',
    CDS_DATA_DIR: mkdtempSync(join(tmpdir(), 'cds-release-data-')),
    CDS_PSEUDONYM_KEY: 'release-test-pseudonym-key-0123456789',
  };
  const cds = async (...args: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(args, { io: { stdout: (t) => (out += t), stderr: (t) => (err += t) }, env });
    return { code, out, err };
  };
  return { dir, env, cds, read: (file = DRAFT) => readFileSync(join(dir, file), 'utf8') };
}

const passing = [
  {
    name: 'greets',
    service: 'greeter',
    request: 'greeting.json',
    expect: [{ rule: 'hello-practitioner', summary: 'Good morning Practitioner/7' }],
  },
];

/** Shadow evaluations of greeter 1.1.0 in the greeter service, as the serving side records them. */
async function recordShadow(env: Record<string, string>, at: Date[]): Promise<void> {
  const store = await createUptakeStore(loadConfig(env, { requireAuthSettings: false }), {
    logger: createLogger('error', true),
  });
  try {
    await store.database
      .insertInto('uptake_evaluation')
      .values(
        at.map((when, i) => ({
          id: `shadow-${when.getTime()}-${i}`,
          invocation_id: `inv-${when.getTime()}-${i}`,
          service_id: 'greeter',
          hook: 'patient-view',
          rule_set: 'greeter',
          rule_set_version: '1.1.0',
          cql: '[]',
          disposition: 'shadow',
          status: 'ok',
          card_count: 1,
          signature: '[]',
          evaluated_at: when.getTime(),
        })),
      )
      .execute();
  } finally {
    await store.close();
  }
}

const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000);

// The first CQL compile of a process costs seconds (twice: the tests' translator and the command's).
beforeAll(async () => {
  await knowledgeFrom(testKnowledge('basic'));
  await setup().cds('validate', testKnowledge('basic'));
});

describe('cds release', () => {
  it('turns a draft whose tests pass active, changing only its status, and keeps its fingerprint', async () => {
    const s = setup({ tests: passing });
    const before = s.read();
    const hashBefore = (await knowledgeFrom(s.dir)).ruleSets?.find((r) => r.version === '1.1.0')?.hash;
    const r = await s.cds('release', 'greeter@1.1.0', '--dir', s.dir);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('pass  greeter@1.1.0  greets\n');
    expect(r.out).toContain('greeter@1.1.0: draft → active (rules/greeter/1.1.0.json)');
    expect(r.out).toContain("to serve it, point a service's knowledge.version at 1.1.0");
    expect(s.read()).toBe(before.replace('"status": "draft"', '"status": "active"'));
    expect((await knowledgeFrom(s.dir)).ruleSets?.find((r) => r.version === '1.1.0')?.hash).toBe(hashBefore);
    expect((await s.cds('release', 'greeter@1.1.0', '--dir', s.dir)).err).toMatch(/greeter@1\.1\.0 is active already/);
  });

  it('refuses a draft without test cases', async () => {
    const s = setup();
    const before = s.read();
    const r = await s.cds('release', 'greeter@1.1.0', '--dir', s.dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^not released: greeter@1\.1\.0 has no test cases/m);
    expect(s.read()).toBe(before);
  });

  it('refuses a draft with a failing test case, showing the difference', async () => {
    const s = setup({
      tests: [{ ...passing[0], expect: [{ rule: 'hello-practitioner', summary: 'Hello Practitioner/7' }] }],
    });
    const before = s.read();
    const r = await s.cds('release', 'greeter@1.1.0', '--dir', s.dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAIL  greeter@1.1.0  greets');
    expect(r.out).toContain('card 1 summary:\n    - "Hello Practitioner/7"\n    + "Good morning Practitioner/7"');
    expect(r.err).toMatch(/^not released: 1 of 1 test case of greeter@1\.1\.0 failed$/m);
    expect(s.read()).toBe(before);
  });

  it('refuses until the version has run in shadow as long as the service asks, then releases it', async () => {
    const s = setup({
      tests: passing,
      rollout: { shadow: [{ version: '1.1.0' }], releaseAfter: { shadowDays: 2, shadowCalls: 2 } },
    });
    const none = await s.cds('release', 'greeter@1.1.0', '--dir', s.dir);
    expect(none.code).toBe(1);
    expect(none.err).toContain(
      "not released: service 'greeter' asks for 2 days and 2 calls in shadow before release (rollout.releaseAfter); " +
        'greeter@1.1.0 has had no shadow evaluations (no uptake ledger found)',
    );
    await recordShadow(s.env, [daysAgo(3)]);
    const short = await s.cds('release', 'greeter@1.1.0', '--dir', s.dir);
    expect(short.code).toBe(1);
    expect(short.err).toMatch(/greeter@1\.1\.0 has had 3\.0 days and 1 call since \d{4}-/);
    expect(s.read()).toContain('"status": "draft"');
    await recordShadow(s.env, [daysAgo(1)]);
    const released = await s.cds('release', 'greeter@1.1.0', '--dir', s.dir);
    expect(released.code).toBe(0);
    expect(s.read()).toContain('"status": "active"');
  });

  it('names what is wrong with the version asked for', async () => {
    const s = setup({ tests: passing });
    expect((await s.cds('release', 'greeter@9.9.9', '--dir', s.dir)).err).toBe(
      'no rules/greeter/9.9.9.json (versions of greeter: 1.0.0, 1.1.0)\n',
    );
    expect((await s.cds('release', 'greeter', '--dir', s.dir)).err).toMatch(/'greeter' is not <rule-set>@<version>/);
    expect((await s.cds('release', 'greeter@1.0.0', '--dir', s.dir)).err).toBe('greeter@1.0.0 is active already\n');
    writeFileSync(join(s.dir, DRAFT), withStatus(s.read(), 'retired'));
    const retired = await s.cds('release', 'greeter@1.1.0', '--dir', s.dir);
    expect(retired.code).toBe(2);
    expect(retired.err).toMatch(
      /greeter@1\.1\.0 is retired: only a draft is released; make a new version \(cds bump greeter\)/,
    );
  });
});

describe('cds retire', () => {
  it('retires a version no service uses, changing only its status', async () => {
    const s = setup({ rollout: {} });
    const before = s.read();
    const r = await s.cds('retire', 'greeter@1.1.0', '--dir', s.dir);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'greeter@1.1.0: draft → retired (rules/greeter/1.1.0.json); it is never served again, its history stays in the reports\n',
    );
    expect(s.read()).toBe(before.replace('"status": "draft"', '"status": "retired"'));
    expect((await s.cds('retire', 'greeter@1.1.0', '--dir', s.dir)).err).toBe('greeter@1.1.0 is retired already\n');
  });

  it('refuses to retire a version a service still serves or evaluates, naming the service', async () => {
    const s = setup();
    const live = await s.cds('retire', 'greeter@1.0.0', '--dir', s.dir);
    expect(live.code).toBe(2);
    expect(live.err).toBe(
      "greeter@1.0.0 is not retired: service 'greeter' uses it as its live knowledge (knowledge.version). Point the service at another version first\n",
    );
    expect(s.read('rules/greeter/1.0.0.json')).toContain('"status": "active"');
    const shadow = await s.cds('retire', 'greeter@1.1.0', '--dir', s.dir);
    expect(shadow.err).toMatch(/service 'greeter' uses it as a shadow version \(rollout\.shadow\)/);
  });
});

describe('cds test with rollout versions', () => {
  it("runs a shadow version's own test cases on that version", async () => {
    const s = setup({ tests: passing });
    const r = await s.cds('test', 'greeter@1.1.0', '--dir', s.dir);
    expect(r.out).toContain('pass  greeter@1.1.0  greets');
    expect(r.out).toMatch(/1 passed, 0 failed/);
  });
});

describe('cds validate with a rollout', () => {
  it('prints rollout problems at their JSON pointers and exits 1', async () => {
    const s = setup({ rollout: { shadow: [{ version: '1.0.0' }], experiment: { id: 'x', unit: 'ward', arms: [] } } });
    const r = await s.cds('validate', s.dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      "cds-services.json /services/1/rollout/experiment/unit: error: service 'greeter': must be equal to one of the allowed values",
    );
    expect(r.out).toContain(
      "cds-services.json /services/1/rollout/experiment/arms: error: service 'greeter': must NOT have fewer than 2 items",
    );
    expect(r.out).toMatch(/1 service ready, 1 unavailable \(greeter\)/);
  });

  it('reports a service whose live version is a draft, unless CDS_SERVE_DRAFTS=on', async () => {
    const s = setup({ rollout: {} });
    const catalogueFile = join(s.dir, 'cds-services.json');
    writeFileSync(
      catalogueFile,
      s
        .read('cds-services.json')
        .replace('"version": "1.0.0"\n      },\n      "rollout"', '"version": "1.1.0"\n      },\n      "rollout"'),
    );
    const off = await s.cds('validate', s.dir);
    expect(off.code).toBe(1);
    expect(off.out).toContain(
      "cds-services.json /services/1/knowledge/version: error: service 'greeter': rule set greeter@1.1.0 is a draft",
    );
    s.env.CDS_SERVE_DRAFTS = 'on';
    expect((await s.cds('validate', s.dir)).code).toBe(0);
  });
});
