import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { loadConfig } from './config.js';
import { StartupError } from './errors.js';
import { createLogger, routeConsoleTo } from './logger.js';
import { createApp, AUTH_OFF_WARNING } from './app.js';
import { createDatabaseJtiStore, loadTrustedClients, type TrustedClient } from './auth/index.js';
import {
  createThreadedCqlTranslator,
  createKnowledgeHolder,
  createKnowledgeReloader,
  formatProblem,
  loadKnowledge,
  SERVE_DRAFTS_WARNING,
  terminologyOptions,
  type ServedFingerprints,
} from './knowledge/index.js';
import { createShadowQueue, errorName, fhirDataModel } from './engine/index.js';
import { createUptakeStore } from './uptake/index.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  routeConsoleTo(logger);
  let trustedClients: TrustedClient[] | undefined;
  if (config.auth === 'on') {
    trustedClients = await loadTrustedClients(config.trustedClientsFile!);
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
  if (config.serveDrafts) {
    logger.warn(SERVE_DRAFTS_WARNING);
    console.error(`\n  *** ${SERVE_DRAFTS_WARNING} ***\n`);
  }
  const uptake = await createUptakeStore(config, { logger });
  // Versions already served must not have changed: their fingerprints are in the uptake ledger.
  const servedFingerprints = (): Promise<ServedFingerprints | undefined> =>
    uptake.servedFingerprints().catch((err: unknown) => {
      logger.warn('served knowledge fingerprints unavailable: versions are not checked against them this time', {
        reason: err instanceof Error ? err.message : String(err),
      });
      return undefined;
    });
  const started = Date.now();
  // The translator has a thread of its own: a reload's compile never holds the calls being answered.
  const translator = createThreadedCqlTranslator();
  const terminology = terminologyOptions(config);
  const knowledge = await loadKnowledge(config.knowledgeDir, {
    translator,
    served: await servedFingerprints(),
    serveDrafts: config.serveDrafts,
    terminology,
  });
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
    ms: Date.now() - started,
  });
  // Parse the FHIR model info now rather than on the first hook call.
  fhirDataModel();
  // Instances that share a PostgreSQL database share the used jti values too; one instance alone keeps them in memory.
  const jtiStore =
    config.auth === 'on' && config.databaseUrl ? await createDatabaseJtiStore(uptake.database) : undefined;
  const holder = createKnowledgeHolder(knowledge);
  // Reloads on SIGHUP, on POST /admin/reload, and (unless CDS_KNOWLEDGE_WATCH=off) on file changes.
  const reloader = createKnowledgeReloader({
    dir: config.knowledgeDir,
    translator,
    holder,
    logger,
    servedFingerprints: async () => (await servedFingerprints()) ?? new Map(),
    serveDrafts: config.serveDrafts,
    terminology,
  });
  if (config.knowledgeWatch) reloader.watch();
  process.on('SIGHUP', () => void reloader.reload('SIGHUP').catch(() => undefined));
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
  });
  const tls =
    config.tlsCertFile && config.tlsKeyFile
      ? { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) }
      : undefined;
  const onListening = (): void => {
    logger.info('listening', {
      url: `${tls ? 'https' : 'http'}://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}/cds-services`,
    });
  };
  const server = tls
    ? createHttpsServer(tls, app).listen(config.port, config.host, onListening)
    : app.listen(config.port, config.host, onListening);
  server.keepAliveTimeout = 65_000;
  const shutdown = (signal: string): void => {
    logger.info('shutting down', { signal });
    reloader.close();
    void translator.close();
    // The uptake ledger is flushed before exit: the cards of the last calls are not lost.
    let closing: Promise<void> | undefined;
    const exit = (code: number): void => {
      // Shadow work still queued is evaluated and recorded first (bounded by the exit timer below).
      closing ??= shadowQueue.close(5_000).then((left) => {
        if (left > 0) logger.warn('shadow evaluations not done before shutdown', { calls: left });
        return uptake.close();
      });
      void closing.finally(() => process.exit(code));
    };
    server.close(() => exit(0));
    server.closeIdleConnections();
    setTimeout(() => exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
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
