// The server process with CDS_TLS_CERT and CDS_TLS_KEY speaks HTTPS itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

let server: ServerProcess;
let cert: Buffer;
// The certificate and key live outside the server's data directory, made before it starts.
const certDir = mkdtempSync(join(tmpdir(), 'cds-tls-'));

function get(port: number, path: string): Promise<{ status: number; body: string; hsts?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca: cert, servername: 'localhost' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body, hsts: res.headers['strict-transport-security'] }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  // A self-signed certificate for localhost, made for this test.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(join(certDir, 'cert.pem'));
  server = await startServerProcess({
    env: () => ({ CDS_TLS_CERT: join(certDir, 'cert.pem'), CDS_TLS_KEY: join(certDir, 'key.pem') }),
    ready: (port) =>
      get(port, '/ready').then(
        (r) => r.status === 200,
        () => false,
      ),
  });
}, 60_000);

afterAll(() => {
  server.stop();
  rmSync(certDir, { recursive: true, force: true });
});

describe('the server over TLS', () => {
  it('answers discovery over HTTPS with the configured certificate, with HSTS', async () => {
    const res = await get(server.port, '/cds-services');
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { services: unknown[] }).services.length).toBeGreaterThan(0);
    expect(res.hsts).toMatch(/max-age=\d+/);
  });
});
