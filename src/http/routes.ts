import { Router } from 'express';
import type { KnowledgeHolder } from '../knowledge/index.js';
import type { PrefetchOptions } from '../prefetch/index.js';
import { discoveryHandler } from './discovery.js';
import { healthHandler, readyHandler } from './health.js';
import { invokeHandler } from './invoke.js';
import { jsonBody } from './json-body.js';
import { methodNotAllowed } from './error-handler.js';

export interface RouteDeps {
  knowledge: KnowledgeHolder;
  clock: () => Date;
  prefetch: PrefetchOptions;
  bodyLimitBytes: number;
}

export function routes(deps: RouteDeps): Router {
  const router = Router();
  router.get('/health', healthHandler());
  router.get('/ready', readyHandler(deps.knowledge));
  router.get('/cds-services', discoveryHandler(deps.knowledge));
  router.all('/cds-services', methodNotAllowed(['GET']));
  router.post('/cds-services/:id', ...jsonBody(deps.bodyLimitBytes), invokeHandler(deps));
  router.all('/cds-services/:id', methodNotAllowed(['POST']));
  return router;
}
