// The uptake surface over HTTP: recording each hook call once it has been answered, and the
// report (GET /uptake/report, JSON or CSV). The same report module serves the `cds uptake` command.
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { badRequest, invalidField, unknownAlert } from '../errors.js';
import { optionalJsonBody } from './json-body.js';
import { explainCards, type CallOutcome, type EvaluationOutcome, type ShadowQueue } from '../engine/index.js';
import {
  servedVersions,
  servicesById,
  type Knowledge,
  type KnowledgeHolder,
  type Service,
} from '../knowledge/index.js';
import {
  measureReportBundle,
  measureSubject,
  parseAlertQuery,
  parseReportQuery,
  parseVariationQuery,
  plansOfServices,
  reportToCsv,
  reportToNdjson,
  suppressSmallCells,
  type EvaluationInput,
  type InvocationInput,
  type UptakeStore,
} from '../uptake/index.js';
import { isKnownServiceId, type CallObserver, type FinishedCall } from './call.js';
import { methodNotAllowed } from './error-handler.js';
import { sendCsv } from './csv.js';
import { pathId } from './path-id.js';

/**
 * Records each hook call in the uptake ledger once it has been answered (or failed, when the service
 * id is one this server knows), with every version it evaluated; then queues its shadow versions,
 * which are evaluated and recorded off the request path.
 */
export function uptakeObserver(
  uptake: UptakeStore,
  shadows: ShadowQueue,
  clock: () => Date,
  {
    completionWindowHours = 72,
    knowledge,
  }: {
    completionWindowHours?: number;
    /**
     * The knowledge served: the firing rates each snapshot declares are handed to the drift detectors when it is
     * swapped in, before any call on it (the ledger may hold other instances' calls of its versions).
     */
    knowledge?: KnowledgeHolder;
  } = {},
): CallObserver {
  /** Service and rule set versions whose declared firing rates were handed to the drift detectors. */
  const declared = new Set<string>();
  /** Knowledge snapshots whose every service was declared (the first call on each, before any scan reads it). */
  const declaredSnapshots = new WeakSet<Knowledge>();
  const declare = (s: Service): void => {
    for (const r of servedVersions(s)) {
      const key = `${s.definition.id}\u0000${r.id}\u0000${r.version}`;
      if (declared.has(key)) continue;
      declared.add(key);
      const rates = Object.fromEntries(
        r.rules.flatMap((rule) => (rule.expectedFiringRate ? [[rule.id, rule.expectedFiringRate]] : [])),
      );
      if (Object.keys(rates).length > 0) uptake.declareFiringRates(s.definition.id, r.id, r.version, rates);
    }
  };
  const declareAll = (knowledge: Knowledge): void => {
    if (declaredSnapshots.has(knowledge)) return;
    declaredSnapshots.add(knowledge);
    // Every service, not only those this instance has served: the ledger may hold other instances' calls.
    for (const s of knowledge.services) declare(s);
  };
  if (knowledge) {
    declareAll(knowledge.current());
    knowledge.onSwap?.(declareAll);
  }
  return {
    started(call) {
      declareAll(call.knowledge);
      // The versions this call may run on: a reload while it runs must not swap in other content under them.
      for (const s of servicesById(call.knowledge, call.serviceId)) {
        uptake.noteInUse(servedVersions(s).flatMap((r) => r.fingerprints));
      }
    },
    async answering(answering) {
      const { call } = answering;
      if (!call.outcome || !isKnownServiceId(call.knowledge, call.serviceId)) return;
      const id = randomUUID();
      // Set first: a caller that gives up while the write runs must not get the call recorded twice.
      call.recordedAs = id;
      await uptake.recordNow(invocationInput(answering, call.outcome, id, completionWindowHours));
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
      if (!call.recordedAs) uptake.record(invocationInput(finished, outcome, invocationId, completionWindowHours));
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

const expanders = new WeakMap<Knowledge, (code: string) => string[]>();

/** "system|code" → every code of the knowledge's value sets that hold it (built once per knowledge snapshot). */
function codeExpander(knowledge: Knowledge): (code: string) => string[] {
  let expand = expanders.get(knowledge);
  if (!expand) {
    const byCode = new Map<string, Set<string>>();
    const seen = new Set<unknown>();
    for (const versions of Object.values(knowledge.valueSets ?? {})) {
      for (const codes of Object.values(versions)) {
        // One value set is indexed under several names: each list once.
        if (seen.has(codes)) continue;
        seen.add(codes);
        const members = codes.map((c) => `${c.system}|${c.code}`);
        for (const m of members) {
          const set = byCode.get(m) ?? new Set<string>();
          for (const other of members) set.add(other);
          byCode.set(m, set);
        }
      }
    }
    expand = (code) => [...(byCode.get(code) ?? [])];
    expanders.set(knowledge, expand);
  }
  return expand;
}

/** The ledger's account of one call; `outcome` only for a call answered 200. */
function invocationInput(
  { call, status, durationMs, service, hook, hookInstance, context, client }: FinishedCall,
  outcome: CallOutcome | undefined,
  id: string,
  completionWindowHours: number,
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
    prefetch: outcome?.prefetchData,
    evidence: outcome?.evidence,
    completionWindowMs: Math.round((service?.definition.completionWindowHours ?? completionWindowHours) * 3_600_000),
    expandCode: codeExpander(call.knowledge),
  };
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
    ...(evaluation.systemActions.length > 0 ? { systemActions: evaluation.systemActions } : {}),
  };
}

const MAX_NOTE = 500;

export interface UptakeRouteDeps {
  uptake: UptakeStore;
  /** Small-cell threshold k applied to every export. */
  minCell: number;
  /** The experiments it declares stratify the MeasureReport export by arm. */
  knowledge: KnowledgeHolder;
  clock: () => Date;
}

export const REPORT_FORMATS = ['json', 'csv', 'ndjson', 'measure-report'] as const;

/**
 * GET /uptake/report?from&to&service&ruleSet&version&rule&indicator&client&groupBy&comments=true
 * &format=json|csv|ndjson|measure-report (FHIR R4 MeasureReports in a Bundle, one per service or, with
 * groupBy=version, per rule set @ version); GET /uptake/alerts, POST /uptake/alerts/{id}/acknowledge,
 * GET /uptake/variation.
 */
export function uptakeRoutes({ uptake, minCell, knowledge, clock }: UptakeRouteDeps): Router {
  const router = Router();
  router.get('/report', async (req, res) => {
    const { format = 'json', ...rest } = req.query as Record<string, unknown>;
    if (!(REPORT_FORMATS as readonly unknown[]).includes(format)) {
      throw invalidField('format', `format: '${String(format)}' must be one of ${REPORT_FORMATS.join(', ')}`);
    }
    const query = parseReportQuery(rest);
    res.setHeader('Cache-Control', 'no-store');
    if (format === 'measure-report') {
      const subject = measureSubject(query);
      const plans = plansOfServices(knowledge.current().services);
      const bundle = await measureReportBundle(uptake, query, { minCell, plans, now: clock(), subject });
      res.type('application/fhir+json; charset=utf-8').send(JSON.stringify(bundle));
      return;
    }
    const report = suppressSmallCells(await uptake.report(query), minCell);
    if (format === 'csv') sendCsv(res, ['uptake-report'], reportToCsv(report), clock());
    else if (format === 'ndjson') res.type('application/x-ndjson; charset=utf-8').send(reportToNdjson(report));
    else res.json(report);
  });
  router.all('/report', methodNotAllowed(['GET']));

  // Drift alarms: GET /uptake/alerts?from&to&service&status=open|acknowledged|all
  router.get('/alerts', async (req, res) => {
    const alerts = await uptake.alerts(parseAlertQuery(req.query));
    res.setHeader('Cache-Control', 'no-store');
    res.json(alerts);
  });
  router.all('/alerts', methodNotAllowed(['GET']));
  // Acknowledging an alarm is stored with the admin key that did it; the detector then learns the new level.
  router.post('/alerts/:id/acknowledge', ...optionalJsonBody(16 * 1024), async (req, res) => {
    const id = pathId(req.params.id, 'the alert id', 64);
    const body = (req.body ?? {}) as { note?: unknown };
    if (typeof body !== 'object' || Array.isArray(body))
      throw badRequest('the body must be a JSON object, e.g. {"note": "..."}, or empty');
    if (body.note !== undefined && (typeof body.note !== 'string' || body.note.length > MAX_NOTE)) {
      throw invalidField('note', `note: must be a string of at most ${MAX_NOTE} characters`);
    }
    const alert = await uptake.acknowledgeAlert(id, res.locals.adminKeyId, body.note);
    if (!alert) throw unknownAlert(id);
    res.locals.logger?.info('drift alarm acknowledged', { alert: alert.id, by: alert.acknowledged?.by ?? null });
    const { already, ...rest } = alert;
    res.json({ ...rest, alreadyAcknowledged: already });
  });
  router.all('/alerts/:id/acknowledge', methodNotAllowed(['POST']));

  // Variation between clinicians or sites: GET /uptake/variation?by=clinician|site&service&ruleSet&version&rule&from&to
  router.get('/variation', async (req, res) => {
    const report = await uptake.variation(parseVariationQuery(req.query, minCell));
    res.setHeader('Cache-Control', 'no-store');
    res.json(report);
  });
  router.all('/variation', methodNotAllowed(['GET']));
  return router;
}
