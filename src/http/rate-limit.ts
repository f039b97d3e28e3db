import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit, type Store } from 'express-rate-limit';
import { rateLimited } from '../errors.js';

/**
 * At most `perMinute` CDS Hooks calls a minute per client: keyed by the verified iss (placed after
 * authentication, so a forged token cannot spend a real client's allowance), by IP address when auth is off.
 */
export function perClientRateLimit(perMinute: number, store?: Store): RequestHandler {
  return limiter(
    perMinute,
    'too many calls from this client',
    (req, res) => {
      const client = res.locals.client;
      return client ? `iss:${client.iss}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
    store,
  );
}

/**
 * At most `perMinute` admin and report requests a minute per IP address, counted before the key is
 * checked: guessing keys is slow, and a flood of report queries cannot take the database.
 */
export function adminRateLimit(perMinute: number, store?: Store): RequestHandler {
  return limiter(
    perMinute,
    'too many admin requests from this address',
    (req) => `ip:${ipKeyGenerator(req.ip ?? '')}`,
    store,
  );
}

/** `store`: counters shared by the instances of one database (rate-limit-db.ts); in this process's memory without. */
function limiter(
  perMinute: number,
  what: string,
  key: (req: Request, res: Response) => string,
  store?: Store,
): RequestHandler {
  return rateLimit({
    ...(store ? { store } : {}),
    // A database that is down must not stop hook calls: the request is let through, uncounted.
    passOnStoreError: true,
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: key,
    handler: (req, _res, next) => {
      const reset = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const wait = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 60;
      next(rateLimited(what, perMinute, wait));
    },
  });
}
