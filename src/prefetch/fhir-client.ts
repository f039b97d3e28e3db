// The FHIR requests made when the EHR did not prefetch what a service needs.
// The access token is used for these requests only: never logged, stored or put in an error.

import { MAX_JSON_DEPTH, tooDeepAt } from '../json-depth.js';

export interface FhirFetchOptions {
  fhirServer: string;
  accessToken?: string;
  timeoutMs: number;
  maxPages: number;
  fetchImpl?: typeof fetch;
  /** Aborts every request of the call once the call's deadline has passed. */
  deadline?: AbortSignal;
  deadlineMs?: number;
  /** Most bytes of one answer, counted after decompression while it is read. */
  maxBytes?: number;
  /** What is left of the call's resource budget, shared by every request and page of the call. */
  resources?: ResourceBudget;
}

/** Resources fetched for one call, across every key and page, against a limit. */
export interface ResourceBudget {
  readonly limit: number;
  used: number;
}

export class FhirFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FhirFetchError';
  }
}

interface BundleLike {
  resourceType: 'Bundle';
  entry?: unknown[];
  link?: Array<{ relation?: string; url?: string }>;
  [key: string]: unknown;
}

/** GET a relative FHIR URL; a read that finds nothing is null; a paginated search is followed to the end. */
export async function fetchFhir(relativeUrl: string, options: FhirFetchOptions): Promise<unknown> {
  const base = options.fhirServer.replace(/\/+$/, '');
  const first = await get(`${base}/${relativeUrl.replace(/^\/+/, '')}`, options, true);
  if (!isBundle(first)) {
    if (first !== null) spend(options, 1);
    return first;
  }
  spend(options, entriesOf(first).length);
  return followPages(first, base, options, true);
}

/** Follows `next` links of a searchset Bundle (on the same FHIR server only) and merges the entries. */
export async function followPages(
  bundle: BundleLike,
  base: string,
  options: FhirFetchOptions,
  firstCounted = false,
): Promise<BundleLike> {
  if (!firstCounted) spend(options, entriesOf(bundle).length);
  if (reportsError(bundle)) throw new FhirFetchError('the search result holds an OperationOutcome reporting an error');
  const entries = [...entriesOf(bundle)];
  let page: BundleLike = bundle;
  for (let pages = 1; ; pages++) {
    const next = nextLink(page);
    if (!next) break;
    if (pages >= options.maxPages) throw new FhirFetchError(`search result has more than ${options.maxPages} pages`);
    if (!sameOrigin(next, base)) throw new FhirFetchError('a next link points outside the FHIR server');
    const following = await get(next, options, false);
    if (!isBundle(following)) throw new FhirFetchError('a next page is not a Bundle');
    spend(options, entriesOf(following).length);
    if (reportsError(following)) throw new FhirFetchError('a next page holds an OperationOutcome reporting an error');
    entries.push(...entriesOf(following));
    page = following;
  }
  const { link: _link, ...rest } = bundle;
  // `total` counts the search's matches (not _include-d resources): the server's own count when it gave one, so
  // that an answer holding fewer matches than it announces can be recognised (see search-shortfall.ts).
  const declared = bundle.total;
  const total =
    typeof declared === 'number' && Number.isSafeInteger(declared) && declared >= 0 ? declared : matchCount(entries);
  return { ...rest, ...(entries.length > 0 ? { entry: entries } : {}), total };
}

async function get(url: string, options: FhirFetchOptions, allowNotFound: boolean): Promise<unknown> {
  const headers: Record<string, string> = { Accept: 'application/fhir+json, application/json' };
  if (options.accessToken) headers.Authorization = `Bearer ${options.accessToken}`;
  const pastDeadline = (): FhirFetchError =>
    new FhirFetchError(`no answer within the call's deadline of ${options.deadlineMs} ms`);
  if (options.deadline?.aborted) throw pastDeadline();
  const perRequest = AbortSignal.timeout(options.timeoutMs);
  const signal = options.deadline ? AbortSignal.any([perRequest, options.deadline]) : perRequest;
  let response: Response;
  try {
    response = await (options.fetchImpl ?? fetch)(url, { headers, signal, redirect: 'error' });
  } catch (err) {
    if (options.deadline?.aborted) throw pastDeadline();
    const name = (err as Error).name;
    throw new FhirFetchError(
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${options.timeoutMs} ms`
        : 'the FHIR server could not be reached',
    );
  }
  if (response.status === 404 && allowNotFound && !url.includes('?')) {
    await response.body?.cancel();
    return null;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new FhirFetchError(`the FHIR server answered ${response.status}`);
  }
  let text: string;
  try {
    text = await readBounded(response, options.maxBytes);
  } catch (err) {
    if (err instanceof FhirFetchError) throw err;
    if (options.deadline?.aborted) throw pastDeadline();
    if (perRequest.aborted) throw new FhirFetchError(`no answer within ${options.timeoutMs} ms`);
    throw new FhirFetchError('the answer of the FHIR server could not be read');
  }
  if (tooDeepAt(text) >= 0)
    throw new FhirFetchError(`the FHIR server answered JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new FhirFetchError('the FHIR server answered with something that is not JSON');
  }
  if (!body || typeof body !== 'object' || typeof (body as { resourceType?: unknown }).resourceType !== 'string') {
    throw new FhirFetchError('the FHIR server answered with something that is not a FHIR resource');
  }
  if ((body as { resourceType: string }).resourceType === 'OperationOutcome')
    throw new FhirFetchError('the FHIR server answered with an OperationOutcome');
  return body;
}

/**
 * The answer's text, read chunk by chunk (fetch has already decompressed it): more than `maxBytes` aborts
 * the download there, so a small compressed answer that inflates without end costs at most the limit.
 */
async function readBounded(response: Response, maxBytes: number | undefined): Promise<string> {
  const limit = maxBytes ?? Number.POSITIVE_INFINITY;
  const tooLarge = () => new FhirFetchError(`the answer is larger than the limit of ${limit} bytes`);
  const declared = Number(response.headers.get('content-length'));
  if (!response.headers.get('content-encoding') && Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

/** Counts resources against the call's budget; past it, the data is more than one call may evaluate. */
function spend(options: FhirFetchOptions, count: number): void {
  const budget = options.resources;
  if (!budget) return;
  budget.used += count;
  if (budget.used > budget.limit)
    throw new FhirFetchError(`the call's FHIR answers hold more than the limit of ${budget.limit} resources`);
}

function isBundle(value: unknown): value is BundleLike {
  return !!value && typeof value === 'object' && (value as { resourceType?: unknown }).resourceType === 'Bundle';
}

function sameOrigin(url: string, base: string): boolean {
  try {
    const a = new URL(url);
    const b = new URL(base);
    const basePath = b.pathname.replace(/\/+$/, '');
    return (
      a.origin === b.origin && (basePath === '' || a.pathname === basePath || a.pathname.startsWith(`${basePath}/`))
    );
  } catch {
    return false;
  }
}

/**
 * Whether a Bundle carries an OperationOutcome with an error or fatal issue among its entries: how a FHIR server
 * (or an EHR, for a prefetch it could not complete) says that the search failed, in part or whole. Warnings and
 * information (e.g. an unknown parameter that was ignored) leave the data as it is.
 */
export function reportsError(bundle: unknown): boolean {
  if (!bundle || typeof bundle !== 'object' || (bundle as { resourceType?: unknown }).resourceType !== 'Bundle')
    return false;
  const entries = (bundle as { entry?: unknown }).entry;
  if (!Array.isArray(entries)) return false;
  return entries.some((entry) => {
    const resource = (entry as { resource?: { resourceType?: unknown; issue?: unknown } } | null)?.resource;
    if (resource?.resourceType !== 'OperationOutcome' || !Array.isArray(resource.issue)) return false;
    return resource.issue.some((issue: unknown) => {
      const severity = (issue as { severity?: unknown } | null)?.severity;
      return severity === 'error' || severity === 'fatal';
    });
  });
}

/** Entries that match the search: every entry but those marked `include` or `outcome`. */
export function matchCount(entries: unknown[]): number {
  let count = 0;
  for (const entry of entries) {
    const mode = (entry as { search?: { mode?: unknown } } | null)?.search?.mode;
    if (mode !== 'include' && mode !== 'outcome') count++;
  }
  return count;
}

function entriesOf(bundle: BundleLike): unknown[] {
  return Array.isArray(bundle.entry) ? bundle.entry : [];
}

function nextLink(bundle: BundleLike): string | undefined {
  if (!Array.isArray(bundle.link)) return undefined;
  const next = bundle.link.find((l) => !!l && typeof l === 'object' && l.relation === 'next');
  if (!next) return undefined;
  // More pages without a way to them: the rest of the search cannot be had.
  if (typeof next.url !== 'string' || next.url === '') throw new FhirFetchError('a next link has no url to follow');
  return next.url;
}
