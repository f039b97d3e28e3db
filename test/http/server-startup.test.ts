// The server process while it starts: the port opens at once; /health is 200 and /ready 503
// "loading" with the libraries compiled so far; hook calls are 503 with Retry-After; each phase
// is one JSON log line with its duration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

interface Seen {
  ready: Array<{ status: number; body: Record<string, unknown>; retryAfter: string | null }>;
  health: number[];
  call?: { status: number; retryAfter: string | null; body: { issue: Array<{ diagnostics: string }> } };
}

const seen: Seen = { ready: [], health: [] };
let server: ServerProcess;

beforeAll(async () => {
  server = await startServerProcess({
    pollMs: 20,
    // Two evaluation threads, whatever the machine: their start is a phase of its own.
    env: () => ({ CDS_WORKERS: '2' }),
    ready: async (port, child) => {
      const base = `http://127.0.0.1:${port}`;
      try {
        const res = await fetch(`${base}/ready`);
        seen.ready.push({
          status: res.status,
          body: (await res.json()) as Record<string, unknown>,
          retryAfter: res.headers.get('retry-after'),
        });
        if (res.status === 503 && !seen.call) {
          // An operator's SIGHUP while starting must not end the process.
          child.kill('SIGHUP');
          seen.health.push((await fetch(`${base}/health`)).status);
          const call = await fetch(`${base}/cds-services/nsaid-ckd-order-sign`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          });
          seen.call = {
            status: call.status,
            retryAfter: call.headers.get('retry-after'),
            body: (await call.json()) as { issue: Array<{ diagnostics: string }> },
          };
        }
        return res.ok;
      } catch {
        return false;
      }
    },
  });
}, 60_000);

afterAll(() => server.stop());

describe('the server process while it starts', () => {
  it('answers /ready 503 "loading" with progress before it answers 200, and /health 200 meanwhile', () => {
    const loading = seen.ready.filter((r) => r.status === 503);
    expect(loading.length).toBeGreaterThan(0);
    expect(seen.ready.at(-1)?.status).toBe(200);
    for (const r of loading) {
      expect(r.body).toMatchObject({ status: 'loading', phase: expect.any(String), progress: expect.any(String) });
      expect(r.retryAfter).toBe('5');
    }
    expect(seen.health).toEqual([200]);
    const compiling = loading.map((r) => String(r.body.progress)).filter((p) => /libraries compiled$/.test(p));
    expect(compiling.length).toBeGreaterThan(0);
    for (const p of compiling) expect(p).toMatch(/^\d+ of \d+ libraries compiled$/);
  });

  it('answers a hook call 503 with Retry-After while loading', () => {
    expect(seen.call).toMatchObject({ status: 503, retryAfter: '5' });
    expect(seen.call?.body.issue[0].diagnostics).toMatch(/^the server is starting \(.+\); try again shortly/);
  });

  it('keeps starting through a SIGHUP, and reloads once ready', async () => {
    expect(server.stdout()).toContain(
      '"message":"SIGHUP while starting: the knowledge is reloaded once start-up is done"',
    );
    expect(server.child.exitCode).toBeNull();
    for (let i = 0; i < 100 && !/"message":"knowledge reload/.test(server.stdout()); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(server.stdout()).toMatch(/"message":"knowledge reload/);
  });

  it('logs one JSON line per phase with its duration, then one when ready', () => {
    const lines = server
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const phases = lines.filter((l) => l.message === 'start-up phase');
    expect(phases.map((l) => l.phase)).toEqual(['uptake ledger', 'knowledge', 'FHIR model', 'evaluation workers']);
    for (const p of phases) expect(p.durationMs).toEqual(expect.any(Number));
    expect(phases[1].libraries).toBeGreaterThan(0);
    const order = lines.map((l) => l.message);
    expect(order.indexOf('listening')).toBeLessThan(order.indexOf('start-up phase'));
    expect(lines.find((l) => l.message === 'ready')).toMatchObject({ durationMs: expect.any(Number) });
  });
});
