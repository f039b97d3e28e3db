import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import request from 'supertest';
import { exportSPKI, SignJWT } from 'jose';
import type { Knowledge } from '../../src/knowledge/index.js';
import { knowledgeFrom, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { authApp, bearer, captureLogs, claims, client, newSigner, sign, type Signer } from './support.js';

// Counts evaluations, so each refused call can be shown to have evaluated nothing.
const engine = vi.hoisted(() => ({ evaluations: 0 }));
vi.mock('../../src/engine/evaluate.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/engine/evaluate.js')>();
  return {
    ...original,
    evaluate: (...args: Parameters<typeof original.evaluate>) => {
      engine.evaluations++;
      return original.evaluate(...args);
    },
  };
});

const SERVICE = '/cds-services/renal-test';
let knowledge: Knowledge;
let signer: Signer;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
  signer = await newSigner('ES384');
});
beforeEach(() => {
  engine.evaluations = 0;
});

const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function setup() {
  const logs = captureLogs();
  const app = authApp({ knowledge, clients: [client(signer)], deps: { logger: logs.logger } });
  return { app, logs };
}

/**
 * Calls the service with `token` and checks the refusal a caller sees: 401, a bare OperationOutcome, nothing
 * evaluated.
 */
async function expectRefused(
  token: string | undefined,
  logs: ReturnType<typeof captureLogs>,
  app = setup().app,
): Promise<string> {
  const call = request(app).post(SERVICE).send(renalRequest());
  const res = await (token === undefined ? call : call.set(bearer(token))).expect(401);
  expect(res.body).toEqual({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'login', diagnostics: 'unauthorized' }],
  });
  expect(res.headers['www-authenticate']).toBe('Bearer');
  expect(engine.evaluations).toBe(0);
  const reasons = logs.lines.filter((l) => l.message === 'authentication failed').map((l) => String(l.reason));
  expect(reasons).toHaveLength(1);
  if (token) expect(logs.text()).not.toContain(token.split('.')[2] || token);
  return reasons[0];
}

describe('a correctly signed call from a trusted client', () => {
  it('is served and evaluated', async () => {
    const { app } = setup();
    const res = await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send(renalRequest())
      .expect(200);
    expect(res.body.cards).toHaveLength(1);
    expect(engine.evaluations).toBe(1);
  });

  it('is accepted with aud given as an array that names the endpoint', async () => {
    const { app } = setup();
    const token = await sign(
      signer,
      claims(SERVICE, { aud: ['https://elsewhere.example/x', `https://cds.test.example${SERVICE}`] }),
    );
    await request(app).post(SERVICE).set(bearer(token)).send(renalRequest()).expect(200);
  });

  it('is accepted when aud and the path differ only by a trailing slash', async () => {
    const { app } = setup();
    await request(app)
      .get('/cds-services')
      .set(bearer(await sign(signer, claims('/cds-services/'))))
      .expect(200);
    await request(app)
      .get('/cds-services/')
      .set(bearer(await sign(signer, claims('/cds-services'))))
      .expect(200);
  });

  it('is accepted from an RS384 client too', async () => {
    const rsa = await newSigner('RS384');
    const app = authApp({ knowledge, clients: [client(rsa)] });
    await request(app)
      .get('/cds-services')
      .set(bearer(await sign(rsa, claims('/cds-services'))))
      .expect(200);
  });
});

describe('the attack suite: every case is refused with 401 and nothing is evaluated', () => {
  it('refuses a call without an Authorization header', async () => {
    const { app, logs } = setup();
    expect(await expectRefused(undefined, logs, app)).toBe('no Authorization header');
  });

  it('refuses an Authorization header that is not a Bearer token', async () => {
    const { app, logs } = setup();
    const res = await request(app)
      .post(SERVICE)
      .set('Authorization', 'Basic dXNlcjpwYXNz')
      .send(renalRequest())
      .expect(401);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(engine.evaluations).toBe(0);
    expect(logs.lines.find((l) => l.message === 'authentication failed')?.reason).toMatch(/not a Bearer token/);
  });

  it('refuses alg "none"', async () => {
    const { app, logs } = setup();
    const token = `${base64url({ alg: 'none', typ: 'JWT', kid: signer.kid })}.${base64url(claims(SERVICE))}.`;
    expect(await expectRefused(token, logs, app)).toMatch(/alg "none" is not accepted/);
  });

  it("refuses HS256 signed with the client's public key as the secret (alg confusion)", async () => {
    const { app, logs } = setup();
    const secret = new TextEncoder().encode(await exportSPKI(signer.publicKey));
    const token = await new SignJWT(claims(SERVICE))
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: signer.kid })
      .sign(secret);
    expect(await expectRefused(token, logs, app)).toMatch(/alg "HS256" is not accepted/);
  });

  it('refuses a token whose aud is another server', async () => {
    const { app, logs } = setup();
    const token = await sign(signer, claims(SERVICE, { aud: `https://other.example${SERVICE}` }));
    expect(await expectRefused(token, logs, app)).toMatch(/aud .* is not this endpoint/);
  });

  it('refuses a token whose aud is another endpoint of this server', async () => {
    const { app, logs } = setup();
    const token = await sign(signer, claims('/cds-services/greeter'));
    expect(await expectRefused(token, logs, app)).toMatch(
      /is not this endpoint \(expected https:\/\/cds\.test\.example\/cds-services\/renal-test\)/,
    );
  });

  it('refuses a token for discovery used on a service', async () => {
    const { app, logs } = setup();
    expect(await expectRefused(await sign(signer, claims('/cds-services')), logs, app)).toMatch(/not this endpoint/);
  });

  it('refuses an expired token', async () => {
    const { app, logs } = setup();
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(signer, claims(SERVICE, { iat: now - 900, exp: now - 600 }));
    expect(await expectRefused(token, logs, app)).toMatch(/"exp" claim timestamp check failed/);
  });

  it('refuses a token issued in the future', async () => {
    const { app, logs } = setup();
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(signer, claims(SERVICE, { iat: now + 600, exp: now + 900 }));
    expect(await expectRefused(token, logs, app)).toMatch(
      /"iat" claim timestamp check failed \(it should be in the past\)/,
    );
  });

  it('refuses a token that lives longer than allowed', async () => {
    const { app, logs } = setup();
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(signer, claims(SERVICE, { iat: now, exp: now + 24 * 3600 }));
    expect(await expectRefused(token, logs, app)).toMatch(/lives 86400 s, longer than the 3600 s allowed/);
  });

  it('refuses a replayed jti, even on another endpoint', async () => {
    const { app, logs } = setup();
    const jti = `jti-${Math.random()}`;
    await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE, { jti }))))
      .send(renalRequest())
      .expect(200);
    engine.evaluations = 0;
    const replay = await sign(signer, claims(SERVICE, { jti }));
    expect(await expectRefused(replay, logs, app)).toMatch(/jti was already used/);
    const elsewhere = await request(app)
      .get('/cds-services')
      .set(bearer(await sign(signer, claims('/cds-services', { jti }))))
      .expect(401);
    expect(elsewhere.body.resourceType).toBe('OperationOutcome');
  });

  it('refuses the very same token sent twice', async () => {
    const { app, logs } = setup();
    const token = await sign(signer, claims(SERVICE));
    await request(app).post(SERVICE).set(bearer(token)).send(renalRequest()).expect(200);
    engine.evaluations = 0;
    expect(await expectRefused(token, logs, app)).toMatch(/replay/);
  });

  it('refuses an unknown iss', async () => {
    const { app, logs } = setup();
    const token = await sign(signer, claims(SERVICE, { iss: 'https://intruder.example/' }));
    expect(await expectRefused(token, logs, app)).toBe('iss is not a trusted client');
  });

  it("refuses a token signed by a key that is not the client's (unknown kid)", async () => {
    const { app, logs } = setup();
    const stranger = await newSigner('ES384');
    expect(await expectRefused(await sign(stranger, claims(SERVICE)), logs, app)).toMatch(/unknown kid/);
  });

  it("refuses a token signed by another key under the client's kid", async () => {
    const { app, logs } = setup();
    const stranger = await newSigner('ES384', signer.kid);
    expect(await expectRefused(await sign(stranger, claims(SERVICE)), logs, app)).toMatch(
      /signature verification failed/,
    );
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const { app, logs } = setup();
    const [header, , signature] = (await sign(signer, claims(SERVICE, { tenant: 'tenant-a' }))).split('.');
    const tampered = `${header}.${base64url(claims(SERVICE, { tenant: 'tenant-b' }))}.${signature}`;
    expect(await expectRefused(tampered, logs, app)).toMatch(/signature verification failed/);
  });

  it('refuses a token that is not a JWT at all', async () => {
    const { app, logs } = setup();
    expect(await expectRefused('not-a-jwt', logs, app)).toBe('the bearer token is not a well-formed JWT');
  });

  it('refuses a token without a jti', async () => {
    const { app, logs } = setup();
    const { jti: _jti, ...withoutJti } = claims(SERVICE);
    expect(await expectRefused(await sign(signer, withoutJti), logs, app)).toMatch(/"jti" claim/);
  });

  it.each(['iss', 'aud', 'exp', 'iat'])('refuses a token without %s, which CDS Hooks requires', async (claim) => {
    const { app, logs } = setup();
    const payload: Record<string, unknown> = { ...claims(SERVICE) };
    delete payload[claim];
    const reason = await expectRefused(await sign(signer, payload), logs, app);
    expect(reason).toMatch(claim === 'iss' ? /iss is not a trusted client/ : new RegExp(`"${claim}" claim`));
  });

  it('refuses exp, iat or aud of the wrong JSON type', async () => {
    for (const wrong of [{ exp: String(Math.floor(Date.now() / 1000) + 300) }, { iat: 'now' }, { aud: 42 }]) {
      const { app, logs } = setup();
      await expectRefused(await sign(signer, claims(SERVICE, wrong as never)), logs, app);
    }
  });

  it('accepts a token without kid from a client with one key: kid picks a key, the signature is what counts', async () => {
    const { app } = setup();
    const token = await new SignJWT(claims(SERVICE))
      .setProtectedHeader({ alg: signer.alg, typ: 'JWT' })
      .sign(signer.privateKey);
    await request(app).post(SERVICE).set(bearer(token)).send(renalRequest()).expect(200);
  });

  it('refuses a jti holding a control character, before any jti store is asked', async () => {
    const { app, logs } = setup();
    expect(await expectRefused(await sign(signer, claims(SERVICE, { jti: 'a\u0000b' })), logs, app)).toBe(
      'jti must be a string of 1 to 256 characters, without control characters',
    );
  });

  it('refuses a typ other than JWT', async () => {
    const { app, logs } = setup();
    expect(await expectRefused(await sign(signer, claims(SERVICE), { typ: 'at+jwt' }), logs, app)).toMatch(
      /typ "at\+jwt" is not JWT/,
    );
  });
});

describe('tenants', () => {
  const tenantApp = () => authApp({ knowledge, clients: [client(signer, { tenants: ['tenant-north'] })] });

  it('serves a client whose token names one of its tenants', async () => {
    await request(tenantApp())
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE, { tenant: 'tenant-north' }))))
      .send(renalRequest())
      .expect(200);
  });

  it('refuses a tenant the client may not claim, and a missing tenant', async () => {
    const app = tenantApp();
    await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE, { tenant: 'tenant-south' }))))
      .send(renalRequest())
      .expect(401);
    await request(app)
      .post(SERVICE)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send(renalRequest())
      .expect(401);
    expect(engine.evaluations).toBe(0);
  });
});

describe('which endpoints need a token', () => {
  it('protects discovery, service calls and feedback, but not /health and /ready', async () => {
    const { app } = setup();
    await request(app).get('/cds-services').expect(401);
    await request(app).post(SERVICE).send(renalRequest()).expect(401);
    await request(app).post(`${SERVICE}/feedback`).send({ feedback: [] }).expect(401);
    await request(app).get('/health').expect(200);
    await request(app).get('/ready').expect(200);
  });

  it('expects the feedback URL as aud for feedback calls', async () => {
    const { app } = setup();
    await request(app)
      .post(`${SERVICE}/feedback`)
      .set(bearer(await sign(signer, claims(SERVICE))))
      .send({ feedback: [] })
      .expect(401);
    const res = await request(app)
      .post(`${SERVICE}/feedback`)
      .set(bearer(await sign(signer, claims(`${SERVICE}/feedback`))))
      .send({ feedback: [] });
    expect(res.status).not.toBe(401);
  });

  it('answers CORS preflights without a token', async () => {
    const { app } = setup();
    await request(app)
      .options(SERVICE)
      .set('Origin', 'https://ehr.example.org')
      .set('Access-Control-Request-Method', 'POST')
      .expect(204);
  });

  it('lets a browser-based EHR read the 401 (CORS headers on the refusal too)', async () => {
    const { app } = setup();
    const res = await request(app)
      .post(SERVICE)
      .set('Origin', 'https://ehr.example.org')
      .send(renalRequest())
      .expect(401);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});
