// The uptake surface over HTTP: recording each hook call once it has been answered, and the
// report (GET /uptake/report, JSON or CSV). The same report module serves the `cds uptake` command.
import { Router, type RequestHandler } from 'express';
import { invalidField } from '../errors.js';
import { explainCards, type Evaluation } from '../engine/index.js';
import { servicesById, type KnowledgeHolder, type Service } from '../knowledge/index.js';
import { parseReportQuery, reportToCsv, suppressSmallCells, type Client, type UptakeStore } from '../uptake/index.js';
import { methodNotAllowed } from './error-handler.js';

/**
 * Records the call in the uptake ledger after the answer has gone out (on 'finish'), so the caller
 * never waits for it. Failed calls are recorded too, when the service id is one this server knows.
 */
export function recordInvocation(uptake: UptakeStore, knowledge: KnowledgeHolder, clock: () => Date): RequestHandler {
  return (req, res, next) => {
    const startedAt = clock();
    const started = performance.now();
    // Read now: express restores req.params when the error handler has answered.
    const serviceId = String(req.params.id);
    // The knowledge this call runs on: a reload while it runs must not change what it is credited to.
    const current = knowledge.current();
    for (const s of servicesById(current, serviceId)) uptake.noteInUse(s.ruleSet.fingerprints);
    // 'close' also comes when the client gave up before the answer: such calls are recorded too (499).
    res.on('close', () => {
      const services = servicesById(current, serviceId);
      if (services.length === 0 && !current.unavailable.some((u) => u.id === serviceId)) return;
      const body = (req.body && typeof req.body === 'object' ? req.body : {}) as { hook?: unknown; hookInstance?: unknown; context?: unknown };
      const hook = typeof body.hook === 'string' ? body.hook : undefined;
      const service = (res.locals.service as Service | undefined) ?? services.find((s) => s.definition.hook === hook) ?? (services.length === 1 ? services[0] : undefined);
      const evaluation = res.locals.evaluation as Evaluation | undefined;
      const client = res.locals.client as Client | undefined;
      const context = body.context && typeof body.context === 'object' && !Array.isArray(body.context) ? (body.context as Record<string, unknown>) : undefined;
      const answered = res.writableFinished && res.statusCode === 200;
      if (answered && service) uptake.recordServed(service.ruleSet.fingerprints);
      uptake.record({
        serviceId,
        hook,
        hookInstance: typeof body.hookInstance === 'string' ? body.hookInstance : undefined,
        ruleSet: service?.ruleSet.id,
        ruleSetVersion: service?.ruleSet.version,
        cql: service?.ruleSet.libraries,
        client: client ? { iss: client.iss, tenant: client.tenant } : undefined,
        startedAt,
        durationMs: performance.now() - started,
        status: res.writableFinished ? res.statusCode : 499,
        context,
        cards: answered ? evaluation?.cards : undefined,
        explanations: answered && evaluation && service ? explainCards(evaluation, service.ruleSet.rules) : undefined,
      });
    });
    next();
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
