// Marking days whose roll-ups must be computed again (see rollups.ts): done by every writer of the ledger, in
// the transaction that writes the rows.
import { sql, type Kysely } from 'kysely';
import type { UptakeDatabase } from './schema.js';

export const DAY_MS = 86_400_000;

/** Markers are spread over a few rows per day, so that concurrent writers of today wait less on each other. */
const SHARDS = 8;

/** Marks the days of these times stale; in the transaction that wrote the rows. */
export async function markStale(
  trx: Kysely<UptakeDatabase>,
  times: Iterable<number | null | undefined>,
): Promise<void> {
  const days = new Set<number>();
  for (const t of times) if (typeof t === 'number' && Number.isFinite(t)) days.add(Math.floor(t / DAY_MS));
  if (days.size === 0) return;
  const shard = Math.floor(Math.random() * SHARDS);
  // In day order: two writers lock the same markers in the same order.
  const rows = [...days].sort((a, b) => a - b).map((day) => ({ day, shard, changes: 1 }));
  for (let i = 0; i < rows.length; i += 400) {
    await trx
      .insertInto('uptake_rollup_stale')
      .values(rows.slice(i, i + 400))
      .onConflict((oc) => oc.columns(['day', 'shard']).doUpdateSet({ changes: sql`uptake_rollup_stale.changes + 1` }))
      .execute();
  }
}
