// Records invocations and served cards. writeNow() writes an answered call before its answer (calls answered at the
// same time in one commit); record() queues, a timer writes the queue in batches. A failing database keeps the
// queue (up to a limit) and retries.
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type {
  CardTable,
  EvaluationTable,
  ExplanationTable,
  IntentTable,
  InvocationTable,
  SystemActionTable,
  UptakeDatabase,
} from './schema.js';
import { withoutNul } from './text.js';
import { linkEvidence, type CallEvidence } from './completion.js';
import { markStale } from './rollup-stale.js';

export interface LedgerEntry {
  /** Absent for shadow evaluations recorded after their call. */
  invocation?: InvocationTable;
  evaluations: EvaluationTable[];
  cards: CardTable[];
  explanations: ExplanationTable[];
  /** The systemActions each evaluation returned (or would have). */
  systemActions?: SystemActionTable[];
  /** What the cards' suggestions would do. */
  intents?: IntentTable[];
  /** The call as evidence for earlier cards of its patient: matched when it is written, never stored itself. */
  evidence?: CallEvidence;
}

export interface RecorderStatus {
  state: 'ok' | 'failing';
  /** Entries waiting to be written. */
  queued: number;
  /**
   * Entries lost: the queue was full while the database was failing, or the database refused an entry and then
   * refused to keep it aside too.
   */
  dropped: number;
  /** Entries the database refused as values since start, kept in uptake_set_aside to be written again. */
  setAside: number;
  lastError?: string;
  lastErrorAt?: string;
  lastWriteAt?: string;
}

export interface RecorderOptions {
  flushMs: number;
  queueLimit: number;
  /** Called before each write, e.g. to finish migrations the database was not up for. */
  prepare: () => Promise<void>;
  onError: (message: string, detail: { queued: number; dropped: number; setAside: number }) => void;
  onRecovered: (detail: { queued: number }) => void;
}

const BATCH_ROWS = 400;
/** At most this many answered calls share one commit. */
const GROUP_ENTRIES = 64;
const MAX_BACKOFF_MS = 30_000;

export class Recorder {
  private queue: LedgerEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Writes run one at a time, in order: each flush waits for the one before it. */
  private lock: Promise<void> = Promise.resolve();
  private failures = 0;
  private readonly status: RecorderStatus = { state: 'ok', queued: 0, dropped: 0, setAside: 0 };
  private closed = false;
  /** writeNow's entries waiting for the next group commit, and the writer of the groups while it runs. */
  private waiting: Array<{ entry: LedgerEntry; done: (written: boolean) => void }> = [];
  private writingNow: Promise<void> | undefined;

  constructor(
    private readonly db: Kysely<UptakeDatabase>,
    private readonly options: RecorderOptions,
  ) {}

  record(entry: LedgerEntry): void {
    if (!this.closed) this.enqueue(entry);
  }

  /** Queues an entry for the next batch; also while closing, for close() to write or count as unwritten. */
  private enqueue(entry: LedgerEntry): void {
    // A full queue (a long outage) refuses new entries rather than growing without bound.
    if (this.queue.length >= this.options.queueLimit) {
      this.status.dropped++;
      return;
    }
    this.queue.push(entry);
    this.schedule(this.failures > 0 ? this.backoff() : this.options.flushMs);
  }

  /**
   * Writes one entry now and resolves once the database has it (durably: SQLite runs with synchronous=FULL).
   * Entries of calls answered meanwhile share a transaction (group commit): one commit, one fsync, for all the
   * calls whose answers wait on it; a group the database refuses a value of is written again one entry at a time.
   * When the database cannot take an entry, it is queued as record() would and false is returned: the call is
   * answered all the same.
   */
  writeNow(entry: LedgerEntry): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((done) => {
      this.waiting.push({ entry, done });
      this.writingNow ??= this.writeWaiting();
    });
  }

  private async writeWaiting(): Promise<void> {
    // The calls answered in this turn of the event loop join the first group.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.waiting.length > 0) await this.writeGroup(this.waiting.splice(0, GROUP_ENTRIES));
    this.writingNow = undefined;
  }

  private async writeGroup(group: Array<{ entry: LedgerEntry; done: (written: boolean) => void }>): Promise<void> {
    try {
      await this.options.prepare();
      await this.db.transaction().execute(async (trx) =>
        markStale(
          trx,
          await insertEntries(
            trx,
            group.map((g) => g.entry),
          ),
        ),
      );
    } catch (err) {
      if (group.length > 1 && isDataError(err)) {
        for (const one of group) await this.writeGroup([one]);
        return;
      }
      this.status.lastError = describe(err);
      this.status.lastErrorAt = new Date().toISOString();
      for (const { entry, done } of group) {
        this.enqueue(entry);
        done(false);
      }
      return;
    }
    this.status.lastWriteAt = new Date().toISOString();
    for (const { entry, done } of group) {
      // Matching the call as evidence for earlier cards reads the ledger: off the answer's path, in the next batch.
      if (entry.evidence) this.enqueue({ evaluations: [], cards: [], explanations: [], evidence: entry.evidence });
      done(true);
    }
  }

  current(): RecorderStatus {
    return { ...this.status, queued: this.queue.length };
  }

  /** Writes everything queued so far; rejects when the database cannot take it. */
  flush(): Promise<void> {
    const run = this.lock.then(async () => {
      while (this.queue.length > 0) await this.writeBatch();
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Flushes and stops; what cannot be written is reported back, not silently lost. */
  async close(): Promise<{ unwritten: number }> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.writingNow;
    try {
      await this.flush();
    } catch {
      // reported below
    }
    return { unwritten: this.queue.length };
  }

  private schedule(delay: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(() => this.schedule(this.backoff()));
    }, delay);
    this.timer.unref();
  }

  private backoff(): number {
    return Math.min(MAX_BACKOFF_MS, this.options.flushMs * 2 ** Math.min(this.failures, 10));
  }

  private async writeBatch(): Promise<void> {
    const batch: LedgerEntry[] = [];
    let rows = 0;
    while (batch.length < this.queue.length && rows < BATCH_ROWS) {
      const entry = this.queue[batch.length];
      batch.push(entry);
      rows += 1 + entry.evaluations.length + entry.cards.length;
    }
    try {
      await this.options.prepare();
      await this.db.transaction().execute(async (trx) => {
        const touched = await insertEntries(trx, batch);
        // In call order: a card and a later call of its patient may be in the same batch.
        await linkEvidence(
          trx,
          batch.flatMap((e) => (e.evidence ? [e.evidence] : [])),
          touched,
        );
        // Once, at the end: every writer takes the markers of its days in the same (day) order.
        await markStale(trx, touched);
      });
    } catch (err) {
      // The database refused a value, not the connection: retrying the batch would block everything queued
      // behind it for ever. Each entry is written alone, and the ones it refuses are set aside and counted.
      if (isDataError(err) && (await this.writeOneByOne(batch))) return;
      this.failures++;
      this.status.state = 'failing';
      this.status.lastError = describe(err);
      this.status.lastErrorAt = new Date().toISOString();
      this.options.onError(this.status.lastError, {
        queued: this.queue.length,
        dropped: this.status.dropped,
        setAside: this.status.setAside,
      });
      throw err;
    }
    this.written(batch.length);
  }

  /** Writes the entries of a refused batch one at a time; false when the database itself is failing. */
  private async writeOneByOne(batch: LedgerEntry[]): Promise<boolean> {
    for (const entry of batch) {
      try {
        await this.db.transaction().execute(async (trx) => {
          const touched = await insertEntries(trx, [entry]);
          await linkEvidence(trx, entry.evidence ? [entry.evidence] : [], touched);
          await markStale(trx, touched);
        });
      } catch (err) {
        if (!isDataError(err)) return false;
        this.status.lastError = describe(err);
        this.status.lastErrorAt = new Date().toISOString();
        const kept = await this.setAside(entry, this.status.lastError);
        if (kept) this.status.setAside++;
        else this.status.dropped++;
        this.options.onError(
          `an entry the database refused was ${kept ? 'set aside (uptake_set_aside)' : 'lost'}: ${this.status.lastError}`,
          { queued: this.queue.length, dropped: this.status.dropped, setAside: this.status.setAside },
        );
      }
      // Written or set aside: either way it no longer holds up the queue.
      const at = this.queue.indexOf(entry);
      if (at >= 0) this.queue.splice(at, 1);
    }
    this.written(0);
    return true;
  }

  /** Keeps a refused entry whole in uptake_set_aside; false when that too fails. */
  private async setAside(entry: LedgerEntry, reason: string): Promise<boolean> {
    try {
      await this.db
        .insertInto('uptake_set_aside')
        .values({ id: randomUUID(), set_aside_at: Date.now(), reason, entry: JSON.stringify(entry) })
        .execute();
      return true;
    } catch {
      return false;
    }
  }

  private written(count: number): void {
    // Only now: entries recorded while the write was running stay queued behind this batch.
    this.queue.splice(0, count);
    this.status.lastWriteAt = new Date().toISOString();
    if (this.failures > 0) {
      this.failures = 0;
      this.status.state = 'ok';
      this.options.onRecovered({ queued: this.queue.length });
    }
  }
}

/**
 * The rows of `entries`, each kept once (a row already there is left as it is). Answers the times of the rows:
 * written or already there (a retry), their days are rolled up again.
 */
async function insertEntries(trx: Transaction<UptakeDatabase>, batch: LedgerEntry[]): Promise<number[]> {
  const invocations = batch.flatMap((e) => (e.invocation ? [withoutNul(e.invocation)] : []));
  const evaluations = batch.flatMap((e) => e.evaluations.map(withoutNul));
  const cards = batch.flatMap((e) => e.cards.map(withoutNul));
  for (let i = 0; i < invocations.length; i += BATCH_ROWS) {
    await trx
      .insertInto('uptake_invocation')
      .values(invocations.slice(i, i + BATCH_ROWS))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }
  for (let i = 0; i < evaluations.length; i += BATCH_ROWS) {
    await trx
      .insertInto('uptake_evaluation')
      .values(evaluations.slice(i, i + BATCH_ROWS))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }
  for (let i = 0; i < cards.length; i += BATCH_ROWS) {
    await trx
      .insertInto('uptake_card')
      .values(cards.slice(i, i + BATCH_ROWS))
      .onConflict((oc) => oc.column('card_uuid').doNothing())
      .execute();
  }
  const explanations = batch.flatMap((e) => (e.explanations ?? []).map(withoutNul));
  for (let i = 0; i < explanations.length; i += BATCH_ROWS) {
    await trx
      .insertInto('uptake_explanation')
      .values(explanations.slice(i, i + BATCH_ROWS))
      .onConflict((oc) => oc.column('card_uuid').doNothing())
      .execute();
  }
  const systemActions = batch.flatMap((e) => (e.systemActions ?? []).map(withoutNul));
  for (let i = 0; i < systemActions.length; i += BATCH_ROWS) {
    await trx
      .insertInto('uptake_system_action')
      .values(systemActions.slice(i, i + BATCH_ROWS))
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }
  const intents = batch.flatMap((e) => (e.intents ?? []).map(withoutNul));
  for (let i = 0; i < intents.length; i += BATCH_ROWS) {
    await trx
      .insertInto('uptake_intent')
      .values(intents.slice(i, i + BATCH_ROWS))
      .onConflict((oc) => oc.columns(['card_uuid', 'suggestion_uuid', 'action_index']).doNothing())
      .execute();
  }
  return [
    ...invocations.map((r) => r.started_at),
    ...cards.map((r) => r.served_at),
    ...systemActions.map((r) => r.served_at),
    ...intents.map((r) => r.served_at),
  ];
}

/**
 * An error about a value (PostgreSQL SQLSTATE classes 22 data exception and 23 integrity constraint; SQLite's
 * constraint, mismatch and range errors), as opposed to one about the database being reachable.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code !== 'string') return false;
  // A unique violation (23505) is a race between writers, not a bad value: it is retried like any failure.
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
  return /^2[23][0-9A-Z]{3}$/.test(code) || /^SQLITE_(CONSTRAINT|MISMATCH|RANGE|TOOBIG)/.test(code);
}

/**
 * A database error as a short line: driver messages name tables and constraints, never values (queries are
 * parameterised).
 */
export function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = (e?.message ?? String(err)).split('\n')[0].slice(0, 200);
  return e?.code ? `${e.code}: ${message}` : message;
}

export interface SetAsideSummary {
  /** Entries kept in uptake_set_aside. */
  entries: number;
  oldest?: string;
  newest?: string;
  /** How many entries each refusal covers, most first. */
  reasons: Array<{ reason: string; entries: number }>;
}

/** What uptake_set_aside holds, by the database's reason for refusing it. */
export async function setAsideSummary(db: Kysely<UptakeDatabase>): Promise<SetAsideSummary> {
  const rows = await db
    .selectFrom('uptake_set_aside')
    .select((eb) => [
      'reason',
      eb.fn.countAll<number>().as('entries'),
      eb.fn.min('set_aside_at').as('oldest'),
      eb.fn.max('set_aside_at').as('newest'),
    ])
    .groupBy('reason')
    .execute();
  const iso = (ms: unknown) => new Date(Number(ms)).toISOString();
  const reasons = rows
    .map((r) => ({ reason: r.reason, entries: Number(r.entries) }))
    .sort((a, b) => b.entries - a.entries || a.reason.localeCompare(b.reason));
  if (rows.length === 0) return { entries: 0, reasons };
  return {
    entries: reasons.reduce((n, r) => n + r.entries, 0),
    oldest: iso(Math.min(...rows.map((r) => Number(r.oldest)))),
    newest: iso(Math.max(...rows.map((r) => Number(r.newest)))),
    reasons,
  };
}

/**
 * Writes the set-aside entries again, oldest first, each in its own transaction that also removes it from
 * uptake_set_aside; one the database still refuses stays, with its new reason. Rejects (having written what it
 * could) when the database itself fails.
 */
export async function retrySetAside(db: Kysely<UptakeDatabase>): Promise<{ written: number; refused: number }> {
  const rows = await db.selectFrom('uptake_set_aside').selectAll().orderBy('set_aside_at').orderBy('id').execute();
  let written = 0;
  let refused = 0;
  for (const row of rows) {
    let entry: LedgerEntry;
    try {
      entry = JSON.parse(row.entry) as LedgerEntry;
    } catch {
      refused++;
      continue;
    }
    try {
      await db.transaction().execute(async (trx) => {
        const touched = await insertEntries(trx, [entry]);
        await linkEvidence(trx, entry.evidence ? [entry.evidence] : [], touched);
        await markStale(trx, touched);
        await trx.deleteFrom('uptake_set_aside').where('id', '=', row.id).execute();
      });
      written++;
    } catch (err) {
      if (!isDataError(err)) throw err;
      refused++;
      await db
        .updateTable('uptake_set_aside')
        .set({ reason: describe(err) })
        .where('id', '=', row.id)
        .execute();
    }
  }
  return { written, refused };
}
