import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from './config.js';
import { StartupError } from './errors.js';
import { createLogger, logUnhandledRejections, routeConsoleTo } from './logger.js';
import { createApp, AUTH_DEBUG_WARNING, AUTH_OFF_WARNING, EVALUATION_TIME_WARNING } from './app.js';
import { createStartupTracker, startupApp } from './http/startup.js';
import { createDatabaseRateLimitStores } from './http/rate-limit-db.js';
import { createAdminKeyring, createDatabaseJtiStore, loadTrustedClients, type TrustedClient } from './auth/index.js';
import {
  createCachingTranslator,
  createThreadedCqlTranslator,
  elmCacheDirOf,
  pruneElmCache,
  createKnowledgeHolder,
  createKnowledgeReloader,
  formatProblem,
  loadKnowledge,
  recordingFiles,
  SERVE_DRAFTS_WARNING,
  terminologyOptions,
  TRANSLATOR_IDLE_MS,
  type ServedFingerprints,
} from './knowledge/index.js';
import { createEvaluationPool, createShadowQueue, errorName, fhirDataModel } from './engine/index.js';
import { createUptakeStore } from './uptake/index.js';
import { createIdleGc } from './idle-gc.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  routeConsoleTo(logger);
  logUnhandledRejections(logger);
  const startup = createStartupTracker(logger);
  // The start-up is this thread's first work: once it is idle after it (and after each run of calls), one collection.
  const idleGc = createIdleGc(config.idleGcMs);
  idleGc.busy();
  // Settings and files to fix stop the start before the port opens (exit code 2).
  let trustedClients: TrustedClient[] | undefined;
  if (config.auth === 'on') {
    trustedClients = await startup.phase('trusted clients', () => loadTrustedClients(config.trustedClientsFile!));
    logger.info('trusted clients loaded', {
      file: config.trustedClientsFile,
      clients: trustedClients.map((c) => c.iss),
      publicBaseUrl: config.publicBaseUrl,
    });
    if (config.publicBaseUrl?.startsWith('http://')) {
      // EHRs then send their JWTs, FHIR access tokens and patient data in the clear.
      logger.warn(
        'CDS_PUBLIC_BASE_URL is plain http: EHR calls carry tokens and patient data; serve them over HTTPS (CDS_TLS_CERT and CDS_TLS_KEY, or a TLS proxy in front)',
        { publicBaseUrl: config.publicBaseUrl },
      );
    }
  } else {
    logger.warn(AUTH_OFF_WARNING);
    console.error(`\n  *** ${AUTH_OFF_WARNING} ***\n`);
  }
  for (const [on, warning] of [
    [config.serveDrafts, SERVE_DRAFTS_WARNING],
    [config.authDebug, AUTH_DEBUG_WARNING],
    [config.evaluationTime !== undefined, `${EVALUATION_TIME_WARNING} (${config.evaluationTime})`],
  ] as const) {
    if (!on) continue;
    logger.warn(warning);
    console.error(`\n  *** ${warning} ***\n`);
  }
  const adminKeys = createAdminKeyring(config.adminKeys, config.adminKeysFile);
  const keyProblems = adminKeys.reload();
  if (keyProblems.length > 0) throw new ConfigError(keyProblems);

  // The port opens now: until the knowledge is compiled, /health is 200, /ready 503 "loading", the rest 503.
  const tls =
    config.tlsCertFile && config.tlsKeyFile
      ? { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) }
      : undefined;
  let handler: RequestListener = startupApp(startup, logger);
  const serve: RequestListener = (req, res) => handler(req, res);
  // A request must have arrived whole (headers and body) within the call deadline, which runs from its arrival:
  // a client that stops sending mid-body is answered 408 and its connection closed, not held for Node's default
  // five minutes. The deadlines are checked every second (Node's default is every 30 s).
  const receipt = {
    requestTimeout: config.callDeadlineMs,
    headersTimeout: config.callDeadlineMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, config.callDeadlineMs)),
  };
  const server = tls ? createHttpsServer({ ...tls, ...receipt }, serve) : createHttpServer(receipt, serve);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  logger.info('listening', {
    url: `${tls ? 'https' : 'http'}://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}/cds-services`,
    status: 'loading',
  });
  // Set once the server is ready: stops it cleanly, flushing the uptake ledger.
  const running: { stop?: (signal: string) => void; reload?: () => void; reloadPending?: boolean } = {};
  const onSignal = (signal: string): void => {
    if (running.stop) running.stop(signal);
    else {
      // Still starting: nothing to flush yet.
      logger.info('shutting down', { signal });
      server.close();
      process.exit(0);
    }
  };
  // SIGHUP re-reads the admin keys file and reloads the knowledge. While starting it must not end the
  // process (its default): the knowledge being loaded is the current one.
  process.on('SIGHUP', () => {
    if (adminKeys.file) {
      const problems = adminKeys.reload();
      if (problems.length > 0) logger.error('admin keys not reloaded: the keys in force are kept', { problems });
      else logger.info('admin keys reloaded', { file: adminKeys.file, keys: adminKeys.keys().length });
    }
    if (running.reload) running.reload();
    else {
      // The files may already have been read: one reload runs as soon as the server is ready.
      running.reloadPending = true;
      logger.info('SIGHUP while starting: the knowledge is reloaded once start-up is done');
    }
  });
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const uptake = await startup.phase('uptake ledger', () => createUptakeStore(config, { logger }));
  // Versions already served must not have changed: their fingerprints are in the uptake ledger.
  const servedFingerprints = (): Promise<ServedFingerprints | undefined> =>
    uptake.servedFingerprints().catch((err: unknown) => {
      logger.warn('served knowledge fingerprints unavailable: versions are not checked against them this time', {
        reason: err instanceof Error ? err.message : String(err),
      });
      return undefined;
    });
  // The translator has a thread of its own: a reload's compile never holds the calls being answered.
  // Compiled ELM is kept on disk: a restart (or reload) with unchanged libraries compiles nothing, and
  // the translator thread is started only when something is not in the cache, and ends once it has had
  // nothing to compile for TRANSLATOR_IDLE_MS (it holds about 140 MiB).
  const elmCacheDir = elmCacheDirOf(config);
  const translator = createCachingTranslator(elmCacheDir, () =>
    Promise.resolve(createThreadedCqlTranslator({ idleMs: TRANSLATOR_IDLE_MS })),
  );
  const terminology = terminologyOptions(config);
  const served = await servedFingerprints();
  // What the load read: the evaluation threads (CDS_WORKERS >= 2) load the same set from it, whatever the files
  // become.
  const recorded = config.workers >= 2 ? recordingFiles() : undefined;
  const knowledge = await startup.phase('knowledge', () =>
    loadKnowledge(config.knowledgeDir, {
      files: recorded?.files,
      translator,
      served,
      serveDrafts: config.serveDrafts,
      prefetchMaxTemplate: config.prefetchMaxTemplate,
      onLibraries: (done, total) => startup.libraries(done, total),
      terminology,
    }),
  );
  for (const problem of knowledge.problems) {
    logger[problem.severity === 'error' ? 'error' : problem.severity === 'info' ? 'info' : 'warn'](
      'knowledge problem',
      {
        problem: formatProblem(problem),
      },
    );
  }
  logger.info('knowledge loaded', {
    dir: config.knowledgeDir,
    services: knowledge.services.length,
    unavailable: knowledge.unavailable.map((u) => u.id),
    elmCache: { dir: elmCacheDir, ...translator.stats() },
  });
  // Entries of sources no load has used for a month go, in the background.
  void pruneElmCache(elmCacheDir).then(
    (removed) => removed > 0 && logger.info('unused compiled ELM removed', { dir: elmCacheDir, entries: removed }),
    () => undefined,
  );
  // Parse the FHIR model info now rather than on the first hook call.
  await startup.phase('FHIR model', () => void fhirDataModel());
  // Instances that share a PostgreSQL database share the used jti values too; one instance alone keeps them in memory.
  const jtiStore =
    config.auth === 'on' && config.databaseUrl
      ? await startup.phase('used JWT ids', () => createDatabaseJtiStore(uptake.database))
      : undefined;
  const rateLimitStore = config.databaseUrl
    ? await startup.phase('rate limits', () => createDatabaseRateLimitStores(uptake.database))
    : undefined;
  // CDS_WORKERS >= 2: calls are evaluated on a pool of threads, each loading the same knowledge (from the ELM
  // cache just written); with 1 they are evaluated on this thread.
  const pool =
    config.workers >= 2
      ? createEvaluationPool({
          size: config.workers,
          setup: {
            knowledgeDir: config.knowledgeDir,
            elmCacheDir,
            serveDrafts: config.serveDrafts,
            prefetchMaxTemplate: config.prefetchMaxTemplate,
            terminology,
            shadowLimit: config.shadowQueueLimit,
            idleGcMs: config.idleGcMs,
          },
          logger,
          recording: true,
        })
      : undefined;
  if (pool) {
    await startup.phase('evaluation workers', () => pool.prepare(knowledge, { served, sources: recorded?.sources() }));
    logger.info('evaluation workers ready', { workers: config.workers });
  }
  const holder = createKnowledgeHolder(knowledge);
  // Reloads on SIGHUP, on POST /admin/reload, and (unless CDS_KNOWLEDGE_WATCH=off) on file changes.
  const reloader = createKnowledgeReloader({
    dir: config.knowledgeDir,
    translator,
    holder,
    logger,
    servedFingerprints: async () => (await servedFingerprints()) ?? new Map(),
    serveDrafts: config.serveDrafts,
    prefetchMaxTemplate: config.prefetchMaxTemplate,
    terminology,
    // Swapped in only once every evaluation thread holds the new set too.
    ...(pool ? { beforeSwap: (next, loadedWith) => pool.prepare(next, loadedWith) } : {}),
  });
  if (config.knowledgeWatch) reloader.watch();
  running.reload = () => void reloader.reload('SIGHUP').catch(() => undefined);
  const shadowQueue = createShadowQueue(config.shadowQueueLimit, (err) =>
    logger.error('shadow evaluation failed', { error: errorName(err) }),
  );
  const app = createApp({
    config,
    logger,
    knowledge: holder,
    reloader,
    uptake,
    trustedClients,
    jtiStore,
    processMetrics: true,
    shadowQueue,
    adminKeys: () => adminKeys.keys(),
    rateLimitStore,
    evaluator: pool,
    idleGc,
  });
  handler = app;
  startup.ready({ services: knowledge.services.length });
  idleGc.done();
  if (running.reloadPending) running.reload();
  running.stop = (signal: string): void => {
    logger.info('shutting down', { signal });
    reloader.close();
    void translator.close();
    // The uptake ledger is flushed before exit: the cards of the last calls are not lost.
    let closing: Promise<void> | undefined;
    const exit = (code: number): void => {
      // Shadow work still queued is evaluated and recorded first (bounded by the exit timer below).
      closing ??= shadowQueue.close(5_000).then((left) => {
        if (left > 0) logger.warn('shadow evaluations not done before shutdown', { calls: left });
        return Promise.all([uptake.close(), pool?.close()]).then(() => undefined);
      });
      void closing.finally(() => process.exit(code));
    };
    server.close(() => exit(0));
    server.closeIdleConnections();
    setTimeout(() => exit(1), 10_000).unref();
  };
}

main().catch((err: unknown) => {
  // A start-up error names what to fix; anything else is unexpected. Neither shows a stack.
  if (err instanceof StartupError) {
    console.error(err.message);
    process.exit(err.exitCode);
  }
  console.error('failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
