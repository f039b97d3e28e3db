// Two files use cql-execution and cql-exec-fhir below their public API: distinct-keys.ts replaces
// cql-execution's normalised-key function, and patient-data.ts stands in for cql-exec-fhir's Patient and
// drives its FHIRObject through private members. These tests fail, saying what to re-check, when an
// upgrade changes what those files rely on; and they check that both still have their effect.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type {
  CodeService as CodeServiceType,
  DateTime as DateTimeType,
  Executor as ExecutorType,
  Library as LibraryType,
} from 'cql-execution';
import { CQL_EXECUTION_PATCHED_FOR, installFhirDistinctKeys } from '../../src/engine/cql/distinct-keys.js';
import { CQL_EXEC_FHIR_DRIVEN_FOR, fhirDataModel, type PatientSourceLike } from '../../src/engine/cql/patient-data.js';
import { fhirModelInfo, type FhirResource } from '../../src/fhir/index.js';
import { compiledLibrary } from '../support/cql-library.js';
import { repoRoot } from '../support/app.js';

// Modules resolved as the patched files resolve them.
const require = createRequire(join(repoRoot, 'src/engine/cql/distinct-keys.ts'));

interface FhirObject {
  _json: unknown;
  _typeInfo: { name: string };
  get(field: string): unknown;
  getTypeInfo(): unknown;
}
type FhirObjectClass = new (json: unknown, classInfo: unknown, modelInfo: unknown) => FhirObject;
interface Patient extends FhirObject {
  findRecords(profile: string, details?: unknown): FhirObject[];
  findRecord(profile: string, details?: unknown): FhirObject | undefined;
}
interface CqlExecFhir {
  PatientSource: { FHIRv401(): unknown };
  FHIRWrapper: { FHIRv401(): { wrap(json: unknown): FhirObject } };
}

const fhir = require('cql-exec-fhir') as CqlExecFhir;
const cql = require('cql-execution') as {
  Executor: typeof ExecutorType;
  Library: typeof LibraryType;
  CodeService: typeof CodeServiceType;
  DateTime: typeof DateTimeType;
};

function installedVersion(pkg: string): string {
  const file = join(repoRoot, 'node_modules', pkg, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

const observation = (id: string, effectiveDateTime: string, code = '33914-3'): FhirResource => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code }] },
  effectiveDateTime,
});
const PATIENT: FhirResource = { resourceType: 'Patient', id: 'pt-patches' };

const LIBRARY = `library PatchCheck version '1.0.0'
using FHIR version '4.0.1'
codesystem LOINC: 'http://loinc.org'
code eGFR: '33914-3' from LOINC
parameter Resources List<Observation>
context Patient
define "Coded": [Observation: eGFR]
define "Coded again": [Observation: eGFR]
define "All": [Observation]
define "Distinct": distinct Resources
define "Returned": Resources R return R
`;

let library: LibraryType;
beforeAll(async () => {
  library = await compiledLibrary('PatchCheck', LIBRARY);
});

async function evaluate(source: PatientSourceLike, resources: FhirResource[] = []): Promise<Record<string, unknown>> {
  const wrapper = fhir.FHIRWrapper.FHIRv401();
  const parameters = { Resources: resources.map((r) => wrapper.wrap(r)) };
  const executor = new cql.Executor(library, new cql.CodeService({}), parameters);
  const now = cql.DateTime.fromJSDate(new Date('2026-06-01T12:00:00Z'), 0);
  const results = await executor.exec_patient_context(source as never, now);
  return Object.values(results.patientResults)[0] as Record<string, unknown>;
}

describe('the cql-execution patch (src/engine/cql/distinct-keys.ts)', () => {
  it('is for the installed cql-execution', () => {
    expect(
      installedVersion('cql-execution'),
      `cql-execution is no longer ${CQL_EXECUTION_PATCHED_FOR}: re-check src/engine/cql/distinct-keys.ts against ` +
        'lib/util/immutableUtil.js (toNormalizedKey) and lib/elm/list.js (toDistinctList), and the retrieve details ' +
        'read by src/engine/cql/patient-data.ts (datatype, codeProperty, codes); then update CQL_EXECUTION_PATCHED_FOR',
    ).toBe(CQL_EXECUTION_PATCHED_FOR);
  });

  it('finds what it replaces: a writable toNormalizedKey, read through the module by toDistinctList', () => {
    const util = require('cql-execution/lib/util/immutableUtil') as Record<string, unknown>;
    expect(typeof util.toNormalizedKey).toBe('function');
    const own = Object.getOwnPropertyDescriptor(util, 'toNormalizedKey');
    expect(own?.writable ?? typeof own?.set === 'function', 'toNormalizedKey can no longer be replaced').toBe(true);
    const list = require('cql-execution/lib/elm/list') as Record<string, unknown>;
    expect(typeof list.toDistinctList).toBe('function');
    expect(String(list.toDistinctList), 'toDistinctList no longer calls immutableUtil.toNormalizedKey').toMatch(
      /immutableUtil_1\.toNormalizedKey/,
    );
  });

  it('makes keys that the immutable cql-execution uses reads as value objects (equals and hashCode)', () => {
    const fromCqlExecution = createRequire(require.resolve('cql-execution/lib/util/immutableUtil'));
    const immutable = fromCqlExecution('immutable') as {
      is: (a: unknown, b: unknown) => boolean;
      hash: (a: unknown) => number;
      Set: (xs: unknown[]) => { size: number };
    };
    installFhirDistinctKeys();
    const util = require('cql-execution/lib/util/immutableUtil') as { toNormalizedKey: (v: unknown) => unknown };
    const wrapper = fhir.FHIRWrapper.FHIRv401();
    const json = observation('o-1', '2024-01-01T10:00:00Z');
    const [a, b] = [wrapper.wrap(json), wrapper.wrap({ ...json })].map((o) => util.toNormalizedKey(o));
    expect(a).not.toBe(b);
    expect(immutable.is(a, b)).toBe(true);
    expect(immutable.hash(a)).toBe(immutable.hash(b));
    const other = util.toNormalizedKey(wrapper.wrap(observation('o-2', '2024-01-01T10:00:00Z')));
    expect(immutable.Set([a, b, other]).size).toBe(2);
  });

  it('recognises a FHIR object by the _json and _typeInfo.name of what cql-exec-fhir wraps', () => {
    const json = observation('o-1', '2024-01-01T10:00:00Z');
    const wrapped = fhir.FHIRWrapper.FHIRv401().wrap(json);
    expect(wrapped._json).toBe(json);
    expect(wrapped._typeInfo.name).toBe('Observation');
  });

  it('merges identical copies and resources that differ only in how an instant is written, as stock does', async () => {
    fhirDataModel(); // installs the patch
    const first = observation('o-1', '2024-01-01T10:00:00Z');
    const sameInstant = observation('o-1', '2024-01-01T11:00:00+01:00');
    const otherInstant = observation('o-1', '2024-01-01T10:00:00+01:00');
    const resources = [first, { ...first }, sameInstant, otherInstant, observation('o-2', '2024-01-01T10:00:00Z')];
    const results = await evaluate(fhirDataModel().patientSource([PATIENT]), resources);
    // cql-execution's key of a DateTime is its fields at offset 0.
    const distinct = (results.Distinct as FhirObject[]).map((r) => r._json);
    expect(distinct).toEqual([resources[0], resources[3], resources[4]]);
    expect(results.Returned as unknown[]).toHaveLength(3);
  });

  it('makes a key without reading the resource through its FHIR getters', async () => {
    const util = require('cql-execution/lib/util/immutableUtil') as { toNormalizedKey: unknown };
    installFhirDistinctKeys();
    const patched = util.toNormalizedKey;
    installFhirDistinctKeys();
    expect(util.toNormalizedKey, 'a second install wraps the patch in itself').toBe(patched);
    const FHIRObject = Object.getPrototypeOf(fhir.FHIRWrapper.FHIRv401().wrap(PATIENT)).constructor as FhirObjectClass;
    const get = vi.spyOn(FHIRObject.prototype, 'get');
    try {
      const resources = Array.from({ length: 20 }, (_, i) => observation(`o-${i}`, '2024-01-01T10:00:00Z'));
      const results = await evaluate(fhirDataModel().patientSource([PATIENT]), resources);
      expect(results.Distinct as unknown[]).toHaveLength(20);
      // Without the patch each key walks every element: hundreds of calls.
      expect(get).not.toHaveBeenCalled();
    } finally {
      get.mockRestore();
    }
  });
});

describe('the cql-exec-fhir internals driven by src/engine/cql/patient-data.ts', () => {
  it('are those of the installed cql-exec-fhir', () => {
    expect(
      installedVersion('cql-exec-fhir'),
      `cql-exec-fhir is no longer ${CQL_EXEC_FHIR_DRIVEN_FOR}: re-check src/engine/cql/patient-data.ts and ` +
        'src/knowledge/cql/fhir-model.ts against lib/fhir.js (PatientSource, Patient, FHIRObject); ' +
        'then update CQL_EXEC_FHIR_DRIVEN_FOR',
    ).toBe(CQL_EXEC_FHIR_DRIVEN_FOR);
  });

  it('share one copy of cql-execution with the engine', () => {
    const fromCqlExecFhir = createRequire(require.resolve('cql-exec-fhir'));
    expect(fromCqlExecFhir.resolve('cql-execution')).toBe(require.resolve('cql-execution'));
  });

  it('need of the patient of a PatientContext no more than its id and its records', async () => {
    // The engine gives cql-execution a patient that has getId, findRecords and findRecord only (cql-exec-fhir's
    // Patient is a whole FHIRObject besides): every property cql-execution reads of it must be one of these.
    const read = new Set<string>();
    const source = fhirDataModel().patientSource([PATIENT, observation('o1', '2026-05-01')]);
    const watched: PatientSourceLike = {
      currentPatient: () => {
        const patient = source.currentPatient() as object | undefined;
        return (
          patient &&
          new Proxy(patient, {
            get: (target, key, receiver) => {
              if (typeof key === 'string') read.add(key);
              return Reflect.get(target, key, receiver) as unknown;
            },
          })
        );
      },
      nextPatient: () => source.nextPatient(),
    };
    const results = await evaluate(watched, [observation('o2', '2026-05-02')]);
    expect(results.Coded).toHaveLength(1);
    expect(read.has('findRecords')).toBe(true);
    expect([...read].filter((k) => !['getId', 'findRecords', 'findRecord', 'then'].includes(k))).toEqual([]);
    expect(fhirDataModel().patientSource([PATIENT]).currentPatient()).toMatchObject({ getId: expect.any(Function) });
    expect((fhirDataModel().patientSource([PATIENT]).currentPatient() as { getId(): unknown }).getId()).toBe(
      'pt-patches',
    );
    expect(typeof fhir.FHIRWrapper.FHIRv401().wrap).toBe('function');
  });

  it('keep a FHIRWrapper whose only state is the _modelInfo it wraps with', () => {
    expect(Object.keys(fhir.FHIRWrapper.FHIRv401())).toEqual(['_modelInfo']);
    const wrapped = fhirDataModel().wrap(PATIENT) as { _json: unknown; _typeInfo: { name: string } };
    expect(wrapped._json).toBe(PATIENT);
    expect(wrapped._typeInfo.name).toBe('Patient');
  });

  it('give the model info, whose classes are found by a retrieve datatype', () => {
    const source = fhir.PatientSource.FHIRv401() as { _modelInfo: { findClass: unknown } };
    expect(typeof source._modelInfo.findClass).toBe('function');
    const classInfo = fhirModelInfo().findClass('{http://hl7.org/fhir}Observation');
    expect(classInfo?.name).toBe('Observation');
    expect(Array.isArray(classInfo?.elements)).toBe(true);
    expect(typeof classInfo?.findElement).toBe('function');
    expect(classInfo?.baseTypeSpecifier?.fqn).toBe('FHIR.DomainResource');
  });

  it('wrap resources in FHIRObject, a class whose constructor takes the JSON, its class and the model info', () => {
    // patient-data.ts finds the class it builds on as the constructor of what the wrapper makes.
    const FHIRObject = (fhir.FHIRWrapper.FHIRv401().wrap(PATIENT) as object).constructor as FhirObjectClass;
    const json = observation('o-1', '2024-01-01T10:00:00Z');
    expect(fhir.FHIRWrapper.FHIRv401().wrap(json)).toBeInstanceOf(FHIRObject);
    const classInfo = fhirModelInfo().findClass('Observation');
    const made = new FHIRObject(json, classInfo, fhirModelInfo());
    expect(made.getTypeInfo()).toBe(classInfo);
    expect((made.get('status') as { value: unknown }).value).toBe('final');
  });

  it('receive the retrieve details cql-execution passes: datatype, codeProperty and codes', async () => {
    const source = fhirDataModel().patientSource([PATIENT, observation('o-1', '2024-01-01T10:00:00Z')]);
    const seen: unknown[] = [];
    const spying: PatientSourceLike = {
      currentPatient: () => {
        const patient = source.currentPatient() as Patient | undefined;
        if (patient) {
          const ours = patient.findRecords.bind(patient);
          patient.findRecords = (profile, details) => {
            seen.push(details);
            return ours(profile, details);
          };
        }
        return patient;
      },
      nextPatient: () => source.nextPatient(),
    };
    await evaluate(spying);
    expect(seen).toContainEqual(
      expect.objectContaining({
        datatype: '{http://hl7.org/fhir}Observation',
        codeProperty: 'code',
        codes: [expect.objectContaining({ code: '33914-3', system: 'http://loinc.org' })],
      }),
    );
  });

  it('take effect: each resource is wrapped once, whatever retrieves it', async () => {
    const other = observation('o-2', '2024-01-02T10:00:00Z', '2160-0');
    const resources = [PATIENT, observation('o-1', '2024-01-01T10:00:00Z'), other];
    const results = await evaluate(fhirDataModel().patientSource(resources));
    const coded = results.Coded as FhirObject[];
    expect(coded.map((r) => r._json)).toEqual([resources[1]]);
    expect((results['Coded again'] as FhirObject[])[0]).toBe(coded[0]);
    expect((results.All as FhirObject[]).map((r) => r._json)).toEqual([resources[1], resources[2]]);
    expect((results.All as FhirObject[])[0]).toBe(coded[0]);
    expect((results.Patient as FhirObject)._json).toBe(PATIENT);
  });

  it('take effect: cql-execution checks the codes only of resources that might match', async () => {
    const FHIRObject = Object.getPrototypeOf(fhir.FHIRWrapper.FHIRv401().wrap(PATIENT)).constructor as FhirObjectClass;
    const getCode = vi.spyOn(FHIRObject.prototype as { getCode(property: string): unknown }, 'getCode');
    try {
      const other = observation('o-2', '2024-01-02T10:00:00Z', '2160-0');
      await evaluate(fhirDataModel().patientSource([PATIENT, observation('o-1', '2024-01-01T10:00:00Z'), other]));
      // Two coded retrieves; o-2's code cannot match, so it never reaches cql-execution's filter.
      const checked = getCode.mock.contexts.map((record) => ((record as FhirObject)._json as FhirResource).id);
      expect(checked).toEqual(['o-1', 'o-1']);
    } finally {
      getCode.mockRestore();
    }
  });
});
