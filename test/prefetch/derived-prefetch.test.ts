// Prefetch derived from the CQL: for every shipped service, evaluating each example request with only
// what the derived templates fetch from the patient's whole record gives the same cards (and system
// actions) as evaluating it with the whole record; the templates are FHIR queries an EHR can run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { fixtureRequests } from '../../bench/fixtures.js';
import { evaluate } from '../../src/engine/evaluate.js';
import { derivePrefetch, templateProblemsFor, type Knowledge } from './derived-support.js';
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
        const derived = prefetchFromResources(templates, record!, body.context, BASE);
        const whole = {
          record: { resourceType: 'Bundle', type: 'collection', entry: record!.map((resource) => ({ resource })) },
        };
        const withWhole = await evaluate(knowledge, service, body, whole, { now: NOW });
        const withDerived = await evaluate(knowledge, service, body, derived, { now: NOW });
        expect(outcomeOf(withDerived.cards)).toEqual(outcomeOf(withWhole.cards));
        expect(withDerived.systemActions.length).toBe(withWhole.systemActions.length);
        // The derived prefetch is strictly less than the record unless the CQL reads all of it.
        expect(withDerived.trace.problems).toEqual([]);
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
      const size = (p: Record<string, unknown>) =>
        Object.values(p).reduce<number>((n, v) => n + ((v as { entry?: unknown[] } | null)?.entry?.length ?? 0), 0);
      if (
        size(prefetchFromResources(ignoringFilters(templates), record, body.context, BASE)) >
        size(prefetchFromResources(templates, record, body.context, BASE))
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
        const asked = prefetchFromResources(templates, record, body.context, BASE);
        const more = prefetchFromResources(ignoringFilters(templates), record, body.context, BASE);
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
    expect(service.definition.prefetch).toEqual(derivePrefetch(service.ruleSet, knowledge.valueSets).templates);
    const app = testApp({ knowledge, now: NOW.toISOString() });
    const res = await request(app).get('/cds-services').expect(200);
    const shown = res.body.services.find((s: { id: string }) => s.id === 'imaging-repeat');
    expect(shown.prefetch).toEqual(service.definition.prefetch);
    expect(Object.keys(HOOKS)).toContain(shown.hook);
  });
});
