// GET /dashboard: the quality dashboard, a page built into dist/dashboard/ (scripts/build-dashboard.ts).
// It holds no data: it reads the /uptake endpoints with the admin key the user types in, so the page
// itself is open. Everything it loads comes from here, under a Content-Security-Policy that allows
// nothing else (no inline script or style, no other origin, no framing).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Router, type Response } from 'express';
import { dashboardNotBuilt } from '../errors.js';
import { packageRoot } from '../paths.js';
import { methodNotAllowed } from './error-handler.js';

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files the page consists of; nothing else under /dashboard is served. */
const ASSETS: Record<string, string> = {
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
};

export const defaultDashboardDir = (): string => join(packageRoot(), 'dist', 'dashboard');

export function dashboardRoutes(dir: string = defaultDashboardDir()): Router {
  const router = Router();
  const send = (res: Response, file: string, type: string) => {
    const path = join(dir, file);
    if (!existsSync(path)) throw dashboardNotBuilt();
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', file === 'index.html' ? 'no-cache' : 'public, max-age=300');
    res.type(type).sendFile(path);
  };
  router.get('/dashboard', (_req, res) => send(res, 'index.html', 'text/html; charset=utf-8'));
  router.all('/dashboard', methodNotAllowed(['GET']));
  router.get('/dashboard/:file', (req, res, next) => {
    const type = Object.hasOwn(ASSETS, req.params.file) ? ASSETS[req.params.file] : undefined;
    if (!type) {
      next();
      return;
    }
    send(res, req.params.file, type);
  });
  return router;
}
