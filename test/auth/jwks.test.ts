import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { JWK } from 'jose';
import type { Knowledge } from '../../src/knowledge/index.js';
import { knowledgeFrom, testKnowledge } from '../support/app.js';
import {
  authApp,
  bearer,
  claims,
  loopbackServer,
  newSigner,
  sendJson,
  sign,
  EHR_ISS,
  type LoopbackServer,
} from './support.js';

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

const servers: LoopbackServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A JWK Set host on loopback whose keys the test can change (key rotation). */
async function jwksHost(keys: JWK[]): Promise<{ server: LoopbackServer; jku: string; publish: (next: JWK[]) => void }> {
  let current = keys;
  const server = await loopbackServer((_req, res) => sendJson(res, { keys: current }));
  servers.push(server);
  return { server, jku: `${server.origin}/.well-known/jwks.json`, publish: (next) => (current = next) };
}

const DISCOVERY = '/cds-services';

describe('keys fetched from an allowlisted jku', () => {
  it('fetches the JWK Set once and serves later calls from the cache', async () => {
    const signer = await newSigner('ES384');
    const host = await jwksHost([signer.publicJwk]);
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jku: [host.jku] }] });
    for (let i = 0; i < 3; i++) {
      await request(app)
        .get(DISCOVERY)
        .set(bearer(await sign(signer, claims(DISCOVERY), { jku: host.jku })))
        .expect(200);
    }
    expect(host.server.hits.map((h) => h.url)).toEqual(['/.well-known/jwks.json']);
  });

  it('uses the configured jku when the token names none', async () => {
    const signer = await newSigner('RS384');
    const host = await jwksHost([signer.publicJwk]);
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jku: [host.jku] }] });
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(signer, claims(DISCOVERY))))
      .expect(200);
    expect(host.server.hits).toHaveLength(1);
  });

  it('refreshes the JWK Set once when a rotated key appears, then accepts it', async () => {
    const before = await newSigner('ES384');
    const after = await newSigner('ES384');
    const host = await jwksHost([before.publicJwk]);
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jku: [host.jku] }], deps: { jwks: { cooldownMs: 0 } } });
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(before, claims(DISCOVERY), { jku: host.jku })))
      .expect(200);
    host.publish([after.publicJwk]);
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(after, claims(DISCOVERY), { jku: host.jku })))
      .expect(200);
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(after, claims(DISCOVERY), { jku: host.jku })))
      .expect(200);
    expect(host.server.hits).toHaveLength(2);
  });

  it('refuses a kid still unknown after one refresh', async () => {
    const known = await newSigner('ES384');
    const unknown = await newSigner('ES384');
    const host = await jwksHost([known.publicJwk]);
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jku: [host.jku] }], deps: { jwks: { cooldownMs: 0 } } });
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(known, claims(DISCOVERY), { jku: host.jku })))
      .expect(200);
    const res = await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(unknown, claims(DISCOVERY), { jku: host.jku })))
      .expect(401);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(host.server.hits).toHaveLength(2);
  });

  it('does not refetch for unknown kids more often than the cooldown allows', async () => {
    const known = await newSigner('ES384');
    const host = await jwksHost([known.publicJwk]);
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jku: [host.jku] }] });
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(known, claims(DISCOVERY), { jku: host.jku })))
      .expect(200);
    for (let i = 0; i < 3; i++) {
      const stranger = await newSigner('ES384');
      await request(app)
        .get(DISCOVERY)
        .set(bearer(await sign(stranger, claims(DISCOVERY), { jku: host.jku })))
        .expect(401);
    }
    expect(host.server.hits).toHaveLength(1);
  });

  it('refuses a jku that is not on the allowlist without making any request to it', async () => {
    const ehr = await newSigner('ES384');
    const attacker = await newSigner('ES384');
    const trusted = await jwksHost([ehr.publicJwk]);
    const forged = await jwksHost([attacker.publicJwk]);
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jku: [trusted.jku] }] });
    const res = await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(attacker, claims(DISCOVERY), { jku: forged.jku })))
      .expect(401);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(forged.server.hits).toEqual([]);
    expect(trusted.server.hits).toEqual([]);
  });

  it('never fetches the jku of a token from a client whose keys are pinned, and verifies with the pinned keys', async () => {
    const ehr = await newSigner('ES384');
    const attacker = await newSigner('ES384', ehr.kid);
    const forged = await jwksHost([attacker.publicJwk]);
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jwks: { keys: [ehr.publicJwk] } }] });
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(attacker, claims(DISCOVERY), { jku: forged.jku })))
      .expect(401);
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(ehr, claims(DISCOVERY), { jku: forged.jku })))
      .expect(200);
    expect(forged.server.hits).toEqual([]);
  });

  it('refuses a jku on the same host but another path', async () => {
    const ehr = await newSigner('ES384');
    const host = await jwksHost([ehr.publicJwk]);
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jku: [host.jku] }] });
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(ehr, claims(DISCOVERY), { jku: `${host.server.origin}/uploads/jwks.json` })))
      .expect(401);
    expect(host.server.hits).toEqual([]);
  });

  it('refuses when the JWK Set cannot be fetched', async () => {
    const signer = await newSigner('ES384');
    const server = await loopbackServer((_req, res) => sendJson(res, { error: 'down' }, 503));
    servers.push(server);
    const jku = `${server.origin}/jwks.json`;
    const app = authApp({ knowledge, clients: [{ iss: EHR_ISS, jku: [jku] }] });
    await request(app)
      .get(DISCOVERY)
      .set(bearer(await sign(signer, claims(DISCOVERY), { jku })))
      .expect(401);
  });
});
