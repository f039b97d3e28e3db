// What the server keeps of an evaluation to explain a card later (GET /admin/explain/{card}):
// the rule's conditions with the values they saw and the CQL define values the rule uses, with
// identifiers taken out. Define values are what a knowledge engineer needs; names, MRNs, ids and
// references are not.
import type { RuleDefinition } from '../knowledge/index.js';
import type { Evaluation } from './evaluate.js';

export interface CardExplanation {
  rule: string;
  conditions: unknown;
  defines: Record<string, unknown>;
  item?: unknown;
  timings: Evaluation['trace']['timings'];
}

const WITHHELD = '[withheld]';
/** Keys whose values identify a person, a record or a place. */
const IDENTIFYING = new Set([
  'id',
  'identifier',
  'name',
  'telecom',
  'address',
  'photo',
  'contact',
  'reference',
  'div',
  'subject',
  'patient',
  'encounter',
  'requester',
  'performer',
  'recorder',
  'asserter',
  'author',
  'informationSource',
  'birthDate',
  'deceasedDateTime',
  'generalPractitioner',
  'managingOrganization',
  'link',
  'note',
  'userId',
  'patientId',
  'encounterId',
]);

/** Keys that name an id by convention (priorStudyId, patient_id, encounterIds …) and parts of a person's name. */
const IDENTIFYING_NAME = /(?:^|[a-z0-9_])(?:Id|Ids|ID|_id|_ids)$|^(?:family|given|prefix|suffix|mrn|ssn|uuid)$/;

/** A copy of a value without identifying fields; depth-limited. */
export function withoutIdentifiers(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > 12) return WITHHELD;
  if (Array.isArray(value)) return value.map((v) => withoutIdentifiers(v, depth + 1));
  const out: Record<string, unknown> = {};
  // A Reference's display is often a person's name; a Narrative holds the whole resource as text.
  const isReference = 'reference' in value;
  for (const [key, child] of Object.entries(value)) {
    const narrative = key === 'text' && !!child && typeof child === 'object' && 'div' in child;
    out[key] =
      IDENTIFYING.has(key) || IDENTIFYING_NAME.test(key) || narrative || (isReference && key === 'display')
        ? WITHHELD
        : withoutIdentifiers(child, depth + 1);
  }
  return out;
}

const rulesDefines = new WeakMap<RuleDefinition, string[]>();

/** The CQL defines a rule reads in its conditions, forEach and card template. */
export function definesUsedBy(rule: RuleDefinition): string[] {
  let names = rulesDefines.get(rule);
  if (!names) {
    const text = JSON.stringify([rule.conditions, rule.forEach ?? '', rule.card]);
    const found = new Set<string>();
    for (const m of text.matchAll(
      /(?:"fact":"cql","path":"\$\.([A-Za-z_][A-Za-z0-9_]*)|"fact":"cql","path":"\$\[\\?['"]([^'"\\]+)\\?['"]\]|cql\[\\?['"]([^'"\\]+)\\?['"]\]|cql\.([A-Za-z_][A-Za-z0-9_]*))/g,
    )) {
      found.add(m[1] ?? m[2] ?? m[3] ?? m[4]);
    }
    names = [...found];
    rulesDefines.set(rule, names);
  }
  return names;
}

/** One explanation per served card, by card uuid. */
export function explainCards(evaluation: Evaluation, rules: RuleDefinition[]): Record<string, CardExplanation> {
  const out: Record<string, CardExplanation> = {};
  for (const [uuid, origin] of evaluation.origins) {
    const rule = rules.find((r) => r.id === origin.rule);
    const traced = evaluation.trace.rules.find((r) => r.rule === origin.rule);
    if (!rule || !traced) continue;
    out[uuid] = {
      rule: rule.id,
      conditions: withoutFactIdentifiers(traced.conditions),
      defines: Object.fromEntries(
        definesUsedBy(rule).map((name) => [name, withoutIdentifiers(evaluation.trace.cql[name])]),
      ),
      ...(origin.item !== undefined ? { item: withoutIdentifiers(origin.item) } : {}),
      timings: evaluation.trace.timings,
    };
  }
  return out;
}

/**
 * The evaluation with its trace cut to what explainCards reads of it (the defines and rule traces of the rules that
 * made its served cards), or to none of that: what an evaluation thread sends back of a call, with or without a
 * ledger to explain its cards to. Kept beside explainCards so that the two read the same.
 */
export function explainingOnly(evaluation: Evaluation, rules: RuleDefinition[], explained: boolean): Evaluation {
  const served = new Set(explained ? [...evaluation.origins.values()].map((o) => o.rule) : []);
  const { trace } = evaluation;
  const cql: Record<string, unknown> = {};
  for (const rule of rules) {
    if (!served.has(rule.id)) continue;
    for (const name of definesUsedBy(rule)) if (Object.hasOwn(trace.cql, name)) cql[name] = trace.cql[name];
  }
  return { ...evaluation, trace: { ...trace, cql, rules: trace.rules.filter((r) => served.has(r.rule)) } };
}

/** Conditions as json-rules-engine reports them; values of context and user facts are withheld. */
function withoutFactIdentifiers(node: unknown): unknown {
  if (!node || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map(withoutFactIdentifiers);
  const c = { ...(node as Record<string, unknown>) };
  for (const key of ['all', 'any'])
    if (Array.isArray(c[key])) c[key] = (c[key] as unknown[]).map(withoutFactIdentifiers);
  if (c.not) c.not = withoutFactIdentifiers(c.not);
  if (typeof c.fact === 'string' && 'factResult' in c) {
    c.factResult = c.fact === 'cql' || c.fact === 'hook' ? withoutIdentifiers(c.factResult) : WITHHELD;
  }
  return c;
}
