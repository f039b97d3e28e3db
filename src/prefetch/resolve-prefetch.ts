// Completes a request's prefetch key by key: present values are used as sent, null means "no data",
// absent keys and OperationOutcome values are fetched from fhirServer; what cannot be had → 412.
import { prefetchUnavailable, type Issue } from '../errors.js';
import { isResource } from '../fhir/index.js';
import type { HookRequest } from '../hooks/index.js';
import { fetchFhir, followPages, FhirFetchError, reportsError } from './fhir-client.js';
import { askedCount, shortfallOf, type PrefetchShortfall } from './search-shortfall.js';
import { fillTemplate } from './template.js';

export type PrefetchStatus = 'sent' | 'null' | 'fetched' | 'no-token-value';

export interface PrefetchResult {
  data: Record<string, unknown>;
  status: Record<string, PrefetchStatus>;
  /** Searches that held fewer matches than they announced and than were asked for (see search-shortfall.ts). */
  shortfalls?: PrefetchShortfall[];
}

export interface PrefetchOptions {
  timeoutMs: number;
  maxPages: number;
  fetchImpl?: typeof fetch;
  /** Time limit for all FHIR requests of one call together, in milliseconds. */
  deadlineMs?: number;
  /** Origins the caller may name as fhirServer (exact match); undefined allows any. */
  allowedFhirServers?: string[];
  /** Most bytes of one FHIR answer, decompressed. */
  maxBytes?: number;
  /** Most resources fetched for one call, across every key and page. */
  maxResources?: number;
  /** Read referenced Medications the call did not carry from fhirServer (CDS_MEDICATION_FETCH). */
  fetchMedications?: boolean;
}

export async function resolvePrefetch(
  templates: Record<string, string> | undefined,
  request: HookRequest,
  options: PrefetchOptions,
): Promise<PrefetchResult> {
  const data: Record<string, unknown> = {};
  const status: Record<string, PrefetchStatus> = {};
  const sent = request.prefetch ?? {};
  const issues: Issue[] = [];
  const shortfalls: PrefetchShortfall[] = [];
  const serverAllowed =
    request.fhirServer !== undefined && isAllowedServer(request.fhirServer, options.allowedFhirServers);
  const deadline =
    options.deadlineMs !== undefined
      ? { deadline: AbortSignal.timeout(options.deadlineMs), deadlineMs: options.deadlineMs }
      : {};
  const fhir =
    request.fhirServer && serverAllowed
      ? {
          fhirServer: request.fhirServer,
          accessToken: request.fhirAuthorization?.access_token,
          timeoutMs: options.timeoutMs,
          maxPages: options.maxPages,
          fetchImpl: options.fetchImpl,
          maxBytes: options.maxBytes,
          ...(options.maxResources !== undefined ? { resources: { limit: options.maxResources, used: 0 } } : {}),
          ...deadline,
        }
      : undefined;

  await Promise.all(
    Object.entries(templates ?? {}).map(async ([key, template]) => {
      const value = Object.hasOwn(sent, key) ? sent[key] : undefined;
      if (value === null) {
        data[key] = null;
        status[key] = 'null';
        return;
      }
      // An OperationOutcome, or a Bundle holding one that reports an error, says the EHR could not get the data.
      const usable = isResource(value) && !isOperationOutcome(value) && !reportsError(value);
      const asked = askedCount(template);
      if (usable && !hasNextPage(value)) {
        const short = shortfallOf(value, asked);
        data[key] = value;
        status[key] = 'sent';
        if (short) await completeShort(key, template, value, short, 'ehr');
        return;
      }
      const url = usable ? undefined : fillTemplate(template, request.context);
      if (!usable && url === undefined) {
        // A token without a value (e.g. {{userPractitionerRoleId}} for a Practitioner user): no such data exists.
        data[key] = null;
        status[key] = 'no-token-value';
        return;
      }
      if (!fhir) {
        if (usable) {
          // A paginated Bundle with nowhere to fetch the rest: deciding on its first page could miss what matters.
          issues.push({
            severity: 'error',
            code: 'incomplete',
            diagnostics: request.fhirServer
              ? `prefetch key '${key}' is a search with more pages and the request's fhirServer is not one this client may name`
              : `prefetch key '${key}' is a search with more pages (a next link) and the request has no fhirServer to follow it`,
            expression: [`prefetch.${key}`],
          });
          return;
        }
        issues.push({
          severity: 'error',
          code: 'not-found',
          diagnostics: request.fhirServer
            ? `prefetch key '${key}' is ${describe(value)} and the request's fhirServer is not one this client may name`
            : `prefetch key '${key}' is ${describe(value)} and the request has no fhirServer to fetch it from`,
          expression: [`prefetch.${key}`],
        });
        return;
      }
      let got: unknown;
      try {
        got = usable
          ? await followPages(value as never, fhir.fhirServer.replace(/\/+$/, ''), fhir)
          : await fetchFhir(url!, fhir);
      } catch (err) {
        if (!(err instanceof FhirFetchError)) throw err;
        issues.push({
          severity: 'error',
          code: 'not-found',
          diagnostics: `prefetch key '${key}' could not be fetched from fhirServer: ${err.message}`,
          expression: [`prefetch.${key}`],
        });
        return;
      }
      data[key] = got;
      status[key] = 'fetched';
      const short = shortfallOf(got, asked);
      if (short) await completeShort(key, template, got, short, usable ? 'ehr' : 'fhir-server');
    }),
  );

  /**
   * A search that holds fewer matches than it says there are, with no next link: fetched from fhirServer when the
   * request names one this client may use (once more as the template says, then once asking for every match in
   * one page); otherwise, or when that fails or falls short again, what there is is evaluated and the shortfall
   * is reported.
   */
  async function completeShort(
    key: string,
    template: string,
    had: unknown,
    short: { got: number; total: number },
    from: PrefetchShortfall['from'],
  ): Promise<void> {
    const asked = askedCount(template);
    const report = (resolution: PrefetchShortfall['resolution'], of = short) =>
      shortfalls.push({ key, from, asked: asked ?? 'all', got: of.got, total: of.total, resolution });
    const url = fhir ? fillTemplate(template, request.context) : undefined;
    if (!fhir || url === undefined) return void report('evaluated-with-part');
    let best = { value: had, short: short as { got: number; total: number } | undefined };
    const attempts = from === 'ehr' ? [url] : [];
    // Without a _count of its own the template asks for every match: ask for them in one page, within the budget.
    const left = fhir.resources ? fhir.resources.limit - fhir.resources.used : Number.POSITIVE_INFINITY;
    if (asked === undefined && url.includes('?') && short.total <= left) attempts.push(`${url}&_count=${short.total}`);
    for (const attempt of attempts) {
      try {
        const value = await fetchFhir(attempt, fhir);
        const again = shortfallOf(value, asked);
        if (!again || again.got > (best.short?.got ?? Number.POSITIVE_INFINITY)) best = { value, short: again };
      } catch (err) {
        if (!(err instanceof FhirFetchError)) throw err;
      }
      if (!best.short) break;
    }
    if (best.value !== had) {
      data[key] = best.value;
      status[key] = 'fetched';
    }
    if (best.short) report('evaluated-with-part', best.short);
    else report('fetched-in-full');
  }
  if (issues.length > 0) {
    throw prefetchUnavailable(issues);
  }
  return { data, status, ...(shortfalls.length > 0 ? { shortfalls } : {}) };
}

export function isAllowedServer(fhirServer: string, allowed: string[] | undefined): boolean {
  if (allowed === undefined) return true;
  try {
    return allowed.includes(new URL(fhirServer).origin);
  } catch {
    return false;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (isOperationOutcome(value)) return 'an OperationOutcome';
  if (reportsError(value)) return 'a Bundle holding an OperationOutcome that reports an error';
  return 'not a FHIR resource';
}

function isOperationOutcome(value: unknown): boolean {
  return (
    !!value && typeof value === 'object' && (value as { resourceType?: unknown }).resourceType === 'OperationOutcome'
  );
}

function hasNextPage(value: unknown): boolean {
  const v = value as { resourceType?: unknown; link?: Array<{ relation?: string }> };
  return v?.resourceType === 'Bundle' && Array.isArray(v.link) && v.link.some((l) => l?.relation === 'next');
}
