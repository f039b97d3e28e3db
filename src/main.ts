import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './logger.js';
import { createApp } from './app.js';
import { createCqlTranslator, createKnowledgeHolder, formatProblem, loadKnowledge } from './knowledge/index.js';
import { fhirDataModel } from './engine/index.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const started = Date.now();
  const translator = await createCqlTranslator();
  const knowledge = loadKnowledge(config.knowledgeDir, { translator });
  for (const problem of knowledge.problems) {
    logger[problem.severity === 'error' ? 'error' : 'warn']('knowledge problem', { problem: formatProblem(problem) });
  }
  logger.info('knowledge loaded', {
    dir: config.knowledgeDir,
    services: knowledge.services.length,
    unavailable: knowledge.unavailable.map((u) => u.id),
    ms: Date.now() - started,
  });
  // Parse the FHIR model info now rather than on the first hook call.
  fhirDataModel();
  const app = createApp({ config, logger, knowledge: createKnowledgeHolder(knowledge) });
  const server = app.listen(config.port, config.host, () => {
    logger.info('listening', { url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}/cds-services` });
  });
  server.keepAliveTimeout = 65_000;
  const shutdown = (signal: string): void => {
    logger.info('shutting down', { signal });
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(1), 10_000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
