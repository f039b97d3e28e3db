// Runs a CQL library over the same FHIR resources twice: through the engine's FHIR data layer
// (src/engine/cql/) and through stock cql-exec-fhir with stock cql-execution (without the engine's keys
// of FHIR objects for distinct results nor its sort), and gives every define's value in a form to compare.
import { createRequire } from 'node:module';
import type {
  CodeService as CodeServiceType,
  DateTime as DateTimeType,
  Executor as ExecutorType,
  Library as LibraryType,
} from 'cql-execution';
import { fhirDataModel } from '../../src/engine/index.js';
import type { FhirResource } from '../../src/fhir/index.js';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as {
  Executor: typeof ExecutorType;
  CodeService: typeof CodeServiceType;
  DateTime: typeof DateTimeType;
};
const fhir = require('cql-exec-fhir') as {
  PatientSource: { FHIRv401(): { loadBundles(b: unknown[]): void } };
  FHIRWrapper: { FHIRv401(): { wrap(r: unknown): unknown } };
};
const sortClause = (
  require('cql-execution/lib/elm/query') as {
    SortClause: { prototype: { sort: unknown; __stockSort?: unknown } };
  }
).SortClause.prototype;
const keys = require('cql-execution/lib/util/immutableUtil') as {
  toNormalizedKey: (value: unknown) => unknown;
  __stockToNormalizedKey?: (value: unknown) => unknown;
};
let stockWrapper: { wrap(r: unknown): unknown } | undefined;

export const NOW = cql.DateTime.fromJSDate(new Date('2026-06-01T12:00:00Z'), 0);

/**
 * A value, deeply: FHIR objects as their type and JSON, CQL values (DateTime with its precision and offset, Date,
 * Code, Concept, Quantity, Interval, tuples) field by field with their class.
 */
export function canonical(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined || typeof value !== 'object') return value;
  if (depth > 40) throw new Error('value too deep to compare');
  if (Array.isArray(value)) return value.map((v) => canonical(v, depth + 1));
  const v = value as { _json?: unknown; _typeInfo?: { name?: string } };
  if ('_json' in v && '_typeInfo' in v) return { fhir: v._typeInfo?.name, json: v._json };
  const out: Record<string, unknown> = { class: value.constructor?.name };
  for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key], depth + 1);
  return out;
}

/** Runs `run` with stock cql-execution's distinct keys and sort in place of the engine's. */
export async function asStock<T>(run: () => Promise<T>): Promise<T> {
  const engineKeys = keys.toNormalizedKey;
  const engineSort = sortClause.sort;
  keys.toNormalizedKey = keys.__stockToNormalizedKey ?? engineKeys;
  sortClause.sort = sortClause.__stockSort ?? engineSort;
  try {
    return await run();
  } finally {
    keys.toNormalizedKey = engineKeys;
    sortClause.sort = engineSort;
  }
}

export type Wrap = (resource: FhirResource) => unknown;

/** Every define of the library's Patient context, evaluated by stock cql-exec-fhir and by the engine. */
export async function stockAndEngine(
  library: LibraryType,
  resources: FhirResource[],
  options: {
    valueSets?: Record<string, Record<string, Array<{ code: string; system: string; version?: string }>>>;
    parameters?: (wrap: Wrap) => Record<string, unknown>;
  } = {},
): Promise<{ stock: Record<string, unknown>; ours: Record<string, unknown> }> {
  const values = async (source: unknown, wrap: Wrap) => {
    const executor = new cql.Executor(
      library,
      new cql.CodeService(options.valueSets ?? {}),
      options.parameters?.(wrap) ?? {},
    );
    const results = await executor.exec_patient_context(source as never, NOW);
    return Object.values(results.patientResults)[0] as Record<string, unknown>;
  };
  const stock = await asStock(() => {
    const source = fhir.PatientSource.FHIRv401();
    source.loadBundles([{ resourceType: 'Bundle', entry: resources.map((resource) => ({ resource })) }]);
    return values(source, (r) => (stockWrapper ??= fhir.FHIRWrapper.FHIRv401()).wrap(r));
  });
  const model = fhirDataModel();
  const ours = await values(model.patientSource(resources), model.wrap);
  return { stock, ours };
}
