// One service call without HTTP: validate the request, complete prefetch, evaluate. The HTTP
// handler and the `cds eval` command both call this.
import { CdsError } from '../errors.js';
import { servicesById, type Knowledge, type Service } from '../knowledge/index.js';
import { validateHookRequest, type HookRequest } from '../hooks/index.js';
import { resolvePrefetch, type PrefetchOptions, type PrefetchStatus } from '../prefetch/index.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { fhirShapeIssues, type ShapeProblem } from './fhir-shape.js';

export interface InvokeOptions {
  clock: () => Date;
  prefetch: PrefetchOptions;
  /**
   * Checking the shape of the call's FHIR data before evaluating it: `warn` (the default) evaluates
   * anyway and lists what is malformed in the trace; `reject` answers 400 (412 for data fetched
   * from the FHIR server); `off` checks only after an evaluation failed. Data of the wrong shape
   * can make a rule silently not fire, so `warn` keeps it visible.
   */
  fhirCheck?: FhirCheck;
}

export type FhirCheck = 'off' | 'warn' | 'reject';

/** The whole service call without HTTP: validate, complete prefetch, evaluate. */
export async function invokeService(
  knowledge: Knowledge,
  serviceId: string,
  body: unknown,
  deps: InvokeOptions,
): Promise<{ request: HookRequest; service: Service; evaluation: Evaluation; prefetch: Record<string, PrefetchStatus> }> {
  const services = servicesById(knowledge, serviceId);
  const broken = knowledge.unavailable.filter((u) => u.id === serviceId);
  const why = 'its knowledge failed to load, or is a draft or retired (see /ready)';
  const unavailable = () => new CdsError(503, 'service-unavailable', `service '${serviceId}' is not available: ${why}`);
  if (services.length === 0) {
    if (broken.length > 0) throw unavailable();
    throw new CdsError(404, 'unknown-service', `no CDS service with id '${serviceId}' (see GET /cds-services)`);
  }
  // One id may serve several hooks; a hook whose knowledge failed is unavailable, not unknown.
  const request = validateHookRequest(body, [...services.map((s) => s.definition.hook), ...broken.map((b) => b.hook)]);
  const service = services.find((s) => s.definition.hook === request.hook);
  if (!service) throw unavailable();
  const prefetch = await resolvePrefetch(service.definition.prefetch, request, deps.prefetch);
  const check = deps.fhirCheck ?? 'warn';
  const malformed = check === 'off' ? undefined : malformedData(request, prefetch.data, prefetch.status);
  if (check === 'reject' && malformed) throw malformed;
  let evaluation: Evaluation;
  try {
    evaluation = await evaluate(knowledge, service, request, prefetch.data, { now: deps.clock() });
  } catch (err) {
    // An evaluation that failed on malformed data is the caller's problem, not the server's.
    if (!(err instanceof CdsError) || err.code !== 'evaluation-failed') throw err;
    const explained = check === 'off' ? malformedData(request, prefetch.data, prefetch.status) : malformed;
    if (!explained) throw err;
    explained.internal = err.internal;
    throw explained;
  }
  if (malformed) evaluation.trace.dataProblems = malformed.issues.map((i) => i.diagnostics);
  return { request, service, evaluation, prefetch: prefetch.status };
}

/**
 * The places where the call's FHIR data does not have its FHIR R4 shape, as the error that names
 * them: 400 for data the client sent, 412 for data fetched from the FHIR server. Undefined when all is well.
 */
function malformedData(request: HookRequest, data: Record<string, unknown>, status: Record<string, PrefetchStatus>): CdsError | undefined {
  const sent: ShapeProblem[] = [];
  for (const [name, value] of Object.entries(request.context)) {
    if (value && typeof value === 'object' && !Array.isArray(value) && 'resourceType' in value) sent.push(...fhirShapeIssues(value, `context.${name}`));
  }
  const fetched: ShapeProblem[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === null || value === undefined) continue;
    (status[key] === 'fetched' ? fetched : sent).push(...fhirShapeIssues(value, `prefetch.${key}`));
  }
  const problems = (sent.length > 0 ? sent : fetched).slice(0, 10);
  if (problems.length === 0) return undefined;
  const issues = problems.map((p) => ({ severity: 'error' as const, code: 'structure', diagnostics: `${p.at}: ${p.message}`, expression: [p.at] }));
  return sent.length > 0
    ? new CdsError(400, 'invalid-fhir', `the request's FHIR data is not valid FHIR R4 JSON: ${issues[0].diagnostics}`, issues)
    : new CdsError(412, 'invalid-fhir', `the FHIR server's answer is not valid FHIR R4 JSON: ${issues[0].diagnostics}`, issues);
}
