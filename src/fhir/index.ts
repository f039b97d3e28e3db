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
export {
  medicationIdOf,
  medicationsById,
  unresolvedMedicationIds,
  withMedicationCode,
} from './medication-reference.js';
