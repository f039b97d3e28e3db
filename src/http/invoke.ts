import type { RequestHandler } from 'express';
import type { KnowledgeHolder } from '../knowledge/index.js';
import type { PrefetchOptions } from '../prefetch/index.js';
import { invokeService, type FhirCheck } from '../engine/index.js';
import type { Logger } from '../logger.js';

export interface InvokeDeps {
  knowledge: KnowledgeHolder;
  clock: () => Date;
  prefetch: PrefetchOptions;
  fhirCheck?: FhirCheck;
}

export function invokeHandler(deps: InvokeDeps): RequestHandler {
  return async (req, res) => {
    const serviceId = String(req.params.id);
    res.locals.serviceId = serviceId;
    const body = req.body as { hookInstance?: unknown } | undefined;
    if (typeof body?.hookInstance === 'string' && body.hookInstance.length <= 256) res.locals.hookInstance = body.hookInstance;
    const log = (res.locals.logger as Logger).child({ serviceId, ...(res.locals.hookInstance ? { hookInstance: res.locals.hookInstance } : {}) });
    res.locals.logger = log;
    // The FHIR servers the verified client may name (undefined when auth is off).
    const allowedFhirServers = res.locals.allowedFhirServers as string[] | undefined;
    const callDeps = allowedFhirServers ? { ...deps, prefetch: { ...deps.prefetch, allowedFhirServers } } : deps;
    const { evaluation, service } = await invokeService(deps.knowledge.current(), serviceId, req.body, callDeps);
    for (const problem of evaluation.trace.problems) log.error('knowledge problem', { problem });
    // Locations and FHIR types only: no value of the data is logged.
    if (evaluation.trace.dataProblems) log.warn('malformed FHIR data in the call, evaluated anyway', { problems: evaluation.trace.dataProblems });
    // Read by the uptake recorder once the answer has gone out.
    res.locals.evaluation = evaluation;
    // The service (and so the knowledge versions) that answered, even if a reload happens before the answer is recorded.
    res.locals.service = service;
    res.json({ cards: evaluation.cards });
  };
}
