// An artifact shipped as CDS Connect ships one: the library's CQL with the ELM made from it beside it, and
// FHIRHelpers as ELM. The ELM files are made here with the official translator, as the publisher made them.
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { evaluate } from '../../src/engine/index.js';
import { formatProblem, type Knowledge } from '../../src/knowledge/index.js';
import { DEFAULT_TRANSLATOR_OPTIONS } from '../../src/knowledge/cql/options.js';
import type { HookRequest } from '../../src/hooks/index.js';
import { knowledgeFrom, repoRoot, sharedTranslator, testApp, testKnowledge } from '../support/app.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const source = testKnowledge('connect');
const MAIN = 'cql/StatinForAscvd-1.0.0.cql';

/** The artifact as downloaded: CQL, its ELM, and FHIRHelpers as ELM only. */
async function artifact(change: (d: string) => void = () => undefined): Promise<string> {
  const d = mkdtempSync(join(tmpdir(), 'cds-connect-'));
  cpSync(source, d, { recursive: true });
  const main = readFileSync(join(d, MAIN), 'utf8');
  const helpers = readFileSync(join(repoRoot, 'cql', 'FHIRHelpers-4.0.1.cql'), 'utf8');
  const translator = await sharedTranslator();
  const [mainElm, helpersElm] = await translator.compileAll([
    { name: 'StatinForAscvd', version: '1.0.0', text: main, options: DEFAULT_TRANSLATOR_OPTIONS },
    { name: 'FHIRHelpers', version: '4.0.1', text: helpers, options: DEFAULT_TRANSLATOR_OPTIONS },
  ]);
  writeFileSync(join(d, 'cql', 'StatinForAscvd.json'), JSON.stringify(mainElm.elm));
  writeFileSync(join(d, 'cql', 'FHIRHelpers.json'), JSON.stringify(helpersElm.elm));
  change(d);
  return d;
}

function hookRequest(withStatin: boolean): HookRequest {
  const bundle = (resources: unknown[]) => ({
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((resource) => ({ resource })),
  });
  return {
    hook: 'patient-view',
    hookInstance: 'connect-test',
    context: { userId: 'Practitioner/c', patientId: 'c-1' },
    prefetch: {
      patient: { resourceType: 'Patient', id: 'c-1', birthDate: '1958-03-03' },
      conditions: bundle([
        {
          resourceType: 'Condition',
          id: 'mi',
          clinicalStatus: {
            coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
          },
          code: { coding: [{ system: 'http://snomed.info/sct', code: '22298006' }] },
          subject: { reference: 'Patient/c-1' },
        },
      ]),
      medications: bundle(
        withStatin
          ? [
              {
                resourceType: 'MedicationRequest',
                id: 'statin',
                status: 'active',
                intent: 'order',
                subject: { reference: 'Patient/c-1' },
                medicationCodeableConcept: {
                  coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '617312' }],
                },
              },
            ]
          : [],
      ),
    },
  };
}

const filesRun = (k: Knowledge) =>
  Object.fromEntries(k.services[0].ruleSet.fingerprints.filter((f) => f.kind === 'cql').map((f) => [f.name, f.file]));
const notes = (k: Knowledge) => k.problems.filter((p) => p.severity === 'info').map(formatProblem);
const faults = (k: Knowledge) => k.problems.filter((p) => p.severity !== 'info').map(formatProblem);

let dir: string;
let knowledge: Knowledge;
beforeAll(async () => {
  dir = await artifact();
  knowledge = await knowledgeFrom(dir);
});

describe('an artifact shipped as CQL + ELM + FHIRHelpers ELM', () => {
  it('loads without errors: the CQL compiled here runs, and the shipped FHIRHelpers ELM replaces the built-in', () => {
    expect(faults(knowledge)).toEqual([]);
    expect(filesRun(knowledge)).toEqual({ StatinForAscvd: MAIN, FHIRHelpers: 'cql/FHIRHelpers.json' });
  });

  it('says once, at info, which of the two is used and that FHIRHelpers is the shipped one', () => {
    expect(notes(knowledge)).toEqual([
      'cql/StatinForAscvd.json: info: library StatinForAscvd@1.0.0 ships as CQL (cql/StatinForAscvd-1.0.0.cql) and ELM (cql/StatinForAscvd.json): the CQL is compiled here and the ELM is not used (set "prefer": "elm" in cql/cql-options.json to run the ELM)',
      'cql/FHIRHelpers.json: info: FHIRHelpers 4.0.1 shipped with the knowledge (cql/FHIRHelpers.json) is used instead of the built-in one',
      expect.stringContaining(
        'value set "ASCVD" (\'https://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1047.21\') found by its OID',
      ),
      expect.stringContaining(
        'value set "Statins" (\'https://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113762.1.4.1047.107\') found by its OID',
      ),
    ]);
  });

  it('runs the shipped ELM instead when cql-options.json prefers it, with the same values', async () => {
    const elmDir = await artifact((d) => writeFileSync(join(d, 'cql', 'cql-options.json'), '{ "prefer": "elm" }'));
    const k = await knowledgeFrom(elmDir);
    expect(faults(k)).toEqual([]);
    expect(filesRun(k)).toEqual({ StatinForAscvd: 'cql/StatinForAscvd.json', FHIRHelpers: 'cql/FHIRHelpers.json' });
    expect(notes(k)[0]).toContain('the ELM runs, as cql/cql-options.json prefers');
    for (const withStatin of [false, true]) {
      const req = hookRequest(withStatin);
      const fromCql = await evaluate(knowledge, knowledge.services[0], req, req.prefetch!, { now: NOW });
      const fromElm = await evaluate(k, k.services[0], req, req.prefetch!, { now: NOW });
      expect(fromElm.trace.cql).toEqual(fromCql.trace.cql);
      expect(fromCql.trace.cql['Statin Recommended']).toBe(!withStatin);
    }
  });

  it('takes "prefer" per library too', async () => {
    const d = await artifact((v) =>
      writeFileSync(join(v, 'cql', 'cql-options.json'), '{ "libraries": { "StatinForAscvd": { "prefer": "elm" } } }'),
    );
    const k = await knowledgeFrom(d);
    expect(faults(k)).toEqual([]);
    expect(filesRun(k).StatinForAscvd).toBe('cql/StatinForAscvd.json');
  });

  it('takes a shipped FHIRHelpers CQL over the built-in one too', async () => {
    const d = await artifact((v) => {
      rmSync(join(v, 'cql', 'FHIRHelpers.json'));
      cpSync(join(repoRoot, 'cql', 'FHIRHelpers-4.0.1.cql'), join(v, 'cql', 'FHIRHelpers-4.0.1.cql'));
    });
    const k = await knowledgeFrom(d);
    expect(faults(k)).toEqual([]);
    expect(filesRun(k).FHIRHelpers).toBe('cql/FHIRHelpers-4.0.1.cql');
  });

  it('answers over HTTP with the card, and /ready says ready', async () => {
    const app = testApp({ knowledge, now: NOW.toISOString() });
    const res = await request(app).post('/cds-services/statin-for-ascvd').send(hookRequest(false)).expect(200);
    expect(res.body.cards.map((c: { summary: string }) => c.summary)).toEqual([
      'Consider a statin: clinical ASCVD and no statin',
    ]);
    expect((await request(app).get('/ready')).body.status).toBe('ready');
  });

  it('/ready is degraded whenever a problem is listed, even with every service served', async () => {
    const d = await artifact((v) => writeFileSync(join(v, 'rules', 'ascvd-statin', '0.9.0.json'), '{ "id": '));
    const k = await knowledgeFrom(d);
    expect(k.services).toHaveLength(1);
    const res = await request(testApp({ knowledge: k })).get('/ready');
    expect(res.body.status).toBe('degraded');
    expect(res.body.knowledge.problems).toEqual([expect.stringContaining('rules/ascvd-statin/0.9.0.json')]);
  });
});
