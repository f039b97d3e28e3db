// Compares, in one run, CQL evaluation over cql-exec-fhir's own PatientSource (built per call, as a
// naive server does; and built once and reloaded) against this engine's data source, on synthetic
// patients of growing size. Medians of repeated runs.
import { createRequire } from 'node:module';
import type { Executor as ExecutorType, CodeService as CodeServiceType, DateTime as DateTimeType } from 'cql-execution';
import { createCqlTranslator, loadKnowledge } from '../src/knowledge/index.js';
import { defaultConfig } from '../src/config.js';
import { fhirDataModel, patientRecord } from '../src/engine/index.js';
import { fhirShapeProblems } from '../src/fhir/index.js';
import { generateLargePatient } from '../fixtures/generate.js';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as {
  Executor: typeof ExecutorType;
  CodeService: typeof CodeServiceType;
  DateTime: typeof DateTimeType;
};
const fhir = require('cql-exec-fhir') as {
  PatientSource: { FHIRv401(): { loadBundles(b: unknown[]): void; reset(): void } };
};

const NOW = cql.DateTime.fromJSDate(new Date('2026-06-01T12:00:00Z'), 0);
const knowledge = await loadKnowledge(defaultConfig().knowledgeDir, { translator: await createCqlTranslator() });
const service = knowledge.services.find((s) => s.definition.id === 'nsaid-ckd-order-sign')!;
const codeService = new cql.CodeService(knowledge.valueSets as never);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn: () => Promise<unknown>, rounds: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

// The stock runs go first: this engine's data source changes how cql-execution keys FHIR objects
// for distinct results, process-wide, once it is first used.
const sizes = [100, 1000, 10000];
const rows = new Map<number, number[]>();
const reused = fhir.PatientSource.FHIRv401();
const executor = new cql.Executor(service.ruleSet.library!, codeService, { DraftMedications: [] });
const records = new Map(
  sizes.map((size) => [
    size,
    generateLargePatient(7, size) as unknown as { entry: Array<{ resource: { resourceType: string; id?: string } }> },
  ]),
);
const roundsFor = (size: number) => (size >= 10000 ? 5 : 15);
for (const size of sizes) {
  const bundle = records.get(size)!;
  const perCall = await time(async () => {
    const source = fhir.PatientSource.FHIRv401();
    source.loadBundles([bundle]);
    await executor.exec_patient_context(source as never, NOW);
  }, roundsFor(size));
  const reloaded = await time(async () => {
    reused.reset();
    reused.loadBundles([bundle]);
    await executor.exec_patient_context(reused as never, NOW);
  }, roundsFor(size));
  rows.set(size, [perCall, reloaded]);
}
for (const size of sizes) {
  const resources = patientRecord({ record: records.get(size) }, undefined);
  const ours = await time(
    () => executor.exec_patient_context(fhirDataModel().patientSource(resources) as never, NOW),
    roundsFor(size),
  );
  rows.get(size)!.push(ours);
}
// The FHIR shape check every call makes by default (CDS_FHIR_CHECK=warn), on the same records, warmed up
// as in a running server.
for (const size of sizes) fhirShapeProblems(records.get(size), 'prefetch.record');
for (const size of sizes)
  rows.get(size)!.push(await time(() => Promise.resolve(fhirShapeProblems(records.get(size), 'prefetch.record')), 31));
console.log('CQL evaluation of NsaidCkd over one patient record (median ms)');
console.log(
  'resources   stock, new source per call   stock, one source reloaded   this engine   speed-up vs reloaded   FHIR shape check',
);
for (const [size, [perCall, reloaded, ours, check]] of rows) {
  console.log(
    `${String(size).padStart(9)}   ${perCall.toFixed(1).padStart(26)}   ${reloaded.toFixed(1).padStart(26)}   ${ours.toFixed(1).padStart(11)}   ${(reloaded / ours).toFixed(1).padStart(19)}x   ${check.toFixed(1).padStart(16)}`,
  );
}
