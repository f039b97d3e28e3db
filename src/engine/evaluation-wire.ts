// What crosses between the HTTP thread and an evaluation thread (evaluation-pool.ts, evaluation-thread.ts).
// The request goes as the bytes of its body (transferred, not copied); the answer comes back as the
// evaluations the thread made, by rule set id and version: the HTTP thread puts them back together
// with its own knowledge objects of the same generation into the CallOutcome its observers read.
import { CdsError, type Issue } from '../errors.js';
import type {
  Knowledge,
  KnowledgeSources,
  RuleSet,
  Service,
  ServedFingerprints,
  TerminologyOptions,
} from '../knowledge/index.js';
import { servedVersions, servicesById } from '../knowledge/index.js';
import type { HookRequest } from '../hooks/index.js';
import type { PrefetchOptions, PrefetchStatus } from '../prefetch/index.js';
import { keepTraceOfFailure, traceOfFailure, type Evaluation, type EvaluationTrace } from './evaluate.js';
import type { CallOutcome, EvaluationOutcome, ExperimentAssignment } from './outcome.js';
import type { FhirCheck } from './invoke-service.js';
import type { CallingClient } from './rollout.js';
import { explainingOnly } from './explain.js';
import { evidenceResources, type EvidenceResource } from '../uptake/intents.js';

/** What every evaluation thread starts with (its workerData). */
export interface ThreadSetup {
  knowledgeDir: string;
  /** The ELM disk cache the HTTP thread's load filled: a thread compiles nothing that is in it. */
  elmCacheDir: string;
  serveDrafts?: boolean;
  prefetchMaxTemplate?: number;
  terminology?: Omit<TerminologyOptions, 'fetchImpl'>;
  /** Most calls whose shadow versions a thread keeps the data of until they are evaluated. */
  shadowLimit: number;
  /** CDS_IDLE_GC_MS: idle time after which the thread collects its garbage once (0 or absent: never). */
  idleGcMs?: number;
}

/**
 * The experiment decisions of one call, made on the HTTP thread (the stops are read from the uptake
 * ledger, the assignment is keyed with its secret): by experiment id, whether it is stopped and the arm
 * the call's unit is assigned to.
 */
export type RolloutSnapshot = Record<string, { stopped: boolean | 'unknown'; unit?: string; arm?: string }>;

export interface WireInvokeOptions {
  /** The call's "now" (epoch ms). */
  now: number;
  /** Time left of the call's deadline when it was handed over (performance.now() differs per thread). */
  deadlineLeftMs?: number;
  deadlineMs?: number;
  prefetch: Omit<PrefetchOptions, 'fetchImpl'>;
  fhirCheck?: FhirCheck;
  client?: CallingClient;
  maxResources?: number;
  rollout?: RolloutSnapshot;
  /**
   * Whether an uptake ledger records the call: the thread then keeps the call's data for its shadow versions (they
   * will be asked for) and sends back what the ledger reads (see WireOutcome.evidence and WireEvaluation).
   */
  recording: boolean;
}

export type ToThread =
  | {
      type: 'load';
      generation: number;
      digest: string;
      served?: ServedFingerprints;
      /** The texts the HTTP thread loaded the generation from (the disk when absent). */
      sources?: KnowledgeSources;
    }
  | { type: 'retire'; generation: number }
  | { type: 'call'; id: number; generation: number; serviceId: string; body: ArrayBuffer; options: WireInvokeOptions }
  | { type: 'shadows'; id: number; call: number };

export type FromThread =
  | { type: 'loaded'; generation: number; error?: string }
  | { type: 'answer'; id: number; outcome: WireOutcome }
  | { type: 'failed'; id: number; error: WireError }
  | { type: 'shadows'; id: number; evaluations?: WireEvaluation[]; error?: WireError };

/**
 * An evaluation as the HTTP thread reads it: the cards, their origins, problems and system actions, and of the trace
 * (the value of every define, every rule's conditions) only what explains a card it served (explainCards), and that
 * only when a ledger records the call. The rest may be most of the answer's size: each define's value as JSON.
 */
export interface WireEvaluation {
  disposition: EvaluationOutcome['disposition'];
  ruleSet: { id: string; version: string };
  experiment?: { id: string; arm: string };
  evaluation?: Evaluation;
  error?: string;
}

export interface WireOutcome {
  /** The hook the call named: with the service id, which service answered. */
  hook: string;
  evaluations: WireEvaluation[];
  prefetch: Record<string, PrefetchStatus>;
  /**
   * What the uptake ledger reads of the call's data (draft and dispatched orders, the prefetch as evaluated):
   * computed here, where the prefetch is, when the call is recorded. The data itself does not come back.
   */
  evidence?: EvidenceResource[];
  dataProblems?: string[];
  prefetchShortfalls?: CallOutcome['prefetchShortfalls'];
  experiment?: ExperimentAssignment;
  timings: CallOutcome['timings'];
  /** Whether the thread kept the call's data for its shadow versions. */
  shadows: boolean;
}

export interface WireError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  cds?: { status: number; code: string; issues: Issue[]; internal?: string; logged?: Record<string, unknown> };
  cause?: WireError;
  trace?: EvaluationTrace;
}

export function toWireEvaluation(e: EvaluationOutcome, recording: boolean): WireEvaluation {
  return {
    disposition: e.disposition,
    ruleSet: { id: e.ruleSet.id, version: e.ruleSet.version },
    ...(e.experiment ? { experiment: e.experiment } : {}),
    ...(e.evaluation ? { evaluation: explainingOnly(e.evaluation, e.ruleSet.rules, recording) } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
  };
}

export function toWireOutcome(outcome: CallOutcome, shadows: boolean, recording: boolean): WireOutcome {
  return {
    hook: outcome.request.hook,
    evaluations: outcome.evaluations.map((e) => toWireEvaluation(e, recording)),
    prefetch: outcome.prefetch,
    ...(recording ? { evidence: evidenceResources(outcome.request.context, outcome.prefetchData) } : {}),
    ...(outcome.dataProblems ? { dataProblems: outcome.dataProblems } : {}),
    ...(outcome.prefetchShortfalls ? { prefetchShortfalls: outcome.prefetchShortfalls } : {}),
    ...(outcome.experiment ? { experiment: outcome.experiment } : {}),
    timings: outcome.timings,
    shadows,
  };
}

/** The service of `knowledge` that answered a call of `serviceId` naming `hook`. */
export function answeringService(knowledge: Knowledge, serviceId: string, hook: string): Service {
  const service = servicesById(knowledge, serviceId).find((s) => s.definition.hook === hook);
  if (!service) throw new Error(`an evaluation thread answered for a service its knowledge does not have`);
  return service;
}

/** The evaluations of a thread with the rule set versions of this thread's knowledge. */
export function fromWireEvaluations(service: Service, evaluations: WireEvaluation[]): EvaluationOutcome[] {
  const versions = servedVersions(service);
  const find = (ref: { id: string; version: string }): RuleSet => {
    const found = versions.find((r) => r.id === ref.id && r.version === ref.version);
    if (!found) throw new Error('an evaluation thread answered with a rule set version the service does not have');
    return found;
  };
  return evaluations.map((e) => ({ ...e, ruleSet: find(e.ruleSet) }));
}

/**
 * The CallOutcome of a call answered by a thread; `request` is the body as this thread parsed it (without its
 * prefetch when it left that to the thread). It has no prefetchData: the ledger reads `evidence` instead.
 */
export function fromWireOutcome(
  wire: WireOutcome,
  knowledge: Knowledge,
  serviceId: string,
  request: HookRequest,
): CallOutcome {
  const service = answeringService(knowledge, serviceId, wire.hook);
  return {
    service,
    request,
    evaluations: fromWireEvaluations(service, wire.evaluations),
    prefetch: wire.prefetch,
    ...(wire.evidence ? { evidence: wire.evidence } : {}),
    ...(wire.dataProblems ? { dataProblems: wire.dataProblems } : {}),
    ...(wire.prefetchShortfalls ? { prefetchShortfalls: wire.prefetchShortfalls } : {}),
    ...(wire.experiment ? { experiment: wire.experiment } : {}),
    timings: wire.timings,
  };
}

/** An error as it can cross threads: its kind, what the caller may be told, its cause and the failed trace. */
export function toWireError(err: unknown, depth = 0): WireError {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err) };
  const code = (err as { code?: unknown }).code;
  const trace = traceOfFailure(err);
  const cause = (err as { cause?: unknown }).cause;
  return {
    name: err.name,
    message: err.message,
    ...(err.stack ? { stack: err.stack } : {}),
    ...(typeof code === 'string' ? { code } : {}),
    ...(err instanceof CdsError
      ? {
          cds: {
            status: err.status,
            code: err.code,
            issues: err.issues,
            ...(err.internal !== undefined ? { internal: err.internal } : {}),
            ...(err.logged ? { logged: err.logged } : {}),
          },
        }
      : {}),
    ...(cause !== undefined && depth < 4 ? { cause: toWireError(cause, depth + 1) } : {}),
    ...(trace ? { trace } : {}),
  };
}

/** The error again, on this side: a CdsError with its status, code, issues and cause, and its failed trace. */
export function fromWireError(wire: WireError): Error {
  const cause = wire.cause ? fromWireError(wire.cause) : undefined;
  let err: Error;
  if (wire.cds) {
    const { status, code, issues, internal, logged } = wire.cds;
    err = new CdsError(status, code, wire.message, { issues, internal, logged, cause });
  } else {
    err = new Error(wire.message, cause === undefined ? undefined : { cause });
    err.name = wire.name;
    if (wire.code !== undefined) (err as { code?: string }).code = wire.code;
  }
  if (wire.stack) err.stack = wire.stack;
  if (wire.trace) keepTraceOfFailure(err, wire.trace);
  return err;
}
