// The engine's patient data source must give CQL exactly what cql-exec-fhir's own PatientSource
// gives: same define values for every fixture request and for a large synthetic record.
import { beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import type { Executor as ExecutorType, CodeService as CodeServiceType, DateTime as DateTimeType } from 'cql-execution';
import { fixtureRequests } from '../../bench/fixtures.js';
import { generateLargePatient } from '../../fixtures/generate.js';
import { cqlToJson, fhirDataModel, patientRecord } from '../../src/engine/index.js';
import { resourcesOf } from '../../src/fhir/index.js';
import type { Knowledge, Service } from '../../src/knowledge/index.js';
import { knowledgeFrom, repoRoot } from '../support/app.js';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as {
  Executor: typeof ExecutorType;
  CodeService: typeof CodeServiceType;
  DateTime: typeof DateTimeType;
};
const fhir = require('cql-exec-fhir') as { PatientSource: { FHIRv401(): { loadBundles(b: unknown[]): void } } };
const NOW = cql.DateTime.fromJSDate(new Date('2026-06-01T12:00:00Z'), 0);

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(repoRoot);
});

async function both(
  service: Service,
  resources: Array<{ resourceType: string; id?: string }>,
  parameters: Record<string, unknown>,
) {
  const executor = new cql.Executor(
    service.ruleSet.library!,
    new cql.CodeService(knowledge.valueSets as never),
    parameters,
  );
  const stock = fhir.PatientSource.FHIRv401();
  stock.loadBundles([{ resourceType: 'Bundle', entry: resources.map((resource) => ({ resource })) }]);
  const values = async (source: unknown) => {
    const r = await executor.exec_patient_context(source as never, NOW);
    const out = Object.values(r.patientResults)[0] as Record<string, unknown>;
    return Object.fromEntries(service.ruleSet.defines.map((d) => [d, cqlToJson(out[d])]));
  };
  return { stock: await values(stock), ours: await values(fhirDataModel().patientSource(resources)) };
}

describe('patient data source', () => {
  it.each(fixtureRequests().map((f) => [`${f.service}/${f.name}`, f] as const))(
    'gives the same define values as cql-exec-fhir for %s',
    async (_label, f) => {
      const service = knowledge.services.find((s) => s.definition.id === f.service)!;
      const body = f.body as {
        context: { patientId: string; draftOrders?: unknown };
        prefetch: Record<string, unknown>;
      };
      const drafts = resourcesOf(body.context.draftOrders);
      // As the service binds them: `draftOrders:<Type>` takes the drafts of that type (Medications sit beside them).
      const parameters = Object.fromEntries(
        Object.entries(service.definition.knowledge.parameters ?? {}).map(([p, source]) => {
          const type = typeof source === 'string' ? source.split(':')[1] : undefined;
          return [p, drafts.filter((r) => !type || r.resourceType === type).map((r) => fhirDataModel().wrap(r))];
        }),
      );
      const { stock, ours } = await both(service, patientRecord(body.prefetch, body.context.patientId), parameters);
      expect(ours).toEqual(stock);
    },
  );

  it('gives the same define values as cql-exec-fhir over a 1,000-resource record', async () => {
    const service = knowledge.services.find((s) => s.definition.id === 'nsaid-ckd-order-sign')!;
    const record = generateLargePatient(11, 1000);
    const { stock, ours } = await both(service, patientRecord({ record }, undefined), { DraftMedications: [] });
    expect(ours).toEqual(stock);
    expect(ours['Latest eGFR']).not.toBeNull();
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
