// The jti store in a SQL table, shared by every instance that uses the same database (SQLite or
// PostgreSQL through Kysely). The primary key makes "first use" atomic across instances.
import type { Kysely } from 'kysely';
import { StartupError } from '../errors.js';
import type { JtiStore } from './replay.js';

export const JTI_TABLE = 'auth_used_jti';
const SWEEP_EVERY = 1000;

interface JtiTable {
  [JTI_TABLE]: { issuer: string; jti: string; expires_at: number };
}

/**
 * Creates the table when missing; the caller keeps owning (and closes) the database. A database
 * that cannot take the table stops the start (StartupError): replayed JWTs could not be refused.
 */
export async function createDatabaseJtiStore(
  database: Kysely<any>,
  clock: () => Date = () => new Date(),
): Promise<JtiStore> {
  const db = database as Kysely<JtiTable>;
  try {
    await db.schema
      .createTable(JTI_TABLE)
      .ifNotExists()
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('jti', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${JTI_TABLE}_pk`, ['issuer', 'jti'])
      .execute();
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200);
    throw new StartupError(`the database cannot keep the used JWT ids: ${reason}`, { exitCode: 1, cause: err });
  }
  let calls = 0;
  return {
    async firstUse(issuer, jti, expiresAt) {
      const now = clock().getTime();
      if (++calls % SWEEP_EVERY === 0) await db.deleteFrom(JTI_TABLE).where('expires_at', '<=', now).execute();
      // A use that has expired no longer counts.
      await db
        .deleteFrom(JTI_TABLE)
        .where('issuer', '=', issuer)
        .where('jti', '=', jti)
        .where('expires_at', '<=', now)
        .execute();
      const result = await db
        .insertInto(JTI_TABLE)
        .values({ issuer, jti, expires_at: expiresAt.getTime() })
        .onConflict((oc) => oc.columns(['issuer', 'jti']).doNothing())
        .executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
  };
}
