import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUptakeStore } from '../../src/uptake/index.js';
import { testUptakeConfig } from '../uptake/support.js';
import type { Knowledge } from '../../src/knowledge/index.js';
import { knowledgeFrom, testKnowledge } from '../support/app.js';
import { egfrObservation, renalRequest } from '../support/requests.js';
import {
  authApp,
  bearer,
  captureLogs,
  claims,
  client,
  loopbackServer,
  newSigner,
  sendJson,
  sign,
  type LoopbackServer,
  type Signer,
} from './support.js';

const SERVICE = '/cds-services/renal-test';
let knowledge: Knowledge;
let signer: Signer;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
  signer = await newSigner('ES384');
});

const servers: LoopbackServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/**
 * A FHIR server on loopback holding patient p1 with a low eGFR; the Observation search is split over
 * two pages. `slow` makes it never answer.
 */
async function fhirServer({ slow = false } = {}): Promise<LoopbackServer & { base: string }> {
  let origin = '';
  const server = await loopbackServer((req, res) => {
    if (slow) return;
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/r4/Patient/p1')
      return sendJson(res, { resourceType: 'Patient', id: 'p1', birthDate: '1950-01-01' });
    if (url.pathname === '/r4/Observation' && url.searchParams.get('page') === '2') {
      return sendJson(res, {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [{ resource: egfrObservation('egfr-page-2', 22, '2026-05-20') }],
      });
    }
    if (url.pathname === '/r4/Observation') {
      return sendJson(res, {
        resourceType: 'Bundle',
        type: 'searchset',
        link: [{ relation: 'next', url: `${origin}/r4/Observation?page=2` }],
      });
    }
    sendJson(res, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] }, 404);
  });
  origin = server.origin;
  servers.push(server);
  return { ...server, base: `${server.origin}/r4` };
}

/** A renal-test call with no prefetch: everything must come from `fhirServer`, with `accessToken`. */
function callWithoutPrefetch(fhirServerUrl: string, accessToken: string): Record<string, unknown> {
  return {
    ...renalRequest({ prefetch: false }),
    fhirServer: fhirServerUrl,
    fhirAuthorization: {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'patient/*.read',
      subject: 'cds-service',
    },
  };
}

describe('FHIR requests on behalf of a verified client', () => {
  it("fetches missing prefetch from an allowed FHIR server with the EHR's access token, following pages", async () => {
    const fhir = await fhirServer();
    const accessToken = `at-${Math.random().toString(36).slice(2)}`;
    const app = authApp({ knowledge, clients: [client(signer, { fhirServers: [fhir.origin] })] });
    const res = await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send(callWithoutPrefetch(fhir.base, accessToken))
      .expect(200);
    expect(res.body.cards.map((c: { summary: string }) => c.summary)).toEqual([
      'Ibuprofen 400 mg with eGFR 22 mL/min/1.73m2',
    ]);
    expect(fhir.hits.map((h) => h.url).sort()).toEqual([
      '/r4/Observation?page=2',
      expect.stringMatching(/^\/r4\/Observation\?patient=p1&code=/),
      '/r4/Patient/p1',
    ]);
    for (const hit of fhir.hits) expect(hit.headers.authorization).toBe(`Bearer ${accessToken}`);
  });

  it('answers 412 without any request when the FHIR server is not one the client may name', async () => {
    const allowed = await fhirServer();
    const other = await fhirServer();
    const app = authApp({ knowledge, clients: [client(signer, { fhirServers: [allowed.origin] })] });
    const res = await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send(callWithoutPrefetch(other.base, 'at-not-allowed'))
      .expect(412);
    expect(res.body.issue.map((i: { diagnostics: string }) => i.diagnostics)).toEqual([
      "prefetch key 'patient' is missing and the request's fhirServer is not one this client may name",
      "prefetch key 'egfr' is missing and the request's fhirServer is not one this client may name",
    ]);
    expect(other.hits).toEqual([]);
    expect(allowed.hits).toEqual([]);
  });

  it('answers 412 without any request for a client allowed no FHIR server at all', async () => {
    const fhir = await fhirServer();
    const app = authApp({ knowledge, clients: [client(signer)] });
    await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send(callWithoutPrefetch(fhir.base, 'at-no-servers'))
      .expect(412);
    expect(fhir.hits).toEqual([]);
  });

  it('compares origins exactly: another port of the same host is another server', async () => {
    const fhir = await fhirServer();
    const port = Number(new URL(fhir.origin).port);
    const app = authApp({
      knowledge,
      clients: [client(signer, { fhirServers: [`http://127.0.0.1:${port === 65535 ? port - 1 : port + 1}`] })],
    });
    await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send(callWithoutPrefetch(fhir.base, 'at-port'))
      .expect(412);
    expect(fhir.hits).toEqual([]);
  });

  it('serves a call whose prefetch is complete without contacting a FHIR server it may not name', async () => {
    const fhir = await fhirServer();
    const app = authApp({ knowledge, clients: [client(signer)] });
    const body = { ...renalRequest(), fhirServer: fhir.base };
    await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send(body)
      .expect(200);
    expect(fhir.hits).toEqual([]);
  });

  it('answers 412 naming the deadline when the FHIR server does not answer in time', async () => {
    const fhir = await fhirServer({ slow: true });
    const app = authApp({
      knowledge,
      clients: [client(signer, { fhirServers: [fhir.origin] })],
      config: { fhirTimeoutMs: 60_000, prefetchDeadlineMs: 200 },
    });
    const res = await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send(callWithoutPrefetch(fhir.base, 'at-slow'))
      .expect(412);
    expect(res.body.issue[0].diagnostics).toMatch(
      /could not be fetched from fhirServer: no answer within the call's deadline of 200 ms/,
    );
  });
});

describe('the FHIR access token is a secret', () => {
  it('never appears in any log line or error, whatever happens to the call', async () => {
    const accessToken = `secret-access-token-${Math.random().toString(36).slice(2)}`;
    const logs = captureLogs();
    const good = await fhirServer();
    const slow = await fhirServer({ slow: true });
    const app = authApp({
      knowledge,
      clients: [client(signer, { fhirServers: [good.origin, slow.origin] })],
      config: { prefetchDeadlineMs: 200 },
      deps: { logger: logs.logger },
    });
    const bodies: string[] = [];
    const call = async (server: string, token?: string) => {
      const req = request(app).post(SERVICE);
      const res = await (token ? req.set(bearer(token)) : req).send(callWithoutPrefetch(server, accessToken));
      bodies.push(res.text);
      return res.status;
    };
    expect(await call(good.base, await sign(signer, claims(SERVICE)))).toBe(200);
    expect(await call(slow.base, await sign(signer, claims(SERVICE)))).toBe(412);
    expect(await call('https://not-allowed.example/r4', await sign(signer, claims(SERVICE)))).toBe(412);
    expect(await call(good.base)).toBe(401);
    expect(await call(good.base, 'garbage')).toBe(401);
    expect(logs.lines.length).toBeGreaterThan(5);
    expect(logs.text()).not.toContain(accessToken);
    for (const body of bodies) expect(body).not.toContain(accessToken);
  });
});

describe('the FHIR access token is never stored', () => {
  it('leaves no trace of it in the uptake ledger of a served call', async () => {
    const accessToken = `stored-access-token-${Math.random().toString(36).slice(2)}`;
    const fhir = await fhirServer();
    const { config, cleanup } = await testUptakeConfig('sqlite');
    const logs = captureLogs();
    const uptake = await createUptakeStore(config, { logger: logs.logger });
    try {
      const app = authApp({
        knowledge,
        clients: [client(signer, { fhirServers: [fhir.origin] })],
        deps: { uptake, logger: logs.logger },
      });
      const res = await request(app)
        .post(SERVICE)
        .set(bearer(await sign(signer, claims(SERVICE))))
        .send(callWithoutPrefetch(fhir.base, accessToken))
        .expect(200);
      expect(res.body.cards).toHaveLength(1);
      await uptake.flush();
      const stored = readdirSync(config.dataDir).map((file) =>
        readFileSync(join(config.dataDir, file)).toString('latin1'),
      );
      expect(stored.join('')).toContain('renal-test');
      for (const content of stored) expect(content).not.toContain(accessToken);
      expect(logs.text()).not.toContain(accessToken);
    } finally {
      await uptake.close();
      await cleanup();
    }
  });
});
