import type { RequestHandler } from 'express';
import { CdsError } from '../errors.js';
import { servicesById, type Knowledge, type KnowledgeHolder } from '../knowledge/index.js';
import { validateHookRequest, type HookRequest } from '../hooks/index.js';
import { resolvePrefetch, type PrefetchOptions } from '../prefetch/index.js';
import { evaluate, type Evaluation } from '../engine/index.js';
import type { Logger } from '../logger.js';

export interface InvokeDeps {
  knowledge: KnowledgeHolder;
  clock: () => Date;
  prefetch: PrefetchOptions;
}

/** The whole service call without HTTP: validate, complete prefetch, evaluate. */
export async function invokeService(knowledge: Knowledge, serviceId: string, body: unknown, deps: Omit<InvokeDeps, 'knowledge'>): Promise<{ request: HookRequest; evaluation: Evaluation }> {
  const services = servicesById(knowledge, serviceId);
  if (services.length === 0) {
    const broken = knowledge.unavailable.filter((u) => u.id === serviceId);
    if (broken.length > 0) {
      throw new CdsError(503, 'service-unavailable', `service '${serviceId}' is not available: its knowledge failed to load (see /ready)`);
    }
    throw new CdsError(404, 'unknown-service', `no CDS service with id '${serviceId}' (see GET /cds-services)`);
  }
  const request = validateHookRequest(body, services.map((s) => s.definition.hook));
  const service = services.find((s) => s.definition.hook === request.hook)!;
  const prefetch = await resolvePrefetch(service.definition.prefetch, request, deps.prefetch);
  const evaluation = await evaluate(knowledge, service, request, prefetch.data, { now: deps.clock() });
  return { request, evaluation };
}

export function invokeHandler(deps: InvokeDeps): RequestHandler {
  return async (req, res) => {
    const serviceId = String(req.params.id);
    res.locals.serviceId = serviceId;
    const body = req.body as { hookInstance?: unknown } | undefined;
    if (typeof body?.hookInstance === 'string' && body.hookInstance.length <= 256) res.locals.hookInstance = body.hookInstance;
    const log = (res.locals.logger as Logger).child({ serviceId, ...(res.locals.hookInstance ? { hookInstance: res.locals.hookInstance } : {}) });
    res.locals.logger = log;
    const { evaluation } = await invokeService(deps.knowledge.current(), serviceId, req.body, deps);
    for (const problem of evaluation.trace.problems) log.error('knowledge problem', { problem });
    res.json({ cards: evaluation.cards });
  };
}
