// Verifies the JWT a CDS client sends with every call (CDS Hooks 2.0.1 "Trusting CDS Clients" and
// the best-practice steps): trusted iss, allowlisted jku, asymmetric alg, signature by the client's
// key, aud = the endpoint invoked, exp / iat with a small skew, bounded lifetime, tenant, jti once.
import { hasControlCharacter } from '../text.js';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTHeaderParameters,
  type FlattenedJWSInput,
  type JWTPayload,
} from 'jose';
import type { JtiStore } from './replay.js';
import type { TrustedClient } from './trusted-clients.js';

/** Asymmetric algorithms only: `none` and every HS* are never accepted (alg confusion). */
export const ACCEPTED_ALGORITHMS = ['ES384', 'RS384', 'ES256', 'ES512', 'RS256', 'RS512', 'PS256', 'PS384', 'PS512'];

/** The calling client as far as the server trusts it: put on res.locals.client, kept with its calls and feedback. */
export interface VerifiedClient {
  iss: string;
  tenant?: string;
}

/** Why a token was refused: for the server's log only, never for the caller. */
export class AuthFailure extends Error {
  constructor(
    readonly reason: string,
    readonly detail: { iss?: string; kid?: string; jti?: string; expectedAudience?: string[] } = {},
  ) {
    super(reason);
    this.name = 'AuthFailure';
  }
}

export interface TokenVerifierOptions {
  clients: TrustedClient[];
  jtiStore: JtiStore;
  /** Tolerated clock difference for exp and iat, in seconds. */
  clockSkewS: number;
  /** Longest accepted token lifetime (exp - iat), in seconds; also how long a jti is remembered. */
  maxLifetimeS: number;
  clock?: () => Date;
  /** The fetch used to get JWK Sets from allowlisted jku URLs. */
  fetchImpl?: typeof fetch;
  /** Least time between two fetches of one JWK Set triggered by unknown kids (jose's cooldown). */
  jwksCooldownMs?: number;
  jwksTimeoutMs?: number;
}

/** Where a call was sent: what a token's `aud` may name, as each client's `audiences` allow. */
export interface AudienceTarget {
  /** The URL of the endpoint invoked: the public base URL + the path. */
  endpoint: string;
  /** The server's public base URL. */
  base: string;
}

export interface TokenVerifier {
  /**
   * Resolves the verified caller, or rejects with AuthFailure. `audience` is the URL of the endpoint
   * invoked, or the endpoint and the base URL (needed by clients whose `audiences` allow the base forms).
   */
  verify(token: string, audience: string | AudienceTarget): Promise<VerifiedClient>;
  client(iss: string): TrustedClient | undefined;
}

type KeyLookup = (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

interface ClientKeys {
  client: TrustedClient;
  local?: KeyLookup;
  /** Normalised jku URL → its cached remote key set. */
  remote: Map<string, KeyLookup>;
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const clock = options.clock ?? (() => new Date());
  const byIssuer = new Map<string, ClientKeys>();
  for (const client of options.clients) {
    const remote = new Map<string, KeyLookup>();
    for (const url of client.jku ?? []) {
      const href = normaliseUrl(url);
      if (!href) continue;
      remote.set(
        href,
        createRemoteJWKSet(new URL(href), {
          cooldownDuration: options.jwksCooldownMs ?? 30_000,
          timeoutDuration: options.jwksTimeoutMs ?? 3_000,
          ...(options.fetchImpl ? { [customFetch]: options.fetchImpl } : {}),
        }),
      );
    }
    byIssuer.set(client.iss, { client, remote, ...(client.jwks ? { local: createLocalJWKSet(client.jwks) } : {}) });
  }

  async function verify(token: string, audience: string | AudienceTarget): Promise<VerifiedClient> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      throw new AuthFailure('the bearer token is not a well-formed JWT');
    }
    // Untrusted values, used only to pick the client and to say in the log what was refused.
    const detail = { iss: clip(unverified.iss), kid: clip(header.kid) };
    if (typeof header.alg !== 'string' || !ACCEPTED_ALGORITHMS.includes(header.alg)) {
      throw new AuthFailure(`alg ${JSON.stringify(clip(header.alg) ?? null)} is not accepted`, detail);
    }
    if (header.typ !== undefined && String(header.typ).toUpperCase() !== 'JWT') {
      throw new AuthFailure(`typ ${JSON.stringify(clip(header.typ))} is not JWT`, detail);
    }
    const keys = typeof unverified.iss === 'string' ? byIssuer.get(unverified.iss) : undefined;
    if (!keys) throw new AuthFailure('iss is not a trusted client', detail);
    // A client configured with keys only (no jku list) has its keys pinned: a jku in the token is
    // then ignored, never fetched. A client with a jku list must name one of them, or none.
    if (header.jku !== undefined && keys.remote.size > 0) {
      const href = typeof header.jku === 'string' ? normaliseUrl(header.jku) : undefined;
      if (!href || !keys.remote.has(href))
        throw new AuthFailure(`jku ${JSON.stringify(clip(header.jku))} is not on the client's allowlist`, detail);
    }

    const now = clock();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keyLookup(keys), {
        algorithms: ACCEPTED_ALGORITHMS,
        issuer: keys.client.iss,
        requiredClaims: ['iss', 'aud', 'exp', 'iat', 'jti'],
        currentDate: now,
        clockTolerance: options.clockSkewS,
        maxTokenAge: options.maxLifetimeS,
      }));
    } catch (err) {
      throw new AuthFailure(describeJoseFailure(err), detail);
    }

    const expected = expectedAudiences(keys.client, typeof audience === 'string' ? { endpoint: audience } : audience);
    if (!expected.some((want) => audienceMatches(payload.aud, want))) {
      throw new AuthFailure(
        `aud ${JSON.stringify(clipAudience(payload.aud))} is not this endpoint (expected ${expected.join(' or ')})`,
        { ...detail, expectedAudience: expected },
      );
    }
    const exp = payload.exp!;
    const iat = payload.iat!;
    if (exp - iat > options.maxLifetimeS) {
      throw new AuthFailure(
        `the token lives ${exp - iat} s, longer than the ${options.maxLifetimeS} s allowed`,
        detail,
      );
    }
    const jti = payload.jti;
    // No control character: PostgreSQL's jti store cannot hold NUL, and would fail as if it were down.
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256 || hasControlCharacter(jti))
      throw new AuthFailure('jti must be a string of 1 to 256 characters, without control characters', detail);
    const tenant = payload.tenant;
    if (tenant !== undefined && typeof tenant !== 'string') throw new AuthFailure('tenant is not a string', detail);
    if (keys.client.tenants && (tenant === undefined || !keys.client.tenants.includes(tenant))) {
      throw new AuthFailure(
        tenant === undefined
          ? 'the token names no tenant and this client must'
          : `tenant ${JSON.stringify(clip(tenant))} is not allowed for this client`,
        detail,
      );
    }
    // Last: only a token that passed every other check may take a place in the store.
    const expiresAt = new Date((exp + options.clockSkewS) * 1000);
    if (!(await options.jtiStore.firstUse(keys.client.iss, jti, expiresAt))) {
      throw new AuthFailure('jti was already used (replay)', { ...detail, jti: clip(jti) });
    }
    return { iss: keys.client.iss, ...(tenant !== undefined ? { tenant } : {}) };
  }

  return { verify, client: (iss) => byIssuer.get(iss)?.client };
}

/** The token's jku (already checked against the allowlist) or, without one, the client's keys in turn. */
function keyLookup(keys: ClientKeys): KeyLookup {
  return async (header, token) => {
    if (header.jku !== undefined && keys.remote.size > 0)
      return keys.remote.get(normaliseUrl(header.jku)!)!(header, token);
    const sets = [...(keys.local ? [keys.local] : []), ...keys.remote.values()];
    let last: unknown = new errors.JWKSNoMatchingKey();
    for (const set of sets) {
      try {
        return await set(header, token);
      } catch (err) {
        if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
        last = err;
      }
    }
    throw last;
  };
}

/**
 * The values a client's tokens may carry as aud for a call to `target`: by default only the endpoint
 * invoked (CDS Hooks 2.0); `base` is the server's public base URL, `cds-services` the discovery URL.
 */
export function expectedAudiences(client: TrustedClient, target: { endpoint: string; base?: string }): string[] {
  const forms = client.audiences ?? ['endpoint'];
  const values = forms.flatMap((form) => {
    if (form === 'endpoint') return [target.endpoint];
    if (form === 'base') return target.base ? [target.base] : [];
    if (form === 'cds-services') return target.base ? [`${target.base}/cds-services`] : [];
    return [form];
  });
  return [...new Set(values)];
}

/**
 * aud (a string or an array) must name the endpoint invoked. Scheme and host compare without case
 * and a trailing slash is ignored: `…/cds-services/x/` is routed to the same endpoint as `…/cds-services/x`.
 */
export function audienceMatches(aud: unknown, expected: string): boolean {
  const want = normaliseEndpoint(expected);
  if (!want) return false;
  const values = Array.isArray(aud) ? aud : [aud];
  return values.some((value) => typeof value === 'string' && normaliseEndpoint(value) === want);
}

function normaliseEndpoint(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.search || parsed.hash || parsed.username || parsed.password) return undefined;
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch {
    return undefined;
  }
}

function normaliseUrl(url: string): string | undefined {
  try {
    return new URL(url).href;
  } catch {
    return undefined;
  }
}

function describeJoseFailure(err: unknown): string {
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the client matches the token (unknown kid)';
  if (err instanceof errors.JWKSTimeout) return "the client's JWK Set did not arrive in time";
  if (err instanceof errors.JOSEError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `the client's keys could not be obtained (${err.name}: ${clip(err.message)})`;
  return 'the token could not be verified';
}

function clip(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function clipAudience(aud: unknown): unknown {
  return Array.isArray(aud) ? aud.slice(0, 5).map(clip) : clip(aud);
}
