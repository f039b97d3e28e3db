// What the whole product needs of FHIR R4: the model info, UCUM, the shape check and resource helpers.
export {
  fhirModelInfo,
  isPrimitiveType,
  type ClassInfo,
  type FhirModelInfo,
  type TypeSpecifier,
} from './model-info.js';
export { ucum, validateUcumUnit, convertUcum } from './ucum.js';
export { fhirShapeCheck, fhirShapeIssues, fhirShapeProblems, type ShapeCheck, type ShapeProblem } from './shape.js';
export { isResource, resourcesOf, type FhirResource } from './resources.js';
export { PATIENT_SEARCH_PARAMETERS } from './patient-search-parameters.js';
export { DATE_SEARCH_PARAMETERS, dateSearchElements } from './date-search-parameters.js';
export {
  medicationIdOf,
  medicationsById,
  unresolvedMedicationIds,
  withMedicationCode,
} from './medication-reference.js';
