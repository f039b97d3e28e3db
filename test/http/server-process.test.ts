// The server as `npm start` runs it (src/main.ts, in its own process): starts on the shipped
// knowledge, answers, keeps stdout to JSON log lines, and shuts down cleanly on SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, testKnowledge } from '../support/app.js';
import { withStatus } from '../../src/knowledge/index.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { hashAdminKey } from '../../src/auth/index.js';
import { runCli } from '../../src/cli/program.js';
import { fixtureRequests } from '../../bench/fixtures.js';

const fixture = (): { prefetch: { egfr: { entry: Array<{ resource: Record<string, unknown> }> } } } =>
  JSON.parse(readFileSync(join(repoRoot, 'fixtures/requests/nsaid-ckd-order-sign/egfr-22-ibuprofen.json'), 'utf8'));

let server: ServerProcess;
let base: string;

const FIXTURE_NOW = '2026-06-01T12:00:00Z';
const ADMIN_KEY = 'process-test-quality-key-1';
const NEW_ADMIN_KEY = 'process-test-quality-key-2';
let keysFile: string;

beforeAll(async () => {
  server = await startServerProcess({
    env: (dataDir) => {
      keysFile = join(dataDir, 'admin-keys');
      writeFileSync(keysFile, `# the quality team\nquality:${hashAdminKey(ADMIN_KEY)}\n`);
      return { CDS_EVALUATION_TIME: FIXTURE_NOW, CDS_ADMIN_KEYS_FILE: keysFile };
    },
  });
  base = `http://127.0.0.1:${server.port}`;
}, 60_000);

afterAll(() => server.stop());

describe('the server process', () => {
  it('serves discovery and a hook call on the shipped knowledge', async () => {
    const discovery = (await (await fetch(`${base}/cds-services`)).json()) as { services: Array<{ id: string }> };
    expect(discovery.services.map((s) => s.id)).toContain('nsaid-ckd-order-sign');
    const res = await fetch(`${base}/cds-services/nsaid-ckd-order-sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fixture()),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { cards: unknown[] }).cards.length).toBeGreaterThan(0);
  });

  it('answers 400 for a Quantity with a unit that is not UCUM, and keeps stdout to JSON lines', async () => {
    const body = fixture();
    body.prefetch.egfr.entry[0].resource.valueQuantity = {
      value: 25,
      system: 'http://unitsofmeasure.org',
      code: 'not a unit',
    };
    const res = await fetch(`${base}/cds-services/nsaid-ckd-order-sign`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { issue: Array<{ expression: string[] }> }).issue[0].expression).toEqual([
      'prefetch.egfr.entry[0].resource.valueQuantity.code',
    ]);
    await new Promise((r) => setTimeout(r, 200));
    const lines = server.stdout().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.filter((line) => !line.startsWith('{'))).toEqual([]);
  });

  it('gives every fixture its expected cards over HTTP with CDS_EVALUATION_TIME', async () => {
    let out = '';
    const code = await runCli(['replay', '--url', base], {
      io: { stdout: (t) => (out += t), stderr: () => undefined },
      env: { CDS_AUTH: 'off' },
    });
    const cases = fixtureRequests().length;
    expect(out.trim().split('\n').at(-1)).toBe(`${cases} of ${cases} requests gave their expected cards`);
    expect(code).toBe(0);
    expect(cases).toBeGreaterThanOrEqual(43);
  });

  it('reads the admin keys file again on SIGHUP', async () => {
    const report = (key: string) =>
      fetch(`${base}/uptake/report`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);
    expect(await report(ADMIN_KEY)).toBe(200);
    expect(await report(NEW_ADMIN_KEY)).toBe(401);
    writeFileSync(keysFile, `quality:${hashAdminKey(NEW_ADMIN_KEY)}\n`);
    server.child.kill('SIGHUP');
    for (let i = 0; i < 50 && !server.stdout().includes('"admin keys reloaded"'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await report(NEW_ADMIN_KEY)).toBe(200);
    expect(await report(ADMIN_KEY)).toBe(401);
  });

  it('writes nothing but JSON lines on stdout, whatever endpoint is called and however badly', async () => {
    const admin = { authorization: `Bearer ${NEW_ADMIN_KEY}` };
    const json = { 'content-type': 'application/json' };
    const bad = fixture();
    bad.prefetch.egfr.entry[0].resource.valueQuantity = {
      value: 25,
      unit: '%%/[',
      system: 'http://unitsofmeasure.org',
      code: '%%/[',
    };
    const calls: Array<[string, RequestInit?]> = [
      ['/'],
      ['/health'],
      ['/ready'],
      ['/openapi.json'],
      ['/docs'],
      ['/cds-services'],
      ['/cds-services/nsaid-ckd-order-sign', { method: 'POST', headers: json, body: JSON.stringify(bad) }],
      ['/cds-services/nsaid-ckd-order-sign', { method: 'POST', headers: json, body: '{"hook":' }],
      ['/cds-services/nsaid-ckd-order-sign', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }],
      ['/cds-services/nsaid-ckd-order-sign', { method: 'GET' }],
      ['/cds-services/no-such-service', { method: 'POST', headers: json, body: '{}' }],
      ['/cds-services/nsaid-ckd-order-sign/feedback', { method: 'POST', headers: json, body: '{"feedback":[{}]}' }],
      ['/uptake/report?format=csv', { headers: admin }],
      ['/uptake/report?groupBy=nonsense', { headers: admin }],
      ['/uptake/experiments', { headers: admin }],
      ['/uptake/shadow/nsaid-ckd-order-sign', { headers: admin }],
      ['/admin/reload', { headers: admin }],
      ['/admin/explain/not-a-card', { headers: admin }],
      ['/metrics', { headers: admin }],
      ['/no/such/path'],
    ];
    for (const [path, init] of calls) {
      const res = await fetch(`${base}${path}`, init);
      expect(res.status, path).toBeLessThan(500);
      await res.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, 300));
    const lines = server.stdout().split('\n').filter(Boolean);
    const notJson = lines.filter((line) => {
      try {
        return typeof JSON.parse(line) !== 'object';
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
    expect(lines.filter((l) => l.includes('"message":"request"')).length).toBeGreaterThanOrEqual(calls.length);
  });

  it('shuts down on SIGTERM with exit code 0', async () => {
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stdout()).toContain('"message":"shutting down"');
  });
});

describe('the server process with CDS_SERVE_DRAFTS=on', () => {
  it('announces at start-up that drafts are served, serves a draft, and says so in /ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-drafts-'));
    cpSync(testKnowledge('basic'), dir, { recursive: true });
    const file = join(dir, 'rules/greeter/1.0.0.json');
    writeFileSync(file, withStatus(readFileSync(file, 'utf8'), 'draft'));
    const drafts = await startServerProcess({ env: () => ({ CDS_SERVE_DRAFTS: 'on', CDS_KNOWLEDGE_DIR: dir }) });
    try {
      const url = `http://127.0.0.1:${drafts.port}`;
      const warning = drafts
        .stdout()
        .split('\n')
        .find((line) => line.includes('CDS_SERVE_DRAFTS=on'));
      expect(JSON.parse(warning ?? '{}')).toMatchObject({
        level: 'warn',
        message: expect.stringContaining('Draft knowledge is SERVED'),
      });
      const ready = (await (await fetch(`${url}/ready`)).json()) as { knowledge: { drafts: { served: boolean } } };
      expect(ready.knowledge.drafts.served).toBe(true);
      const call = await fetch(`${url}/cds-services/greeter`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          hook: 'patient-view',
          hookInstance: 'c0a8d5b2-3333-4aaa-8bbb-000000000001',
          context: { userId: 'Practitioner/7', patientId: 'p1' },
        }),
      });
      expect(call.status).toBe(200);
    } finally {
      drafts.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
