// The `audiences` of a trusted client: which aud values its tokens may carry. EHRs whose audience is
// configured by hand (the base URL, the discovery URL) are accepted only where their entry allows it.
import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Knowledge } from '../../src/knowledge/index.js';
import { checkTrustedClients } from '../../src/auth/index.js';
import { loadConfig } from '../../src/config.js';
import { knowledgeFrom, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { authApp, BASE_URL, bearer, captureLogs, claims, client, newSigner, sign, type Signer } from './support.js';

const SERVICE = '/cds-services/renal-test';
let knowledge: Knowledge;
let signer: Signer;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
  signer = await newSigner('ES384');
});

/** Each documented form of aud, as an EHR would send it for a call to SERVICE. */
const FORMS = {
  endpoint: `${BASE_URL}${SERVICE}`,
  base: BASE_URL,
  'base with a trailing slash': `${BASE_URL}/`,
  'cds-services': `${BASE_URL}/cds-services`,
  literal: 'https://cds.test.example/epic-configured-audience',
  'another server': 'https://other.example/cds-services',
};
type Form = keyof typeof FORMS;

async function statusWith(audiences: string[] | undefined, aud: string): Promise<number> {
  const app = authApp({ knowledge, clients: [client(signer, audiences ? { audiences } : {})] });
  const token = await sign(signer, claims(SERVICE, { aud }));
  return (await request(app).post(SERVICE).set(bearer(token)).send(renalRequest())).status;
}

describe('a trusted client with audiences', () => {
  const cases: Array<{ audiences: string[] | undefined; accepted: Form[] }> = [
    { audiences: undefined, accepted: ['endpoint'] },
    { audiences: ['endpoint'], accepted: ['endpoint'] },
    { audiences: ['base'], accepted: ['base', 'base with a trailing slash'] },
    { audiences: ['cds-services'], accepted: ['cds-services'] },
    { audiences: ['endpoint', 'base'], accepted: ['endpoint', 'base', 'base with a trailing slash'] },
    { audiences: ['https://cds.test.example/epic-configured-audience'], accepted: ['literal'] },
  ];
  for (const { audiences, accepted } of cases) {
    it(`gets 200 only for ${accepted.join(', ')} when audiences is ${JSON.stringify(audiences ?? 'absent')}`, async () => {
      const got: Record<string, number> = {};
      const want: Record<string, number> = {};
      for (const [form, aud] of Object.entries(FORMS) as Array<[Form, string]>) {
        got[form] = await statusWith(audiences, aud);
        want[form] = accepted.includes(form) ? 200 : 401;
      }
      expect(got).toEqual(want);
    });
  }

  it('logs the reason and the audiences expected on a 401, never the token, and answers a bare 401', async () => {
    const logs = captureLogs();
    const app = authApp({
      knowledge,
      clients: [client(signer, { audiences: ['endpoint', 'cds-services'] })],
      deps: { logger: logs.logger },
    });
    const token = await sign(signer, claims(SERVICE, { aud: BASE_URL }));
    const res = await request(app).post(SERVICE).set(bearer(token)).send(renalRequest()).expect(401);
    expect(res.body.issue[0].diagnostics).toBe('unauthorized');
    const line = logs.lines.find((l) => l.message === 'authentication failed');
    expect(line).toMatchObject({
      reason: expect.stringContaining('is not this endpoint'),
      expectedAudience: [`${BASE_URL}${SERVICE}`, `${BASE_URL}/cds-services`],
    });
    expect(logs.text()).not.toContain(token.split('.')[2]);
  });

  it('says why in the 401 body with CDS_AUTH_DEBUG=on', async () => {
    const app = authApp({ knowledge, clients: [client(signer)], config: { authDebug: true } });
    const token = await sign(signer, claims(SERVICE, { aud: BASE_URL }));
    const res = await request(app).post(SERVICE).set(bearer(token)).send(renalRequest()).expect(401);
    expect(res.body.issue[0].diagnostics).toMatch(
      /^unauthorized: aud "https:\/\/cds\.test\.example" is not this endpoint \(expected https:\/\/cds\.test\.example\/cds-services\/renal-test\)$/,
    );
    const none = await request(app).post(SERVICE).send(renalRequest()).expect(401);
    expect(none.body.issue[0].diagnostics).toBe('unauthorized: no Authorization header');
  });
});

describe('audiences in the trusted-clients file', () => {
  it('accepts the documented forms and absolute URLs, and names each bad entry', async () => {
    const doc = {
      clients: [
        {
          iss: 'https://ehr.example/',
          jwks: { keys: [signer.publicJwk] },
          audiences: ['endpoint', 'base', 'cds-services', 'https://cds.example.org/aud', 'everything', 'ftp://x/y'],
        },
      ],
    };
    const { problems } = await checkTrustedClients(doc, '.');
    expect(problems).toEqual([
      "/clients/0/audiences/4: 'everything' is neither one of 'endpoint', 'base', 'cds-services' nor an absolute URL",
      "/clients/0/audiences/5: 'ftp://x/y' must be an http(s) URL without query, fragment or user (or one of 'endpoint', 'base', 'cds-services')",
    ]);
  });
});

describe('CDS_AUTH_DEBUG', () => {
  it('is refused when the public base URL is https', () => {
    expect(() =>
      loadConfig(
        { CDS_AUTH_DEBUG: 'on', CDS_PUBLIC_BASE_URL: 'https://cds.example.org', CDS_AUTH: 'off' },
        { requireAuthSettings: false },
      ),
    ).toThrow(/CDS_AUTH_DEBUG=on .* refused when CDS_PUBLIC_BASE_URL is https/);
    expect(
      loadConfig({ CDS_AUTH_DEBUG: 'on', CDS_PUBLIC_BASE_URL: 'http://localhost:3000' }, { requireAuthSettings: false })
        .authDebug,
    ).toBe(true);
  });
});
