// One service call without HTTP: validate the request, complete prefetch, evaluate. The HTTP
// handler and the `cds eval` command both call this.
import { CdsError } from '../errors.js';
import { servicesById, type Knowledge, type Service } from '../knowledge/index.js';
import { validateHookRequest, type HookRequest } from '../hooks/index.js';
import { resolvePrefetch, type PrefetchOptions, type PrefetchStatus } from '../prefetch/index.js';
import { evaluate, type Evaluation } from './evaluate.js';

export interface InvokeOptions {
  clock: () => Date;
  prefetch: PrefetchOptions;
}

/** The whole service call without HTTP: validate, complete prefetch, evaluate. */
export async function invokeService(
  knowledge: Knowledge,
  serviceId: string,
  body: unknown,
  deps: InvokeOptions,
): Promise<{ request: HookRequest; service: Service; evaluation: Evaluation; prefetch: Record<string, PrefetchStatus> }> {
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
  return { request, service, evaluation, prefetch: prefetch.status };
}

