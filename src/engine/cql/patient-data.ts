// Patient data for cql-execution, on cql-exec-fhir's FHIR object model.
//
// cql-exec-fhir's own PatientSource re-parses the FHIR model info XML every time one is built
// (~100 ms) and, on every retrieve, scans the whole record and wraps every resource of the type in
// a new FHIRObject (whose getters are defined per instance) before filtering by code. Here the model
// info is parsed once per process; each evaluation indexes its resources by type once, skips
// resources whose raw JSON cannot match a retrieve's codes before wrapping them, and wraps each
// resource at most once, in the FHIR objects of fhir-object.ts (getters per class, not per instance).
import { createRequire } from 'node:module';
import { fhirModelInfo, type FhirResource } from '../../fhir/index.js';
import { installFhirDistinctKeys } from './distinct-keys.js';
import { fhirObject, type FhirCall } from './fhir-object.js';
import { installSortKeys } from './sort-keys.js';

const require = createRequire(import.meta.url);

/**
 * The cql-exec-fhir version whose private members this drives: its Patient's findRecords, answered here (over
 * the FHIR objects of fhir-object.ts) by the patient given to cql-execution; FHIRObject, the class of what
 * FHIRWrapper.wrap returns, whose get, getCode, _is and
 * _typeHierarchy fhir-object.ts reimplements or builds on (with lib/util's normalizeChoiceName). The model
 * info comes from PatientSource's _modelInfo (fhir/model-info.ts), and is given to a FHIRWrapper as its _modelInfo
 * (a wrapper built by FHIRv401() would parse the XML a second time: ~200 ms and 2.4 MiB).
 * test/engine/dependency-patches.test.ts
 * fails when the installed version differs.
 */
export const CQL_EXEC_FHIR_DRIVEN_FOR = '2.2.0';

interface CqlExecFhir {
  FHIRWrapper: { prototype: { wrap(json: unknown, type?: string): unknown } };
}

export interface PatientSourceLike {
  currentPatient(): unknown;
  nextPatient(): unknown;
}

export interface FhirDataModel {
  /** A one-patient source over these resources (the Patient resource first). */
  patientSource(resources: FhirResource[]): PatientSourceLike;
  /** Wraps FHIR JSON so CQL can navigate it (used for parameters such as draft orders). */
  wrap: (resource: FhirResource) => unknown;
}

interface RetrieveDetails {
  datatype?: string;
  codeProperty?: string;
  codes?: unknown;
}

let shared: FhirDataModel | undefined;

export function fhirDataModel(): FhirDataModel {
  if (shared) return shared;
  installFhirDistinctKeys();
  installSortKeys();
  const fhir = require('cql-exec-fhir') as CqlExecFhir;
  const modelInfo = fhirModelInfo();
  // The wrapper reads nothing but its _modelInfo: the one already parsed.
  const wrapper = Object.assign(Object.create(fhir.FHIRWrapper.prototype) as typeof fhir.FHIRWrapper.prototype, {
    _modelInfo: modelInfo,
  });
  // findClass walks the model info's classes: once per type name asked for.
  const classes = new Map<string, ReturnType<typeof modelInfo.findClass>>();
  const classOf = (name: string) => {
    if (!classes.has(name)) classes.set(name, modelInfo.findClass(name));
    return classes.get(name);
  };
  // The class cql-exec-fhir does not export, under every object it makes.
  const FHIRObject = (wrapper.wrap({ resourceType: 'Patient' }) as { constructor: { prototype: object } }).constructor;
  const call = (): FhirCall => ({ model: modelInfo, dates: new Map() });

  shared = {
    patientSource(resources) {
      const byType = new Map<string, FhirResource[]>();
      for (const r of resources) {
        const list = byType.get(r.resourceType);
        if (list) list.push(r);
        else byType.set(r.resourceType, [r]);
      }
      const wrapped = new Map<FhirResource, unknown>();
      const state = call();
      const findRecords = (profile: string, details?: RetrieveDetails): unknown[] => {
        const classInfo = classOf(details?.datatype ?? profile);
        if (!classInfo) return [];
        const candidates = byType.get(classInfo.name.replace(/^FHIR\./, '')) ?? [];
        const codeProperty = details?.codeProperty;
        const codes = codeProperty ? codeIndex(details.codes) : undefined;
        const out: unknown[] = [];
        for (const resource of candidates) {
          if (codes && codeProperty && !mightMatch(propertyValue(resource, codeProperty), codes)) continue;
          let object = wrapped.get(resource);
          if (object === undefined) {
            object = fhirObject(FHIRObject, resource, classInfo, state);
            wrapped.set(resource, object);
          }
          out.push(object);
        }
        return out;
      };
      let done = false;
      return {
        // What cql-execution asks of the patient of a PatientContext: its id (the results' key) and its records.
        // cql-exec-fhir's Patient is a FHIRObject of the Patient resource too, whose getters (defined on every
        // instance) nothing reads: a Patient-context `Patient` is a retrieve, answered by findRecords.
        currentPatient: () => {
          if (done) return undefined;
          const patient = resources[0];
          if (patient?.resourceType !== 'Patient') throw new Error('a patient source needs its Patient resource first');
          return {
            getId: () => patient.id,
            findRecords,
            findRecord: (profile: string, details?: RetrieveDetails) => findRecords(profile, details)[0],
          };
        },
        nextPatient: () => {
          done = true;
          return undefined;
        },
      };
    },
    wrap: (resource) => fhirObject(FHIRObject, resource, modelInfo.findClass(resource.resourceType), call()),
  };
  return shared;
}

/** code → systems (undefined when a code comes without a system). */
type CodeIndex = Map<string, Set<string | undefined>>;

/** The codes of a retrieve (Codes, or an expanded ValueSet), or undefined when they cannot be read. */
function codeIndex(codes: unknown): CodeIndex | undefined {
  const list: unknown[] = Array.isArray(codes)
    ? codes.flatMap((c) => ((c as { codes?: unknown[] })?.codes ? (c as { codes: unknown[] }).codes : [c]))
    : ((codes as { codes?: unknown[] })?.codes ?? []);
  if (list.length === 0) return undefined;
  const index: CodeIndex = new Map();
  for (const c of list) {
    const code = (c as { code?: unknown })?.code;
    if (typeof code !== 'string') return undefined; // unknown shape: let cql-execution decide on everything
    const system = (c as { system?: unknown }).system;
    let systems = index.get(code);
    if (!systems) index.set(code, (systems = new Set()));
    systems.add(typeof system === 'string' ? system : undefined);
  }
  return index;
}

/** The raw value of a property, choice elements included (`medication` → `medicationCodeableConcept`, …). */
function propertyValue(resource: FhirResource, property: string): unknown {
  if (property in resource) return resource[property];
  const choices: unknown[] = [];
  for (const key of Object.keys(resource)) {
    if (key.length > property.length && key.startsWith(property) && /[A-Z]/.test(key[property.length]))
      choices.push(resource[key]);
  }
  return choices.length === 0 ? undefined : choices;
}

/**
 * Could this raw FHIR value (CodeableConcept, Coding, code, or a list of them) match one of the codes?
 * Errs towards yes: cql-execution still applies the real filter to what passes.
 */
function mightMatch(value: unknown, codes: CodeIndex): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'string') return codes.has(value);
  if (Array.isArray(value)) return value.some((v) => mightMatch(v, codes));
  if (typeof value !== 'object') return true;
  const v = value as { coding?: unknown; code?: unknown; system?: unknown };
  if (Array.isArray(v.coding)) return v.coding.some((c) => mightMatch(c, codes));
  if (typeof v.code === 'string') {
    const systems = codes.get(v.code);
    if (!systems) return false;
    return typeof v.system !== 'string' || systems.has(v.system) || systems.has(undefined);
  }
  return !('coding' in v) && !('code' in v);
}
