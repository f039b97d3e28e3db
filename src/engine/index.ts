export { evaluate, patientRecord, type Evaluation, type EvaluationTrace, type RuleTrace } from './evaluate.js';
export { cqlToJson } from './cql/to-json.js';
export { fhirDataModel } from './cql/patient-data.js';
export { invokeService, type FhirCheck, type InvokeOptions } from './invoke-service.js';
export { explainCards, withoutIdentifiers, definesUsedBy, type CardExplanation } from './explain.js';
