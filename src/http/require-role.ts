import type { RequestHandler } from 'express';
import { adminKeyRequired, forbidden } from '../errors.js';
import { rolesForKey, type AdminKey, type AdminRole } from '../auth/index.js';
import { bearerToken } from './client-auth.js';

export interface AdminAccess {
  /** Lets through only requests bearing a configured key that holds `role`. */
  requireRole(role: AdminRole): RequestHandler;
}

/**
 * Guards the admin and reporting surface with its own bearer keys (never the EHR's JWT):
 * no or an unknown key → 401; a key without the role → 403. Both with a JSON OperationOutcome.
 */
export function adminAccess(keys: AdminKey[] | (() => AdminKey[])): AdminAccess {
  const current = typeof keys === 'function' ? keys : () => keys;
  return { requireRole: (role) => requireRole(role, current) };
}

/** `keys` is asked on every request: keys re-read on SIGHUP count from the next request on. */
function requireRole(role: AdminRole, keys: () => AdminKey[]): RequestHandler {
  return (req, res, next) => {
    const log = res.locals.logger;
    const key = bearerToken(req.headers.authorization);
    const { roles, keyId } = key ? rolesForKey(key, keys()) : { roles: new Set<AdminRole>(), keyId: undefined };
    if (!keyId) {
      log?.warn('admin authentication failed', {
        // The mount point only: the rest of the path may hold a card or alert id.
        path: req.baseUrl || '/',
        reason: key ? 'unknown key' : 'no bearer key',
      });
      res.setHeader('WWW-Authenticate', 'Bearer');
      next(adminKeyRequired());
      return;
    }
    if (!roles.has(role)) {
      log?.warn('admin access refused', { path: req.baseUrl || '/', keyId, needs: role });
      next(forbidden(role));
      return;
    }
    res.locals.adminKeyId = keyId;
    next();
  };
}
