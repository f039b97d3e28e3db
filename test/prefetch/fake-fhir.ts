// A fake FHIR server for prefetch tests: answers from a table of absolute URLs and records every
// request it receives, so a test can assert exactly what was (and was not) fetched.

export interface RecordedCall {
  url: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  redirect: RequestRedirect | undefined;
}

/** Answers one request; receives the request's AbortSignal. */
export type Handler = (signal: AbortSignal | undefined) => Promise<Response>;

export interface FakeFhir {
  fetchImpl: typeof fetch;
  calls: RecordedCall[];
  urls: () => string[];
}

export function fhirJson(body: unknown, status = 200): Handler {
  return () =>
    Promise.resolve(
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/fhir+json' } }),
    );
}

export function status(code: number, body = ''): Handler {
  return () => Promise.resolve(new Response(body, { status: code, headers: { 'content-type': 'text/plain' } }));
}

export function networkError(message: string): Handler {
  return () => Promise.reject(new TypeError(message));
}

/** Never answers; rejects with the signal's reason once the caller aborts, as fetch does. */
export const hang: Handler = (signal) =>
  new Promise<Response>((_resolve, reject) => {
    if (!signal) return;
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });

export function fakeFhir(routes: Record<string, Handler>): FakeFhir {
  const calls: RecordedCall[] = [];
  const fetchImpl: typeof fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    calls.push({ url, headers, redirect: init?.redirect });
    const handler = routes[url];
    if (!handler) return Promise.reject(new TypeError(`fake FHIR server has no answer for ${url}`));
    return handler(init?.signal ?? undefined);
  };
  return { fetchImpl, calls, urls: () => calls.map((c) => c.url) };
}

export function bundle(
  type: string,
  resources: Array<Record<string, unknown>>,
  next?: string,
): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type,
    ...(next
      ? {
          link: [
            { relation: 'self', url: 'https://self.invalid/ignored' },
            { relation: 'next', url: next },
          ],
        }
      : {}),
    ...(resources.length > 0 ? { entry: resources.map((resource) => ({ resource })) } : {}),
  };
}

export function entryIds(value: unknown): string[] {
  const entries = (value as { entry?: Array<{ resource: { id: string } }> }).entry ?? [];
  return entries.map((e) => e.resource.id);
}
