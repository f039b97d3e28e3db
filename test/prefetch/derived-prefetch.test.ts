// Prefetch derived from the CQL: for every shipped service, evaluating each example request with only
// what the derived templates fetch from the patient's whole record gives the same cards (and system
// actions) as evaluating it with the whole record; the templates are FHIR queries an EHR can run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { fixtureRequests } from '../../bench/fixtures.js';
import { evaluate } from '../../src/engine/evaluate.js';
import { derivePrefetch, servedVersions, templateProblemsFor, type Knowledge } from './derived-support.js';
import { prefetchFromResources, type LocalResource } from '../../src/prefetch/local-search.js';
import { knowledgeFrom, repoRoot, testApp } from '../support/app.js';
import { HOOKS, type HookRequest } from '../../src/hooks/index.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const BASE = 'https://ehr.example.org/fhir';

const records = new Map<string, LocalResource[]>();
for (const file of readdirSync(join(repoRoot, 'fixtures/patients'))) {
  const bundle = JSON.parse(readFileSync(join(repoRoot, 'fixtures/patients', file), 'utf8')) as {
    entry?: Array<{ resource: LocalResource }>;
  };
  const resources = (bundle.entry ?? []).map((e) => e.resource);
  const patient = resources.find((r) => r.resourceType === 'Patient');
  if (patient) records.set(patient.id, resources);
}

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(repoRoot);
}, 60_000);

const outcomeOf = (cards: Array<{ summary: string; indicator: string; extension?: Record<string, unknown> }>) =>
  cards.map((c) => [c.indicator, c.summary, JSON.stringify(c.extension?.['org.cdsengine.knowledge'])]).sort();

describe('derived prefetch templates', () => {
  it('derives for every shipped service templates valid for its hook and within the length limit', () => {
    for (const service of knowledge.services) {
      const { templates } = derivePrefetch(service.ruleSet, knowledge.valueSets, 2000);
      expect(templates.patient, service.definition.id).toBe('Patient/{{context.patientId}}');
      for (const template of Object.values(templates)) {
        expect(templateProblemsFor(template, service.definition.hook), template).toEqual([]);
        expect(template.length).toBeLessThanOrEqual(2000);
        expect(template).not.toMatch(/_sort|_count/);
      }
    }
  });

  it('turns a small value set into its codes, and falls back to the broader query past the limit', () => {
    const service = knowledge.services.find((s) => s.definition.id === 'nsaid-ckd-order-sign')!;
    const { templates } = derivePrefetch(service.ruleSet, knowledge.valueSets, 2000);
    expect(templates.observation).toBe(
      'Observation?patient={{context.patientId}}&code=http://loinc.org|98979-8,http://loinc.org|62238-1,http://loinc.org|33914-3',
    );
    const short = derivePrefetch(service.ruleSet, knowledge.valueSets, 120);
    expect(short.templates.observation).toBe('Observation?patient={{context.patientId}}');
    expect(short.templates.condition).toBe('Condition?patient={{context.patientId}}');
    expect(short.notes.join('\n')).toMatch(/longer than 120 characters/);
  });

  it('leaves a value set it cannot expand as code:in=<url>', () => {
    const service = knowledge.services.find((s) => s.definition.id === 'diabetes-hba1c')!;
    const { templates } = derivePrefetch(service.ruleSet, {}, 2000);
    expect(templates.condition).toBe(
      'Condition?patient={{context.patientId}}&code:in=http://cds-engine.example.org/fhir/ValueSet/diabetes',
    );
  });

  it('fetches MedicationRequests without a code filter (medication[x] may be a reference) and their Medications', () => {
    const service = knowledge.services.find((s) => s.definition.id === 'opioid-benzo')!;
    const { templates } = derivePrefetch(service.ruleSet, knowledge.valueSets, 2000);
    expect(templates.medicationRequest).toBe(
      'MedicationRequest?patient={{context.patientId}}&_include=MedicationRequest:medication',
    );
  });
});

const fixtures = fixtureRequests();

describe.each(fixtures.map((f) => [`${f.service}/${f.name}`, f] as const))(
  'only the derived prefetch: %s',
  (_label, fixture) => {
    it('gives the same cards as the whole patient record', async () => {
      const body = fixture.body as unknown as HookRequest;
      const patientId = String(body.context.patientId);
      const record = records.get(patientId);
      expect(record, `a patient record for ${patientId}`).toBeDefined();
      for (const service of knowledge.services.filter((s) => s.definition.id === fixture.service)) {
        if (service.definition.hook !== body.hook) continue;
        const { templates } = derivePrefetch(service.ruleSet, knowledge.valueSets, 2000);
        const local = { valueSets: knowledge.valueSets };
        const derived = prefetchFromResources(templates, record!, body.context, BASE, local);
        // With no value set expanded into the query every value set filter is `code:in=<url>`, as a service whose
        // value sets are large gets: the EHR's membership test is the one of the loaded value sets.
        const byValueSet = derivePrefetch(service.ruleSet, {}, 2000).templates;
        const derivedIn = prefetchFromResources(byValueSet, record!, body.context, BASE, local);
        const whole = {
          record: { resourceType: 'Bundle', type: 'collection', entry: record!.map((resource) => ({ resource })) },
        };
        const withWhole = await evaluate(knowledge, service, body, whole, { now: NOW });
        const withDerived = await evaluate(knowledge, service, body, derived, { now: NOW });
        expect(outcomeOf(withDerived.cards)).toEqual(outcomeOf(withWhole.cards));
        expect(withDerived.systemActions.length).toBe(withWhole.systemActions.length);
        // The derived prefetch is strictly less than the record unless the CQL reads all of it.
        expect(withDerived.trace.problems).toEqual([]);
        const withIn = await evaluate(knowledge, service, body, derivedIn, { now: NOW });
        expect(outcomeOf(withIn.cards)).toEqual(outcomeOf(withWhole.cards));
      }
    });
  },
);

/**
 * What an EHR that ignores every filter but the patient sends for a template: all of the patient's resources of
 * the type, in reverse order (neither `_sort` nor `_count` nor a code or status filter honoured).
 */
function ignoringFilters(templates: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(templates).map(([key, t]) => {
      const [type, query] = t.split('?');
      const scope = query?.split('&').find((p) => p.startsWith('patient=') || p.startsWith('subject='));
      return [key, query === undefined ? t : `${type}?${scope ?? ''}`];
    }),
  );
}

describe('an EHR that ignores filters', () => {
  it('sends more than the templates ask for some example requests (so the comparison below compares something)', () => {
    let larger = 0;
    for (const fixture of fixtures) {
      const body = fixture.body as unknown as HookRequest;
      const record = records.get(String(body.context.patientId))!;
      const service = knowledge.services.find(
        (s) => s.definition.id === fixture.service && s.definition.hook === body.hook,
      );
      const templates = service?.definition.prefetch ?? {};
      const local = { valueSets: knowledge.valueSets };
      const size = (p: Record<string, unknown>) =>
        Object.values(p).reduce<number>((n, v) => n + ((v as { entry?: unknown[] } | null)?.entry?.length ?? 0), 0);
      if (
        size(prefetchFromResources(ignoringFilters(templates), record, body.context, BASE, local)) >
        size(prefetchFromResources(templates, record, body.context, BASE, local))
      )
        larger++;
    }
    expect(larger).toBeGreaterThan(fixtures.length / 4);
  });
});

describe.each(fixtures.map((f) => [`${f.service}/${f.name}`, f] as const))(
  'an EHR that sends more than its templates ask: %s',
  (_label, fixture) => {
    it('gives the same cards as the prefetch the templates ask for', async () => {
      const body = fixture.body as unknown as HookRequest;
      const record = records.get(String(body.context.patientId))!;
      for (const service of knowledge.services.filter((s) => s.definition.id === fixture.service)) {
        if (service.definition.hook !== body.hook) continue;
        const templates = service.definition.prefetch ?? {};
        const local = { valueSets: knowledge.valueSets };
        const asked = prefetchFromResources(templates, record, body.context, BASE, local);
        const more = prefetchFromResources(ignoringFilters(templates), record, body.context, BASE, local);
        for (const value of Object.values(more)) {
          const bundle = value as { resourceType?: string; entry?: unknown[] } | null;
          if (bundle?.resourceType === 'Bundle') bundle.entry = [...(bundle.entry ?? [])].reverse();
        }
        const withAsked = await evaluate(knowledge, service, body, asked, { now: NOW });
        const withMore = await evaluate(knowledge, service, body, more, { now: NOW });
        expect(outcomeOf(withMore.cards)).toEqual(outcomeOf(withAsked.cards));
        expect(withMore.systemActions.length).toBe(withAsked.systemActions.length);
      }
    });
  },
);

describe('"prefetch": "derive" in cds-services.json', () => {
  it('shows the derived templates in discovery and serves the example requests with them', async () => {
    const service = knowledge.services.find((s) => s.definition.id === 'imaging-repeat')!;
    expect(service.definition.prefetch).toEqual(derivePrefetch(servedVersions(service), knowledge.valueSets).templates);
    const app = testApp({ knowledge, now: NOW.toISOString() });
    const res = await request(app).get('/cds-services').expect(200);
    const shown = res.body.services.find((s: { id: string }) => s.id === 'imaging-repeat');
    expect(shown.prefetch).toEqual(service.definition.prefetch);
    expect(Object.keys(HOOKS)).toContain(shown.hook);
  });
});

describe('derived queries from hand-made ELM', () => {
  /** A library whose one Retrieve of Observation filters by `codes` (ELM), with the given definitions. */
  function library(codes: unknown, defs: Record<string, unknown>) {
    return {
      library: {
        source: {
          library: {
            identifier: { id: 'Hand' },
            ...defs,
            statements: {
              def: [
                {
                  name: 'X',
                  expression: {
                    type: 'Retrieve',
                    dataType: '{http://hl7.org/fhir}Observation',
                    codeProperty: 'code',
                    codes,
                  },
                },
              ],
            },
          },
        },
      },
    } as never;
  }

  it('joins the retrieves of every version a service may serve (live, experiment arms, shadows)', () => {
    const code = (name: string) => ({
      codeSystems: { def: [{ name: 'LOINC', id: 'http://loinc.org' }] },
      codes: { def: [{ name, id: name, codeSystem: { name: 'LOINC' } }] },
    });
    const live = library({ type: 'ToList', operand: { type: 'CodeRef', name: '1-1' } }, code('1-1'));
    const shadow = library({ type: 'ToList', operand: { type: 'CodeRef', name: '2-2' } }, code('2-2'));
    const arm = library(undefined, {});
    const service = {
      ruleSet: live,
      rollout: {
        shadows: [shadow],
        experiment: { arms: [{ ruleSet: live }, { ruleSet: arm }] },
      },
    } as never;
    expect(servedVersions(service)).toEqual([live, arm, shadow]);
    expect(derivePrefetch([live, shadow], {}, 2000).templates.observation).toBe(
      'Observation?patient={{context.patientId}}&code=http://loinc.org|1-1,http://loinc.org|2-2',
    );
    // An arm that reads every Observation makes the query broader for all of them.
    expect(derivePrefetch(servedVersions(service), {}, 2000).templates.observation).toBe(
      'Observation?patient={{context.patientId}}',
    );
  });

  it('scopes each type by its own patient search parameter, and leaves out types that have none', () => {
    const retrieve = (type: string) => ({ type: 'Retrieve', dataType: `{http://hl7.org/fhir}${type}` });
    const lib = {
      library: {
        source: {
          library: {
            statements: { def: ['Coverage', 'AdverseEvent', 'Practitioner'].map((t) => ({ expression: retrieve(t) })) },
          },
        },
      },
    } as never;
    const { templates, notes } = derivePrefetch(lib, {}, 2000);
    expect(templates).toEqual({
      adverseEvent: 'AdverseEvent?subject=Patient/{{context.patientId}}',
      coverage: 'Coverage?patient={{context.patientId}}',
    });
    expect(notes.join('\n')).toMatch(/Practitioner: no FHIR R4 search parameter/);
    const record: LocalResource[] = [
      { resourceType: 'Coverage', id: 'mine', beneficiary: { reference: 'Patient/p' } },
      {
        resourceType: 'Coverage',
        id: 'other',
        beneficiary: { reference: 'Patient/q' },
        subject: { reference: 'Patient/p' },
      },
      { resourceType: 'AdverseEvent', id: 'ae', subject: { reference: 'Patient/p' } },
    ];
    const found = prefetchFromResources(templates, record, { patientId: 'p' }, BASE);
    const ids = (v: unknown) => (v as { entry: Array<{ resource: { id: string } }> }).entry.map((e) => e.resource.id);
    expect(ids(found.coverage)).toEqual(['mine']);
    expect(ids(found.adverseEvent)).toEqual(['ae']);
  });

  it('uses the value set version the CQL pins, not the first one loaded', () => {
    const lib = library(
      { type: 'ValueSetRef', name: 'A1c' },
      { valueSets: { def: [{ name: 'A1c', id: 'http://example.org/ValueSet/a1c', version: '1.0.0' }] } },
    );
    const valueSets = {
      'http://example.org/ValueSet/a1c': {
        '2.0.0': [{ system: 'http://loinc.org', code: '2' }],
        '1.0.0': [{ system: 'http://loinc.org', code: '1' }],
      },
    };
    expect(derivePrefetch(lib, valueSets, 2000).templates.observation).toBe(
      'Observation?patient={{context.patientId}}&code=http://loinc.org|1',
    );
    expect(derivePrefetch(lib, {}, 2000).templates.observation).toBe(
      'Observation?patient={{context.patientId}}&code:in=http://example.org/ValueSet/a1c|1.0.0',
    );
  });

  it('without a pinned version, uses the version the CQL engine evaluates (the greatest)', () => {
    const lib = library(
      { type: 'ValueSetRef', name: 'A1c' },
      { valueSets: { def: [{ name: 'A1c', id: 'http://example.org/ValueSet/a1c' }] } },
    );
    const valueSets = {
      'http://example.org/ValueSet/a1c': {
        '2.0.0': [{ system: 'http://loinc.org', code: '2' }],
        '1.0.0': [{ system: 'http://loinc.org', code: '1' }],
      },
    };
    expect(derivePrefetch(lib, valueSets, 2000).templates.observation).toBe(
      'Observation?patient={{context.patientId}}&code=http://loinc.org|2',
    );
  });

  it('escapes , | $ and \\ in codes and percent-encodes what a query cannot hold', () => {
    const lib = library(
      { type: 'ToList', operand: { type: 'CodeRef', name: 'Odd' } },
      {
        codeSystems: { def: [{ name: 'CS', id: 'urn:cs' }] },
        codes: { def: [{ name: 'Odd', id: 'a,b|c&d', codeSystem: { name: 'CS' } }] },
      },
    );
    const template = derivePrefetch(lib, {}, 2000).templates.observation;
    expect(template).toBe('Observation?patient={{context.patientId}}&code=urn:cs|a%5C%2Cb%5C|c%26d');
    const record: LocalResource[] = [
      {
        resourceType: 'Observation',
        id: 'odd',
        subject: { reference: 'Patient/p' },
        code: { coding: [{ system: 'urn:cs', code: 'a,b|c&d' }] },
      },
      {
        resourceType: 'Observation',
        id: 'a',
        subject: { reference: 'Patient/p' },
        code: { coding: [{ system: 'urn:cs', code: 'a' }] },
      },
    ];
    const found = prefetchFromResources({ o: template }, record, { patientId: 'p' }, BASE).o as {
      entry: Array<{ resource: { id: string } }>;
    };
    expect(found.entry.map((e) => e.resource.id)).toEqual(['odd']);
  });
});
