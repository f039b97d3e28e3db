// A prefetch search whose answer holds fewer matches than the query asked for while the answer itself says
// there are more (`Bundle.total`) and gives no `next` link to them: an EHR that cut the search at its own page
// size, or a FHIR server that did. Deciding on part of a record can miss what matters, so the server fetches the
// search itself when it can and otherwise evaluates what it has and says so (trace and log, by key only).
import { matchCount } from './fhir-client.js';

export interface PrefetchShortfall {
  /** The prefetch key (never a value of it). */
  key: string;
  /** Where the short answer came from: the EHR's prefetch, or this server's own request to `fhirServer`. */
  from: 'ehr' | 'fhir-server';
  /** The template's `_count`, or `all` when it asks for every match. */
  asked: number | 'all';
  /** Matches the short answer held. */
  got: number;
  /** Matches the short answer announced (`Bundle.total`). */
  total: number;
  /**
   * `fetched-in-full`: the server fetched the search from `fhirServer` and evaluated every match;
   * `evaluated-with-part`: it could not (no `fhirServer` it may use, a failing or again short answer) and
   * evaluated what it had, so rules may not fire that would on the whole record.
   */
  resolution: 'fetched-in-full' | 'evaluated-with-part';
}

/** The `_count` a template asks for; undefined when it asks for every match. */
export function askedCount(template: string): number | undefined {
  const query = template.split('?')[1];
  if (query === undefined) return undefined;
  for (const part of query.split('&')) {
    const [name, value] = part.split('=');
    if (name === '_count' && value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  return undefined;
}

/**
 * How a searchset falls short of what was asked: its matches are fewer than both its `total` and the asked
 * `_count`. Undefined for anything else (a read, a Bundle without `total`, a complete search, a search cut at
 * the asked `_count` as asked). An answer holding more than asked is never short: the CQL filters again.
 */
export function shortfallOf(value: unknown, asked: number | undefined): { got: number; total: number } | undefined {
  const bundle = value as { resourceType?: unknown; type?: unknown; total?: unknown; entry?: unknown } | null;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle') return undefined;
  if (bundle.type !== undefined && bundle.type !== 'searchset') return undefined;
  const total = bundle.total;
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0) return undefined;
  const got = matchCount(Array.isArray(bundle.entry) ? bundle.entry : []);
  if (got >= total || (asked !== undefined && got >= asked)) return undefined;
  return { got, total };
}
