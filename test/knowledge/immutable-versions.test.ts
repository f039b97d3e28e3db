// A version that has been served never changes in place: its content hash is recorded in the
// uptake ledger when it is first served, and a load that finds different content refuses it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import {
  createKnowledgeHolder,
  createKnowledgeReloader,
  fingerprintKey,
  formatProblem,
  loadKnowledge,
} from '../../src/knowledge/index.js';
import { createLogger } from '../../src/logger.js';
import { asAdmin, knowledgeFrom, sharedTranslator, testApp, testKnowledge } from '../support/app.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';
import { renalRequest } from '../support/requests.js';

function copy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-immutable-'));
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  return dir;
}

const editSummary = (dir: string, summary: string) => {
  const file = join(dir, 'rules/renal-test/1.0.0.json');
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  doc.rules[0].card.summary = summary;
  writeFileSync(file, JSON.stringify(doc));
};

let store: TestStore | undefined;
afterEach(async () => {
  await store?.store.close();
  await store?.cleanup();
  store = undefined;
});

describe('immutable versions', () => {
  it('fingerprints each rule set and CQL library version by content', async () => {
    const knowledge = await knowledgeFrom(testKnowledge('basic'));
    const renal = knowledge.services[0].ruleSet;
    expect(renal.fingerprints.map((f) => `${f.kind} ${f.name} ${f.version} ${f.file}`)).toEqual([
      'rule-set renal-test 1.0.0 rules/renal-test/1.0.0.json',
      'cql RenalTest 1.0.0 cql/RenalTest-1.0.0.cql',
      'cql FHIRHelpers 4.0.1 (built-in) FHIRHelpers-4.0.1.cql',
      // Versioned value sets are frozen too; the unversioned eGFR one is not.
      'value-set http://example.org/fhir/ValueSet/test-drugs 1 cql/valuesets/test-drugs.json',
    ]);
    expect(renal.fingerprints.every((f) => /^[0-9a-f]{64}$/.test(f.hash))).toBe(true);
  });

  it('refuses a served version whose content changed, naming the file, and serves the rest', async () => {
    const dir = copy();
    const original = await knowledgeFrom(dir);
    const served = new Map(
      original.services[0].ruleSet.fingerprints.map((f) => [
        fingerprintKey(f),
        { hash: f.hash, firstServedAt: '2026-05-01T00:00:00.000Z' },
      ]),
    );
    editSummary(dir, 'Changed in place');
    const cqlFile = join(dir, 'cql/RenalTest-1.0.0.cql');
    writeFileSync(cqlFile, `${readFileSync(cqlFile, 'utf8')}\ndefine "Extra": 1\n`);
    const knowledge = await loadKnowledge(dir, { translator: await sharedTranslator(), served });
    const problems = knowledge.problems.map(formatProblem);
    expect(problems).toContainEqual(
      'rules/renal-test/1.0.0.json: error: rule set renal-test 1.0.0 has changed since it was first served (2026-05-01T00:00:00.000Z): a served version never changes; restore it and make a new version (cds bump)',
    );
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^cql\/RenalTest-1\.0\.0\.cql: error: CQL library RenalTest 1\.0\.0 has changed since it was first served/,
      ),
    );
    expect(knowledge.unavailable.map((u) => u.id)).toEqual(['renal-test']);
    expect(knowledge.services.map((s) => s.definition.id)).toEqual(['greeter']);
  });

  it('refuses a served value set version whose codes changed, not one laid out differently', async () => {
    const dir = copy();
    const original = await knowledgeFrom(dir);
    const served = new Map(
      original.services[0].ruleSet.fingerprints.map((f) => [
        fingerprintKey(f),
        { hash: f.hash, firstServedAt: '2026-05-01T00:00:00.000Z' },
      ]),
    );
    const file = join(dir, 'cql/valuesets/test-drugs.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    // The same codes in another order, with other displays and timestamp: the same version.
    doc.expansion.contains.reverse();
    doc.expansion.contains[0].display = 'NAPROXEN';
    doc.expansion.timestamp = '2026-02-01T00:00:00Z';
    writeFileSync(file, JSON.stringify(doc, null, 4));
    const same = await loadKnowledge(dir, { translator: await sharedTranslator(), served });
    expect(same.problems.map(formatProblem)).toEqual([]);
    // One more code under the same version: refused.
    doc.expansion.contains.push({ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '1191' });
    writeFileSync(file, JSON.stringify(doc));
    const changed = await loadKnowledge(dir, { translator: await sharedTranslator(), served });
    expect(changed.problems.map(formatProblem)).toContainEqual(
      'cql/valuesets/test-drugs.json: error: value set http://example.org/fhir/ValueSet/test-drugs version 1 has other codes than when it was first served (2026-05-01T00:00:00.000Z): a served version never changes; restore it, or publish the new codes under a new value set version',
    );
    expect(changed.unavailable.map((u) => u.id)).toEqual(['renal-test']);
    // Under a new version, it is served.
    doc.version = '2';
    writeFileSync(file, JSON.stringify(doc));
    const bumped = await loadKnowledge(dir, { translator: await sharedTranslator(), served });
    expect(bumped.problems.map(formatProblem)).toEqual([]);
  });

  it('records versions when first served and refuses an in-place edit at the next reload', async () => {
    const dir = copy();
    store = await testUptakeStore('sqlite');
    const uptake = store.store;
    const holder = createKnowledgeHolder(await knowledgeFrom(dir));
    const reloader = createKnowledgeReloader({
      dir,
      translator: await sharedTranslator(),
      holder,
      logger: createLogger('error', true),
      servedFingerprints: () => uptake.servedFingerprints(),
    });
    const app = testApp({
      knowledge: holder.current(),
      now: '2026-06-01T12:00:00Z',
      deps: { knowledge: holder, reloader, uptake },
    });

    await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    await vi.waitFor(
      async () => expect((await uptake.servedFingerprints()).has('rule-set:renal-test@1.0.0')).toBe(true),
      { timeout: 10_000 },
    );

    editSummary(dir, 'Edited after release');
    const refused = await request(app).post('/admin/reload').set(asAdmin('knowledge')).expect(422);
    expect(refused.body.problems).toContainEqual(
      expect.stringMatching(
        /^rules\/renal-test\/1\.0\.0\.json: error: rule set renal-test 1\.0\.0 has changed since it was first served/,
      ),
    );
    const still = await request(app).post('/cds-services/renal-test').send(renalRequest()).expect(200);
    expect(still.body.cards[0].summary).toBe('Ibuprofen 400 mg with eGFR 25 mL/min/1.73m2');
  });
});
