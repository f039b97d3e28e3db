import { Router } from 'express';
import type { KnowledgeHolder, ReloadStatus } from '../knowledge/index.js';
import type { PrefetchOptions } from '../prefetch/index.js';
import type { FhirCheck } from '../engine/index.js';
import { discoveryHandler } from './discovery.js';
import { healthHandler, readyHandler, type AuthStatus } from './health.js';
import { invokeHandler } from './invoke.js';
import { jsonBody } from './json-body.js';
import { methodNotAllowed } from './error-handler.js';
import { feedbackHandler } from './feedback.js';
import type { UptakeStore } from '../uptake/index.js';
import type { Evaluator, RolloutControl, ShadowQueue } from '../engine/index.js';
import type { Logger } from '../logger.js';
import { callContext, type CallObserver } from './call.js';
import { indexHandler } from './index-page.js';
import { apiDocsRoutes } from './api-docs.js';

export interface RouteDeps {
  knowledge: KnowledgeHolder;
  clock: () => Date;
  /** The time calls are evaluated as of, when not the clock's (CDS_EVALUATION_TIME); the ledger keeps the clock. */
  evaluationClock?: () => Date;
  prefetch: PrefetchOptions;
  /** Time limit of a call from its arrival to its answer. */
  callDeadlineMs?: number;
  /** Most FHIR resources one call may evaluate. */
  maxResourcesPerCall?: number;
  /** Checking the shape of each call's FHIR data (see InvokeOptions.fhirCheck). */
  fhirCheck?: FhirCheck;
  bodyLimitBytes: number;
  /** Reported by /ready. */
  authStatus?: AuthStatus;
  /** The uptake ledger: records each call and takes feedback; without it nothing is recorded. */
  uptake?: UptakeStore;
  /** Reported by /ready: reloads, failures and the last outcome. */
  reloadStatus?: () => ReloadStatus;
  /** Told of every hook call when it finishes: the access log, the metrics, the uptake recorder. */
  callObservers: CallObserver[];
  rollout?: RolloutControl;
  logger: Logger;
  /** Reported by /ready: shadow work waiting, dropped and done. */
  shadowQueue?: ShadowQueue;
  /** Where calls are evaluated (this thread by default; a pool of evaluation threads with CDS_WORKERS >= 2). */
  evaluator?: Evaluator;
  /** Named as the server in GET /openapi.json. */
  publicBaseUrl?: string;
}

export function routes(deps: RouteDeps): Router {
  const router = Router();
  router.get('/', indexHandler());
  router.all('/', methodNotAllowed(['GET']));
  router.use(apiDocsRoutes({ publicBaseUrl: deps.publicBaseUrl }));
  router.get('/health', healthHandler());
  router.all('/health', methodNotAllowed(['GET']));
  const workers = deps.evaluator?.health?.bind(deps.evaluator);
  router.get(
    '/ready',
    readyHandler(deps.knowledge, deps.authStatus, deps.uptake, deps.reloadStatus, deps.shadowQueue, workers),
  );
  router.all('/ready', methodNotAllowed(['GET']));
  router.get('/cds-services', discoveryHandler(deps.knowledge));
  router.all('/cds-services', methodNotAllowed(['GET']));
  router.post('/cds-services/:id/feedback', ...jsonBody(deps.bodyLimitBytes), feedbackHandler(deps));
  router.all('/cds-services/:id/feedback', methodNotAllowed(['POST']));
  const call = callContext({
    knowledge: deps.knowledge,
    clock: deps.clock,
    observers: deps.callObservers,
    logger: deps.logger,
  });
  router.post(
    '/cds-services/:id',
    call,
    ...jsonBody(deps.bodyLimitBytes, { keepBytes: deps.evaluator?.wantsRaw ?? false }),
    invokeHandler({ ...deps, clock: deps.evaluationClock ?? deps.clock }),
  );
  router.all('/cds-services/:id', methodNotAllowed(['POST']));
  return router;
}
