// The server between "port open" and "knowledge compiled". The port opens at once, so a load
// balancer sees "starting" (503 from /ready, 200 from /health) rather than a refused connection;
// every other request is answered 503 with Retry-After. Each start-up phase is one log line with
// its duration; the knowledge phase reports how many libraries are compiled so far.
import express, { type Express } from 'express';
import type { Logger } from '../logger.js';
import { stillStarting } from '../errors.js';
import { errorHandler } from './error-handler.js';

export interface StartupStatus {
  status: 'loading';
  phase: string;
  /** E.g. "3 of 12 libraries compiled"; the phase name before the knowledge phase. */
  progress: string;
  libraries?: { compiled: number; total: number };
  /** Seconds since the process started to start. */
  elapsedS: number;
}

export interface StartupTracker {
  /** Runs one phase, logging its name and duration when it is done. */
  phase<T>(name: string, work: () => Promise<T> | T): Promise<T>;
  /** Libraries compiled so far of the knowledge phase. */
  libraries(compiled: number, total: number): void;
  status(): StartupStatus;
  /** Logs the whole start-up's duration. */
  ready(detail?: Record<string, unknown>): void;
}

export function createStartupTracker(logger: Logger, clock: () => number = () => performance.now()): StartupTracker {
  const began = clock();
  let phase = 'starting';
  let libraries: { compiled: number; total: number } | undefined;
  const ms = (since: number): number => Math.round(clock() - since);
  return {
    async phase(name, work) {
      phase = name;
      const started = clock();
      const result = await work();
      logger.info('start-up phase', {
        phase: name,
        durationMs: ms(started),
        ...(name === 'knowledge' && libraries ? { libraries: libraries.total } : {}),
      });
      return result;
    },
    libraries(compiled, total) {
      libraries = { compiled, total };
    },
    status() {
      return {
        status: 'loading',
        phase,
        progress:
          phase === 'knowledge' && libraries ? `${libraries.compiled} of ${libraries.total} libraries compiled` : phase,
        ...(libraries ? { libraries: { ...libraries } } : {}),
        elapsedS: Math.round(ms(began) / 100) / 10,
      };
    },
    ready(detail = {}) {
      logger.info('ready', { durationMs: ms(began), ...detail });
    },
  };
}

/** How long a caller is asked to wait before trying again while the server starts, in seconds. */
export const STARTING_RETRY_AFTER_S = 5;

/** What answers until the server is ready: /health 200, /ready 503 "loading", anything else 503 + Retry-After. */
export function startupApp(tracker: StartupTracker, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', (_req, res) => {
    res.setHeader('Retry-After', String(STARTING_RETRY_AFTER_S));
    res.status(503).json(tracker.status());
  });
  app.use((_req, res, next) => {
    res.setHeader('Retry-After', String(STARTING_RETRY_AFTER_S));
    next(stillStarting(tracker.status().progress));
  });
  app.use(errorHandler(logger));
  return app;
}
