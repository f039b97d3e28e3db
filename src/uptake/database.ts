// Opens the ledger database: SQLite in the data directory by default, PostgreSQL when a
// postgres:// URL is configured.
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import type pg from 'pg';
import type { UptakeDatabase } from './schema.js';
import type { Dialect } from './migrations.js';

export interface DatabaseOptions {
  /** postgres:// or postgresql:// URL; when absent, SQLite under dataDir. */
  databaseUrl?: string;
  dataDir: string;
}

export interface OpenDatabase {
  db: Kysely<UptakeDatabase>;
  dialect: Dialect;
  /** Where the data lives, without credentials: a file path or host/database. */
  location: string;
  /**
   * Brings the query planner's statistics up to date where the database does not do it itself (SQLite's
   * `PRAGMA optimize`, bounded by analysis_limit: ~70 ms on a million cards); PostgreSQL's autovacuum does.
   */
  optimize: () => Promise<void>;
}

export const SQLITE_FILE = 'uptake.sqlite';

// The PostgreSQL driver is loaded only when a database URL asks for it: a SQLite server does not keep it (~3 MiB).
const require = createRequire(import.meta.url);

// int8 (COUNT, SUM, bigint columns) and numeric come back from PostgreSQL as numbers, as they do from SQLite.
const pgTypesOf = (types: typeof pg.types) => ({
  getTypeParser(oid: number, format?: 'text' | 'binary'): any {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    return format === 'binary' ? types.getTypeParser(oid, 'binary') : types.getTypeParser(oid, 'text');
  },
});

export function openDatabase({ databaseUrl, dataDir }: DatabaseOptions): OpenDatabase {
  if (databaseUrl) {
    const pg = require('pg') as typeof import('pg');
    const pgTypes = pgTypesOf(pg.types);
    const pool = new pg.Pool({ connectionString: databaseUrl, types: pgTypes, max: 10, connectionTimeoutMillis: 5000 });
    // An idle client that loses its connection must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    const url = new URL(databaseUrl);
    return {
      db: new Kysely<UptakeDatabase>({ dialect: new PostgresDialect({ pool }) }),
      dialect: 'postgres',
      location: `${url.hostname}:${url.port || 5432}${url.pathname}`,
      optimize: () => Promise.resolve(),
    };
  }
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, SQLITE_FILE);
  const database = new SqliteDatabase(file, { timeout: 5000 });
  database.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before it returns, so a 200 for feedback means it is durable.
  database.pragma('synchronous = FULL');
  // Reports group a million rows: sort in memory rather than in temporary files.
  database.pragma('temp_store = MEMORY');
  database.pragma('cache_size = -65536');
  // Without statistics the planner may scan a million cards for a report's last days.
  database.pragma('analysis_limit = 1000');
  const db = new Kysely<UptakeDatabase>({ dialect: new SqliteDialect({ database }) });
  return {
    db,
    dialect: 'sqlite',
    location: file,
    // Through Kysely, which hands out its one connection to one user at a time: run on the connection directly,
    // the analysis could land inside a transaction in flight and commit or roll back with it.
    optimize: async () => {
      if (database.open) await sql`PRAGMA optimize = 0x10002`.execute(db);
    },
  };
}
