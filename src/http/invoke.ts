import type { RequestHandler } from 'express';
import type { PrefetchOptions } from '../prefetch/index.js';
import { sendJson } from './json-body.js';
import {
  answerCards,
  answerSystemActions,
  inThreadEvaluator,
  type Evaluator,
  type FhirCheck,
  type RolloutControl,
} from '../engine/index.js';

export interface InvokeDeps {
  clock: () => Date;
  prefetch: PrefetchOptions;
  /** Time limit of a call from its arrival to its answer (CDS_CALL_DEADLINE_MS). */
  callDeadlineMs?: number;
  /** Most FHIR resources one call may evaluate (CDS_MAX_RESOURCES_PER_CALL). */
  maxResourcesPerCall?: number;
  fhirCheck?: FhirCheck;
  /** Experiment assignment and stops (from the uptake store); without it every call gets the live version. */
  rollout?: RolloutControl;
  /** Where calls are evaluated: this thread (the default) or a pool of evaluation threads (CDS_WORKERS). */
  evaluator?: Evaluator;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** POST /cds-services/{id}, after callContext: evaluates on the call's knowledge snapshot and answers. */
export function invokeHandler(deps: InvokeDeps): RequestHandler {
  return async (req, res) => {
    const { call, client, allowedFhirServers } = res.locals;
    if (!call) throw new Error('invokeHandler needs the call context middleware before it');
    const body = req.body as { hookInstance?: unknown } | undefined;
    // A UUID, as CDS Hooks says it is; any other text (an EHR's own call id, a medical record number) may
    // identify the patient, and is left out of the log.
    if (typeof body?.hookInstance === 'string' && UUID.test(body.hookInstance)) {
      call.hookInstance = body.hookInstance;
      call.logger = call.logger.child({ hookInstance: body.hookInstance });
      res.locals.logger = call.logger;
    }
    // The FHIR servers the verified client may name (undefined when auth is off).
    const prefetch = allowedFhirServers ? { ...deps.prefetch, allowedFhirServers } : deps.prefetch;
    const evaluator = deps.evaluator ?? inThreadEvaluator;
    const raw = res.locals.rawBody;
    res.locals.rawBody = undefined;
    const options = {
      clock: deps.clock,
      prefetch,
      fhirCheck: deps.fhirCheck,
      rollout: deps.rollout,
      client,
      deadline:
        deps.callDeadlineMs === undefined
          ? undefined
          : { at: call.started + deps.callDeadlineMs, ms: deps.callDeadlineMs },
      maxResources: deps.maxResourcesPerCall,
    };
    const { outcome, shadows } = await evaluator.invoke(call.knowledge, call.serviceId, req.body, options, raw);
    call.outcome = outcome;
    call.shadows = shadows;
    for (const e of outcome.evaluations) {
      for (const problem of e.evaluation?.trace.problems ?? []) call.logger.error('knowledge problem', { problem });
    }
    // Locations and FHIR types only: no value of the data is logged.
    // The keys only: the counts and the query's codes stay in the trace.
    for (const resolution of ['fetched-in-full', 'evaluated-with-part'] as const) {
      const keys = (outcome.prefetchShortfalls ?? []).filter((s) => s.resolution === resolution).map((s) => s.key);
      if (keys.length > 0)
        call.logger.warn(
          resolution === 'fetched-in-full'
            ? 'prefetch search held fewer matches than it announced, fetched in full from fhirServer'
            : 'prefetch search held fewer matches than it announced, evaluated with part of the record',
          { prefetchKeys: keys },
        );
    }
    if (outcome.dataProblems)
      call.logger.warn('malformed FHIR data in the call, evaluated anyway', { problems: outcome.dataProblems });
    // A card shown is a card recorded: the ledger has the call before the answer leaves. A database that
    // hangs does not hold the answer past the call's deadline (at least BEFORE_ANSWER_FLOOR_MS): the write
    // goes on, and the call is recorded once either way.
    const left =
      deps.callDeadlineMs === undefined
        ? undefined
        : Math.max(BEFORE_ANSWER_FLOOR_MS, call.started + deps.callDeadlineMs - performance.now());
    await withinMs(call.beforeAnswer(), left);
    // An empty systemActions is left out (CDS Hooks: absent when there are none).
    const systemActions = answerSystemActions(outcome);
    sendJson(res, { cards: answerCards(outcome), ...(systemActions.length > 0 ? { systemActions } : {}) });
  };
}

/** The least time the ledger write before an answer is given, even when the call's deadline is near. */
const BEFORE_ANSWER_FLOOR_MS = 250;

/** Waits for `work`, or for `ms` when given, whichever comes first. */
async function withinMs(work: Promise<void>, ms: number | undefined): Promise<void> {
  if (ms === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
