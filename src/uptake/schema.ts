// The uptake ledger's tables as kysely sees them. Times are milliseconds since the epoch (UTC);
// lists and codings are JSON text; flags are 0/1 so that SQLite and PostgreSQL read the same.
import type { Generated } from 'kysely';

export interface InvocationTable {
  id: string;
  service_id: string;
  hook: string | null;
  hook_instance: string | null;
  rule_set: string | null;
  rule_set_version: string | null;
  /** JSON: [{library, version}] of the CQL evaluated. */
  cql: string | null;
  client_iss: string | null;
  client_tenant: string | null;
  started_at: number;
  duration_ms: number;
  status: number;
  card_count: number;
  patient_pseudonym: string | null;
  user_pseudonym: string | null;
  encounter_pseudonym: string | null;
  /** The experiment the service ran when the call came: with an arm when the call was in it. */
  experiment_id: string | null;
  experiment_arm: string | null;
  /** Pseudonym of the call's randomisation unit (patient, practitioner, encounter or client). */
  experiment_unit: string | null;
  /** Why a call of a service with an experiment was not in it: 'not-started', 'ended', 'stopped', 'no-unit'. */
  experiment_reason: string | null;
}

export interface CardTable {
  card_uuid: string;
  invocation_id: string;
  service_id: string;
  hook: string;
  rule_set: string;
  rule_set_version: string;
  rule: string;
  /** JSON: [{library, version}]. */
  cql: string;
  indicator: string;
  summary: string;
  /** JSON: [Coding] offered by the card. */
  override_reasons: string;
  /** JSON: [uuid] of the card's suggestions. */
  suggestion_uuids: string;
  suggestion_count: number;
  /** The card's selectionBehavior (`at-most-one`, `any`); null when it has none. */
  selection_behavior: string | null;
  /** 'shown' for cards in the answer; room for 'shadow' and 'suppressed' evaluations. */
  disposition: string;
  /** Experiment arm, when the card came from a randomised comparison. */
  arm: string | null;
  experiment_id: string | null;
  /** The uptake_evaluation row that made the card. */
  evaluation_id: string | null;
  served_at: number;
  client_iss: string | null;
  client_tenant: string | null;
  patient_pseudonym: string | null;
  user_pseudonym: string | null;
  encounter_pseudonym: string | null;
  // The feedback outcome that counts (the latest by outcomeTimestamp), kept here so reports read one table.
  feedback_count: number;
  outcome: string | null;
  outcome_at: number | null;
  outcome_client_iss: string | null;
  outcome_client_tenant: string | null;
  accepted_suggestion_count: number;
  override_system: string | null;
  override_code: string | null;
  override_display: string | null;
  override_client_added: number | null;
  override_comment: string | null;
}

export interface FeedbackTable {
  id: Generated<number>;
  card_uuid: string;
  service_id: string;
  /** SHA-256 of the item's canonical form: the same item sent twice is stored once. */
  item_hash: string;
  outcome: string;
  /** JSON: [suggestion uuid]. */
  accepted_suggestions: string;
  override_system: string | null;
  override_code: string | null;
  override_display: string | null;
  override_client_added: number | null;
  user_comment: string | null;
  outcome_at: number;
  received_at: number;
  client_iss: string | null;
  client_tenant: string | null;
}

export interface FingerprintTable {
  kind: string;
  name: string;
  version: string;
  hash: string;
  first_served_at: number;
}

export interface ExplanationTable {
  card_uuid: string;
  explanation: string;
}

export interface EvaluationTable {
  id: string;
  invocation_id: string;
  service_id: string;
  hook: string;
  rule_set: string;
  rule_set_version: string;
  /** JSON: [{library, version}]. */
  cql: string;
  /** 'shown' (the answer), 'suppressed' (an arm with show: false) or 'shadow'. */
  disposition: string;
  experiment_id: string | null;
  arm: string | null;
  /** 'ok', or 'failed' when the version could not be evaluated (a shadow version's error). */
  status: string;
  card_count: number;
  /** JSON: [{rule, indicator, suggestions: [label]}] sorted; what concordance compares. */
  signature: string;
  evaluated_at: number;
  client_iss: string | null;
  client_tenant: string | null;
  patient_pseudonym: string | null;
  user_pseudonym: string | null;
  encounter_pseudonym: string | null;
  unit_pseudonym: string | null;
}

export interface ExperimentStopTable {
  experiment_id: string;
  stopped_at: number;
  stopped_by: string | null;
  reason: string | null;
}

export interface IntentTable {
  card_uuid: string;
  suggestion_uuid: string;
  /** The action's place in its suggestion (0, 1, ...): a suggestion is done when all its actions are. */
  action_index: number;
  /** 'create' or 'delete' ('update' is kept as a delete of the draft it replaces). */
  action: string;
  resource_type: string;
  /** JSON: ["system|code"] that count as the same thing (the suggestion's codes and their value sets' codes). */
  codes: string;
  service_id: string;
  /** The card's call: other services' calls of the same hook instance are not later calls. */
  hook_instance: string | null;
  patient_pseudonym: string;
  served_at: number;
  /** How long after served_at a later call counts as evidence. */
  window_ms: number;
}

export interface SystemActionTable {
  id: string;
  invocation_id: string;
  evaluation_id: string;
  /** The action's place in its evaluation's systemActions. */
  action_index: number;
  service_id: string;
  hook: string;
  rule_set: string;
  rule_set_version: string;
  rule: string;
  /** 'create', 'update' or 'delete'. */
  action: string;
  /** The resource's type (create, update) or the resourceId's (delete). */
  resource_type: string | null;
  disposition: string;
  experiment_id: string | null;
  arm: string | null;
  served_at: number;
  client_iss: string | null;
  client_tenant: string | null;
  patient_pseudonym: string | null;
  user_pseudonym: string | null;
}

export interface CompletionTable {
  card_uuid: string;
  suggestion_uuid: string;
  action_index: number;
  /** 1: the action was taken; 0: the evidence showed it was not (a draft to remove was signed). */
  completed: number;
  evidence_invocation_id: string;
  evidence_hook: string;
  /** Where the evidence was: 'draftOrders', 'dispatchedOrders' or 'prefetch'. */
  evidence_source: string;
  evidence_at: number;
  time_to_completion_ms: number | null;
}

export interface DriftStateTable {
  key: string;
  /** JSON: the detectors' state and how far the scan has read. */
  state: string;
  updated_at: number;
}

export interface DriftAlarmTable {
  id: string;
  /** The detector's key: signal, service, rule set, version, rule. */
  detector: string;
  /** 'firing', 'errors', 'precondition-failed' (412) or 'latency'. */
  signal: string;
  service_id: string;
  rule_set: string;
  rule_set_version: string;
  rule: string;
  /** 'up' or 'down'. */
  direction: string;
  /** 'bernoulli-cusum' or 'silence-run'. */
  method: string;
  raised_at: number;
  /** When the run that crossed the limit began: the change's estimated start. */
  change_at: number | null;
  rate_before: number;
  rate_after: number;
  calls_before: number;
  calls_after: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  acknowledge_note: string | null;
}

/**
 * A ledger entry the database refused as a value (a constraint, a type): kept whole, as JSON, so that nothing
 * recorded is lost and it can be written again once the cause is fixed (`cds uptake set-aside --retry`). It holds
 * what the ledger rows would have held (pseudonyms, not identifiers).
 */
export interface SetAsideTable {
  id: string;
  set_aside_at: number;
  /** The database's refusal: SQLSTATE or SQLite code and message (names tables and columns, never values). */
  reason: string;
  /** JSON of the entry. */
  entry: string;
}

/** A day whose roll-ups must be computed again (rollups.ts); one row per day and writer shard. */
export interface RollupStaleTable {
  day: number;
  shard: number;
  changes: number;
}

/** A rolled-up day: the longest completion window of its intents (null: none). */
export interface RollupDayTable {
  day: number;
  max_window_ms: number | null;
}

export interface UptakeDatabase {
  uptake_set_aside: SetAsideTable;
  uptake_rollup_stale: RollupStaleTable;
  uptake_rollup_day: RollupDayTable;
  uptake_intent: IntentTable;
  uptake_system_action: SystemActionTable;
  uptake_completion: CompletionTable;
  uptake_drift_state: DriftStateTable;
  uptake_drift_alarm: DriftAlarmTable;
  uptake_invocation: InvocationTable;
  uptake_card: CardTable;
  uptake_feedback: FeedbackTable;
  knowledge_fingerprint: FingerprintTable;
  uptake_explanation: ExplanationTable;
  uptake_evaluation: EvaluationTable;
  experiment_stop: ExperimentStopTable;
}
