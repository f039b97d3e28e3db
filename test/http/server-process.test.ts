// The server as `npm start` runs it (src/main.ts, in its own process): starts on the shipped
// knowledge, answers, keeps stdout to JSON log lines, and shuts down cleanly on SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, testKnowledge } from '../support/app.js';
import { withStatus } from '../../src/knowledge/index.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

const fixture = (): { prefetch: { egfr: { entry: Array<{ resource: Record<string, unknown> }> } } } =>
  JSON.parse(readFileSync(join(repoRoot, 'fixtures/requests/nsaid-ckd-order-sign/egfr-22-ibuprofen.json'), 'utf8'));

let server: ServerProcess;
let base: string;

beforeAll(async () => {
  server = await startServerProcess();
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
