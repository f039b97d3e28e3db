import express, { type Express } from 'express';
import cors from 'cors';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { KnowledgeHolder } from './knowledge/index.js';
import { accessLog } from './http/access-log.js';
import { routes } from './http/routes.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  knowledge: KnowledgeHolder;
  /** "Now" for evaluation; tests and replays fix it. */
  clock?: () => Date;
  /** The fetch used to reach FHIR servers; tests give a fake one. */
  fetchImpl?: typeof fetch;
}

export function createApp({ config, logger, knowledge, clock = () => new Date(), fetchImpl }: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(accessLog(logger));
  app.use(
    cors({
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      maxAge: 600,
    }),
  );
  app.use(
    routes({
      knowledge,
      clock,
      bodyLimitBytes: config.bodyLimitBytes,
      prefetch: { timeoutMs: config.fhirTimeoutMs, maxPages: config.fhirMaxPages, fetchImpl },
    }),
  );
  app.use(notFoundHandler());
  app.use(errorHandler(logger));
  return app;
}
