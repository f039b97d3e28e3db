import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTrustedClients, TrustedClientsError } from '../../src/auth/index.js';
import { repoRoot } from '../support/app.js';
import { newSigner } from './support.js';

function writeClients(content: unknown, extraFiles: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-clients-'));
  for (const [name, value] of Object.entries(extraFiles))
    writeFileSync(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
  const file = join(dir, 'trusted-clients.json');
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function problemsOf(file: string): Promise<string[]> {
  try {
    await loadTrustedClients(file);
  } catch (err) {
    expect(err).toBeInstanceOf(TrustedClientsError);
    return (err as TrustedClientsError).problems.map((p) => p.slice(file.length + 2));
  }
  return expect.fail('expected the file to be refused');
}

describe('the trusted-clients file', () => {
  it('loads the example documented in the README', async () => {
    const clients = await loadTrustedClients(join(repoRoot, 'docs', 'trusted-clients.example.json'));
    expect(clients.map((c) => c.iss)).toEqual(['https://fhir-ehr.example.com/', 'https://ehr.hospital.example.org']);
    expect(clients[1].fhirServers).toEqual([
      'https://fhir.hospital.example.org',
      'https://fhir-backup.hospital.example.org:8443',
    ]);
    expect(clients[1].jwks?.keys.map((k) => k.kid)).toEqual(['example-kid']);
  });

  it('merges keys given inline and in a jwksFile next to it', async () => {
    const [a, b] = [await newSigner('ES384'), await newSigner('RS384')];
    const file = writeClients(
      { clients: [{ iss: 'https://ehr.example', jwks: { keys: [a.publicJwk] }, jwksFile: 'keys.json' }] },
      { 'keys.json': { keys: [b.publicJwk] } },
    );
    const [client] = await loadTrustedClients(file);
    expect(client.jwks?.keys.map((k) => k.kid)).toEqual([a.kid, b.kid]);
    expect(client.fhirServers).toEqual([]);
  });

  it('lists every problem at once, each with where it is', async () => {
    const signer = await newSigner('ES384');
    const file = writeClients({
      clients: [
        {
          iss: 'https://one.example',
          jku: ['http://keys.example/jwks.json'],
          fhirServers: ['https://fhir.example/r4', 'https://ok.example'],
        },
        { iss: 'https://two.example' },
        { iss: 'https://three.example', jwks: { keys: [{ ...signer.publicJwk, kty: 'oct' }] }, tenant: 'typo' },
        { iss: 'https://one.example', jwksFile: 'missing.json' },
      ],
    });
    expect(await problemsOf(file)).toEqual([
      '/clients/1: needs at least one way to find its keys: jku, jwks or jwksFile',
      "/clients/2: unknown property 'tenant'",
      '/clients/2/jwks/keys/0/kty: must be one of EC, RSA',
    ]);
    const second = writeClients({
      clients: [
        {
          iss: 'https://one.example',
          jku: ['http://keys.example/jwks.json'],
          fhirServers: ['https://fhir.example/r4', 'https://ok.example'],
        },
        { iss: 'https://one.example', jwksFile: 'missing.json' },
      ],
    });
    expect(await problemsOf(second)).toEqual([
      "/clients/0/jku/0: 'http://keys.example/jwks.json' must use https (http is accepted on loopback only)",
      "/clients/0/fhirServers/0: 'https://fhir.example/r4' must be an origin only, such as https://fhir.example.org (scheme, host and port; no path, no trailing slash)",
      "/clients/1/iss: 'https://one.example' is configured twice",
      expect.stringMatching(/^\/clients\/1\/jwksFile: .*missing\.json cannot be read \(ENOENT\)$/),
    ]);
  });

  it('names the value a key must have', async () => {
    const signer = await newSigner('ES384');
    const key = { ...signer.publicJwk, use: 'enc' };
    const file = writeClients({ clients: [{ iss: 'https://ehr.example', jwks: { keys: [key] } }] });
    expect(await problemsOf(file)).toEqual(['/clients/0/jwks/keys/0/use: must be "sig"']);
  });

  it('refuses private keys and keys that do not parse', async () => {
    const signer = await newSigner('ES384');
    const { exportJWK } = await import('jose');
    const privateJwk = { ...(await exportJWK(signer.privateKey)), kid: 'leaked' };
    const file = writeClients({
      clients: [
        {
          iss: 'https://ehr.example',
          jwks: { keys: [privateJwk, { kty: 'EC', kid: 'broken', crv: 'P-384', x: 'AAAA', y: 'AAAA' }] },
        },
      ],
    });
    expect(await problemsOf(file)).toEqual([
      "/clients/0/jwks/keys/0: 'leaked' is a private key; give only the public part",
      expect.stringMatching(/^\/clients\/0\/jwks\/keys\/1: 'broken' is not a usable public key/),
    ]);
  });

  it('says so when the file is missing or not JSON', async () => {
    await expect(loadTrustedClients('/nonexistent/trusted-clients.json')).rejects.toThrow(
      /trusted-clients\.json: cannot be read \(ENOENT\)/,
    );
    await expect(loadTrustedClients(writeClients('{"clients": ['))).rejects.toThrow(/not valid JSON/);
  });
});
