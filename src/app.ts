import express, { type Express } from 'express';
import cors from 'cors';
import helmet from 'helmet';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { KnowledgeHolder, KnowledgeReloader } from './knowledge/index.js';
import { adminRoutes } from './http/admin.js';
import { accessLog, accessLogObserver } from './http/access-log.js';
import { routes } from './http/routes.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import {
  createMemoryJtiStore,
  createTokenVerifier,
  type AdminKey,
  type JtiStore,
  type TrustedClient,
} from './auth/index.js';
import { cdsClientGuards } from './http/client-auth.js';
import { adminAccess } from './http/require-role.js';
import { adminRateLimit } from './http/rate-limit.js';
import { createMetrics } from './http/metrics.js';
import { uptakeObserver, uptakeRoutes } from './http/uptake.js';
import type { CallContext, CallObserver } from './http/call.js';
import type { RateLimitStores } from './http/rate-limit-db.js';
import { experimentRoutes } from './http/experiments.js';
import { dashboardRoutes } from './http/dashboard.js';
import type { UptakeStore } from './uptake/index.js';
import type { IdleGc } from './idle-gc.js';
import { createShadowQueue, errorName, type Evaluator, type RolloutControl, type ShadowQueue } from './engine/index.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  knowledge: KnowledgeHolder;
  /** "Now" for evaluation; tests and replays fix it. */
  clock?: () => Date;
  /** The fetch used to reach FHIR servers; tests give a fake one. */
  fetchImpl?: typeof fetch;
  /** The EHRs whose JWTs are accepted; required when config.auth is 'on'. */
  trustedClients?: TrustedClient[];
  /** Where used jti values are remembered until they expire; in memory (one instance) by default. */
  jtiStore?: JtiStore;
  /** "Now" for checking token times (exp, iat); tests freeze it. */
  authClock?: () => Date;
  /**
   * Fetching JWK Sets from allowlisted jku URLs: least time between refreshes forced by unknown kids, a fetch for
   * tests.
   */
  jwks?: { cooldownMs?: number; fetchImpl?: typeof fetch };
  /** The uptake ledger (createUptakeStore): records calls, takes feedback, makes reports. Without it, none of these. */
  uptake?: UptakeStore;
  /** Hot reload of the knowledge (POST /admin/reload, reload status in /ready). */
  reloader?: KnowledgeReloader;
  /** The process's own metrics (memory, event loop, GC) in GET /metrics besides the server's. */
  processMetrics?: boolean;
  /** Where shadow versions wait to be evaluated after the answer; made from config.shadowQueueLimit when absent. */
  shadowQueue?: ShadowQueue;
  /** The built dashboard page (GET /dashboard); dist/dashboard by default. */
  dashboardDir?: string;
  /** The admin keys in force, asked on every request (re-read on SIGHUP); config.adminKeys when absent. */
  adminKeys?: () => AdminKey[];
  /** Rate-limit counters shared through the database (several instances); in this process's memory without. */
  rateLimitStore?: RateLimitStores;
  /**
   * Where hook calls are evaluated: this thread when absent (CDS_WORKERS=1), or a pool of evaluation threads
   * (createEvaluationPool) that holds every knowledge generation the holder may give.
   */
  evaluator?: Evaluator;
  /** Told when calls start and end: collects garbage once the HTTP thread is idle (createIdleGc). */
  idleGc?: IdleGc;
}

export function createApp(deps: AppDeps): Express {
  const {
    config,
    logger,
    knowledge,
    clock = () => new Date(),
    fetchImpl,
    trustedClients,
    jtiStore,
    authClock = () => new Date(),
    jwks,
    uptake,
    reloader,
    evaluator,
  } = deps;
  const processMetrics = deps.processMetrics ?? false;
  const shadowQueue =
    deps.shadowQueue ??
    createShadowQueue(config.shadowQueueLimit, (err) =>
      logger.error('shadow evaluation failed', { error: errorName(err) }),
    );
  // Shadow work runs when no hook call is being answered: it never delays an answer.
  // Under sustained load there is no quiet moment: shadow work waits, then is dropped and counted.
  let callsInFlight = 0;
  let lastCallEnded = 0;
  shadowQueue.holdWhile(() => callsInFlight > 0 || performance.now() - lastCallEnded < SHADOW_QUIET_MS);
  // A call holds the knowledge snapshot it started on in the evaluation threads until it ends.
  const holds = new WeakMap<CallContext, () => void>();
  const inFlight: CallObserver = {
    started: (call) => {
      callsInFlight++;
      deps.idleGc?.busy();
      if (evaluator?.hold) holds.set(call, evaluator.hold(call.knowledge));
    },
    finished: ({ call }) => {
      callsInFlight--;
      lastCallEnded = performance.now();
      holds.get(call)?.();
      deps.idleGc?.done();
    },
  };
  // Experiments are randomised only where they are recorded: without a ledger every call gets the live version.
  const rollout: RolloutControl | undefined = uptake
    ? {
        assign: (experiment, unitId) => uptake.assignArm(experiment.id, unitId, experiment.arms),
        isStopped: (id) => uptake.isStopped(id),
      }
    : undefined;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Where this app describes itself; the test suite checks every answer of such an app against it.
  app.set('api description', '/openapi.json');
  app.use(accessLog(logger));
  // Browser-based EHRs read the answers cross-origin (CORS decides who may).
  app.use(helmet({ crossOriginResourcePolicy: { policy: 'cross-origin' } }));
  app.use(
    cors({
      origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      maxAge: 600,
    }),
  );
  // Everything but the CDS Hooks endpoints, /health and /ready needs an admin key of the right role.
  const admin = adminAccess(deps.adminKeys ?? config.adminKeys);
  if (config.adminRateLimitPerMinute > 0) {
    const limit = adminRateLimit(config.adminRateLimitPerMinute, deps.rateLimitStore?.('admin:'));
    app.use('/admin', limit);
    app.use('/uptake', limit);
    app.use('/metrics', limit);
  }
  app.use('/admin', admin.requireRole('knowledge'));
  app.use('/uptake', admin.requireRole('quality'));
  app.use('/metrics', admin.requireRole('operations'));
  const metrics = createMetrics({
    knowledge,
    reloadStatus: reloader ? () => reloader.status() : undefined,
    uptake,
    processMetrics,
    shadowQueue,
    workers: evaluator?.health?.bind(evaluator),
  });
  app.use(metrics.observe);
  app.get('/metrics', metrics.handler);
  const verifier =
    config.auth === 'on' && trustedClients
      ? createTokenVerifier({
          clients: trustedClients,
          jtiStore: jtiStore ?? createMemoryJtiStore(authClock),
          clockSkewS: config.jwtClockSkewS,
          maxLifetimeS: config.jwtMaxLifetimeS,
          clock: authClock,
          jwksCooldownMs: jwks?.cooldownMs,
          fetchImpl: jwks?.fetchImpl,
        })
      : undefined;
  const guards = cdsClientGuards({
    auth: config.auth,
    publicBaseUrl: config.publicBaseUrl,
    verifier,
    rateLimitPerMinute: config.rateLimitPerMinute,
    rateLimitStore: deps.rateLimitStore?.('cds:'),
    authDebug: config.authDebug,
  });
  // With verification off and no rate limit there is nothing to guard with.
  if (guards.length > 0) app.use('/cds-services', ...guards);
  app.use(
    routes({
      knowledge,
      clock,
      // Development only: every evaluation as of one time, while the ledger keeps real time (completion and
      // drift read the order of calls).
      ...(config.evaluationTime ? { evaluationClock: fixedClock(config.evaluationTime) } : {}),
      bodyLimitBytes: config.bodyLimitBytes,
      fhirCheck: config.fhirCheck,
      prefetch: {
        timeoutMs: config.fhirTimeoutMs,
        maxPages: config.fhirMaxPages,
        fetchImpl,
        deadlineMs: config.prefetchDeadlineMs,
        maxBytes: config.fhirMaxBytes,
        maxResources: config.fhirMaxResources,
        fetchMedications: config.medicationFetch,
      },
      callDeadlineMs: config.callDeadlineMs,
      maxResourcesPerCall: config.maxResourcesPerCall,
      authStatus:
        config.auth === 'on'
          ? { verification: 'on', trustedClients: trustedClients?.length ?? 0 }
          : { verification: 'off', warning: AUTH_OFF_WARNING },
      uptake,
      reloadStatus: reloader ? () => reloader.status() : undefined,
      callObservers: [
        inFlight,
        accessLogObserver(logger),
        metrics.callObserver,
        ...(uptake
          ? [
              uptakeObserver(uptake, shadowQueue, clock, {
                completionWindowHours: config.completionWindowHours,
                knowledge,
              }),
            ]
          : []),
      ],
      rollout,
      logger,
      shadowQueue,
      evaluator,
      publicBaseUrl: config.publicBaseUrl,
    }),
  );
  if (uptake) {
    app.use('/uptake', uptakeRoutes({ uptake, minCell: config.uptakeMinCell, knowledge, clock }));
    app.use('/uptake', experimentRoutes({ uptake, knowledge, minCell: config.uptakeMinCell, clock }));
  }
  if (reloader || uptake) app.use('/admin', adminRoutes({ knowledge, reloader, uptake }));
  app.use(dashboardRoutes(deps.dashboardDir));
  app.use(notFoundHandler());
  app.use(errorHandler(logger));
  return app;
}

/** How long no hook call must have been answered before shadow work starts. */
const SHADOW_QUIET_MS = 20;

export const AUTH_OFF_WARNING =
  'JWT verification is OFF (CDS_AUTH=off): every caller is trusted and may name any FHIR server. For local development only; never expose this server.';

export const AUTH_DEBUG_WARNING =
  'CDS_AUTH_DEBUG=on: a 401 tells the caller why its token was refused. For local development only.';

export const EVALUATION_TIME_WARNING =
  'CDS_EVALUATION_TIME is set: every evaluation runs as of that time, not now. For development and fixture replays only.';

const fixedClock = (iso: string) => (): Date => new Date(iso);
