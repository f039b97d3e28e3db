import type { RequestHandler } from 'express';
import type { Store } from 'express-rate-limit';
import { unauthorized } from '../errors.js';
import { AuthFailure, type TokenVerifier } from '../auth/index.js';
import { perClientRateLimit } from './rate-limit.js';

export interface ClientAuthOptions {
  verifier: TokenVerifier;
  /** The server's public base URL without a trailing slash; aud must be this + the path invoked (by default). */
  publicBaseUrl: string;
  /** CDS_AUTH_DEBUG: the 401 body says why too (development only). */
  debug?: boolean;
}

/**
 * Verifies the EHR's JWT on every CDS Hooks call (discovery, service, feedback) before anything
 * else reads the request. On success res.locals.client = { iss, tenant } (a VerifiedClient) and
 * res.locals.allowedFhirServers = the origins this client may name as fhirServer.
 */
export function requireCdsClient({ verifier, publicBaseUrl, debug = false }: ClientAuthOptions): RequestHandler {
  return async (req, res, next) => {
    const log = res.locals.logger?.child({ check: 'client-jwt' });
    const path = req.originalUrl.split('?')[0];
    // The reason and the audience expected go to the log, never the token.
    const refuse = (reason: string, detail: Record<string, unknown> = {}): void => {
      log?.warn('authentication failed', { reason, path, ...detail });
      res.setHeader('WWW-Authenticate', 'Bearer');
      next(unauthorized(debug ? reason : undefined));
    };
    const token = bearerToken(req.headers.authorization);
    if (!token) {
      refuse(
        req.headers.authorization === undefined
          ? 'no Authorization header'
          : 'the Authorization header is not a Bearer token',
      );
      return;
    }
    try {
      const client = await verifier.verify(token, { endpoint: `${publicBaseUrl}${path}`, base: publicBaseUrl });
      res.locals.client = client;
      res.locals.allowedFhirServers = verifier.client(client.iss)?.fhirServers ?? [];
      next();
    } catch (err) {
      if (err instanceof AuthFailure) refuse(err.reason, err.detail);
      // E.g. the jti store's database is down: refuse rather than risk a replay.
      else
        refuse(
          `verification failed unexpectedly (${err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : 'error'})`,
        );
    }
  };
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? '');
  return match ? match[1] : undefined;
}

export interface ClientGuardOptions {
  auth: 'on' | 'off';
  publicBaseUrl?: string;
  /** Required when auth is on. */
  verifier?: TokenVerifier;
  rateLimitPerMinute: number;
  /** Counters shared through the database (several instances); in memory without. */
  rateLimitStore?: Store;
  /** CDS_AUTH_DEBUG: 401 bodies say why. */
  authDebug?: boolean;
}

/** Everything a CDS Hooks call passes before its handler: the JWT check (when on), then the per-client rate limit. */
export function cdsClientGuards({
  auth,
  publicBaseUrl,
  verifier,
  rateLimitPerMinute,
  rateLimitStore,
  authDebug,
}: ClientGuardOptions): RequestHandler[] {
  const guards: RequestHandler[] = [];
  if (auth === 'on') {
    if (!verifier || !publicBaseUrl)
      throw new Error(
        'auth is on: trusted clients and the public base URL are required (or set auth to off for local development)',
      );
    guards.push(requireCdsClient({ verifier, publicBaseUrl, debug: authDebug }));
  }
  if (rateLimitPerMinute > 0) guards.push(perClientRateLimit(rateLimitPerMinute, rateLimitStore));
  return guards;
}
