export {
  evaluate,
  patientRecord,
  traceOfFailure,
  type CqlFailure,
  type Evaluation,
  type EvaluationTrace,
  type RuleTrace,
} from './evaluate.js';
export { cqlToJson } from './cql/to-json.js';
export { fhirDataModel } from './cql/patient-data.js';
export { invokeService, type FhirCheck, type InvokeOptions, type InvokeResult } from './invoke-service.js';
export {
  answerCards,
  answerSystemActions,
  primaryEvaluation,
  type CallOutcome,
  type CallTimings,
  type Disposition,
  type EvaluationOutcome,
  type ExperimentAssignment,
  type NotInExperiment,
} from './outcome.js';
export { createShadowQueue, errorName, type ShadowQueue, type ShadowQueueStatus } from './shadow-queue.js';
export { chooseVersion, unitIdOf, type CallingClient, type RolloutControl } from './rollout.js';
export { explainCards, withoutIdentifiers, definesUsedBy, type CardExplanation } from './explain.js';
export { libraryEvaluator, type LibraryEvaluation, type LibraryEvaluator } from './evaluate-library.js';
export { inThreadEvaluator, type Evaluator, type PoolHealth } from './evaluator.js';
export {
  createEvaluationPool,
  type EvaluationPool,
  type EvaluationPoolOptions,
  type ThreadStatus,
} from './evaluation-pool.js';
