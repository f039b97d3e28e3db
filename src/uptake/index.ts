export {
  createUptakeStore,
  type UptakeStore,
  type UptakeConfig,
  type UptakeStatus,
  type StoredExplanation,
  type ShadowHistory,
} from './store.js';
export type { InvocationInput, EvaluationInput, ExperimentInput, RecordedCard, ShadowInput, Disposition } from './ledger-entry.js';
export { createArmAssigner, type ArmAssigner } from './assignment.js';
export type { FeedbackItemResult } from './ingest-feedback.js';
export { parseFeedbackBody } from './ingest-feedback.js';
export { parseReportQuery, GROUP_KEYS, type GroupKey, type ReportQuery } from './report-query.js';
export type { Report, ReportRow, Group } from './report.js';
export { suppressSmallCells, reportToCsv } from './export.js';
export { createPseudonymizer, loadPseudonymKey, PseudonymKeyError } from './pseudonym.js';
