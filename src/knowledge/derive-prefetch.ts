// Prefetch derived from the CQL: the FHIR queries a rule set's compiled ELM needs, from its
// retrieves (and those of every library it includes). One query per resource type, scoped to the
// patient; a value set becomes its expanded codes when they fit, `code:in=<url>` otherwise; a code
// becomes `system|code`. A query longer than the limit falls back to the broader query without its
// code filter, so the EHR sends more and the CQL filters again. A retrieve that is the one source of a query whose
// `where` bounds a date element by literal dates (`O.effective >= @2025-01-01`, `C.onset during Interval[...]`) adds
// that element's date search parameter, a day wider on each side; a bound relative to Now() cannot be written in
// a CDS Hooks 2.0 template and is left to the CQL.
import type { RuleSet } from './types.js';
import type { ValueSetIndex } from './value-sets.js';
import { DATE_SEARCH_PARAMETERS, PATIENT_SEARCH_PARAMETERS } from '../fhir/index.js';
import { encodeSearchValue, escapeSearchValue, tokenSearchValue } from '../prefetch/index.js';

/** Codes a value set may expand to in a template before `code:in=<url>` is used instead. */
const MAX_EXPANDED_CODES = 30;
export const DEFAULT_PREFETCH_MAX_TEMPLATE = 2000;

/** The token search parameter for a retrieve's codeProperty, per resource type (FHIR R4 search parameters). */
const CODE_PARAMETERS: Record<string, string> = {
  code: 'code',
  vaccineCode: 'vaccine-code',
  type: 'type',
  category: 'category',
};

interface ElmLibrary {
  library?: {
    identifier?: { id?: string };
    valueSets?: { def?: Array<{ name: string; id: string; version?: string }> };
    codes?: { def?: Array<{ name: string; id: string; codeSystem?: { name: string; libraryName?: string } }> };
    codeSystems?: { def?: Array<{ name: string; id: string }> };
    includes?: { def?: Array<{ localIdentifier: string; path: string }> };
  };
}

interface LibraryNode {
  source?: ElmLibrary;
  includes?: Record<string, LibraryNode>;
}

/** What one resource type's retrieves need: all of it (no filter) or only these codes or value sets. */
interface Need {
  /** Some retrieve of the type has no code filter the query can carry: all of the type is fetched. */
  unfiltered?: boolean;
  parameter?: string;
  /** undefined: every resource of the type. Token search values, escaped and encoded. */
  codes?: Set<string>;
  /** Value sets as `url` or `url|version` (the version the CQL pins), escaped and encoded. */
  valueSets?: Map<string, { url: string; version?: string }>;
}

export interface DerivedPrefetch {
  templates: Record<string, string>;
  /** What the derivation could not express and left broader (for `cds prefetch` and the authoring guide). */
  notes: string[];
}

/**
 * The templates the CQL of `ruleSets` needs: of one version, or of every version a service may serve (live,
 * experiment arms, shadows), whose retrieves are joined so that each version finds what it reads.
 */
export function derivePrefetch(
  ruleSets: Pick<RuleSet, 'library'> | Array<Pick<RuleSet, 'library'>>,
  valueSets: ValueSetIndex,
  maxTemplate = DEFAULT_PREFETCH_MAX_TEMPLATE,
): DerivedPrefetch {
  const needs = new Map<string, Need>();
  const dates = new Map<string, DateBound | null>();
  const notes: string[] = [];
  const seen = new Set<LibraryNode>();
  const visit = (lib: LibraryNode | undefined): void => {
    if (!lib || seen.has(lib)) return;
    seen.add(lib);
    const bounds = dateBoundsIn(lib.source);
    for (const retrieve of retrievesIn(lib.source)) {
      addRetrieve(retrieve, lib, needs, notes);
      addDateBound(retrieveType(retrieve), bounds.get(retrieve) ?? null, dates);
    }
    for (const included of Object.values(lib.includes ?? {})) visit(included);
  };
  for (const ruleSet of Array.isArray(ruleSets) ? ruleSets : [ruleSets]) visit(ruleSet.library);

  const templates: Record<string, string> = {};
  const types = [...needs.keys()].sort((a, b) => (a === 'Patient' ? -1 : b === 'Patient' ? 1 : a.localeCompare(b)));
  for (const type of types) {
    const key = type.charAt(0).toLowerCase() + type.slice(1);
    if (type === 'Patient') {
      templates[key] = 'Patient/{{context.patientId}}';
      continue;
    }
    if (type === 'Medication') continue; // read with its MedicationRequests (_include) or by reference
    const need = needs.get(type)!;
    const scope = PATIENT_SEARCH_PARAMETERS[type];
    if (!scope) {
      // Not searchable for one patient (Practitioner, Organization, ...): a query would read the whole server.
      notes.push(`${type}: no FHIR R4 search parameter scopes it to the patient; not prefetched`);
      continue;
    }
    const base =
      scope.parameter === 'patient'
        ? `${type}?patient={{context.patientId}}`
        : `${type}?${scope.parameter}=Patient/{{context.patientId}}`;
    const include =
      needs.has('Medication') && MEDICATION_REFERENCES[type] ? `&_include=${type}:${MEDICATION_REFERENCES[type]}` : '';
    const bound = dates.get(type);
    const dated = bound
      ? `${bound.low ? `&${bound.parameter}=ge${bound.low}` : ''}${bound.high ? `&${bound.parameter}=le${bound.high}` : ''}`
      : '';
    let query = `${base}${dated}${include}`;
    if (!need.unfiltered && need.codes && need.parameter) {
      const tokens = [...need.codes];
      let expandable = true;
      const urls: string[] = [];
      for (const [canonical, { url, version }] of need.valueSets ?? []) {
        const expansion = expansionOf(valueSets, url, version);
        if (expansion && expansion.length <= MAX_EXPANDED_CODES) tokens.push(...expansion);
        else {
          expandable = false;
          urls.push(canonical);
        }
      }
      const filtered = expandable
        ? `${base}&${need.parameter}=${[...new Set(tokens)].join(',')}${dated}${include}`
        : tokens.length === 0 && urls.length === 1
          ? `${base}&${need.parameter}:in=${urls[0]}${dated}${include}`
          : undefined;
      if (filtered === undefined) notes.push(`${type}: codes and value sets that cannot be one filter; all fetched`);
      else if (filtered.length > maxTemplate)
        notes.push(`${type}: the code filter makes the query longer than ${maxTemplate} characters; all fetched`);
      else query = filtered;
    }
    templates[key] = query;
  }
  return { templates, notes: [...new Set(notes)] };
}

/** MedicationRequest and its siblings name their Medication in `medication[x]`: _include brings it along. */
const MEDICATION_REFERENCES: Record<string, string> = {
  MedicationRequest: 'medication',
  MedicationStatement: 'medication',
  MedicationAdministration: 'medication',
  MedicationDispense: 'medication',
};

function retrieveType(retrieve: Record<string, unknown>): string {
  return (typeof retrieve.dataType === 'string' ? retrieve.dataType : '').replace(/^\{http:\/\/hl7\.org\/fhir\}/, '');
}

function addRetrieve(
  retrieve: Record<string, unknown>,
  lib: LibraryNode,
  needs: Map<string, Need>,
  notes: string[],
): void {
  const type = retrieveType(retrieve);
  if (!/^[A-Z][A-Za-z]+$/.test(type)) return;
  const need = needs.get(type);
  const filter = codeFilter(retrieve, lib, type);
  if (!filter) {
    if (retrieve.codes !== undefined)
      notes.push(
        MEDICATION_REFERENCES[type] && retrieve.codeProperty === 'medication'
          ? `${type}: no code filter (medication[x] may be a reference to a Medication); all fetched`
          : `${type}: a code filter that is not a value set or code; all fetched`,
      );
    needs.set(type, { unfiltered: true });
    return;
  }
  if (need?.unfiltered) return;
  if (need && need.parameter !== filter.parameter) {
    needs.set(type, { unfiltered: true });
    return;
  }
  needs.set(type, {
    parameter: filter.parameter,
    codes: new Set([...(need?.codes ?? []), ...filter.codes]),
    valueSets: new Map([...(need?.valueSets ?? []), ...filter.valueSets]),
  });
}

function codeFilter(
  retrieve: Record<string, unknown>,
  lib: LibraryNode,
  type: string,
): { parameter: string; codes: string[]; valueSets: Array<[string, { url: string; version?: string }]> } | undefined {
  const property = typeof retrieve.codeProperty === 'string' ? retrieve.codeProperty : undefined;
  if (!property || retrieve.codes === undefined) return undefined;
  // medication[x] may be a reference: a code filter would miss orders whose drug is a Medication resource.
  if (MEDICATION_REFERENCES[type] && property === 'medication') return undefined;
  const parameter = CODE_PARAMETERS[property];
  if (!parameter) return undefined;
  const codes: string[] = [];
  const valueSets: Array<[string, { url: string; version?: string }]> = [];
  const add = (node: unknown): boolean => {
    const n = node as Record<string, unknown> | undefined;
    if (!n || typeof n !== 'object') return false;
    const target = resolveLibrary(lib, n.libraryName);
    if (n.type === 'ValueSetRef') {
      const def = target?.source?.library?.valueSets?.def?.find((d) => d.name === n.name);
      if (!def) return false;
      const canonical =
        encodeSearchValue(escapeSearchValue(def.id)) +
        (def.version !== undefined ? `|${encodeSearchValue(escapeSearchValue(def.version))}` : '');
      valueSets.push([canonical, { url: def.id, ...(def.version !== undefined ? { version: def.version } : {}) }]);
      return true;
    }
    if (n.type === 'CodeRef') {
      const def = target?.source?.library?.codes?.def?.find((d) => d.name === n.name);
      const systemLib = target && resolveLibrary(target, def?.codeSystem?.libraryName);
      const system = systemLib?.source?.library?.codeSystems?.def?.find((d) => d.name === def?.codeSystem?.name);
      if (!def || !system) return false;
      codes.push(tokenSearchValue(system.id, def.id));
      return true;
    }
    if (n.type === 'ToList' || n.type === 'ToConcept') return add(n.operand);
    if (n.type === 'List' && Array.isArray(n.element)) return n.element.every((e) => add(e));
    return false;
  };
  return add(retrieve.codes) ? { parameter, codes, valueSets } : undefined;
}

function resolveLibrary(lib: LibraryNode, alias: unknown): LibraryNode | undefined {
  if (typeof alias !== 'string') return lib;
  return lib.includes?.[alias];
}

/**
 * The codes the CQL evaluates a value set as: the version it pins, else the one cql-execution's code service
 * picks (the greatest version string), as token search values; undefined when not expanded here.
 */
function expansionOf(valueSets: ValueSetIndex, url: string, version: string | undefined): string[] | undefined {
  const versions = valueSets[url];
  if (!versions) return undefined;
  const chosen =
    version !== undefined
      ? version
      : Object.keys(versions).reduce<string | undefined>((a, b) => (a !== undefined && a > b ? a : b), undefined);
  const codes = chosen === undefined ? undefined : versions[chosen];
  if (!codes || codes.length === 0) return undefined;
  if (codes.some((c) => !c.system)) return undefined;
  return [...new Set(codes.map((c) => tokenSearchValue(c.system, c.code)))];
}

/** Every expression node of a library's ELM (annotations left out), depth first. */
function* elmNodes(elm: ElmLibrary | undefined): Generator<Record<string, unknown>> {
  const stack: unknown[] = [elm?.library];
  while (stack.length > 0) {
    const node = stack.pop();
    if (!node || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      stack.push(...node);
      continue;
    }
    const n = node as Record<string, unknown>;
    yield n;
    for (const [key, value] of Object.entries(n)) if (key !== 'annotation') stack.push(value);
  }
}

/** Every Retrieve of a library's ELM, wherever it sits in an expression. */
function* retrievesIn(elm: ElmLibrary | undefined): Generator<Record<string, unknown>> {
  for (const n of elmNodes(elm)) if (n.type === 'Retrieve') yield n;
}

/** A date search parameter's bounds, as FHIR dates (YYYY-MM-DD), already a day wider than the CQL's. */
interface DateBound {
  parameter: string;
  low?: string;
  high?: string;
}

/** Joins the bound of one more retrieve of `type`: every retrieve must be bounded on the same parameter. */
function addDateBound(type: string, bound: DateBound | null, dates: Map<string, DateBound | null>): void {
  if (!dates.has(type)) {
    dates.set(type, bound);
    return;
  }
  const before = dates.get(type)!;
  if (!before || !bound || before.parameter !== bound.parameter) {
    dates.set(type, null);
    return;
  }
  const low = before.low && bound.low ? (before.low < bound.low ? before.low : bound.low) : undefined;
  const high = before.high && bound.high ? (before.high > bound.high ? before.high : bound.high) : undefined;
  dates.set(type, low || high ? { parameter: bound.parameter, low, high } : null);
}

type ElmNode = Record<string, unknown>;

/** The date bounds of each Retrieve that is the one source of a Query bounding one of its date elements. */
function dateBoundsIn(elm: ElmLibrary | undefined): Map<unknown, DateBound> {
  const bounds = new Map<unknown, DateBound>();
  for (const n of elmNodes(elm)) {
    if (n.type !== 'Query' || !Array.isArray(n.source) || n.source.length !== 1) continue;
    const source = n.source[0] as { alias?: string; expression?: ElmNode };
    if (source.expression?.type === 'Retrieve' && typeof source.alias === 'string') {
      const bound = whereBound(n.where, source.alias, retrieveType(source.expression));
      if (bound) bounds.set(source.expression, bound);
    }
  }
  return bounds;
}

const LOWER = new Set(['GreaterOrEqual', 'Greater', 'SameOrAfter', 'After']);
const UPPER = new Set(['LessOrEqual', 'Less', 'SameOrBefore', 'Before']);

/** A bound every result of the query meets: from one conjunct of its `where` (the tightest on one parameter). */
function whereBound(where: unknown, alias: string, type: string): DateBound | undefined {
  const conjuncts: ElmNode[] = [];
  const flatten = (node: unknown): void => {
    const n = node as ElmNode | undefined;
    if (!n || typeof n !== 'object') return;
    if (n.type === 'And' && Array.isArray(n.operand)) n.operand.forEach(flatten);
    else conjuncts.push(n);
  };
  flatten(where);
  let bound: DateBound | undefined;
  for (const c of conjuncts) {
    const b = comparisonBound(c, alias, type);
    if (!b) continue;
    if (!bound) bound = b;
    else if (bound.parameter === b.parameter) {
      if (b.low && (!bound.low || b.low > bound.low)) bound.low = b.low;
      if (b.high && (!bound.high || b.high < bound.high)) bound.high = b.high;
    }
  }
  return bound;
}

function comparisonBound(c: ElmNode, alias: string, type: string): DateBound | undefined {
  const operands = Array.isArray(c.operand) ? (c.operand as ElmNode[]) : [];
  if (operands.length !== 2) return undefined;
  const op = String(c.type);
  // `same or before month of X` reaches to the end of X's month: bounds at a precision are widened to its unit.
  const unit = c.precision === undefined ? 'Day' : typeof c.precision === 'string' ? c.precision : '';
  if (!WIDENING[unit]) return undefined;
  const [a, b] = operands;
  const left = dateParameter(a, alias, type);
  const right = dateParameter(b, alias, type);
  if (LOWER.has(op) || UPPER.has(op)) {
    const parameter = left ?? right;
    if (!parameter || (left && right)) return undefined;
    // path >= date and date <= path both bound the path from below.
    const lower = LOWER.has(op) === Boolean(left);
    const date = literalDate(left ? b : a, lower ? 'low' : 'high', unit);
    if (!date) return undefined;
    return lower ? { parameter, low: shift(date, -1) } : { parameter, high: shift(date, 1) };
  }
  if ((op === 'In' || op === 'IncludedIn') && left && b?.type === 'Interval') {
    const low = literalDate(b.low, 'low', unit);
    const high = literalDate(b.high, 'high', unit);
    if (!low && !high) return undefined;
    return {
      parameter: left,
      ...(low ? { low: shift(low, -1) } : {}),
      ...(high ? { high: shift(high, 1) } : {}),
    };
  }
  return undefined;
}

/** Precisions a bound may be compared at (coarser ones widen the literal to their unit); others bound nothing. */
const WIDENING: Record<string, true> = {
  Year: true,
  Month: true,
  Day: true,
  Hour: true,
  Minute: true,
  Second: true,
  Millisecond: true,
};

/**
 * The conversions a date element may go through: System's and FHIRHelpers' (which take only a dateTime, date,
 * instant or Period). Other libraries' ToInterval (QICoreCommon, FHIRCommon) also make intervals of an Age or
 * Range, which the FHIR date parameters do not index: such a comparison bounds nothing.
 */
const CONVERSIONS = new Set(['ToDateTime', 'ToDate']);
const FHIR_HELPERS_CONVERSIONS = new Set(['ToDateTime', 'ToDate', 'ToInterval']);

/** The date search parameter of the element `node` reads of the query's alias, through conversions and casts. */
function dateParameter(node: ElmNode | undefined, alias: string, type: string): string | undefined {
  let n = node;
  for (let depth = 0; n && depth < 6; depth++) {
    if (n.type === 'As' || (typeof n.type === 'string' && CONVERSIONS.has(n.type) && !Array.isArray(n.operand)))
      n = n.operand as ElmNode;
    else if (
      n.type === 'FunctionRef' &&
      n.libraryName === 'FHIRHelpers' &&
      FHIR_HELPERS_CONVERSIONS.has(String(n.name)) &&
      Array.isArray(n.operand)
    )
      n = (n.operand as ElmNode[])[0];
    else break;
  }
  if (!n || n.type !== 'Property' || typeof n.path !== 'string' || n.path.includes('.')) return undefined;
  const source = n.source as ElmNode | undefined;
  const scoped = n.scope === alias || (source?.type === 'AliasRef' && source.name === alias);
  return scoped ? DATE_SEARCH_PARAMETERS[type]?.[n.path] : undefined;
}

/**
 * A Date or DateTime literal as YYYY-MM-DD: at its start (`low`) or its end (`high`) when it has no month or day,
 * so that `@2025` as an upper bound takes in all of 2025. undefined for anything but a literal.
 */
function literalDate(node: unknown, side: 'low' | 'high', unit = 'Day'): string | undefined {
  let n = node as ElmNode | undefined;
  if (n?.type === 'ToDateTime' && !Array.isArray(n.operand)) n = n.operand as ElmNode;
  if (!n || (n.type !== 'DateTime' && n.type !== 'Date')) return undefined;
  const part = (name: string): number | undefined => {
    const p = n[name] as ElmNode | undefined;
    if (p === undefined) return undefined;
    if (p.type !== 'Literal') return NaN;
    return Number(p.value);
  };
  const year = part('year');
  const month = part('month');
  const day = part('day');
  if (year === undefined || [year, month, day].some((v) => Number.isNaN(v))) return undefined;
  // Compared at year or month precision, only the year (and month) of the literal count.
  const m = unit === 'Year' ? undefined : month;
  const d = unit === 'Year' || unit === 'Month' ? undefined : day;
  if (side === 'low') return isoDay(year, m ?? 1, d ?? 1);
  if (m === undefined) return isoDay(year, 12, 31);
  return isoDay(year, m, d ?? new Date(Date.UTC(year, m, 0)).getUTCDate());
}

function isoDay(year: number, month: number, day: number): string | undefined {
  const t = Date.UTC(year, month - 1, day);
  if (!Number.isFinite(t) || year < 1 || year > 9999) return undefined;
  return new Date(t).toISOString().slice(0, 10);
}

/** A day earlier or later: time of day, precision and time zones of the CQL cannot then drop a resource. */
function shift(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}
