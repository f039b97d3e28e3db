// One hook call: patient data + hook context → CQL facts → rules → cards.
// Everything built per call lives in this function's scope; the rule set, its compiled library and
// the code service are shared and never mutated.
import { createRequire } from 'node:module';
import type {
  PatientContext as PatientContextType,
  CodeService as CodeServiceType,
  DateTime as DateTimeType,
} from 'cql-execution';
import type { Knowledge, RuleDefinition, RuleSet, Service, ValueSetIndex } from '../knowledge/index.js';
import type { HookRequest } from '../hooks/index.js';
import type { PrefetchShortfall } from '../prefetch/index.js';
import {
  cardProblems,
  parsePath,
  renderCard,
  renderSystemAction,
  resolvePath,
  systemActionProblems,
  TemplateError,
  KNOWLEDGE_EXTENSION,
  type Action,
  type Card,
} from '../cards/index.js';
import { isResource, medicationsById, resourcesOf, withMedicationCode, type FhirResource } from '../fhir/index.js';
import { callDeadlineExceeded, CdsError, evaluationFailed } from '../errors.js';
import { cqlToJson } from './cql/to-json.js';
import { fhirDataModel } from './cql/patient-data.js';
import { isValueSource, libraryParameters, parameterValue } from '../knowledge/index.js';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as {
  PatientContext: typeof PatientContextType;
  CodeService: typeof CodeServiceType;
  DateTime: typeof DateTimeType;
  AnnotatedError: new (...args: never[]) => Error;
};

export interface RuleTrace {
  rule: string;
  fired: boolean;
  cards: number;
  /** systemActions it returned. */
  systemActions?: number;
  /** Each condition with the fact value it saw and its result (json-rules-engine's own account). */
  conditions?: unknown;
  error?: string;
}

export interface EvaluationTrace {
  /** Milliseconds per phase. */
  timings: { cql: number; rules: number; cards: number };
  /**
   * Milliseconds per CQL define, in evaluation order. A define's time includes the defines it
   * uses that were not evaluated before it (each is evaluated once and then reused).
   */
  defineTimings: Record<string, number>;
  /** The `cql` fact: each define's value as JSON. */
  cql: Record<string, unknown>;
  rules: RuleTrace[];
  /** Knowledge problems met while rendering or checking cards (knowledge errors, never data). */
  problems: string[];
  /** Why the CQL evaluation failed (the defines before it are in `cql`): for the log and `cds eval`, never the EHR. */
  error?: CqlFailure;
  /** Where the call's FHIR data is malformed (locations and types, never values); evaluated anyway. */
  dataProblems?: string[];
  /**
   * Prefetch searches that held fewer matches than they announced and than the template asked for: per key what
   * was asked, got and announced, and whether the server fetched the rest or evaluated with part of the record.
   */
  prefetchShortfalls?: PrefetchShortfall[];
}

export interface Evaluation {
  cards: Card[];
  trace: EvaluationTrace;
  /** For each card served (by uuid): the rule that made it and, with forEach, the element it was made for. */
  origins: Map<string, { rule: string; item?: unknown }>;
  /** The systemActions of the rules that fired, in rule order, each with the rule that made it. */
  systemActions: Array<{ action: Action; rule: string }>;
}

export interface EvaluateOptions {
  /** "Now" for the logic (CQL Now()/Today(), lookback windows). */
  now: Date;
  /** The version to evaluate: an experiment arm or a shadow version (default: the service's live one). */
  ruleSet?: RuleSet;
  /** The experiment arm the call is in: named in each card's provenance extension. */
  experiment?: { id: string; arm: string };
  /** performance.now() past which the evaluation stops (checked before each CQL define and after the CQL). */
  deadline?: { at: number; ms: number };
  /** Medications read from the FHIR server because orders reference them (Medication/{id}). */
  medications?: FhirResource[];
}

/** Throws the call's deadline error once its deadline has passed. */
export function pastDeadline(deadline: { at: number; ms: number } | undefined): void {
  if (deadline && performance.now() > deadline.at) throw callDeadlineExceeded(deadline.ms);
}

const codeServices = new WeakMap<ValueSetIndex, CodeServiceType>();
const failedTraces = new WeakMap<object, EvaluationTrace>();

/** The trace of an evaluation that failed, up to the define that failed and why, when `err` is that failure. */
export function traceOfFailure(err: unknown): EvaluationTrace | undefined {
  return err && typeof err === 'object' ? failedTraces.get(err) : undefined;
}

/** Attaches the trace of a failed evaluation to an error rebuilt elsewhere (an error from an evaluation thread). */
export function keepTraceOfFailure(err: object, trace: EvaluationTrace): void {
  failedTraces.set(err, trace);
}

function codeServiceFor(knowledge: Pick<Knowledge, 'valueSets'>): CodeServiceType {
  let service = codeServices.get(knowledge.valueSets);
  if (!service) {
    service = new cql.CodeService(knowledge.valueSets as never); // a code may come without a system
    codeServices.set(knowledge.valueSets, service);
  }
  return service;
}

/**
 * Evaluates one service for one request whose prefetch is complete (`data` holds every prefetch
 * value: a resource, a Bundle, or null).
 */
export async function evaluate(
  knowledge: Pick<Knowledge, 'valueSets'>,
  service: Service,
  request: HookRequest,
  data: Record<string, unknown>,
  { now, ruleSet = service.ruleSet, experiment, deadline, medications }: EvaluateOptions,
): Promise<Evaluation> {
  const { definition } = service;
  const trace: EvaluationTrace = {
    timings: { cql: 0, rules: 0, cards: 0 },
    defineTimings: {},
    cql: {},
    rules: [],
    problems: [],
  };
  const context = request.context;
  const draftOrders = resourcesOf(context.draftOrders);
  const selections = selectedResources(context.selections, draftOrders);

  let t = performance.now();
  if (ruleSet.library) {
    const patientId = typeof context.patientId === 'string' ? context.patientId : undefined;
    // CQL sees each medicationReference it can resolve as the Medication's code (see fhir/medication-reference.ts).
    const record = [...patientRecord(data, patientId), ...(medications ?? [])];
    const byId = medicationsById([...record, ...draftOrders]);
    const resources = record.map((r) => withMedicationCode(r, byId));
    const cqlDrafts = draftOrders.map((r) => withMedicationCode(r, byId));
    const cqlSelections = selections.map((r) => cqlDrafts[draftOrders.indexOf(r)] ?? r);
    const model = fhirDataModel();
    // What cql-execution's Executor does for one patient, with the time of each define.
    const results: Record<string, unknown> = {};
    let current: string | undefined;
    try {
      const parameters: Record<string, unknown> = {};
      const declared = new Map(libraryParameters(ruleSet).map((p) => [p.name, p]));
      for (const [name, source] of Object.entries(definition.knowledge.parameters ?? {})) {
        const type = declared.get(name)?.type;
        parameters[name] = isValueSource(source)
          ? type
            ? parameterValue(source, type, now)
            : undefined
          : bindParameter(source, context, cqlDrafts, cqlSelections, model.wrap);
      }
      const patient = model.patientSource(resources).currentPatient();
      const patientContext = new cql.PatientContext(
        ruleSet.library,
        patient as never,
        codeServiceFor(knowledge),
        parameters,
        cql.DateTime.fromJSDate(now, 0),
      );
      const expressions = ruleSet.library.expressions as unknown as Record<
        string,
        { context?: string; execute(ctx: unknown): Promise<unknown> }
      >;
      for (const name of Object.keys(expressions)) {
        const expression = expressions[name];
        if (expression.context !== 'Patient') continue;
        pastDeadline(deadline);
        const started = performance.now();
        current = name;
        results[name] = await expression.execute(patientContext);
        trace.defineTimings[name] = performance.now() - started;
      }
    } catch (err) {
      if (err instanceof CdsError && err.code === 'call-deadline') throw err;
      // The engine's message may quote patient data: it goes to the log and the trace, not to the caller.
      const failure = describeCqlFailure(err, current, ruleSet.libraryFile);
      for (const name of Object.keys(results))
        if (ruleSet.defines.includes(name)) trace.cql[name] = cqlToJson(results[name]);
      trace.error = failure;
      // The log may say where it failed (all from the knowledge), not the engine's message.
      const { define, library, locator, expression } = failure;
      const error = evaluationFailed(ruleSet.cql, {
        internal: formatCqlFailure(failure),
        logged: {
          cql: { define, library, ...(locator ? { line: locator } : {}), ...(expression ? { expression } : {}) },
        },
        cause: err,
      });
      failedTraces.set(error, trace);
      throw error;
    }
    for (const name of ruleSet.defines) trace.cql[name] = cqlToJson(results[name]);
  }
  trace.timings.cql = performance.now() - t;
  pastDeadline(deadline);

  t = performance.now();
  const userId = typeof context.userId === 'string' ? context.userId : undefined;
  const facts: Record<string, unknown> = {
    cql: trace.cql,
    context,
    hook: request.hook,
    draftOrders,
    selections,
    user: userId ? { reference: userId, type: userId.split('/')[0], id: userId.split('/').slice(1).join('/') } : null,
  };
  const outcome = await ruleSet.engine.run(facts);
  const fired = new Set(outcome.results.map((r) => r.name));
  const conditions = new Map(
    [...outcome.results, ...outcome.failureResults].map((r) => [
      r.name,
      (r.toJSON(false) as { conditions?: unknown }).conditions,
    ]),
  );
  trace.timings.rules = performance.now() - t;

  t = performance.now();
  const cards: Card[] = [];
  const origins: Evaluation['origins'] = new Map();
  const systemActions: Evaluation['systemActions'] = [];
  for (const rule of ruleSet.rules) {
    const ruleTrace: RuleTrace = {
      rule: rule.id,
      fired: fired.has(rule.id),
      cards: 0,
      conditions: conditions.get(rule.id),
    };
    trace.rules.push(ruleTrace);
    if (!ruleTrace.fired) continue;
    const extension = {
      [KNOWLEDGE_EXTENSION]: {
        service: definition.id,
        ruleSet: ruleSet.id,
        version: ruleSet.version,
        rule: rule.id,
        ...(ruleSet.libraries.length > 0 ? { cql: ruleSet.libraries } : {}),
        ...(experiment ? { experiment: experiment.id, arm: experiment.arm } : {}),
      },
    };
    for (const item of itemsFor(rule, facts)) {
      try {
        const card = renderCard(rule.card, item === undefined ? facts : { ...facts, item }, extension);
        const problems = cardProblems(card);
        if (problems.length > 0) throw new Error(problems.join('; '));
        cards.push(card);
        origins.set(card.uuid!, item === undefined ? { rule: rule.id } : { rule: rule.id, item });
        ruleTrace.cards++;
      } catch (err) {
        const message = err instanceof TemplateError || err instanceof Error ? err.message : String(err);
        ruleTrace.error = message;
        trace.problems.push(`rule set ${ruleSet.id} ${ruleSet.version}, rule ${rule.id}: card not served: ${message}`);
      }
      // A rule's systemActions are rendered once per item, like its card, and each checked on its own.
      (rule.systemActions ?? []).forEach((template, i) => {
        try {
          const action = renderSystemAction(template, item === undefined ? facts : { ...facts, item });
          const problems = systemActionProblems(action, `systemActions[${i}]`);
          if (problems.length > 0) throw new Error(problems.join('; '));
          systemActions.push({ action, rule: rule.id });
          ruleTrace.systemActions = (ruleTrace.systemActions ?? 0) + 1;
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          ruleTrace.error = message;
          trace.problems.push(
            `rule set ${ruleSet.id} ${ruleSet.version}, rule ${rule.id}: system action ${i} not returned: ${message}`,
          );
        }
      });
    }
  }
  trace.timings.cards = performance.now() - t;
  return { cards, trace, origins, systemActions };
}

function itemsFor(rule: RuleDefinition, facts: Record<string, unknown>): unknown[] {
  if (!rule.forEach) return [undefined];
  const path = parsePath(rule.forEach);
  const value = path ? resolvePath(facts, path) : undefined;
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** Every resource of every prefetch value (Bundles flattened), each once, with the Patient first. */
export function patientRecord(data: Record<string, unknown>, patientId: string | undefined): FhirResource[] {
  // One resource per type and id: the last one sent, at the place of the first (no `type/id` text per resource).
  const kept: FhirResource[] = [];
  const byType = new Map<string, Map<string, number>>();
  const anonymous: FhirResource[] = [];
  const add = (resource: FhirResource): void => {
    if (resource.resourceType === 'OperationOutcome') return;
    if (!resource.id) {
      anonymous.push(resource);
      return;
    }
    let ids = byType.get(resource.resourceType);
    if (!ids) byType.set(resource.resourceType, (ids = new Map()));
    const id = String(resource.id);
    const at = ids.get(id);
    if (at === undefined) {
      ids.set(id, kept.length);
      kept.push(resource);
    } else kept[at] = resource;
  };
  for (const value of Object.values(data)) {
    if (!isResource(value)) continue;
    if (value.resourceType === 'Bundle') for (const r of resourcesOf(value)) add(r);
    else add(value);
  }
  const all = kept.concat(anonymous);
  const patient =
    all.find((r) => r.resourceType === 'Patient' && r.id === patientId) ??
    all.find((r) => r.resourceType === 'Patient') ??
    // No Patient resource among the data: CQL still runs, with only the id known.
    ({ resourceType: 'Patient', id: patientId ?? 'unknown' } satisfies FhirResource);
  return [patient, ...all.filter((r) => r !== patient && r.resourceType !== 'Patient')];
}

function selectedResources(selections: unknown, draftOrders: FhirResource[]): FhirResource[] {
  if (!Array.isArray(selections)) return [];
  return selections
    .map((ref) => draftOrders.find((r) => `${r.resourceType}/${r.id}` === ref))
    .filter((r): r is FhirResource => r !== undefined);
}

function bindParameter(
  source: string,
  context: Record<string, unknown>,
  draftOrders: FhirResource[],
  selections: FhirResource[],
  wrap: (r: FhirResource) => unknown,
): unknown {
  if (source.startsWith('context.')) {
    const value = context[source.slice('context.'.length)];
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : null;
  }
  const [list, type] = source.split(':');
  const resources = list === 'selections' ? selections : draftOrders;
  return resources.filter((r) => !type || r.resourceType === type).map(wrap);
}

function safeMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

/** Where CQL evaluation failed and why, from cql-execution's AnnotatedError when there is one. */
export interface CqlFailure {
  /** The define being evaluated. */
  define?: string;
  /** The library whose expression failed (an included one, maybe), as cql-execution names it. */
  library?: string;
  /** The main library's file. */
  file?: string;
  /** `line:column-line:column` in the failing library's CQL source. */
  locator?: string;
  /** The ELM node that failed (e.g. Start, Retrieve). */
  expression?: string;
  message: string;
}

export function describeCqlFailure(err: unknown, define: string | undefined, file?: string): CqlFailure {
  const annotated = err as { libraryName?: unknown; locator?: unknown; expressionName?: unknown; cause?: unknown };
  const isAnnotated = err instanceof cql.AnnotatedError;
  const message = safeMessage(isAnnotated && annotated.cause !== undefined ? annotated.cause : err);
  return {
    ...(define ? { define } : {}),
    ...(isAnnotated ? { library: String(annotated.libraryName) } : {}),
    ...(file ? { file } : {}),
    ...(isAnnotated && typeof annotated.locator === 'string' ? { locator: annotated.locator } : {}),
    ...(isAnnotated && typeof annotated.expressionName === 'string' ? { expression: annotated.expressionName } : {}),
    message,
  };
}

/** One line: `define "X", library L 1.0.0, line 12:3-12:40 (Start): message`. */
export function formatCqlFailure(f: CqlFailure): string {
  const where = [
    f.define ? `define "${f.define}"` : undefined,
    f.library ? `library ${f.library.replace('|', ' ')}${f.locator ? `, line ${f.locator}` : ''}` : undefined,
  ].filter(Boolean);
  return `${where.join(', ')}${f.expression ? ` (${f.expression})` : ''}: ${f.message}`;
}
