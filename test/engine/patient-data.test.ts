// The engine's patient data source must give CQL exactly what cql-exec-fhir's own PatientSource
// gives: same define values for every fixture request and for a large synthetic record.
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureRequests } from '../../bench/fixtures.js';
import { generateLargePatient } from '../../fixtures/generate.js';
import { cqlToJson, patientRecord } from '../../src/engine/index.js';
import { resourcesOf, type FhirResource } from '../../src/fhir/index.js';
import { cpuCalls } from '../../bench/cpu-calls.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Knowledge, Service } from '../../src/knowledge/index.js';
import { knowledgeFrom, repoRoot } from '../support/app.js';
import { canonical, stockAndEngine, type Wrap } from '../support/stock-fhir.js';

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(repoRoot);
});

/** Every Patient-context define's value (as `canonical` gives it) and the facts the rules read, from both sides. */
async function both(service: Service, resources: Array<{ resourceType: string; id?: string }>, drafts: FhirResource[]) {
  // As the service binds them: `draftOrders:<Type>` takes the drafts of that type (Medications sit beside them).
  const parameters = (wrap: Wrap) =>
    Object.fromEntries(
      Object.entries(service.definition.knowledge.parameters ?? {}).map(([p, source]) => {
        const type = typeof source === 'string' ? source.split(':')[1] : undefined;
        return [p, drafts.filter((r) => !type || r.resourceType === type).map(wrap)];
      }),
    );
  const { stock, ours } = await stockAndEngine(service.ruleSet.library!, resources, {
    valueSets: knowledge.valueSets as never,
    parameters,
  });
  const view = (out: Record<string, unknown>) => ({
    defines: Object.fromEntries(Object.keys(out).map((d) => [d, canonical(out[d])])),
    facts: Object.fromEntries(service.ruleSet.defines.map((d) => [d, cqlToJson(out[d])])),
  });
  return { stock: view(stock), ours: view(ours) };
}

/** The rules a rule set fires on these facts, and the cards it renders (as `evaluate` builds the facts). */
async function decisions(service: Service, facts: Record<string, unknown>) {
  const result = await service.ruleSet.engine.run({ cql: facts, context: {}, hook: service.definition.hook });
  return result.results.map((r) => r.name).sort();
}

function expectSame(stock: Awaited<ReturnType<typeof both>>['stock'], ours: typeof stock) {
  expect(Object.keys(ours.defines).length).toBeGreaterThan(0);
  expect(ours.defines).toEqual(stock.defines);
  expect(ours.facts).toEqual(stock.facts);
}

describe('patient data source', () => {
  it.each(fixtureRequests().map((f) => [`${f.service}/${f.name}`, f] as const))(
    'gives the same value of every define and the same rules as cql-exec-fhir for %s',
    async (_label, f) => {
      const service = knowledge.services.find((s) => s.definition.id === f.service)!;
      const body = f.body as {
        context: { patientId: string; draftOrders?: unknown };
        prefetch: Record<string, unknown>;
      };
      const drafts = resourcesOf(body.context.draftOrders);
      const { stock, ours } = await both(service, patientRecord(body.prefetch, body.context.patientId), drafts);
      expectSame(stock, ours);
      expect(await decisions(service, ours.facts)).toEqual(await decisions(service, stock.facts));
    },
  );

  // Every service over every whole fixture patient (all its resources, not only what the prefetch selects).
  const patients = readdirSync(join(repoRoot, 'fixtures', 'patients')).filter((f) => f.endsWith('.json'));
  it.each(patients)('gives the same value of every define as cql-exec-fhir for every service over %s', async (file) => {
    const bundle = JSON.parse(readFileSync(join(repoRoot, 'fixtures', 'patients', file), 'utf8')) as unknown;
    for (const service of knowledge.services) {
      const request = fixtureRequests().find((f) => f.service === service.definition.id)!;
      const drafts = resourcesOf((request.body as { context: { draftOrders?: unknown } }).context.draftOrders);
      const { stock, ours } = await both(service, patientRecord({ bundle }, undefined), drafts);
      expectSame(stock, ours);
    }
  });

  // The records bench/cpu.ts measures, for each service: 152 and 10,000 resources.
  it.each([152, 10_000])(
    'gives the same value of every define as cql-exec-fhir for every service over generated %i-resource records',
    async (size) => {
      for (const call of await cpuCalls([size])) {
        const service = knowledge.services.find((s) => s.definition.id === call.service)!;
        const body = call.body as { context: { patientId: string; draftOrders?: unknown }; prefetch: object };
        const record = patientRecord(body.prefetch as Record<string, unknown>, body.context.patientId);
        expect(record.length).toBeGreaterThanOrEqual(size);
        const { stock, ours } = await both(service, record, resourcesOf(body.context.draftOrders));
        expectSame(stock, ours);
        expect(await decisions(service, ours.facts)).toEqual(await decisions(service, stock.facts));
      }
    },
    120_000,
  );

  it('gives the same define values as cql-exec-fhir over a 1,000-resource record', async () => {
    const service = knowledge.services.find((s) => s.definition.id === 'nsaid-ckd-order-sign')!;
    const record = generateLargePatient(11, 1000);
    const { stock, ours } = await both(service, patientRecord({ record }, undefined), []);
    expectSame(stock, ours);
    expect(ours.facts['Latest eGFR']).not.toBeNull();
  });
});

describe('explanations kept with served cards', () => {
  it('withhold ids by any name, names of people and references, and keep clinical values', async () => {
    const { withoutIdentifiers } = await import('../../src/engine/index.js');
    const value = {
      priorStudyId: 'STUDY-ACCESSION-778899',
      patient_id: 'p-1',
      id: 'obs-1',
      name: [{ family: 'Zzyzx', given: ['Ann'] }],
      subject: { reference: 'Patient/p-1', display: 'Ann Zzyzx' },
      code: { coding: [{ system: 'http://loinc.org', code: '33914-3', display: 'eGFR' }] },
      value: { value: 22, unit: 'mL/min/{1.73_m2}' },
      medication: 'Ibuprofen 400 mg',
    };
    const text = JSON.stringify(withoutIdentifiers(value));
    for (const secret of ['STUDY-ACCESSION-778899', 'p-1', 'obs-1', 'Zzyzx', 'Ann']) expect(text).not.toContain(secret);
    expect(withoutIdentifiers(value)).toMatchObject({
      code: value.code,
      value: value.value,
      medication: 'Ibuprofen 400 mg',
    });
  });
});
