import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { CdsError } from '../errors.js';
import type { VerifiedClient } from '../auth/index.js';

/**
 * At most `perMinute` CDS Hooks calls a minute per client: keyed by the verified iss (placed after
 * authentication, so a forged token cannot spend a real client's allowance), by IP address when auth is off.
 */
export function perClientRateLimit(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req, res) => {
      const client = res.locals.client as VerifiedClient | undefined;
      return client ? `iss:${client.iss}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
    handler: (req, _res, next) => {
      const reset = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const wait = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 60;
      next(new CdsError(429, 'rate-limited', `too many calls from this client: at most ${perMinute} a minute are served; try again in ${wait} s`));
    },
  });
}
