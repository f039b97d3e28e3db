// The uptake surface over HTTP: recording each hook call once it has been answered, and the
// report (GET /uptake/report, JSON or CSV). The same report module serves the `cds uptake` command.
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { invalidField } from '../errors.js';
import { explainCards, type CallOutcome, type EvaluationOutcome, type ShadowQueue } from '../engine/index.js';
import { servicesById, type RuleSet, type Service } from '../knowledge/index.js';
import {
  parseReportQuery,
  reportToCsv,
  suppressSmallCells,
  type EvaluationInput,
  type InvocationInput,
  type UptakeStore,
} from '../uptake/index.js';
import { isKnownServiceId, type CallObserver, type FinishedCall } from './call.js';
import { methodNotAllowed } from './error-handler.js';

/**
 * Records each hook call in the uptake ledger once it has been answered (or failed, when the service
 * id is one this server knows), with every version it evaluated; then queues its shadow versions,
 * which are evaluated and recorded off the request path.
 */
export function uptakeObserver(uptake: UptakeStore, shadows: ShadowQueue, clock: () => Date): CallObserver {
  return {
    started(call) {
      // The versions this call may run on: a reload while it runs must not swap in other content under them.
      for (const s of servicesById(call.knowledge, call.serviceId))
        uptake.noteInUse(versionsOf(s).flatMap((r) => r.fingerprints));
    },
    async answering(answering) {
      const { call } = answering;
      if (!call.outcome || !isKnownServiceId(call.knowledge, call.serviceId)) return;
      const id = randomUUID();
      // Set first: a caller that gives up while the write runs must not get the call recorded twice.
      call.recordedAs = id;
      await uptake.recordNow(invocationInput(answering, call.outcome, id));
    },
    finished(finished) {
      const { call, status, service, hook, client, context } = finished;
      if (!isKnownServiceId(call.knowledge, call.serviceId)) return;
      const outcome = status === 200 ? call.outcome : undefined;
      if (outcome) {
        const served = outcome.evaluations
          .filter((e) => e.disposition !== 'shadow')
          .flatMap((e) => e.ruleSet.fingerprints);
        const experiment = service?.rollout?.experiment;
        if (experiment && outcome.experiment?.arm)
          served.push({
            kind: 'experiment',
            name: experiment.id,
            version: 'arms',
            hash: experiment.hash,
            file: 'cds-services.json',
          });
        uptake.recordServed(served);
      }
      const caller = client ? { iss: client.iss, tenant: client.tenant } : undefined;
      // Answered calls were recorded before their answer; the others (failed, or given up on) now.
      const invocationId = call.recordedAs ?? randomUUID();
      if (!call.recordedAs) uptake.record(invocationInput(finished, outcome, invocationId));
      const work = outcome ? call.shadows : undefined;
      // The queued job holds only what it needs (the closure keeps the request and its data), not the call.
      call.shadows = undefined;
      if (!work || !outcome) return;
      const { serviceId, logger } = call;
      const queued = shadows.enqueue(async () => {
        const evaluations = await work();
        for (const e of evaluations) {
          const where = { ruleSet: e.ruleSet.id, version: e.ruleSet.version };
          // The engine's error may quote patient data: only that it failed is logged.
          if (!e.evaluation) logger.warn('shadow version failed to evaluate', where);
          for (const problem of e.evaluation?.trace.problems ?? [])
            logger.error('knowledge problem in a shadow version', { ...where, problem });
        }
        uptake.recordShadow({
          invocationId,
          serviceId,
          hook,
          client: caller,
          context,
          evaluatedAt: clock(),
          evaluations: evaluations.map(evaluationInput),
        });
      });
      if (!queued)
        logger.warn('shadow queue full: shadow versions of this call not evaluated', { queue: shadows.status().limit });
    },
  };
}

/** The ledger's account of one call; `outcome` only for a call answered 200. */
function invocationInput(
  { call, status, durationMs, service, hook, hookInstance, context, client }: FinishedCall,
  outcome: CallOutcome | undefined,
  id: string,
): InvocationInput {
  const ruleSet = outcome?.evaluations[0]?.ruleSet ?? service?.ruleSet;
  return {
    id,
    serviceId: call.serviceId,
    hook,
    hookInstance,
    ruleSet: ruleSet?.id,
    ruleSetVersion: ruleSet?.version,
    cql: ruleSet?.libraries,
    client: client ? { iss: client.iss, tenant: client.tenant } : undefined,
    startedAt: call.startedAt,
    // Recorded before the answer: the time until then.
    durationMs,
    status: outcome ? 200 : status,
    context,
    experiment: call.outcome?.experiment,
    evaluations: outcome?.evaluations.map(evaluationInput),
  };
}

/** Every version a service may evaluate: live, experiment arms, shadows. */
function versionsOf(service: Service): RuleSet[] {
  const rollout = service.rollout;
  return [service.ruleSet, ...(rollout?.experiment?.arms.map((a) => a.ruleSet) ?? []), ...(rollout?.shadows ?? [])];
}

/** One evaluation as the ledger keeps it: each card with the rule that made it and why, from the evaluation itself. */
function evaluationInput(e: EvaluationOutcome): EvaluationInput {
  const base = {
    disposition: e.disposition,
    ruleSet: e.ruleSet.id,
    version: e.ruleSet.version,
    cql: e.ruleSet.libraries,
    ...(e.experiment ? { experiment: e.experiment } : {}),
  };
  if (!e.evaluation) return { ...base, status: 'failed', cards: [] };
  const evaluation = e.evaluation;
  const explanations = explainCards(evaluation, e.ruleSet.rules);
  return {
    ...base,
    // A card that could not be rendered makes the evaluation's firing untrustworthy: not a clean "did not fire".
    status: evaluation.trace.problems.length > 0 ? 'failed' : 'ok',
    cards: evaluation.cards.map((card) => ({
      card,
      rule: evaluation.origins.get(card.uuid ?? '')?.rule ?? '',
      explanation: explanations[card.uuid ?? ''],
    })),
  };
}

export interface UptakeRouteDeps {
  uptake: UptakeStore;
  /** Small-cell threshold k applied to every export. */
  minCell: number;
}

/** GET /uptake/report?from&to&service&ruleSet&version&rule&indicator&client&groupBy&format=json|csv&comments=true */
export function uptakeRoutes({ uptake, minCell }: UptakeRouteDeps): Router {
  const router = Router();
  router.get('/report', async (req, res) => {
    const { format = 'json', ...rest } = req.query as Record<string, unknown>;
    if (format !== 'json' && format !== 'csv') {
      throw invalidField('format', `format: '${String(format)}' must be json or csv`);
    }
    const report = suppressSmallCells(await uptake.report(parseReportQuery(rest)), minCell);
    res.setHeader('Cache-Control', 'no-store');
    if (format === 'csv') res.type('text/csv; charset=utf-8').send(reportToCsv(report));
    else res.json(report);
  });
  router.all('/report', methodNotAllowed(['GET']));
  return router;
}
