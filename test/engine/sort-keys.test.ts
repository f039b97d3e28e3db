// The engine's `sort by` (src/engine/cql/sort-keys.ts) must order exactly as cql-execution's own: ties between
// equal values that are different objects, nulls, several sort items, descending, undefined elements.
import { beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import type { CodeService as CodeServiceType, DateTime as DateTimeType, Library as LibraryType } from 'cql-execution';
import { Executor as ExecutorType } from 'cql-execution';
import { installSortKeys } from '../../src/engine/cql/sort-keys.js';
import { fhirDataModel } from '../../src/engine/cql/patient-data.js';
import { CQL_EXECUTION_PATCHED_FOR } from '../../src/engine/cql/distinct-keys.js';
import { compiledLibrary } from '../support/cql-library.js';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as {
  Executor: typeof ExecutorType;
  Library: typeof LibraryType;
  CodeService: typeof CodeServiceType;
  DateTime: typeof DateTimeType;
};
const clause = (
  require('cql-execution/lib/elm/query') as {
    SortClause: { prototype: { sort: unknown; __stockSort?: unknown } };
  }
).SortClause.prototype;

const LIBRARY = `library SortCheck version '1.0.0'
using FHIR version '4.0.1'
parameter Times List<DateTime>
parameter Rows List<Tuple { id Integer, t DateTime, n Integer }>
context Patient
define "By time": Times T return all Tuple { id: IndexOf(Times, T), t: T } sort by t
define "By time, descending": Rows R return all R sort by t desc
define "By n then time": Rows R return all R sort by n asc, t desc
define "By expression": Rows R return all R sort by (if n is null then null else n * -1)
define "Quantities": ({ 3 'mg', 1 'g', 2 'mg', null, 2 'mg' }) Q return all Tuple { q: Q } sort by q
define "Plain": ({ 3, 1, 2, 2, null }) X sort asc
`;

let library: LibraryType;
beforeAll(async () => {
  library = await compiledLibrary('SortCheck', LIBRARY);
});

const texts = [
  '2024-01-02T10:00:00Z',
  '2024-01-01T10:00:00Z',
  '2024-01-02T10:00:00Z',
  '2024-01-02T11:00:00+01:00',
  '2023-12-31T10:00:00Z',
  '2024-01-01T10:00:00Z',
  '2024-01-02T10:00:00Z',
];

async function run(): Promise<Record<string, unknown>> {
  const times = [...texts.map((t) => cql.DateTime.parse(t)), null];
  const rows = times.map((t, i) => ({ id: i, t, n: i % 3 === 0 ? null : i % 2 }));
  const executor = new cql.Executor(library, new cql.CodeService({}), { Times: times, Rows: rows });
  const now = cql.DateTime.fromJSDate(new Date('2026-06-01T12:00:00Z'), 0);
  const source = fhirDataModel().patientSource([{ resourceType: 'Patient', id: 'pt-sort' }]);
  const results = await executor.exec_patient_context(source as never, now);
  const out = Object.values(results.patientResults)[0] as Record<string, unknown>;
  delete out.Patient;
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

describe('sort by with values computed once', () => {
  it('is for the installed cql-execution (SortClause.sort, ByExpression.exec, util.asyncMergeSort)', () => {
    const { version } = require('cql-execution/package.json') as { version: string };
    expect(version, 're-check src/engine/cql/sort-keys.ts against lib/elm/query.js and lib/util/util.js').toBe(
      CQL_EXECUTION_PATCHED_FOR,
    );
  });

  it('orders every define as cql-execution does', async () => {
    installSortKeys();
    const patched = clause.sort;
    expect(clause.__stockSort).toBeTypeOf('function');
    expect(patched).not.toBe(clause.__stockSort);
    const ours = await run();
    clause.sort = clause.__stockSort;
    let stock;
    try {
      stock = await run();
    } finally {
      clause.sort = patched;
    }
    expect(Object.keys(ours).length).toBeGreaterThan(0);
    expect(ours).toEqual(stock);
  });
});
