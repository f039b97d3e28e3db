// Daily roll-ups of the ledger, so that the uptake report over millions of cards reads thousands of rows.
//
// A day's roll-up rows are always recomputed from the raw rows of that day, never adjusted by deltas: whatever
// writes a row of a day (a card, an invocation, a systemAction, an intent, feedback on a card, a completion
// linked to a card) marks the day stale in the same transaction (markStale). A stale day is read raw by the
// report until it is rolled up again (refreshRollups, run before a report for days that are over). So a
// roll-up is right after a retry (rows kept once, the day marked again), late feedback or completion (the
// card's day is marked), two instances on one PostgreSQL (markers are rows; a refresh holds the day's markers
// and deletes only those it read), and for today (never rolled up while it lasts: read raw).
//
// What is kept per day: counts (cards, outcomes, override reasons, clients, suggestions, invocations,
// systemActions, completion), and per group of the day one row holding a set or a distribution as a list
// (rollup-sets.ts): exact distributions as value:count pairs (time to feedback, time to completion), the
// distinct patients, each clinician's cards (burden per clinician-day). Medians and percentiles are therefore
// exact, not sketched.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { cardCompletion } from './completion.js';
import type { UptakeDatabase } from './schema.js';
import { DAY_MS } from './rollup-stale.js';
export { DAY_MS, markStale } from './rollup-stale.js';

type Dialect = 'sqlite' | 'postgres';

/** The UTC day (days since the epoch) of a time column, as an integer. */
export function dayOf(dialect: Dialect, column: RawBuilder<unknown>): RawBuilder<unknown> {
  return dialect === 'postgres' ? sql`(${column} / 86400000)` : sql`CAST(${column} / 86400000 AS INTEGER)`;
}

const DIMS = ['service_id', 'rule_set', 'rule_set_version', 'rule', 'indicator', 'client_iss'] as const;

/** The roll-up tables, each with the query that computes it from the raw rows (of the days in `days`). */
function rollupQueries(
  dialect: Dialect,
  days?: [number, number],
): Array<{ table: string; insert: RawBuilder<unknown> }> {
  const within = (column: string) =>
    days ? sql`${sql.ref(column)} >= ${days[0] * DAY_MS} AND ${sql.ref(column)} < ${days[1] * DAY_MS}` : sql`1 = 1`;
  const served = dayOf(dialect, sql.ref('served_at'));
  const dims = sql.join(DIMS.map((d) => sql.ref(d)));
  const cardDims = sql.join(DIMS.map((d) => sql.ref(`uptake_card.${d}`)));
  const cardDay = dayOf(dialect, sql.ref('uptake_card.served_at'));
  const completion = cardCompletion(days ? { ranges: [[days[0] * DAY_MS, days[1] * DAY_MS]] } : {});
  const list = (item: RawBuilder<unknown>) =>
    dialect === 'postgres' ? sql`string_agg(${item}, ',')` : sql`group_concat(${item}, ',')`;
  return [
    {
      table: 'uptake_rollup_card',
      insert: sql`INSERT INTO uptake_rollup_card (day, service_id, rule_set, rule_set_version, rule, indicator, arm,
          client_iss, client_tenant, outcome, override_system, override_code, override_client_added, override_display,
          cards, suggestions, accepted_suggestions)
        SELECT ${served}, service_id, rule_set, rule_set_version, rule, indicator, arm, client_iss, client_tenant, outcome,
          override_system, override_code, COALESCE(override_client_added, 0), MAX(override_display),
          COUNT(*), SUM(suggestion_count), SUM(accepted_suggestion_count)
        FROM uptake_card WHERE disposition = 'shown' AND ${within('served_at')}
        GROUP BY ${served}, service_id, rule_set, rule_set_version, rule, indicator, arm, client_iss, client_tenant,
          outcome, override_system, override_code, COALESCE(override_client_added, 0)`,
    },
    {
      // Per group of the day, how many cards had each time to feedback: "ms:cards,…".
      table: 'uptake_rollup_feedback_time_set',
      insert: sql`INSERT INTO uptake_rollup_feedback_time_set (day, ${dims}, times)
        SELECT day, ${dims}, ${list(sql`CAST(ms AS TEXT) || ':' || CAST(n AS TEXT)`)}
        FROM (SELECT ${served} AS day, ${dims}, COALESCE(outcome_at - served_at, 0) AS ms, COUNT(*) AS n
          FROM uptake_card WHERE disposition = 'shown' AND outcome IS NOT NULL AND ${within('served_at')}
          GROUP BY ${served}, ${dims}, COALESCE(outcome_at - served_at, 0)) t
        GROUP BY day, ${dims}`,
    },
    {
      // Per group of the day, each clinician's cards: "id:cards,…" (ids from uptake_rollup_pseudonym).
      table: 'uptake_rollup_clinician_set',
      insert: sql`INSERT INTO uptake_rollup_clinician_set (day, ${dims}, clinicians, counts)
        SELECT day, ${dims}, COUNT(*), ${list(sql`CAST(id AS TEXT) || ':' || CAST(n AS TEXT)`)}
        FROM (SELECT ${served} AS day, ${dims}, k.id AS id, COUNT(*) AS n
          FROM uptake_card JOIN uptake_rollup_pseudonym k ON k.pseudonym = uptake_card.user_pseudonym
          WHERE disposition = 'shown' AND ${within('served_at')}
          GROUP BY ${served}, ${dims}, k.id) t
        GROUP BY day, ${dims}`,
    },
    {
      // Per group of the day, its distinct patients: "id,…".
      table: 'uptake_rollup_patient_set',
      insert: sql`INSERT INTO uptake_rollup_patient_set (day, ${dims}, patients, ids)
        SELECT day, ${dims}, COUNT(*), ${list(sql`CAST(id AS TEXT)`)}
        FROM (SELECT DISTINCT ${served} AS day, ${dims}, k.id AS id
          FROM uptake_card JOIN uptake_rollup_pseudonym k ON k.pseudonym = uptake_card.patient_pseudonym
          WHERE disposition = 'shown' AND ${within('served_at')}) t
        GROUP BY day, ${dims}`,
    },
    {
      table: 'uptake_rollup_invocation',
      insert: sql`INSERT INTO uptake_rollup_invocation (day, service_id, rule_set, rule_set_version, client_iss, ok, failed)
        SELECT ${dayOf(dialect, sql.ref('started_at'))}, service_id, rule_set, rule_set_version, client_iss,
          SUM(CASE WHEN status = 200 THEN 1 ELSE 0 END), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END)
        FROM uptake_invocation WHERE ${within('started_at')}
        GROUP BY ${dayOf(dialect, sql.ref('started_at'))}, service_id, rule_set, rule_set_version, client_iss`,
    },
    {
      table: 'uptake_rollup_system_action',
      insert: sql`INSERT INTO uptake_rollup_system_action (day, service_id, rule_set, rule_set_version, rule, client_iss, n)
        SELECT ${served}, service_id, rule_set, rule_set_version, rule, client_iss, COUNT(*)
        FROM uptake_system_action WHERE disposition = 'shown' AND ${within('served_at')}
        GROUP BY ${served}, service_id, rule_set, rule_set_version, rule, client_iss`,
    },
    {
      table: 'uptake_rollup_completion',
      insert: sql`INSERT INTO uptake_rollup_completion (day, ${dims}, outcome, completed, evidenced, n)
        SELECT ${cardDay}, ${cardDims}, uptake_card.outcome, cc.completed, cc.evidenced, COUNT(*)
        FROM uptake_card JOIN ${completion} cc ON cc.card_uuid = uptake_card.card_uuid
        WHERE uptake_card.disposition = 'shown' AND ${within('uptake_card.served_at')}
        GROUP BY ${cardDay}, ${cardDims}, uptake_card.outcome, cc.completed, cc.evidenced`,
    },
    {
      // Per group of the day, how many cards were completed after each time: "ms:cards,…".
      table: 'uptake_rollup_completion_time_set',
      insert: sql`INSERT INTO uptake_rollup_completion_time_set (day, ${dims}, times)
        SELECT day, ${dims}, ${list(sql`CAST(ms AS TEXT) || ':' || CAST(n AS TEXT)`)}
        FROM (SELECT ${cardDay} AS day, ${cardDims}, COALESCE(cc.ttc, 0) AS ms, COUNT(*) AS n
          FROM uptake_card JOIN ${completion} cc ON cc.card_uuid = uptake_card.card_uuid
          WHERE uptake_card.disposition = 'shown' AND cc.completed = 1 AND ${within('uptake_card.served_at')}
          GROUP BY ${cardDay}, ${cardDims}, COALESCE(cc.ttc, 0)) t
        GROUP BY day, ${dims}`,
    },
    {
      // The longest completion window of the day's intents: a day is read from the roll-ups only once every
      // card's window has closed (before, a card without completion is 'open', which depends on the time).
      table: 'uptake_rollup_day',
      insert: sql`INSERT INTO uptake_rollup_day (day, max_window_ms)
        SELECT ${served}, MAX(window_ms) FROM uptake_intent WHERE ${within('served_at')} GROUP BY ${served}`,
    },
  ];
}

export const ROLLUP_TABLES = rollupQueries('sqlite').map((q) => q.table);

/**
 * Gives the patients and clinicians of the cards of `days` an id in uptake_rollup_pseudonym, before
 * the sets of those days are computed; in the same transaction. In pseudonym order: two instances numbering
 * overlapping pseudonyms at once wait for each other instead of deadlocking.
 */
async function numberPseudonyms(db: Kysely<any>, dialect: Dialect, days: [number, number]): Promise<void> {
  const within = sql`served_at >= ${days[0] * DAY_MS} AND served_at < ${days[1] * DAY_MS}`;
  const people = sql`(
      SELECT patient_pseudonym AS p FROM uptake_card WHERE disposition = 'shown' AND ${within}
      UNION SELECT user_pseudonym AS p FROM uptake_card WHERE disposition = 'shown' AND ${within}) t`;
  await (
    dialect === 'postgres'
      ? // ON CONFLICT alone would draw a sequence value for every row it skips: each refresh of a day would use
        // up as many ids as the day has people, and the report's id-indexed arrays grow with the largest id.
        sql`INSERT INTO uptake_rollup_pseudonym (pseudonym) SELECT p FROM ${people}
          WHERE p IS NOT NULL AND NOT EXISTS (SELECT 1 FROM uptake_rollup_pseudonym k WHERE k.pseudonym = t.p)
          ORDER BY p ON CONFLICT (pseudonym) DO NOTHING`
      : sql`INSERT OR IGNORE INTO uptake_rollup_pseudonym (pseudonym) SELECT p FROM ${people}
          WHERE p IS NOT NULL ORDER BY p`
  ).execute(db);
}

/**
 * Rolls up again every stale day that is over (before `now`'s day), one transaction a day. On PostgreSQL the
 * day's markers are locked first: a writer marking the day meanwhile waits and marks it again after, and a
 * second instance refreshing the same day finds no marker left and skips it.
 */
export async function refreshRollups(
  db: Kysely<UptakeDatabase>,
  dialect: Dialect,
  now: number,
  { stop }: { stop?: () => boolean } = {},
): Promise<number> {
  const today = Math.floor(now / DAY_MS);
  const stale = await db
    .selectFrom('uptake_rollup_stale')
    .select('day')
    .distinct()
    .where('day', '<', today)
    .orderBy('day')
    .execute();
  let refreshed = 0;
  for (const { day } of stale) {
    // Between days, the event loop serves calls (SQLite runs each statement on this thread).
    await new Promise((resolve) => setImmediate(resolve));
    if (stop?.()) break;
    const d = Number(day);
    await db.transaction().execute(async (trx) => {
      const markers = await trx
        .selectFrom('uptake_rollup_stale')
        .select(['day', 'shard'])
        .where('day', '=', d)
        .$if(dialect === 'postgres', (q) => q.forUpdate())
        .execute();
      if (markers.length === 0) return;
      await numberPseudonyms(trx, dialect, [d, d + 1]);
      for (const { table, insert } of rollupQueries(dialect, [d, d + 1])) {
        await sql`DELETE FROM ${sql.table(table)} WHERE day = ${d}`.execute(trx);
        await insert.execute(trx);
      }
      for (const m of markers)
        await trx.deleteFrom('uptake_rollup_stale').where('day', '=', d).where('shard', '=', m.shard).execute();
      refreshed++;
    });
  }
  return refreshed;
}

const OPEN_START = -1e9;

/** Which part of a report's period is read from the roll-ups (whole days) and which from the raw rows. */
export interface ReadPlan {
  /** [first day, day after the last) read from the roll-ups. */
  rollupDays: Array<[number, number]>;
  /** [from, to) in milliseconds read raw; undefined ends are open. */
  rawRanges: Array<[number | undefined, number | undefined]>;
}

/** Everything raw: the computation the roll-ups must equal. */
export function rawPlan(from?: Date, to?: Date): ReadPlan {
  return { rollupDays: [], rawRanges: [[from?.getTime(), to?.getTime()]] };
}

/**
 * The days of [from, to) that can be read from the roll-ups: whole days inside the period, over, not stale,
 * and whose cards' completion windows have all closed by `now`. The rest of the period is read raw.
 */
export async function readPlan(
  db: Kysely<UptakeDatabase>,
  from: Date | undefined,
  to: Date | undefined,
  now: number,
): Promise<ReadPlan> {
  const [windowRow, staleRows] = await Promise.all([
    db
      .selectFrom('uptake_rollup_day')
      .select((eb) => eb.fn.max('max_window_ms').as('w'))
      .executeTakeFirst(),
    db.selectFrom('uptake_rollup_stale').select('day').distinct().execute(),
  ]);
  const maxWindow = Number(windowRow?.w ?? 0);
  const first = from ? Math.ceil(from.getTime() / DAY_MS) : undefined;
  const end = Math.min(to ? Math.floor(to.getTime() / DAY_MS) : Infinity, Math.floor((now - maxWindow) / DAY_MS));
  const stale = staleRows
    .map((r) => Number(r.day))
    .filter((d) => (first === undefined || d >= first) && d < end)
    .sort((a, b) => a - b);
  const rollupDays: Array<[number, number]> = [];
  // Days before the first card are empty either way: an open start is the smallest day there can be.
  let start = first ?? OPEN_START;
  for (const d of [...stale, end]) {
    if (d > start) rollupDays.push([start, d]);
    start = Math.max(start, d + 1);
  }
  if (rollupDays.length === 0) return rawPlan(from, to);
  const rawRanges: ReadPlan['rawRanges'] = [];
  let cursor: number | undefined = from?.getTime();
  for (const [a, b] of rollupDays) {
    if (cursor === undefined ? a > OPEN_START : cursor < a * DAY_MS) rawRanges.push([cursor, a * DAY_MS]);
    cursor = b * DAY_MS;
  }
  const toMs = to?.getTime();
  if (toMs === undefined || cursor! < toMs) rawRanges.push([cursor, toMs]);
  return { rollupDays, rawRanges };
}

/** A condition on a time column (ms) for the raw ranges of a plan; false when there are none. */
export function rawCondition(plan: ReadPlan, column: RawBuilder<unknown>): RawBuilder<unknown> {
  if (plan.rawRanges.length === 0) return sql`1 = 0`;
  return sql`(${sql.join(
    plan.rawRanges.map(([a, b]) => {
      const parts = [
        ...(a !== undefined ? [sql`${column} >= ${a}`] : []),
        ...(b !== undefined ? [sql`${column} < ${b}`] : []),
      ];
      return parts.length > 0 ? sql`(${sql.join(parts, sql` AND `)})` : sql`1 = 1`;
    }),
    sql` OR `,
  )})`;
}

/** A condition on a roll-up table's day column for the roll-up days of a plan. */
export function rollupCondition(plan: ReadPlan): RawBuilder<unknown> {
  if (plan.rollupDays.length === 0) return sql`1 = 0`;
  return sql`(${sql.join(
    plan.rollupDays.map(([a, b]) => sql`(day >= ${a} AND day < ${b})`),
    sql` OR `,
  )})`;
}
