// Patient data for cql-execution. cql-exec-fhir's PatientSource re-parses the FHIR model info XML
// every time one is constructed (~100 ms); here the model info is parsed once per process and each
// evaluation gets a fresh one-patient source that shares it.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface ModelInfo {
  findClass(name: string): unknown;
}

interface CqlExecFhir {
  PatientSource: { FHIRv401(): { _modelInfo: ModelInfo; currentPatient(this: unknown): unknown }; prototype: { currentPatient(this: unknown): unknown } };
  FHIRWrapper: { FHIRv401(): { wrap(json: unknown, type?: string): unknown } };
}

export interface FhirResource {
  resourceType: string;
  id?: string;
  [key: string]: unknown;
}

export interface PatientSourceLike {
  currentPatient(): unknown;
  nextPatient(): unknown;
}

export interface FhirDataModel {
  /** A one-patient source over these resources (the Patient resource among them). */
  patientSource(resources: FhirResource[]): PatientSourceLike;
  /** Wraps FHIR JSON so CQL can navigate it (used for parameters such as draft orders). */
  wrap: (resource: FhirResource) => unknown;
}

let shared: FhirDataModel | undefined;

export function fhirDataModel(): FhirDataModel {
  if (shared) return shared;
  const fhir = require('cql-exec-fhir') as CqlExecFhir;
  const template = fhir.PatientSource.FHIRv401();
  const modelInfo = template._modelInfo;
  const wrapper = fhir.FHIRWrapper.FHIRv401();
  const prototype = fhir.PatientSource.prototype;
  shared = {
    patientSource(resources) {
      const bundle = { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
      const state = { _index: 0, _bundles: [bundle], _modelInfo: modelInfo, _patientSourceOptions: {} };
      let done = false;
      return {
        currentPatient: () => (done ? undefined : prototype.currentPatient.call(state)),
        nextPatient: () => {
          done = true;
          return undefined;
        },
      };
    },
    wrap: (resource) => wrapper.wrap(resource),
  };
  return shared;
}
