// The dashboard reads the server's existing JSON endpoints with the admin key held in this tab's
// sessionStorage, sent as a bearer header (never in a URL or a cookie).
const KEY_ITEM = 'cds-dashboard-admin-key';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface Api {
  get<T>(path: string, query?: Record<string, string | undefined>): Promise<T>;
  /** A JSON body sent with POST (e.g. acknowledging a drift alarm); the answer's JSON. */
  post<T>(path: string, body?: unknown): Promise<T>;
}

export const storedKey = (): string | null => sessionStorage.getItem(KEY_ITEM);
export const storeKey = (key: string): void => sessionStorage.setItem(KEY_ITEM, key);
export const forgetKey = (): void => sessionStorage.removeItem(KEY_ITEM);

export function queryString(query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, v);
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function answer<T>(res: Response): Promise<T> {
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { issue?: Array<{ diagnostics?: string }> };
      message = body.issue?.[0]?.diagnostics ?? message;
    } catch {
      // Not JSON: the status says enough.
    }
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
}

export function createApi(key: string): Api {
  const headers = { Authorization: `Bearer ${key}`, Accept: 'application/json' };
  return {
    async get<T>(path: string, query?: Record<string, string | undefined>): Promise<T> {
      const res = await fetch(`${path}${queryString(query)}`, { headers, credentials: 'omit', cache: 'no-store' });
      return answer<T>(res);
    },
    async post<T>(path: string, body?: unknown): Promise<T> {
      const res = await fetch(path, {
        method: 'POST',
        headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
      return answer<T>(res);
    },
  };
}
