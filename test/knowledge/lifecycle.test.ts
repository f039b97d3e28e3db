// The lifecycle of a rule set version (HL7 CRMI): a draft is not served (unless the server serves
// drafts) and never frozen; a retired version is never served; the status is not part of the
// fingerprint, and the fingerprints earlier versions of the product recorded are still accepted.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import request from 'supertest';
import {
  createKnowledgeHolder,
  createKnowledgeReloader,
  findStatus,
  formatProblem,
  withStatus,
  type Knowledge,
  type ServedFingerprints,
} from '../../src/knowledge/index.js';
import { createLogger } from '../../src/logger.js';
import { asAdmin, knowledgeFrom, sharedTranslator, testApp, testKnowledge } from '../support/app.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';
import { renalRequest } from '../support/requests.js';

const GREETER = 'rules/greeter/1.0.0.json';
const greeterCall = {
  hook: 'patient-view',
  hookInstance: 'c0a8d5b2-2222-4aaa-8bbb-000000000001',
  context: { userId: 'Practitioner/7', patientId: 'p1' },
};

function copy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-lifecycle-'));
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  return dir;
}

function setGreeterStatus(dir: string, status: 'draft' | 'active' | 'retired'): void {
  const file = join(dir, GREETER);
  writeFileSync(file, withStatus(readFileSync(file, 'utf8'), status));
}

const ids = (knowledge: Knowledge) => knowledge.services.map((s) => s.definition.id);

let store: TestStore | undefined;
afterEach(async () => {
  await store?.cleanup();
  store = undefined;
});

describe('drafts and retired versions at load', () => {
  it('does not serve a service whose live version is a draft: not in discovery, 503, the reason in /ready', async () => {
    const dir = copy();
    setGreeterStatus(dir, 'draft');
    const knowledge = await knowledgeFrom(dir);
    expect(ids(knowledge)).toEqual(['renal-test']);
    expect(knowledge.unavailable).toEqual([
      {
        id: 'greeter',
        hook: 'patient-view',
        reasons: ['rule set greeter@1.0.0 is a draft: drafts are served only with CDS_SERVE_DRAFTS=on'],
      },
    ]);
    expect(knowledge.problems.map(formatProblem)).toEqual([
      "cds-services.json /services/1/knowledge/version: error: service 'greeter': rule set greeter@1.0.0 is a draft: drafts are served only with CDS_SERVE_DRAFTS=on",
    ]);
    const app = testApp({ knowledge });
    const discovery = await request(app).get('/cds-services').expect(200);
    expect(discovery.body.services.map((s: { id: string }) => s.id)).toEqual(['renal-test']);
    const call = await request(app).post('/cds-services/greeter').send(greeterCall).expect(503);
    expect(call.body.issue[0].diagnostics).toMatch(/not available: .*draft/);
    const ready = await request(app).get('/ready').expect(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.knowledge.drafts).toEqual({ served: false });
    expect(ready.body.knowledge.unavailable[0].reasons[0]).toMatch(/greeter@1\.0\.0 is a draft/);
  });

  it('serves a draft when drafts are served (CDS_SERVE_DRAFTS=on), and says so in /ready and discovery', async () => {
    const dir = copy();
    setGreeterStatus(dir, 'draft');
    const knowledge = await knowledgeFrom(dir, { serveDrafts: true });
    expect(knowledge.problems).toEqual([]);
    const app = testApp({ knowledge });
    const discovery = await request(app).get('/cds-services').expect(200);
    const greeter = discovery.body.services.find((s: { id: string }) => s.id === 'greeter');
    expect(Object.values(greeter.extension)[0]).toMatchObject({
      ruleSet: 'greeter',
      version: '1.0.0',
      status: 'draft',
    });
    const call = await request(app).post('/cds-services/greeter').send(greeterCall).expect(200);
    expect(call.body.cards[0].summary).toBe('Hello Practitioner/7');
    const ready = await request(app).get('/ready').expect(200);
    expect(ready.body.status).toBe('ready');
    expect(ready.body.knowledge.drafts).toEqual({
      served: true,
      warning: expect.stringContaining('CDS_SERVE_DRAFTS=on'),
    });
    expect(ready.body.knowledge.services).toContainEqual({
      id: 'greeter',
      hook: 'patient-view',
      ruleSet: 'greeter',
      version: '1.0.0',
      status: 'draft',
    });
  });

  it('never serves a retired version, even when drafts are served', async () => {
    const dir = copy();
    setGreeterStatus(dir, 'retired');
    const knowledge = await knowledgeFrom(dir, { serveDrafts: true });
    expect(ids(knowledge)).toEqual(['renal-test']);
    expect(knowledge.unavailable[0].reasons).toEqual([
      'rule set greeter@1.0.0 is retired: a retired version is never served',
    ]);
    await request(testApp({ knowledge })).post('/cds-services/greeter').send(greeterCall).expect(503);
  });
});

describe('fingerprints and the lifecycle', () => {
  it('leaves the status out of the fingerprint, and freezes nothing through a draft', async () => {
    const dir = copy();
    const hashes: Record<string, string | undefined> = {};
    for (const status of ['active', 'retired', 'draft'] as const) {
      setGreeterStatus(dir, status);
      const greeter = (await knowledgeFrom(dir)).ruleSets?.find((r) => r.id === 'greeter');
      expect(greeter?.status).toBe(status);
      hashes[status] = greeter?.hash;
      if (status === 'draft') expect(greeter?.fingerprints).toEqual([]);
      else expect(greeter?.fingerprints.map((f) => f.hash)).toEqual([greeter?.hash]);
    }
    expect(hashes.active).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(Object.values(hashes)).size).toBe(1);
  });

  it('accepts the hash of the file bytes recorded by earlier versions, also once retired, and still refuses a change', async () => {
    const dir = copy();
    const bytes = readFileSync(join(dir, GREETER), 'utf8');
    const served: ServedFingerprints = new Map([
      [
        'rule-set:greeter@1.0.0',
        { hash: createHash('sha256').update(bytes).digest('hex'), firstServedAt: '2026-05-01T00:00:00.000Z' },
      ],
    ]);
    const fileProblems = async () =>
      (await knowledgeFrom(dir, { served })).problems.filter((p) => p.file === GREETER).map(formatProblem);
    expect(await fileProblems()).toEqual([]);
    setGreeterStatus(dir, 'retired');
    expect(await fileProblems()).toEqual([]);
    writeFileSync(
      join(dir, GREETER),
      readFileSync(join(dir, GREETER), 'utf8').replace('Hello {{user.reference}}', 'Hi {{user.reference}}'),
    );
    expect(await fileProblems()).toEqual([
      expect.stringMatching(
        /^rules\/greeter\/1\.0\.0\.json: error: rule set greeter 1\.0\.0 has changed since it was first served/,
      ),
    ]);
  });

  it('lets a draft be edited after a development call: its fingerprint is not recorded, the reload takes the edit', async () => {
    const dir = copy();
    setGreeterStatus(dir, 'draft');
    store = await testUptakeStore('sqlite');
    const uptake = store.store;
    const holder = createKnowledgeHolder(await knowledgeFrom(dir, { serveDrafts: true }));
    const logger = createLogger('error', true);
    const translator = await sharedTranslator();
    const reloader = createKnowledgeReloader({
      dir,
      translator,
      holder,
      logger,
      servedFingerprints: () => uptake.servedFingerprints(),
      serveDrafts: true,
    });
    const app = testApp({
      knowledge: holder.current(),
      now: '2026-06-01T12:00:00Z',
      deps: { knowledge: holder, reloader, uptake },
    });

    await request(app).post('/cds-services/greeter').send(greeterCall).expect(200);
    // A call of the active service is recorded after the draft's: once it is there, the draft's would be too.
    await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    await vi.waitFor(
      async () => expect((await uptake.servedFingerprints()).has('rule-set:renal-test@1.0.0')).toBe(true),
      { timeout: 10_000 },
    );
    expect([...(await uptake.servedFingerprints()).keys()].filter((k) => k.includes('greeter'))).toEqual([]);

    writeFileSync(
      join(dir, GREETER),
      readFileSync(join(dir, GREETER), 'utf8').replace('Hello {{user.reference}}', 'Hi {{user.reference}}'),
    );
    const reload = await request(app).post('/admin/reload').set(asAdmin('knowledge')).expect(200);
    expect(reload.body.problems).toEqual([]);
    const again = await request(app).post('/cds-services/greeter').send(greeterCall).expect(200);
    expect(again.body.cards[0].summary).toBe('Hi Practitioner/7');
  });

  it('does not hold a draft to the fingerprint an earlier version of the product recorded when it served it', async () => {
    const dir = copy();
    setGreeterStatus(dir, 'draft');
    const served: ServedFingerprints = new Map([
      ['rule-set:greeter@1.0.0', { hash: 'f'.repeat(64), firstServedAt: '2026-05-01T00:00:00.000Z' }],
    ]);
    const knowledge = await knowledgeFrom(dir, { served, serveDrafts: true });
    expect(knowledge.problems).toEqual([]);
    expect(ids(knowledge)).toEqual(['renal-test', 'greeter']);
  });
});

describe('editing the status in place', () => {
  it('changes only the top-level status value, not a nested one, keeping the layout', () => {
    const text =
      '{\n  "id": "x",\n  "rules": [{ "card": { "status": "draft" } }],\n  "status" :  "draft",\n  "title": "status"\n}\n';
    expect(findStatus(text)?.value).toBe('draft');
    const edited = withStatus(text, 'active');
    expect(edited).toBe(
      '{\n  "id": "x",\n  "rules": [{ "card": { "status": "draft" } }],\n  "status" :  "active",\n  "title": "status"\n}\n',
    );
    expect(findStatus('{ "rules": [{ "status": "draft" }] }')).toBeUndefined();
  });
});
