// Fresh uptake stores for tests: SQLite in a temporary directory, or PostgreSQL in a schema (or a
// database) of its own on the server named by CDS_TEST_DATABASE_URL.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLogger } from '../../src/logger.js';
import {
  createUptakeStore,
  type EvaluationInput,
  type UptakeConfig,
  type UptakeStore,
} from '../../src/uptake/index.js';
import { KNOWLEDGE_EXTENSION, type Card } from '../../src/cards/index.js';

export type StoreKind = 'sqlite' | 'postgres';

export const PG_URL = process.env.CDS_TEST_DATABASE_URL;
export const PG_SKIP_REASON = 'skipped: CDS_TEST_DATABASE_URL is not set (.ci/run starts a PostgreSQL and sets it)';

/** Says, once per PostgreSQL test file, that its tests are skipped and why. */
export function announcePgSkip(file: string): void {
  if (!PG_URL) console.warn(`${file}: PostgreSQL tests ${PG_SKIP_REASON}`);
}
export const TEST_PSEUDONYM_KEY = 'test-pseudonym-key-0123456789abcdef';

export interface TestStore {
  store: UptakeStore;
  config: UptakeConfig;
  cleanup: () => Promise<void>;
}

export interface TestStoreOptions {
  clock?: () => Date;
  flushMs?: number;
  /** PostgreSQL only: a database of its own (which the test may take down), not just a schema. */
  ownDatabase?: boolean;
}

export async function testUptakeConfig(
  kind: StoreKind,
  { flushMs = 20, ownDatabase = false }: TestStoreOptions = {},
): Promise<{ config: UptakeConfig; cleanup: () => Promise<void>; database?: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cds-uptake-'));
  const base = { dataDir, pseudonymKey: TEST_PSEUDONYM_KEY, uptakeFlushMs: flushMs, uptakeQueueLimit: 100_000 };
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (kind === 'sqlite') return { config: base, cleanup: () => Promise.resolve(removeDir()) };
  if (!PG_URL) throw new Error('CDS_TEST_DATABASE_URL is not set');
  const name = `uptake_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(ownDatabase ? `CREATE DATABASE ${name}` : `CREATE SCHEMA ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_URL);
  if (ownDatabase) url.pathname = `/${name}`;
  else url.searchParams.set('options', `-c search_path=${name}`);
  return {
    config: { ...base, databaseUrl: url.toString() },
    database: ownDatabase ? name : undefined,
    cleanup: async () => {
      removeDir();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(
          ownDatabase ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP SCHEMA IF EXISTS ${name} CASCADE`,
        );
      } finally {
        await c.end();
      }
    },
  };
}

export async function testUptakeStore(kind: StoreKind, options: TestStoreOptions = {}): Promise<TestStore> {
  const { config, cleanup } = await testUptakeConfig(kind, options);
  const store = await createUptakeStore(config, { logger: createLogger('error', true), clock: options.clock });
  return {
    store,
    config,
    cleanup: async () => {
      await store.close();
      await cleanup();
    },
  };
}

/** Runs SQL as the test server's user (PostgreSQL), e.g. to take a database down and up again. */
export async function pgAdmin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * The `evaluations` of a recorded call whose cards were shown: one evaluation per rule set version,
 * each card's rule taken from the provenance extension the test wrote on it.
 */
export function shownEvaluations(
  cards: Card[],
  fallback: { ruleSet?: string; version?: string } = {},
): EvaluationInput[] {
  const byVersion = new Map<string, EvaluationInput>();
  for (const card of cards) {
    const k = (card.extension?.[KNOWLEDGE_EXTENSION] ?? {}) as {
      ruleSet?: string;
      version?: string;
      rule?: string;
      cql?: EvaluationInput['cql'];
    };
    const ruleSet = k.ruleSet ?? fallback.ruleSet ?? '';
    const version = k.version ?? fallback.version ?? '';
    const key = `${ruleSet}@${version}`;
    let evaluation = byVersion.get(key);
    if (!evaluation) {
      evaluation = { disposition: 'shown', ruleSet, version, cql: k.cql ?? [], status: 'ok', cards: [] };
      byVersion.set(key, evaluation);
    }
    evaluation.cards.push({ card, rule: k.rule ?? '' });
  }
  return [...byVersion.values()];
}
