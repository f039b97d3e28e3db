// Prefetch filled from a patient's record in a file rather than from a FHIR server: `cds request`
// and the fixture generator fill each prefetch template of a service as an EHR would. The FHIR
// search is the subset the prefetch templates of CDS services use (patient, code, status, ...).
import { badRequest } from '../errors.js';
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

/** The search parameters understood, by name. */
export const LOCAL_SEARCH_PARAMETERS = [
  'patient',
  'subject',
  '_id',
  'code',
  'status',
  'clinical-status',
  'verification-status',
  'category',
  'intent',
  '_sort',
  '_count',
  '_include',
] as const;

const SORTS = ['-date', '-started', '-authoredon', '-onset-date', '-recorded-date'];

/** Runs one FHIR search over a patient's resources; `fhirBase` is used for the Bundle's URLs. */
export function searchResources(query: string, resources: LocalResource[], fhirBase: string): LocalBundle {
  const [type, qs = ''] = query.split('?');
  let matches = resources.filter((r) => r.resourceType === type);
  let count: number | undefined;
  let sortDesc = false;
  let include: string | undefined;
  for (const part of qs.split('&').filter(Boolean)) {
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq) : part;
    const values = decodeURIComponent(eq >= 0 ? part.slice(eq + 1) : '').split(',');
    switch (name) {
      case 'patient':
      case 'subject':
        matches = matches.filter((r) =>
          values.some((v) => referenceOf(r.subject ?? r.patient) === `Patient/${v.replace(/^Patient\//, '')}`),
        );
        break;
      case '_id':
        matches = matches.filter((r) => values.includes(r.id));
        break;
      case 'code':
        matches = matches.filter((r) => tokenMatches(codingsOf(r.code), values));
        break;
      case 'status':
      case 'intent':
        matches = matches.filter((r) => values.includes(r[name] as string));
        break;
      case 'clinical-status':
        matches = matches.filter((r) => tokenMatches(codingsOf(r.clinicalStatus), values));
        break;
      case 'verification-status':
        matches = matches.filter((r) => tokenMatches(codingsOf(r.verificationStatus), values));
        break;
      case 'category':
        matches = matches.filter((r) =>
          tokenMatches(
            (Array.isArray(r.category) ? r.category : [r.category]).flatMap((c) => codingsOf(c)),
            values,
          ),
        );
        break;
      case '_include':
        include = values[0];
        break;
      case '_sort':
        if (!SORTS.includes(values[0]))
          throw badRequest(`_sort=${values[0]} cannot be applied to a local record (${SORTS.join(', ')} can)`);
        sortDesc = true;
        break;
      case '_count':
        count = Number(values[0]);
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
    out[key] = searchResources(query, resources, fhirBase);
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

function codingsOf(concept: unknown): Coding[] {
  const coding = (concept as { coding?: unknown } | undefined)?.coding;
  return Array.isArray(coding) ? (coding as Coding[]) : [];
}

function tokenMatches(codings: Coding[], wanted: string[]): boolean {
  return wanted.some((w) => {
    const bar = w.lastIndexOf('|');
    const system = bar >= 0 ? w.slice(0, bar) : undefined;
    const code = bar >= 0 ? w.slice(bar + 1) : w;
    return codings.some((c) => c.code === code && (system === undefined || system === '' || c.system === system));
  });
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
