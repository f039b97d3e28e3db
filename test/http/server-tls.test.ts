// The server process with CDS_TLS_CERT and CDS_TLS_KEY speaks HTTPS itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/app.js';

let child: ChildProcess;
let port: number;
let cert: Buffer;
const dir = mkdtempSync(join(tmpdir(), 'cds-tls-'));

function get(path: string): Promise<{ status: number; body: string; hsts?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca: cert, servername: 'localhost' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, hsts: res.headers['strict-transport-security'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  // A self-signed certificate for localhost, made for this test.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  cert = readFileSync(join(dir, 'cert.pem'));
  port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as { port: number }).port;
      probe.close(() => resolve(p));
    });
  });
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, CDS_AUTH: 'off', CDS_PORT: String(port), CDS_HOST: '127.0.0.1', CDS_DATA_DIR: dir, CDS_KNOWLEDGE_WATCH: 'off', CDS_DATABASE_URL: '', CDS_TLS_CERT: join(dir, 'cert.pem'), CDS_TLS_KEY: join(dir, 'key.pem') },
    stdio: 'ignore',
  });
  for (let i = 0; i < 120; i++) {
    const ready = await get('/ready').then((r) => r.status === 200, () => false);
    if (ready) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the HTTPS server did not become ready');
}, 60_000);

afterAll(() => {
  child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('the server over TLS', () => {
  it('answers discovery over HTTPS with the configured certificate, with HSTS', async () => {
    const res = await get('/cds-services');
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { services: unknown[] }).services.length).toBeGreaterThan(0);
    expect(res.hsts).toMatch(/max-age=\d+/);
  });
});
