// The FHIR 4.0.1 model info as cql-exec-fhir parses it: ~100 ms, so once per process.
// `_modelInfo` is private to cql-exec-fhir: see CQL_EXEC_FHIR_DRIVEN_FOR in engine/cql/patient-data.ts.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface TypeSpecifier {
  isNamed?: boolean;
  isList?: boolean;
  isChoice?: boolean;
  namespace?: string;
  name?: string;
  fqn?: string;
  elementType?: TypeSpecifier;
}

export interface ClassInfo {
  name: string;
  elements: Array<{ name: string }>;
  baseTypeSpecifier?: TypeSpecifier;
  findElement(name: string, explicitChoices?: boolean): { name: string; typeSpecifier: TypeSpecifier } | undefined;
}

export interface FhirModelInfo {
  findClass(name: string): ClassInfo | undefined;
}

let parsed: FhirModelInfo | undefined;

export function fhirModelInfo(): FhirModelInfo {
  if (!parsed) {
    const source = require('cql-exec-fhir') as { PatientSource: { FHIRv401(): { _modelInfo: FhirModelInfo } } };
    parsed = source.PatientSource.FHIRv401()._modelInfo;
  }
  return parsed;
}

/** True for FHIR primitives (string, code, …) and the one-`value` code types (MedicationRequestStatus, …). */
export function isPrimitiveType(type: TypeSpecifier | undefined): boolean {
  if (!type?.isNamed || type.namespace !== 'FHIR' || !type.name) return false;
  if (type.name[0] === type.name[0].toLowerCase()) return true;
  const info = fhirModelInfo().findClass(type.fqn ?? `FHIR.${type.name}`);
  return (
    !!info &&
    info.baseTypeSpecifier?.fqn === 'FHIR.Element' &&
    info.elements.length === 1 &&
    info.elements[0].name === 'value'
  );
}
