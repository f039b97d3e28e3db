export {
  createUptakeStore,
  type UptakeStore,
  type UptakeConfig,
  type UptakeStatus,
  type StoredExplanation,
  type ShadowHistory,
} from './store.js';
export type {
  InvocationInput,
  EvaluationInput,
  ExperimentInput,
  RecordedCard,
  ShadowInput,
  Disposition,
} from './ledger-entry.js';
export { createArmAssigner, type ArmAssigner } from './assignment.js';
export type { FeedbackItemResult } from './ingest-feedback.js';
export { MAX_FEEDBACK_ITEMS, parseFeedbackBody } from './ingest-feedback.js';
export { parseReportQuery, GROUP_KEYS, type GroupKey, type ReportQuery } from './report-query.js';
export type { Report, ReportRow, Group } from './report.js';
export { suppressSmallCells, reportToCsv } from './export.js';
export { createPseudonymizer, loadPseudonymKey, PseudonymKeyError } from './pseudonym.js';
export { parseAnalysisQuery, type AnalysisQuery, type ExportFormat } from './query-parameters.js';
export type {
  ExperimentReport,
  ExperimentReportOptions,
  ArmFigures,
  Comparison,
  DifferenceFigures,
  SiteSection,
} from './experiment-report.js';
export { suppressExperimentReport, experimentReportToCsv } from './experiment-export.js';
export { suppressExperimentList, type ExperimentList, type ExperimentSummary } from './experiment-list.js';
export {
  plansOfServices,
  plansOfDefinitions,
  experimentStatus,
  type ExperimentPlan,
  type ExperimentStatus,
  type ExperimentStop,
} from './experiment-plan.js';
export { shadowReportToCsv, type ShadowReport, type ShadowComparison, type Disagreement } from './shadow-report.js';
export { parameterReader, type ParameterReader } from './query-parameters.js';
export { reportToNdjson } from './ndjson-export.js';
export {
  measureReportBundle,
  measureSubject,
  ACCEPTANCE_MEASURE,
  WITHHELD_EXTENSION,
  SERVICE_IDENTIFIER_SYSTEM,
  VERSION_IDENTIFIER_SYSTEM,
  type MeasureSource,
  type MeasureSubject,
} from './measure-report.js';
export { ALERT_PARAMETERS, parseAlertQuery, type Alert, type AlertList, type AlertQuery } from './alerts.js';
export {
  VARIATION_PARAMETERS,
  parseVariationQuery,
  type VariationQuery,
  type VariationReport,
  type VariationUnitRow,
  type Outlier,
} from './variation.js';
export type { CompletionFigures } from './completion.js';
export { ANY_CARD, SERVICE_SIGNALS } from './drift-scan.js';
export { FEEDBACK_ITEM_SCHEMA } from './feedback-item.js';
export { REPORT_PARAMETERS } from './report-query.js';
export { ANALYSIS_PARAMETERS } from './query-parameters.js';
