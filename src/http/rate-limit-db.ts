// Rate-limit counters in a SQL table, shared by every instance that uses the same database: behind
// a load balancer a client gets its limit once, not once per instance. One row per key and window;
// the upsert that counts a request is a single atomic statement, so concurrent instances never lose a hit.
import { sql, type Kysely } from 'kysely';
import type { Options, Store } from 'express-rate-limit';
import { StartupError } from '../errors.js';

export const RATE_LIMIT_TABLE = 'http_rate_limit';
const SWEEP_EVERY = 1000;

interface RateLimitTable {
  [RATE_LIMIT_TABLE]: { key: string; hits: number; reset_at: number };
}

/** Makes one store per limiter: `prefix` keeps their keys apart in the shared table. */
export type RateLimitStores = (prefix: string) => Store;

/** Creates the table when missing; the caller keeps owning (and closes) the database. */
export async function createDatabaseRateLimitStores(
  database: Kysely<any>,
  clock: () => number = () => Date.now(),
): Promise<RateLimitStores> {
  const db = database as Kysely<RateLimitTable>;
  try {
    await db.schema
      .createTable(RATE_LIMIT_TABLE)
      .ifNotExists()
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('hits', 'bigint', (c) => c.notNull())
      .addColumn('reset_at', 'bigint', (c) => c.notNull())
      .execute();
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 200);
    throw new StartupError(`the database cannot keep the rate-limit counters: ${reason}`, { exitCode: 1, cause: err });
  }
  let calls = 0;
  return (prefix) => {
    let windowMs = 60_000;
    const table = sql.table(RATE_LIMIT_TABLE);
    const store: Store = {
      prefix,
      localKeys: false,
      init(options: Options) {
        windowMs = options.windowMs;
      },
      async get(key) {
        const row = await db
          .selectFrom(RATE_LIMIT_TABLE)
          .select(['hits', 'reset_at'])
          .where('key', '=', prefix + key)
          .executeTakeFirst();
        if (!row || Number(row.reset_at) <= clock()) return undefined;
        return { totalHits: Number(row.hits), resetTime: new Date(Number(row.reset_at)) };
      },
      async increment(key) {
        const now = clock();
        if (++calls % SWEEP_EVERY === 0) await db.deleteFrom(RATE_LIMIT_TABLE).where('reset_at', '<=', now).execute();
        // Every assignment reads the row as it was: a window that has ended starts again at 1.
        const ended = sql<boolean>`${table}.reset_at <= ${now}`;
        const row = await db
          .insertInto(RATE_LIMIT_TABLE)
          .values({ key: prefix + key, hits: 1, reset_at: now + windowMs })
          .onConflict((oc) =>
            oc.column('key').doUpdateSet({
              hits: sql<number>`CASE WHEN ${ended} THEN 1 ELSE ${table}.hits + 1 END`,
              reset_at: sql<number>`CASE WHEN ${ended} THEN ${now + windowMs} ELSE ${table}.reset_at END`,
            }),
          )
          .returning(['hits', 'reset_at'])
          .executeTakeFirstOrThrow();
        return { totalHits: Number(row.hits), resetTime: new Date(Number(row.reset_at)) };
      },
      async decrement(key) {
        await db
          .updateTable(RATE_LIMIT_TABLE)
          .set({ hits: sql<number>`hits - 1` })
          .where('key', '=', prefix + key)
          .where('hits', '>', 0)
          .execute();
      },
      async resetKey(key) {
        await db
          .deleteFrom(RATE_LIMIT_TABLE)
          .where('key', '=', prefix + key)
          .execute();
      },
    };
    return store;
  };
}
