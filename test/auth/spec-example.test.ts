import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { JWK } from 'jose';
import type { Knowledge } from '../../src/knowledge/index.js';
import { createMemoryJtiStore, createTokenVerifier, type TrustedClient } from '../../src/auth/index.js';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';

// The example of the CDS Hooks 2.0.1 specification, section "Security and Safety": an ES384 token
// whose key is published at its jku. It expired on 2015-01-29T22:01:00Z.
const SPEC_TOKEN =
  'eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCIsImtpZCI6ImV4YW1wbGUta2lkIiwiamt1IjoiaHR0cHM6Ly9maGlyLWVoci5leGFtcGxlLmNvbS9qd2tfdXJpIn0.eyJpc3MiOiJodHRwczovL2ZoaXItZWhyLmV4YW1wbGUuY29tLyIsImF1ZCI6Imh0dHBzOi8vY2RzLmV4YW1wbGUub3JnL2Nkcy1zZXJ2aWNlcy9zb21lLXNlcnZpY2UiLCJleHAiOjE0MjI1Njg4NjAsImlhdCI6MTMxMTI4MDk3MCwianRpIjoiZWUyMmIwMjEtZTFiNy00NjExLWJhNWItOGVlYzZhMzNhYzFlIiwidGVuYW50IjoiMmRkZDZjM2EtOGU5YS00NGM2LWEzMDUtNTIxMTFhZDMwMmEyIn0.d1WfLjGRKlcWB94l9do4cM8REXeYJLL6SGUBO8VHZhfM8mwKYP70EMxJ67War4TQblEpaQrp11wx5p7oPFm2ETYgCicS84vXWEIYTdjooZdooCSDf2L8-i4awdoUwiEb';
const SPEC_JWK: JWK = {
  kty: 'EC',
  use: 'sig',
  crv: 'P-384',
  kid: 'example-kid',
  x: '46SDH7Znh821wblCBglA61sNE9ZrHYKKt3qRtRTmSXyOI_FIGBLWrWa0GPUkDCEk',
  y: 'XMcRuuoGW7CXjQdy-F5i3FeBE0x9hPLdeFdSoDd3ELmx404tLX0VRRcqzAsPhXcI',
  alg: 'ES384',
};
const SPEC_JKU = 'https://fhir-ehr.example.com/jwk_uri';
const SPEC_CLIENT: TrustedClient = {
  iss: 'https://fhir-ehr.example.com/',
  jku: [SPEC_JKU],
  tenants: ['2ddd6c3a-8e9a-44c6-a305-52111ad302a2'],
};
const SPEC_AUD = 'https://cds.example.org/cds-services/some-service';
const BEFORE_EXP = new Date('2015-01-29T22:00:00Z');
// The example token was issued three and a half years before it expires; this server caps lifetimes
// at an hour by default, so the tests raise the cap to let the example through.
const FOUR_YEARS_S = 4 * 366 * 24 * 3600;

/** Serves the spec's JWK Set at its jku, and nothing else; counts what was asked. */
function jwksHost(): { fetchImpl: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const fetchImpl: typeof fetch = (input) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    urls.push(url);
    if (url !== SPEC_JKU) return Promise.resolve(new Response('not found', { status: 404 }));
    return Promise.resolve(
      new Response(JSON.stringify({ keys: [SPEC_JWK] }), { headers: { 'content-type': 'application/json' } }),
    );
  };
  return { fetchImpl, urls };
}

function verifier(clock: () => Date) {
  return createTokenVerifier({
    clients: [SPEC_CLIENT],
    jtiStore: createMemoryJtiStore(clock),
    clockSkewS: 60,
    maxLifetimeS: FOUR_YEARS_S,
    clock,
    fetchImpl: jwksHost().fetchImpl,
  });
}

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

describe('the CDS Hooks specification example token', () => {
  it('verifies with the clock before its exp and the audience and issuer configured to match', async () => {
    await expect(verifier(() => BEFORE_EXP).verify(SPEC_TOKEN, SPEC_AUD)).resolves.toEqual({
      iss: 'https://fhir-ehr.example.com/',
      tenant: '2ddd6c3a-8e9a-44c6-a305-52111ad302a2',
    });
  });

  it('is rejected with the real clock: it expired in 2015', async () => {
    await expect(verifier(() => new Date()).verify(SPEC_TOKEN, SPEC_AUD)).rejects.toMatchObject({
      reason: expect.stringMatching(/"exp" claim timestamp check failed/),
    });
  });

  it('gets through the server with a frozen clock, and only then', async () => {
    const jwks = jwksHost();
    const app = (authClock: () => Date) =>
      testApp({
        knowledge,
        auth: 'on',
        trustedClients: [SPEC_CLIENT],
        config: { publicBaseUrl: 'https://cds.example.org', jwtMaxLifetimeS: FOUR_YEARS_S },
        deps: { authClock, jwks: { fetchImpl: jwks.fetchImpl } },
      });
    // Authenticated: the server goes on to look for the service, which this test knowledge lacks.
    const frozen = await request(app(() => BEFORE_EXP))
      .post('/cds-services/some-service')
      .set('Authorization', `Bearer ${SPEC_TOKEN}`)
      .send({})
      .expect(404);
    expect(frozen.body.issue[0].diagnostics).toBe("no CDS service with id 'some-service' (see GET /cds-services)");
    expect(jwks.urls).toEqual([SPEC_JKU]);
    await request(app(() => new Date()))
      .post('/cds-services/some-service')
      .set('Authorization', `Bearer ${SPEC_TOKEN}`)
      .send({})
      .expect(401);
  });
});
