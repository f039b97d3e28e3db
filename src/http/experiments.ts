// Experiment and shadow analysis over HTTP (role `quality`, enforced for /uptake):
//   GET /uptake/experiments                       every experiment of the knowledge and of the ledger
//   GET /uptake/experiments/{id}?from&to&format   its report by assigned arm, JSON or CSV
//   GET /uptake/shadow/{service}?from&to&format   each shadow version against the live one
// The same modules serve `cds experiment report` and `cds shadow report`.
import { Router } from 'express';
import { noExperimentData, noServiceData } from '../errors.js';
import { pathId } from './path-id.js';
import { servicesById, type KnowledgeHolder } from '../knowledge/index.js';
import {
  experimentReportToCsv,
  parameterReader,
  parseAnalysisQuery,
  plansOfServices,
  shadowReportToCsv,
  suppressExperimentList,
  suppressExperimentReport,
  type UptakeStore,
} from '../uptake/index.js';
import { methodNotAllowed } from './error-handler.js';
import { sendCsv } from './csv.js';

export interface ExperimentRouteDeps {
  uptake: UptakeStore;
  knowledge: KnowledgeHolder;
  /** Small-cell threshold k applied to every export. */
  minCell: number;
  /** "Now" for an experiment's status (scheduled, running, ended). */
  clock: () => Date;
}

export function experimentRoutes({ uptake, knowledge, minCell, clock }: ExperimentRouteDeps): Router {
  const router = Router();

  router.get('/experiments', async (req, res) => {
    const read = parameterReader(req.query);
    read.only([], 'the experiment list');
    read.done();
    const plans = plansOfServices(knowledge.current().services);
    const list = suppressExperimentList(await uptake.experiments({ plans, now: clock() }), minCell);
    res.setHeader('Cache-Control', 'no-store');
    res.json(list);
  });
  router.all('/experiments', methodNotAllowed(['GET']));

  router.get('/experiments/:id', async (req, res) => {
    const id = pathId(req.params.id, 'the experiment id');
    const { format, from, to } = parseAnalysisQuery(req.query, 'an experiment report');
    const plan = plansOfServices(knowledge.current().services).find((p) => p.id === id);
    const report = await uptake.experimentReport(id, { plan, from, to, now: clock() });
    if (!report) {
      throw noExperimentData(id, 'the knowledge being served', ' (see GET /uptake/experiments)');
    }
    const out = suppressExperimentReport(report, minCell);
    res.setHeader('Cache-Control', 'no-store');
    if (format === 'csv') sendCsv(res, ['experiment', id], experimentReportToCsv(out), clock());
    else res.json(out);
  });
  router.all('/experiments/:id', methodNotAllowed(['GET']));

  router.get('/shadow/:service', async (req, res) => {
    const serviceId = pathId(req.params.service, 'the service id');
    const { format, from, to } = parseAnalysisQuery(req.query, 'a shadow report');
    const current = knowledge.current();
    const services = servicesById(current, serviceId);
    const known = services.length > 0 || current.unavailable.some((u) => u.id === serviceId);
    const declaredShadows = known
      ? [
          ...new Set(
            services.flatMap(
              (s) =>
                s.rollout?.shadows.map((r) => r.version) ?? s.definition.rollout?.shadow?.map((v) => v.version) ?? [],
            ),
          ),
        ]
      : undefined;
    const report = await uptake.shadowReport(serviceId, { from, to, declaredShadows, now: clock() });
    if (!report) throw noServiceData(serviceId, 'is served', ' (see GET /cds-services)');
    res.setHeader('Cache-Control', 'no-store');
    if (format === 'csv') sendCsv(res, ['shadow', serviceId], shadowReportToCsv(report), clock());
    else res.json(report);
  });
  router.all('/shadow/:service', methodNotAllowed(['GET']));
  return router;
}
