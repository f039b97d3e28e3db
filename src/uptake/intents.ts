// What a card's suggestions would do, and what a later call shows was done. Both are reduced to
// resource types and codes ("system|code") before anything is queued: no identifier, no free text,
// no date of the patient's is kept. Matching (completion.ts) compares these and nothing else.

/** One action of one suggestion, as the ledger keeps it (uptake_intent). */
export interface IntendedAction {
  suggestionUuid: string;
  actionIndex: number;
  /** 'update' is matched like a create on the next order-sign (see completion.ts). */
  action: 'create' | 'delete' | 'update';
  resourceType: string;
  /** The codes that count as the same thing: the resource's own and those of the value sets holding them. */
  codes: string[];
}

/** A resource a call holds, as evidence: its type, codes and, when it says, when it was authored. */
export interface EvidenceResource {
  source: 'draftOrders' | 'dispatchedOrders' | 'prefetch';
  resourceType: string;
  codes: string[];
  /** authoredOn (or the resource's own time, see TIME_ELEMENTS) in ms; absent when it has none. */
  at?: number;
}

/** Codes of the same concept: for a "system|code", every code of the knowledge's value sets that hold it. */
export type CodeExpander = (code: string) => string[];

/** Where FHIR R4 resources keep the code of what is ordered, done or recorded. */
const CODE_ELEMENTS = [
  'code',
  'medicationCodeableConcept',
  'vaccineCode',
  'productCodeableConcept',
  'codeCodeableConcept',
];
/** When a resource says it was authored or happened, in this order of preference. */
const TIME_ELEMENTS = [
  'authoredOn',
  'occurrenceDateTime',
  'effectiveDateTime',
  'performedDateTime',
  'issued',
  'started',
];
/** At most this many codes per action, and resources per call, are kept (a hostile request cannot grow the queue). */
const MAX_CODES = 200;
const MAX_RESOURCES = 500;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The "system|code" of every coding of the resource's code elements, sorted and distinct. */
export function codesOf(resource: Json): string[] {
  const out = new Set<string>();
  for (const element of CODE_ELEMENTS) {
    const concept = resource[element];
    if (!isObject(concept) || !Array.isArray(concept.coding)) continue;
    for (const coding of concept.coding) {
      if (!isObject(coding) || typeof coding.code !== 'string' || coding.code === '') continue;
      const system = typeof coding.system === 'string' ? coding.system : '';
      out.add(`${system}|${coding.code}`.slice(0, 300));
    }
  }
  return [...out].sort().slice(0, MAX_CODES);
}

function timeOf(resource: Json): number | undefined {
  for (const element of TIME_ELEMENTS) {
    const value = resource[element];
    if (typeof value !== 'string') continue;
    const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (!Number.isNaN(ms)) return ms;
  }
  return undefined;
}

/** The resources of a Bundle (or a lone resource). */
function resourcesOf(value: unknown): Json[] {
  if (!isObject(value)) return [];
  if (value.resourceType === 'Bundle' && Array.isArray(value.entry)) {
    return value.entry.flatMap((e) => (isObject(e) && isObject(e.resource) ? [e.resource] : []));
  }
  return typeof value.resourceType === 'string' ? [value] : [];
}

/**
 * The actions of a card's suggestions that can be matched later: a `create` with a coded resource, a `delete` of a
 * draft in the call's draftOrders (by its `resourceId`), an `update` with a coded resource. Others are not kept.
 */
export function intendedActions(
  suggestions: unknown,
  context: Record<string, unknown> | undefined,
  expand?: CodeExpander,
): IntendedAction[] {
  if (!Array.isArray(suggestions)) return [];
  const drafts = new Map<string, Json>();
  for (const r of resourcesOf(context?.draftOrders)) {
    if (typeof r.id === 'string') drafts.set(`${String(r.resourceType)}/${r.id}`, r);
  }
  const out: IntendedAction[] = [];
  for (const suggestion of suggestions) {
    if (!isObject(suggestion) || typeof suggestion.uuid !== 'string' || !Array.isArray(suggestion.actions)) continue;
    const suggestionUuid = suggestion.uuid.slice(0, 128);
    suggestion.actions.forEach((action: unknown, actionIndex) => {
      if (!isObject(action)) return;
      const type = action.type;
      let target: Json | undefined;
      if (type === 'create' || type === 'update') target = isObject(action.resource) ? action.resource : undefined;
      else if (type === 'delete') {
        const id = typeof action.resourceId === 'string' ? action.resourceId : undefined;
        target = id ? drafts.get(id.replace(/^.*\/(?=[A-Za-z]+\/[^/]+$)/, '')) : undefined;
      }
      if (!target || typeof target.resourceType !== 'string') return;
      const own = codesOf(target);
      if (own.length === 0) return;
      // A draft removed is matched on its own codes; something to be ordered on any code of the same value sets.
      const codes =
        type === 'delete' || !expand ? own : [...new Set([...own, ...own.flatMap(expand)])].sort().slice(0, MAX_CODES);
      out.push({
        suggestionUuid,
        actionIndex,
        action: type as IntendedAction['action'],
        resourceType: target.resourceType,
        codes,
      });
    });
  }
  return out;
}

/**
 * What a call shows was ordered: its draftOrders (order-select, order-sign), dispatchedOrders when they are
 * resources (order-dispatch), and every resource of its prefetch (sent by the EHR or fetched by the server).
 */
export function evidenceResources(
  context: Record<string, unknown> | undefined,
  prefetch: Record<string, unknown> | undefined,
): EvidenceResource[] {
  const out: EvidenceResource[] = [];
  const add = (source: EvidenceResource['source'], resources: Json[]): void => {
    for (const r of resources) {
      if (out.length >= MAX_RESOURCES) return;
      const codes = codesOf(r);
      if (codes.length === 0 || typeof r.resourceType !== 'string') continue;
      const at = timeOf(r);
      out.push({ source, resourceType: r.resourceType, codes, ...(at !== undefined ? { at } : {}) });
    }
  };
  add('draftOrders', resourcesOf(context?.draftOrders));
  const dispatched = context?.dispatchedOrders;
  if (Array.isArray(dispatched)) add('dispatchedOrders', dispatched.flatMap(resourcesOf));
  for (const value of Object.values(prefetch ?? {})) add('prefetch', resourcesOf(value));
  return out;
}
