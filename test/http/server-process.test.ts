// The server as `npm start` runs it (src/main.ts, in its own process): starts on the shipped
// knowledge, answers, keeps stdout to JSON log lines, and shuts down cleanly on SIGTERM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/app.js';


const fixture = (): { prefetch: { egfr: { entry: Array<{ resource: Record<string, unknown> }> } } } =>
  JSON.parse(readFileSync(join(repoRoot, 'fixtures/requests/nsaid-ckd-order-sign/egfr-22-ibuprofen.json'), 'utf8'));

let child: ChildProcess;
let base: string;
let stdout = '';
let exited: Promise<number | null>;
const dataDir = mkdtempSync(join(tmpdir(), 'cds-process-'));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, CDS_AUTH: 'off', CDS_PORT: String(port), CDS_HOST: '127.0.0.1', CDS_DATA_DIR: dataDir, CDS_KNOWLEDGE_WATCH: 'off', CDS_LOG_LEVEL: 'info', CDS_DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.resume();
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 120; i++) {
    const ready = await fetch(`${base}/ready`).then((r) => r.ok, () => false);
    if (ready) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the server did not become ready:\n${stdout}`);
}, 60_000);

afterAll(() => {
  child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the server process', () => {
  it('serves discovery and a hook call on the shipped knowledge', async () => {
    const discovery = (await (await fetch(`${base}/cds-services`)).json()) as { services: Array<{ id: string }> };
    expect(discovery.services.map((s) => s.id)).toContain('nsaid-ckd-order-sign');
    const res = await fetch(`${base}/cds-services/nsaid-ckd-order-sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fixture()) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { cards: unknown[] }).cards.length).toBeGreaterThan(0);
  });

  it('answers 400 for a Quantity with a unit that is not UCUM, and keeps stdout to JSON lines', async () => {
    const body = fixture();
    body.prefetch.egfr.entry[0].resource.valueQuantity = { value: 25, system: 'http://unitsofmeasure.org', code: 'not a unit' };
    const res = await fetch(`${base}/cds-services/nsaid-ckd-order-sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { issue: Array<{ expression: string[] }> }).issue[0].expression).toEqual(['prefetch.egfr.entry[0].resource.valueQuantity.code']);
    await new Promise((r) => setTimeout(r, 200));
    const lines = stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.filter((line) => !line.startsWith('{'))).toEqual([]);
  });

  it('shuts down on SIGTERM with exit code 0', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('"message":"shutting down"');
  });
});
