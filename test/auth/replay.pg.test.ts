import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createDatabaseJtiStore } from '../../src/auth/index.js';

const PG_URL = process.env.CDS_TEST_DATABASE_URL;
const schema = `jti_t_${randomBytes(6).toString('hex')}`;
const opened: Array<Kysely<any>> = [];

async function admin(query: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

/** One server instance's connection to the shared database, in this test's own schema. */
function instance(): Kysely<any> {
  const url = new URL(PG_URL!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const db = new Kysely<any>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url.toString(), max: 4 }) }),
  });
  opened.push(db);
  return db;
}

describe.skipIf(!PG_URL)(
  `the jti table on PostgreSQL${PG_URL ? '' : ' (skipped: CDS_TEST_DATABASE_URL is not set)'}`,
  () => {
    beforeAll(async () => {
      await admin(`CREATE SCHEMA ${schema}`);
    });
    afterAll(async () => {
      await Promise.all(opened.map((db) => db.destroy()));
      await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    });

    it('lets exactly one of two instances use a jti, even when they race', async () => {
      const clock = () => new Date('2026-03-01T10:00:00Z');
      const [a, b] = [await createDatabaseJtiStore(instance(), clock), await createDatabaseJtiStore(instance(), clock)];
      const expires = new Date('2026-03-01T10:05:00Z');
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).firstUse('https://ehr.example', 'raced-pg', expires)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await b.firstUse('https://ehr.example', 'other-pg', expires)).toBe(true);
      expect(await a.firstUse('https://ehr.example', 'other-pg', expires)).toBe(false);
    });
  },
);
