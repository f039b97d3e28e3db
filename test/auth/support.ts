// Helpers for the authentication tests: key pairs and signed tokens made with jose, apps with
// verification on, loopback HTTP servers that count their hits, and log capture.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { Express } from 'express';
import type { Config } from '../../src/config.js';
import type { AppDeps } from '../../src/app.js';
import type { TrustedClient } from '../../src/auth/index.js';
import type { Knowledge } from '../../src/knowledge/index.js';
import { testApp } from '../support/app.js';

export const BASE_URL = 'https://cds.test.example';
export const EHR_ISS = 'https://ehr.test.example/';

export interface Signer {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function newSigner(alg = 'ES384', kid = `key-${randomUUID()}`): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

/** Claims of a good token for the endpoint at `path`, valid now for five minutes. */
export function claims(path: string, overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: EHR_ISS, aud: `${BASE_URL}${path}`, iat: now, exp: now + 300, jti: randomUUID(), ...overrides };
}

export function sign(signer: Signer, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT', ...header })
    .sign(signer.privateKey);
}

export const bearer = (token: string): { Authorization: string } => ({ Authorization: `Bearer ${token}` });

export function client(signer: Signer | Signer[], more: Partial<TrustedClient> = {}): TrustedClient {
  const signers = Array.isArray(signer) ? signer : [signer];
  return { iss: EHR_ISS, jwks: { keys: signers.map((s) => s.publicJwk) }, fhirServers: [], ...more };
}

export interface AuthAppOptions {
  knowledge: Knowledge;
  clients: TrustedClient[];
  config?: Partial<Config>;
  deps?: Partial<AppDeps>;
  fetchImpl?: typeof fetch;
}

/** An app as deployed: verification on, public base URL BASE_URL. */
export function authApp({ knowledge, clients, config, deps, fetchImpl }: AuthAppOptions): Express {
  return testApp({
    knowledge,
    auth: 'on',
    trustedClients: clients,
    config: { publicBaseUrl: BASE_URL, ...config },
    deps,
    fetchImpl,
    now: '2026-06-01T12:00:00Z',
  });
}

export { captureLogs, type CapturedLogs } from '../support/logs.js';

export interface LoopbackServer {
  /** http://127.0.0.1:port */
  origin: string;
  /** Every request received: method, path with query, headers. */
  hits: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  close: () => Promise<void>;
}

/** A real HTTP server on loopback that records each request before `handle` answers it. */
export async function loopbackServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<LoopbackServer> {
  const hits: LoopbackServer['hits'] = [];
  const server = createServer((req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
