import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import express from 'express';
import type { Knowledge } from '../../src/knowledge/index.js';
import { createMemoryJtiStore, createTokenVerifier } from '../../src/auth/index.js';
import { requireCdsClient } from '../../src/http/client-auth.js';
import { errorHandler } from '../../src/http/error-handler.js';
import { createLogger } from '../../src/logger.js';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { authApp, bearer, BASE_URL, claims, client, newSigner, sign, type Signer } from './support.js';

let knowledge: Knowledge;
let signer: Signer;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
  signer = await newSigner('ES384');
});

describe('the verified client', () => {
  it('is handed to the handlers as res.locals.client = { iss, tenant }', async () => {
    const verifier = createTokenVerifier({
      clients: [client(signer)],
      jtiStore: createMemoryJtiStore(),
      clockSkewS: 60,
      maxLifetimeS: 3600,
    });
    const app = express();
    app.use((_req, res, next) => {
      res.locals.logger = createLogger('error', true);
      next();
    });
    app.use('/cds-services', requireCdsClient({ verifier, publicBaseUrl: BASE_URL }));
    app.get('/cds-services', (_req, res) => {
      res.json({ client: res.locals.client, allowedFhirServers: res.locals.allowedFhirServers });
    });
    app.use(errorHandler(createLogger('error', true)));
    const res = await request(app)
      .get('/cds-services')
      .set(bearer(await sign(signer, claims('/cds-services', { tenant: 'tenant-east' }))))
      .expect(200);
    expect(res.body).toEqual({
      client: { iss: 'https://ehr.test.example/', tenant: 'tenant-east' },
      allowedFhirServers: [],
    });
  });
});

describe('when the jti store cannot answer', () => {
  it('refuses the call rather than risk a replay', async () => {
    const jtiStore = { firstUse: () => Promise.reject(new Error('database unavailable')) };
    const app = authApp({ knowledge, clients: [client(signer)], deps: { jtiStore } });
    await request(app)
      .get('/cds-services')
      .set(bearer(await sign(signer, claims('/cds-services'))))
      .expect(401);
  });
});

describe('rate limiting', () => {
  it('answers 429 with an OperationOutcome and Retry-After once a client has used its calls for the minute', async () => {
    const app = authApp({ knowledge, clients: [client(signer)], config: { rateLimitPerMinute: 2 } });
    for (let i = 0; i < 2; i++)
      await request(app)
        .get('/cds-services')
        .set(bearer(await sign(signer, claims('/cds-services'))))
        .expect(200);
    const res = await request(app)
      .get('/cds-services')
      .set(bearer(await sign(signer, claims('/cds-services'))))
      .expect(429);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0]).toMatchObject({
      code: 'throttled',
      diagnostics: expect.stringMatching(
        /^too many calls from this client: at most 2 a minute are served; try again in \d+ s$/,
      ),
    });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('counts each client on its own', async () => {
    const other = await newSigner('ES384');
    const app = authApp({
      knowledge,
      clients: [client(signer), client(other, { iss: 'https://other-ehr.example/' })],
      config: { rateLimitPerMinute: 1 },
    });
    await request(app)
      .get('/cds-services')
      .set(bearer(await sign(signer, claims('/cds-services'))))
      .expect(200);
    await request(app)
      .get('/cds-services')
      .set(bearer(await sign(signer, claims('/cds-services'))))
      .expect(429);
    await request(app)
      .get('/cds-services')
      .set(bearer(await sign(other, claims('/cds-services', { iss: 'https://other-ehr.example/' }))))
      .expect(200);
  });

  it("does not let refused tokens spend a client's allowance", async () => {
    const app = authApp({ knowledge, clients: [client(signer)], config: { rateLimitPerMinute: 1 } });
    for (let i = 0; i < 3; i++)
      await request(app)
        .get('/cds-services')
        .set(bearer(await sign(signer, claims('/cds-services', { aud: 'https://elsewhere.example/' }))))
        .expect(401);
    await request(app)
      .get('/cds-services')
      .set(bearer(await sign(signer, claims('/cds-services'))))
      .expect(200);
  });
});

describe('security headers', () => {
  it('sends the usual hardening headers on every answer', async () => {
    const res = await request(testApp({ knowledge })).get('/cds-services').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});

describe('GET /ready and the authentication mode', () => {
  it('says verification is on and how many clients are trusted', async () => {
    const res = await request(authApp({ knowledge, clients: [client(signer)] }))
      .get('/ready')
      .expect(200);
    expect(res.body.auth).toEqual({ verification: 'on', trustedClients: 1 });
  });

  it('warns loudly when verification is off', async () => {
    const res = await request(testApp({ knowledge, auth: 'off' }))
      .get('/ready')
      .expect(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.auth).toEqual({
      verification: 'off',
      warning: expect.stringMatching(/^JWT verification is OFF \(CDS_AUTH=off\).*local development only/i),
    });
  });

  it('refuses to build a server with verification on but no trusted clients', () => {
    expect(() => testApp({ knowledge, auth: 'on', config: { publicBaseUrl: BASE_URL } })).toThrow(
      /auth is on: trusted clients and the public base URL are required/,
    );
  });
});
