// Prefetch filled from a patient's record in a file rather than from a FHIR server: `cds request`
// and the fixture generator fill each prefetch template of a service as an EHR would. The FHIR
// search is the subset the prefetch templates of CDS services use (patient, code, status, ...).
import { badRequest } from '../errors.js';
import { DATE_SEARCH_PARAMETERS, dateSearchElements, PATIENT_SEARCH_PARAMETERS } from '../fhir/index.js';
import { parseTokenValue, splitSearchValue, unescapeSearchValue } from './search-value.js';
import { fillTemplate } from './template.js';

export interface LocalResource {
  resourceType: string;
  id: string;
  [key: string]: unknown;
}

export interface LocalBundle {
  resourceType: 'Bundle';
  type: string;
  link?: Array<{ relation: string; url: string }>;
  entry: Array<{ fullUrl?: string; resource: LocalResource; search?: { mode: 'match' | 'include' } }>;
}

type Coding = { system?: string; code?: string };

/** Value sets by url and version, each its expanded codes (the shape of the knowledge's value set index). */
export type LocalValueSets = Record<string, Record<string, Array<{ system?: string; code: string }>>>;

export interface LocalSearchOptions {
  /** The value sets `:in` is evaluated against. */
  valueSets?: LocalValueSets;
}

/** Token search parameters and the element each searches (FHIR R4 search parameters of the resource types used). */
const TOKEN_PARAMETERS: Record<string, string[]> = {
  code: ['code', 'medicationCodeableConcept'],
  'vaccine-code': ['vaccineCode'],
  type: ['type'],
  category: ['category'],
  'clinical-status': ['clinicalStatus'],
  'verification-status': ['verificationStatus'],
};

/** A date search value: its prefix and the instants its precision covers, [start, end). */
interface DateValue {
  prefix: 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le';
  start: number;
  end: number;
}

const DATE_VALUE =
  /^(eq|ne|gt|lt|ge|le)?(\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?)$/;

function parseDateValue(value: string, name: string): DateValue {
  const m = DATE_VALUE.exec(value);
  const range = m ? instantRange(m[2]) : undefined;
  if (!m || !range)
    throw badRequest(`${name}=${value} is not a FHIR date search value (a prefix eq, gt, lt, ge, le, then a date)`);
  return { prefix: (m[1] ?? 'eq') as DateValue['prefix'], ...range };
}

/** The instants a FHIR date, dateTime or instant covers at its precision (UTC when it has no zone). */
function instantRange(text: string): { start: number; end: number } | undefined {
  const [date, time] = text.split('T');
  const [y, mo, d] = date.split('-').map(Number);
  if (!time) {
    const start = Date.UTC(y, (mo ?? 1) - 1, d ?? 1);
    const end =
      d !== undefined ? Date.UTC(y, mo - 1, d + 1) : mo !== undefined ? Date.UTC(y, mo, 1) : Date.UTC(y + 1, 0, 1);
    return Number.isFinite(start) ? { start, end } : undefined;
  }
  const zoned = /Z|[+-]\d{2}:\d{2}$/.test(time) ? text : `${text}Z`;
  const start = Date.parse(zoned);
  if (!Number.isFinite(start)) return undefined;
  const seconds = /:\d{2}:\d{2}/.test(time);
  return { start, end: start + (seconds ? 1000 : 60_000) };
}

/** The ranges of a resource's date element: a date or dateTime at its precision, a Period (open ends unbounded). */
function dateRangesOf(r: LocalResource, element: string): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  for (const [key, value] of Object.entries(r)) {
    if (key !== element && !(key.startsWith(element) && /^[A-Z]/.test(key.slice(element.length)))) continue;
    if (typeof value === 'string') {
      const range = instantRange(value);
      if (range) out.push(range);
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      const p = value as { start?: unknown; end?: unknown };
      const start = typeof p.start === 'string' ? instantRange(p.start)?.start : undefined;
      const end = typeof p.end === 'string' ? instantRange(p.end)?.end : undefined;
      if (p.start !== undefined || p.end !== undefined) out.push({ start: start ?? -Infinity, end: end ?? Infinity });
    }
  }
  return out;
}

/** FHIR R4 date search semantics: the resource's range against the search value's range. */
function dateMatches(range: { start: number; end: number }, w: DateValue): boolean {
  switch (w.prefix) {
    case 'eq':
      return range.start >= w.start && range.end <= w.end;
    case 'ne':
      return !(range.start >= w.start && range.end <= w.end);
    case 'gt':
      return range.end > w.end;
    case 'lt':
      return range.start < w.start;
    case 'ge':
      return range.end > w.start;
    case 'le':
      return range.start < w.end;
  }
}

/** The search parameters understood, by name. */
export const LOCAL_SEARCH_PARAMETERS = [
  'patient',
  'subject',
  '_id',
  ...Object.keys(TOKEN_PARAMETERS),
  ...Object.keys(TOKEN_PARAMETERS).map((p) => `${p}:in`),
  ...new Set(Object.values(DATE_SEARCH_PARAMETERS).flatMap((byElement) => Object.values(byElement))),
  'status',
  'intent',
  '_sort',
  '_count',
  '_include',
] as const;

const SORTS = ['-date', '-started', '-authoredon', '-onset-date', '-recorded-date'];

/** Runs one FHIR search over a patient's resources; `fhirBase` is used for the Bundle's URLs. */
export function searchResources(
  query: string,
  resources: LocalResource[],
  fhirBase: string,
  options: LocalSearchOptions = {},
): LocalBundle {
  const [type, qs = ''] = query.split('?');
  let matches = resources.filter((r) => r.resourceType === type);
  let count: number | undefined;
  let sortDesc = false;
  let include: string | undefined;
  for (const part of qs.split('&').filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq) : part;
    const values = splitSearchValue(decoded(eq >= 0 ? part.slice(eq + 1) : '', name), ',');
    const plain = values.map(unescapeSearchValue);
    const [parameter, modifier] = name.split(':');
    if (TOKEN_PARAMETERS[parameter] && (modifier === undefined || modifier === 'in')) {
      const elements = TOKEN_PARAMETERS[parameter];
      const codings = (r: LocalResource) => elements.flatMap((e) => conceptsOf(r[e]).flatMap(codingsOf));
      if (modifier === 'in') {
        const members = values.map((v) => valueSetCodes(v, options.valueSets));
        matches = matches.filter((r) => codings(r).some((c) => members.some((m) => inValueSet(c, m))));
      } else {
        const wanted = values.map(parseTokenValue);
        matches = matches.filter((r) => tokenMatches(codings(r), wanted));
      }
      continue;
    }
    const dateElements = modifier === undefined ? dateSearchElements(type, parameter) : [];
    if (dateElements.length > 0) {
      // Values of one parameter are alternatives; the parameter repeated (ge…&le…) must all hold.
      const wanted = plain.map((v) => parseDateValue(v, name));
      matches = matches.filter((r) => {
        const ranges = dateElements.flatMap((e) => dateRangesOf(r, e));
        return wanted.some((w) => ranges.some((range) => dateMatches(range, w)));
      });
      continue;
    }
    switch (name) {
      case 'patient':
      case 'subject':
        matches = matches.filter((r) => {
          const refs = patientReferences(r);
          return plain.some((v) => refs.includes(`Patient/${v.replace(/^Patient\//, '')}`));
        });
        break;
      case '_id':
        matches = matches.filter((r) => plain.includes(r.id));
        break;
      case 'status':
      case 'intent':
        matches = matches.filter((r) => plain.includes(r[name] as string));
        break;
      case '_include':
        include = plain[0];
        break;
      case '_sort':
        if (!SORTS.includes(plain[0]))
          throw badRequest(`_sort=${plain[0]} cannot be applied to a local record (${SORTS.join(', ')} can)`);
        sortDesc = true;
        break;
      case '_count':
        count = Number(plain[0]);
        break;
      default:
        throw badRequest(
          `search parameter '${name}' of ${type} cannot be applied to a local record ` +
            `(${LOCAL_SEARCH_PARAMETERS.join(', ')} can)`,
        );
    }
  }
  if (sortDesc) matches = [...matches].sort((a, b) => sortTime(b) - sortTime(a));
  if (count !== undefined) matches = matches.slice(0, count);
  const included = include ? includedBy(include, type, matches, resources) : [];
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    link: [{ relation: 'self', url: encodeURI(`${fhirBase}/${query}`) }],
    entry: [
      ...matches.map((resource) => ({
        fullUrl: `${fhirBase}/${resource.resourceType}/${resource.id}`,
        resource,
        search: { mode: 'match' as const },
      })),
      ...included.map((resource) => ({
        fullUrl: `${fhirBase}/${resource.resourceType}/${resource.id}`,
        resource,
        search: { mode: 'include' as const },
      })),
    ],
  };
}

/**
 * The prefetch object an EHR would send: for each template, the resource read (or null) or the
 * searchset Bundle; null for a template whose token has no value (as the server itself does).
 */
export function prefetchFromResources(
  templates: Record<string, string>,
  resources: LocalResource[],
  context: Record<string, unknown>,
  fhirBase: string,
  options: LocalSearchOptions = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, template] of Object.entries(templates)) {
    const query = fillTemplate(template, context);
    if (query === undefined) {
      out[key] = null;
      continue;
    }
    if (!query.includes('?')) {
      const [type, id] = query.split('/');
      out[key] = resources.find((r) => r.resourceType === type && r.id === decodeURIComponent(id ?? '')) ?? null;
      continue;
    }
    out[key] = searchResources(query, resources, fhirBase, options);
  }
  return out;
}

/** `_include=Type:param`: the resources the matches reference through `param` (`medication`: medicationReference). */
function includedBy(
  include: string,
  type: string,
  matches: LocalResource[],
  resources: LocalResource[],
): LocalResource[] {
  const [source, parameter] = include.split(':');
  if (source !== type || parameter !== 'medication')
    throw badRequest(`_include=${include} cannot be applied to a local record (Type:medication can)`);
  const wanted = new Set(matches.map((r) => referenceOf(r.medicationReference)).filter((r) => r !== undefined));
  return resources.filter((r) => wanted.has(`${r.resourceType}/${r.id}`));
}

function referenceOf(value: unknown): string | undefined {
  return (value as { reference?: string } | undefined)?.reference;
}

/** The references the type's patient search parameter searches (FHIR R4), else `subject` or `patient`. */
function patientReferences(r: LocalResource): string[] {
  const paths = PATIENT_SEARCH_PARAMETERS[r.resourceType]?.paths ?? ['subject', 'patient'];
  const out: string[] = [];
  for (const path of paths) {
    let values: unknown[] = [r];
    for (const step of path.split('.'))
      values = values.flatMap((v) => conceptsOf((v as Record<string, unknown> | null)?.[step]));
    for (const v of values) {
      const ref = referenceOf(v);
      if (ref !== undefined) out.push(ref);
    }
  }
  return out;
}

function conceptsOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function codingsOf(concept: unknown): Coding[] {
  const coding = (concept as { coding?: unknown } | undefined)?.coding;
  return Array.isArray(coding) ? (coding as Coding[]).filter((c) => !!c && typeof c === 'object') : [];
}

/** FHIR token matching: no system given matches any; an empty system matches codings without one. */
function tokenMatches(codings: Coding[], wanted: Array<{ system?: string; code: string }>): boolean {
  return wanted.some((w) =>
    codings.some(
      (c) => c.code === w.code && (w.system === undefined || (w.system === '' ? !c.system : c.system === w.system)),
    ),
  );
}

/** The codes of the value set `url` or `url|version` (every version when none is named). */
function valueSetCodes(value: string, valueSets: LocalValueSets | undefined): Set<string> {
  const [url, version] = splitSearchValue(value, '|').map(unescapeSearchValue);
  const versions = valueSets?.[url];
  const chosen = versions && (version === undefined ? Object.values(versions) : [versions[version]]);
  if (!chosen || chosen.some((codes) => codes === undefined))
    throw badRequest(`value set ${value} of a :in search is not among the loaded value sets`);
  return new Set(chosen.flat().map((c) => `${c.system ?? ''}|${c.code}`));
}

function inValueSet(coding: Coding, members: Set<string>): boolean {
  if (coding.code === undefined) return false;
  return members.has(`${coding.system ?? ''}|${coding.code}`) || members.has(`|${coding.code}`);
}

function decoded(value: string, name: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw badRequest(`the value of search parameter '${name}' is not percent-encoded correctly`);
  }
}

function sortTime(r: LocalResource): number {
  const t = (r.effectiveDateTime ??
    r.started ??
    r.authoredOn ??
    r.recordedDate ??
    r.onsetDateTime ??
    r.issued ??
    (r.period as { start?: string } | undefined)?.start) as string | undefined;
  return t ? Date.parse(t) : 0;
}
