// One service call without HTTP: validate the request, complete prefetch, evaluate. The HTTP
// handler and the `cds eval` command both call this.
import { CdsError, invalidFhir, serviceUnavailable, tooMuchData, unknownService } from '../errors.js';
import { servicesById, type Knowledge } from '../knowledge/index.js';
import { validateHookRequest, type HookRequest } from '../hooks/index.js';
import { fetchMedications, resolvePrefetch, type PrefetchOptions, type PrefetchStatus } from '../prefetch/index.js';
import { evaluate, pastDeadline, type Evaluation } from './evaluate.js';
import {
  fhirShapeCheck,
  isResource,
  resourcesOf,
  unresolvedMedicationIds,
  type FhirResource,
  type ShapeCheck,
  type ShapeProblem,
} from '../fhir/index.js';
import type { CallOutcome, EvaluationOutcome } from './outcome.js';
import { chooseVersion, type CallingClient, type RolloutControl } from './rollout.js';
import { errorName } from './shadow-queue.js';

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
  /** Assignment to experiment arms and stored stops; without it every call gets the live version. */
  rollout?: RolloutControl;
  /** The verified caller (a site, for experiments randomised by client). */
  client?: CallingClient;
  /**
   * performance.now() by which the call must be answered, and the time limit it stands for: FHIR requests stop
   * there (412) and so does the evaluation, at its next CQL define (503).
   */
  deadline?: { at: number; ms: number };
  /** Most FHIR resources the call may evaluate, sent and fetched together (422 beyond). */
  maxResources?: number;
}

/** A call's outcome, with the work left for after the answer: its shadow versions. */
export interface InvokeResult {
  outcome: CallOutcome;
  /**
   * Evaluates the service's shadow versions on the same data, for after the answer has gone out.
   * Holds the call's data until it is run or dropped; absent when the service has no shadow version.
   */
  shadows?: () => Promise<EvaluationOutcome[]>;
}

export type FhirCheck = 'off' | 'warn' | 'reject';

/** The whole service call without HTTP: validate, complete prefetch, evaluate. */
export async function invokeService(
  knowledge: Knowledge,
  serviceId: string,
  body: unknown,
  deps: InvokeOptions,
): Promise<InvokeResult> {
  const services = servicesById(knowledge, serviceId);
  const broken = knowledge.unavailable.filter((u) => u.id === serviceId);
  const unavailable = () => serviceUnavailable(serviceId);
  if (services.length === 0) {
    if (broken.length > 0) throw unavailable();
    throw unknownService(serviceId);
  }
  // One id may serve several hooks; a hook whose knowledge failed is unavailable, not unknown.
  const request = validateHookRequest(body, [...services.map((s) => s.definition.hook), ...broken.map((b) => b.hook)]);
  const service = services.find((s) => s.definition.hook === request.hook);
  if (!service) throw unavailable();
  let t = performance.now();
  const prefetch = await resolvePrefetch(service.definition.prefetch, request, prefetchOptions(deps));
  const medications = await referencedMedications(request, prefetch.data, prefetchOptions(deps));
  const prefetchMs = performance.now() - t;
  if (deps.maxResources !== undefined) {
    const count = resourceCount(request, prefetch.data);
    if (count > deps.maxResources) throw tooMuchData(count, deps.maxResources);
  }
  const check = deps.fhirCheck ?? 'warn';
  // One walk over the data answers both questions.
  const shape = malformedData(request, prefetch.data, prefetch.status);
  // Numbers and dates CQL cannot compute with are refused in every mode: evaluated, they would fail or be lost.
  if (shape.outOfRange) throw shape.outOfRange;
  const malformed = check === 'off' ? undefined : shape.malformed;
  if (check === 'reject' && malformed) throw malformed;
  pastDeadline(deps.deadline);
  const now = deps.clock();
  const choice = chooseVersion(service, request, now, deps.client, deps.rollout);
  const arm = choice.experiment?.arm ? { id: choice.experiment.id, arm: choice.experiment.arm } : undefined;
  t = performance.now();
  let evaluation: Evaluation | undefined;
  let failure: string | undefined;
  try {
    evaluation = await evaluate(knowledge, service, request, prefetch.data, {
      now,
      ruleSet: choice.ruleSet,
      experiment: arm,
      deadline: deps.deadline,
      medications,
    });
  } catch (err) {
    // A suppressed arm answers no cards whatever happens: its failure is recorded, the call still answered.
    if (choice.disposition !== 'suppressed' || (err instanceof CdsError && err.code === 'call-deadline'))
      throw explainedFailure(err, check === 'off' ? () => shape.malformed : () => malformed);
    failure = errorName(err);
  }
  const dataProblems = malformed?.issues.map((i) => i.diagnostics);
  if (dataProblems && evaluation) evaluation.trace.dataProblems = dataProblems;
  const shortfalls = prefetch.shortfalls;
  if (shortfalls && evaluation) evaluation.trace.prefetchShortfalls = shortfalls;
  const outcome: CallOutcome = {
    service,
    request,
    evaluations: [
      {
        disposition: choice.disposition,
        ruleSet: choice.ruleSet,
        ...(arm ? { experiment: arm } : {}),
        ...(evaluation ? { evaluation } : { error: failure }),
      },
    ],
    prefetch: prefetch.status,
    prefetchData: prefetch.data,
    ...(dataProblems ? { dataProblems } : {}),
    ...(shortfalls ? { prefetchShortfalls: shortfalls } : {}),
    ...(choice.experiment ? { experiment: choice.experiment } : {}),
    timings: { prefetch: prefetchMs, evaluate: performance.now() - t },
  };
  const shadowVersions = service.rollout?.shadows ?? [];
  if (shadowVersions.length === 0) return { outcome };
  const shadows = async (): Promise<EvaluationOutcome[]> => {
    const done: EvaluationOutcome[] = [];
    for (const ruleSet of shadowVersions) {
      try {
        done.push({
          disposition: 'shadow',
          ruleSet,
          evaluation: await evaluate(knowledge, service, request, prefetch.data, { now, ruleSet, medications }),
        });
      } catch (err) {
        const cause =
          err instanceof CdsError ? (err.internal ?? err.message) : err instanceof Error ? err.message : String(err);
        done.push({ disposition: 'shadow', ruleSet, error: cause });
      }
    }
    return done;
  };
  return { outcome, shadows };
}

/** The prefetch options of this call: its FHIR requests end by the call's deadline too. */
function prefetchOptions(deps: InvokeOptions): PrefetchOptions {
  if (!deps.deadline) return deps.prefetch;
  pastDeadline(deps.deadline);
  const left = Math.max(1, Math.floor(deps.deadline.at - performance.now()));
  const own = deps.prefetch.deadlineMs;
  return { ...deps.prefetch, deadlineMs: own === undefined ? left : Math.min(own, left) };
}

/** Every FHIR resource the call would evaluate: the context's and the prefetch's, Bundles by their entries. */
function resourceCount(request: HookRequest, data: Record<string, unknown>): number {
  let count = 0;
  const add = (value: unknown): void => {
    if (!isResource(value)) return;
    count += value.resourceType === 'Bundle' ? resourcesOf(value).length : 1;
  };
  for (const value of Object.values(request.context)) add(value);
  for (const value of Object.values(data)) add(value);
  return count;
}

/**
 * Medications that orders of the call reference and that are neither contained nor among its data, read from
 * the FHIR server when the call names one and CDS_MEDICATION_FETCH allows it.
 */
async function referencedMedications(
  request: HookRequest,
  data: Record<string, unknown>,
  options: PrefetchOptions,
): Promise<FhirResource[]> {
  if (options.fetchMedications === false || !request.fhirServer) return [];
  const record = Object.values(data).flatMap((v) =>
    isResource(v) ? (v.resourceType === 'Bundle' ? resourcesOf(v) : [v]) : [],
  );
  const ids = unresolvedMedicationIds([...resourcesOf(request.context.draftOrders), ...record], record);
  return (await fetchMedications(ids, request, options)).medications;
}

/** An evaluation that failed on malformed data is the caller's problem, not the server's: 400 / 412 naming where. */
function explainedFailure(err: unknown, malformed: () => CdsError | undefined): unknown {
  if (!(err instanceof CdsError) || err.code !== 'evaluation-failed') return err;
  const explained = malformed();
  if (!explained) return err;
  return invalidFhir(explained.status === 400 ? 'request' : 'fhir-server', explained.issues, {
    internal: err.internal,
    cause: err,
  });
}

/**
 * The places where the call's FHIR data does not have its FHIR R4 shape, as the error that names
 * them: 400 for data the client sent, 412 for data fetched from the FHIR server; `outOfRange` the same for
 * the numbers and dates CQL cannot compute with only. Each undefined when all is well.
 */
function malformedData(
  request: HookRequest,
  data: Record<string, unknown>,
  status: Record<string, PrefetchStatus>,
): { malformed?: CdsError; outOfRange?: CdsError } {
  const sent: ShapeCheck[] = [];
  for (const [name, value] of Object.entries(request.context)) {
    if (value && typeof value === 'object' && !Array.isArray(value) && 'resourceType' in value)
      sent.push(fhirShapeCheck(value, `context.${name}`));
  }
  const fetched: ShapeCheck[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === null || value === undefined) continue;
    (status[key] === 'fetched' ? fetched : sent).push(fhirShapeCheck(value, `prefetch.${key}`));
  }
  return {
    malformed: shapeError(
      sent.flatMap((c) => c.problems),
      fetched.flatMap((c) => c.problems),
    ),
    outOfRange: shapeError(
      sent.flatMap((c) => c.range),
      fetched.flatMap((c) => c.range),
    ),
  };
}

function shapeError(sent: ShapeProblem[], fetched: ShapeProblem[]): CdsError | undefined {
  const problems = (sent.length > 0 ? sent : fetched).slice(0, 10);
  if (problems.length === 0) return undefined;
  const issues = problems.map((p) => ({
    severity: 'error' as const,
    code: 'structure',
    diagnostics: `${p.at}: ${p.message}`,
    expression: [p.at],
  }));
  return sent.length > 0 ? invalidFhir('request', issues) : invalidFhir('fhir-server', issues);
}
