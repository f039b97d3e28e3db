// What one hook call produced, from the engine's side: the service and request it answered, every
// rule set version it evaluated (the one whose cards are the answer, a suppressed experiment arm,
// shadow versions) with each card's origin, the prefetch status, data problems and timings. The
// answer, the access log, the metrics and the uptake ledger all read this one object.
import type { Action, Card } from '../cards/index.js';
import type { HookRequest } from '../hooks/index.js';
import type { ExperimentUnit, RuleSet, Service } from '../knowledge/index.js';
import type { PrefetchShortfall, PrefetchStatus } from '../prefetch/index.js';
import type { Evaluation } from './evaluate.js';
import type { EvidenceResource } from '../uptake/intents.js';

/** shown: its cards are the answer; suppressed: an arm with `show: false`; shadow: never shown. */
export type Disposition = 'shown' | 'suppressed' | 'shadow';

/** Why a call of a service with an experiment was not in it. */
export type NotInExperiment = 'not-started' | 'ended' | 'stopped' | 'stops-unknown' | 'no-unit';

export interface ExperimentAssignment {
  id: string;
  /** The arm the call was assigned to; absent when the call was not in the experiment. */
  arm?: string;
  /** The randomisation unit and its id (raw: pseudonymised before anything is stored). */
  unit?: { kind: ExperimentUnit; id: string };
  reason?: NotInExperiment;
}

export interface EvaluationOutcome {
  disposition: Disposition;
  ruleSet: RuleSet;
  /** Set for the evaluations of a call in an experiment (the arm's version). */
  experiment?: { id: string; arm: string };
  /** Absent when the version could not be evaluated (only a shadow version may fail without failing the call). */
  evaluation?: Evaluation;
  /** Why it failed, for the log only (may quote data). */
  error?: string;
}

export interface CallTimings {
  prefetch: number;
  evaluate: number;
}

export interface CallOutcome {
  service: Service;
  request: HookRequest;
  /** The evaluation whose cards are the answer (or were suppressed) comes first. */
  evaluations: EvaluationOutcome[];
  prefetch: Record<string, PrefetchStatus>;
  /** The prefetch as evaluated (sent and fetched); the ledger reads only resource types and codes from it. */
  prefetchData?: Record<string, unknown>;
  /**
   * What the ledger reads of the call's data (evidenceResources of its context and prefetchData), when made where
   * the data was: an evaluation thread sends this instead of the data.
   */
  evidence?: EvidenceResource[];
  /** Prefetch searches that held fewer matches than they announced (by key and counts, never values). */
  prefetchShortfalls?: PrefetchShortfall[];
  /** Where the call's FHIR data is malformed (locations and types, never values); evaluated anyway. */
  dataProblems?: string[];
  experiment?: ExperimentAssignment;
  timings: CallTimings;
}

/** The cards the EHR gets: those of the first evaluation when it is shown, none when it is suppressed. */
export function answerCards(outcome: CallOutcome): Card[] {
  const first = outcome.evaluations[0];
  return first?.disposition === 'shown' ? (first.evaluation?.cards ?? []) : [];
}

/** The evaluation the call's answer came from (shown or suppressed). */
export function primaryEvaluation(outcome: CallOutcome): Evaluation {
  const evaluation = outcome.evaluations[0]?.evaluation;
  if (!evaluation) throw new Error('a call outcome without its primary evaluation');
  return evaluation;
}

/** The systemActions the EHR gets: those of the first evaluation when it is shown, none when it is suppressed. */
export function answerSystemActions(outcome: CallOutcome): Action[] {
  const first = outcome.evaluations[0];
  return first?.disposition === 'shown' ? (first.evaluation?.systemActions ?? []).map((s) => s.action) : [];
}
