// The server as the benchmark runs it: shipped knowledge, evaluation clock fixed at the fixtures'
// date (so the same cards fire on every run), logging off. BENCH_UPTAKE=sqlite records every call
// and card in a fresh SQLite ledger, as the real server does; without it nothing is recorded.
// BENCH_WORKERS=N (N >= 2) evaluates on a pool of N threads, as CDS_WORKERS=N does; default 1 (this thread).
// BENCH_MAX_RESOURCES sets CDS_MAX_RESOURCES_PER_CALL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.js';
import { createUptakeStore } from '../src/uptake/index.js';
import { defaultConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import {
  createCachingTranslator,
  createKnowledgeHolder,
  createThreadedCqlTranslator,
  loadKnowledge,
} from '../src/knowledge/index.js';
import { createEvaluationPool, fhirDataModel } from '../src/engine/index.js';
import { createIdleGc } from '../src/idle-gc.js';

const now = new Date(process.env.BENCH_NOW ?? '2026-06-01T12:00:00Z');
// No JWT and no rate limit: the benchmark measures evaluation, not authentication.
const config = defaultConfig({
  port: Number(process.env.CDS_PORT ?? 0),
  host: '127.0.0.1',
  auth: 'off',
  rateLimitPerMinute: 0,
  ...(process.env.BENCH_KNOWLEDGE_DIR ? { knowledgeDir: process.env.BENCH_KNOWLEDGE_DIR } : {}),
  // A generated record of 10,000 resources comes with the call's other prefetch keys: a few more than the default.
  ...(process.env.BENCH_MAX_RESOURCES ? { maxResourcesPerCall: Number(process.env.BENCH_MAX_RESOURCES) } : {}),
});
const workers = Number(process.env.BENCH_WORKERS ?? 1);
// The pool's threads load what this thread compiled from an ELM cache of the run's own.
const elmCacheDir = workers >= 2 ? mkdtempSync(join(tmpdir(), 'cds-bench-elm-')) : undefined;
// The translator on a thread of its own, as the server has it, closed once the knowledge is loaded: in this thread
// its heap (and the garbage of compiling) would be marked by every collection of the calls measured.
const compiler = createThreadedCqlTranslator();
const translator = elmCacheDir ? createCachingTranslator(elmCacheDir, () => Promise.resolve(compiler)) : compiler;
const knowledge = await loadKnowledge(config.knowledgeDir, { translator });
await compiler.close();
fhirDataModel();
const logger = createLogger('error', true);
const dataDir = process.env.BENCH_UPTAKE === 'sqlite' ? mkdtempSync(join(tmpdir(), 'cds-bench-')) : undefined;
const pool = elmCacheDir
  ? createEvaluationPool({
      size: workers,
      setup: {
        knowledgeDir: config.knowledgeDir,
        elmCacheDir,
        shadowLimit: config.shadowQueueLimit,
        idleGcMs: config.idleGcMs,
      },
      logger,
      recording: !!dataDir,
    })
  : undefined;
await pool?.prepare(knowledge);
const uptake = dataDir
  ? await createUptakeStore({ ...config, dataDir, databaseUrl: undefined }, { logger })
  : undefined;
const app = createApp({
  config,
  logger,
  knowledge: createKnowledgeHolder(knowledge),
  clock: () => now,
  uptake,
  evaluator: pool,
  // As the server does (CDS_IDLE_GC_MS).
  idleGc: createIdleGc(config.idleGcMs),
});
const server = app.listen(config.port, config.host, () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : config.port })}\n`,
  );
});
process.on('SIGTERM', () =>
  server.close(() => {
    void Promise.all([uptake?.close(), pool?.close()]).finally(() => {
      for (const dir of [dataDir, elmCacheDir]) if (dir) rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }),
);
