// The drift detectors over the ledger: reads the calls written since the last look, in the order they
// started, and feeds each detector (drift.ts). Detector state and the read position are rows of
// uptake_drift_state and alarms rows of uptake_drift_alarm, so the detectors survive restarts and instances
// sharing a PostgreSQL database share them: one scan at a time holds the position row's lock.
//
// Signals: per service, rule set @ version and rule, whether the rule fired in a call (its evaluation shown or
// suppressed); per service and version, whether any card was produced; per service, calls answered with an
// error (4xx / 5xx but 412 and 499), with 412 (prefetch not available) and slower than the baseline's 95th
// percentile.
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Dialect } from './migrations.js';
import type { DriftAlarmTable, UptakeDatabase } from './schema.js';
import { newDetector, observe, relearn, type DetectorSettings, type DetectorState, type DriftSignal } from './drift.js';

export type Signal = 'firing' | 'errors' | 'precondition-failed' | 'latency';

/** The `rule` label of detectors that are not one rule's. */
export const ANY_CARD = '(any card)';
export const SERVICE_SIGNALS: Record<Exclude<Signal, 'firing'>, string> = {
  errors: '(errors)',
  'precondition-failed': '(412)',
  latency: '(latency)',
};

export interface DriftScanOptions {
  baselineCalls: number;
  /** Calls started less than this long ago are left for the next scan (instances write a little late). */
  lagMs: number;
  now: number;
  /** Most calls read in one scan (default 10,000, about a second on SQLite): a long backlog is read over several. */
  maxCalls?: number;
  onAlarm?: (alarm: DriftAlarmTable) => void;
  /** Firing rates the knowledge declares per rule of a service's rule set version (expectedFiringRate). */
  declared?: (service: string, ruleSet: string, version: string) => Record<string, number> | undefined;
}

interface Position {
  at: number;
  id: string;
}

interface StoredState {
  detector: DetectorState;
  /** Latency: durations of the baseline's calls until the 95th percentile is known, then that percentile. */
  durations?: number[];
  threshold?: number;
  /** A version's detector: the rules seen firing so far (each has its own detector). */
  rules?: string[];
}

const POSITION_KEY = '(position)';
/** Calls read per query: the processing between two queries stays short (the event loop serves hook calls). */
const BATCH = 250;

interface Identity {
  signal: Signal;
  service: string;
  ruleSet: string;
  version: string;
  rule: string;
}

export function detectorKey(d: Identity): string {
  return JSON.stringify([d.signal, d.service, d.ruleSet, d.version, d.rule]);
}

function identityOf(key: string): Identity {
  const [signal, service, ruleSet, version, rule] = JSON.parse(key) as string[];
  return { signal: signal as Signal, service, ruleSet, version, rule };
}

function settingsOf(signal: Signal, baselineCalls: number): DetectorSettings {
  if (signal === 'firing') return { baselineCalls, directions: ['up', 'down'] };
  // Errors and 412s are rare when all is well: the baseline is their rate, or one in the baseline's calls.
  return { baselineCalls, directions: ['up'], minEvents: 0 };
}

/** Reads what was written since the last scan; returns how many calls were read and the alarms raised. */
export async function scanDrift(
  db: Kysely<UptakeDatabase>,
  dialect: Dialect,
  options: DriftScanOptions,
): Promise<{ calls: number; alarms: DriftAlarmTable[] }> {
  await db
    .insertInto('uptake_drift_state')
    .values({ key: POSITION_KEY, state: JSON.stringify({ at: 0, id: '' }), updated_at: options.now })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  return db.transaction().execute(async (trx) => {
    // The position row's lock makes scans one at a time (PostgreSQL: row lock; SQLite: the write lock).
    await trx
      .updateTable('uptake_drift_state')
      .set({ updated_at: options.now })
      .where('key', '=', POSITION_KEY)
      .execute();
    const positionRow = await trx
      .selectFrom('uptake_drift_state')
      .select('state')
      .where('key', '=', POSITION_KEY)
      .$if(dialect === 'postgres', (q) => q.forUpdate())
      .executeTakeFirstOrThrow();
    let position = JSON.parse(positionRow.state) as Position;
    const states = await loadStates(trx);
    const changed = new Set<string>();
    const alarms: DriftAlarmTable[] = [];
    const until = options.now - options.lagMs;
    const max = options.maxCalls ?? 10_000;
    let read = 0;
    while (read < max) {
      const calls = await trx
        .selectFrom('uptake_invocation')
        .select(['id', 'service_id', 'status', 'duration_ms', 'started_at'])
        .where((eb) =>
          eb.or([
            eb('started_at', '>', position.at),
            eb.and([eb('started_at', '=', position.at), eb('id', '>', position.id)]),
          ]),
        )
        .where('started_at', '<', until)
        .orderBy('started_at')
        .orderBy('id')
        .limit(BATCH)
        .execute();
      if (calls.length === 0) break;
      const evaluations = new Map<
        string,
        Array<{ rule_set: string; rule_set_version: string; card_count: number; signature: string }>
      >();
      for (let i = 0; i < calls.length; i += 500) {
        const rows = await trx
          .selectFrom('uptake_evaluation')
          .select(['invocation_id', 'rule_set', 'rule_set_version', 'card_count', 'signature'])
          .where(
            'invocation_id',
            'in',
            calls.slice(i, i + 500).map((c) => c.id),
          )
          .where('disposition', 'in', ['shown', 'suppressed'])
          .where('status', '=', 'ok')
          .execute();
        for (const r of rows) {
          const list = evaluations.get(r.invocation_id) ?? [];
          list.push(r);
          evaluations.set(r.invocation_id, list);
        }
      }
      for (const call of calls) {
        const at = Number(call.started_at);
        const feed = (id: Identity, event: boolean, prior = 0, expectedRate?: number): void => {
          const key = detectorKey(id);
          let stored = states.get(key);
          if (!stored) {
            const settings = {
              ...settingsOf(id.signal, options.baselineCalls),
              ...(expectedRate ? { expectedRate } : {}),
            };
            stored = { detector: newDetector(settings, expectedRate ? 0 : prior) };
            states.set(key, stored);
          }
          changed.add(key);
          const signal = observe(stored.detector, event, at, settingsOf(id.signal, options.baselineCalls));
          if (signal) {
            const alarm = alarmRow(id, key, signal, at);
            stored.detector.alarm = alarm.id;
            alarms.push(alarm);
          }
        };
        const service = call.service_id;
        const status = Number(call.status);
        const none = { service, ruleSet: '', version: '' };
        if (status !== 499) {
          feed({ ...none, signal: 'errors', rule: SERVICE_SIGNALS.errors }, status >= 400 && status !== 412);
          feed(
            { ...none, signal: 'precondition-failed', rule: SERVICE_SIGNALS['precondition-failed'] },
            status === 412,
          );
        }
        if (status === 200)
          latency(
            states,
            changed,
            { ...none, signal: 'latency', rule: SERVICE_SIGNALS.latency },
            Number(call.duration_ms),
            options,
            feed,
          );
        for (const e of evaluations.get(call.id) ?? []) {
          const version = { service, ruleSet: e.rule_set, version: e.rule_set_version };
          const versionId: Identity = { ...version, signal: 'firing', rule: ANY_CARD };
          const versionKey = detectorKey(versionId);
          const priorCalls = states.get(versionKey)?.detector.calls ?? 0;
          feed(versionId, Number(e.card_count) > 0);
          const versionState = states.get(versionKey)!;
          const fired = new Set(rulesOf(e.signature));
          const declared = options.declared?.(service, e.rule_set, e.rule_set_version) ?? {};
          // Rules with a declared rate are watched from the version's first call, fired or not.
          const known = new Set([...(versionState.rules ?? []), ...Object.keys(declared)]);
          for (const rule of fired) if (!known.has(rule)) known.add(rule);
          versionState.rules = [...known].sort();
          // A rule seen firing for the first time had not fired in the version's earlier calls.
          for (const rule of known)
            feed({ ...version, signal: 'firing', rule }, fired.has(rule), priorCalls, declared[rule]);
        }
        position = { at, id: call.id };
        read++;
      }
      if (calls.length < BATCH) break;
    }
    for (const alarm of alarms) {
      await trx.insertInto('uptake_drift_alarm').values(alarm).execute();
    }
    for (const key of changed) {
      const state = JSON.stringify(states.get(key));
      await trx
        .insertInto('uptake_drift_state')
        .values({ key, state, updated_at: options.now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ state, updated_at: options.now }))
        .execute();
    }
    await trx
      .updateTable('uptake_drift_state')
      .set({ state: JSON.stringify(position) })
      .where('key', '=', POSITION_KEY)
      .execute();
    for (const alarm of alarms) options.onAlarm?.(alarm);
    return { calls: read, alarms };
  });
}

/** Latency: the baseline's calls give the 95th percentile; from then on, a call slower than it is an event. */
function latency(
  states: Map<string, StoredState>,
  changed: Set<string>,
  id: Identity,
  durationMs: number,
  options: DriftScanOptions,
  feed: (id: Identity, event: boolean) => void,
): void {
  const key = detectorKey(id);
  let stored = states.get(key);
  if (!stored) {
    // Declared at 5 %: the threshold is the baseline's 95th percentile.
    stored = {
      detector: newDetector({ ...settingsOf('latency', options.baselineCalls), expectedRate: 0.05 }),
      durations: [],
    };
    states.set(key, stored);
  }
  changed.add(key);
  if (stored.threshold === undefined) {
    stored.durations!.push(durationMs);
    if (stored.durations!.length >= options.baselineCalls) {
      const sorted = [...stored.durations!].sort((a, b) => a - b);
      stored.threshold = sorted[Math.ceil(0.95 * sorted.length) - 1];
      delete stored.durations;
    }
    return;
  }
  feed(id, durationMs > stored.threshold);
}

function rulesOf(signature: string): string[] {
  try {
    const parsed = JSON.parse(signature) as Array<{ rule?: unknown }>;
    return parsed.map((s) => (typeof s.rule === 'string' ? s.rule : '')).filter((r) => r !== '');
  } catch {
    return [];
  }
}

function alarmRow(id: Identity, key: string, signal: DriftSignal, at: number): DriftAlarmTable {
  return {
    id: randomUUID(),
    detector: key,
    signal: id.signal,
    service_id: id.service,
    rule_set: id.ruleSet,
    rule_set_version: id.version,
    rule: id.rule,
    direction: signal.direction,
    method: signal.method,
    raised_at: at,
    change_at: signal.changeAt,
    rate_before: signal.rateBefore,
    rate_after: signal.rateAfter,
    calls_before: signal.callsBefore,
    calls_after: signal.callsAfter,
    acknowledged_at: null,
    acknowledged_by: null,
    acknowledge_note: null,
  };
}

/** Every detector's state, with those whose alarm was acknowledged set to learn their baseline again. */
async function loadStates(trx: Transaction<UptakeDatabase>): Promise<Map<string, StoredState>> {
  const rows = await trx
    .selectFrom('uptake_drift_state')
    .select(['key', 'state'])
    .where('key', '<>', POSITION_KEY)
    .execute();
  const states = new Map(rows.map((r) => [r.key, JSON.parse(r.state) as StoredState]));
  const open = [...states.values()].flatMap((s) => (s.detector.alarm ? [s.detector.alarm] : []));
  const acknowledged = new Set<string>();
  for (let i = 0; i < open.length; i += 500) {
    const rows = await trx
      .selectFrom('uptake_drift_alarm')
      .select('id')
      .where('id', 'in', open.slice(i, i + 500))
      .where('acknowledged_at', 'is not', null)
      .execute();
    for (const r of rows) acknowledged.add(r.id);
  }
  for (const [key, s] of states) {
    if (s.detector.alarm && acknowledged.has(s.detector.alarm)) {
      const { signal } = identityOf(key);
      // Every detector learns the new level as its baseline; latency its new 95th percentile.
      if (signal === 'latency') {
        s.detector = newDetector({ ...settingsOf(signal, 0), expectedRate: 0.05 });
        s.durations = [];
        delete s.threshold;
      } else s.detector = relearn(s.detector, settingsOf(signal, 0));
      delete s.detector.alarm;
    }
  }
  return states;
}

/** The acknowledgement of an alarm: the first one is kept. */
export async function acknowledgeAlarm(
  db: Kysely<UptakeDatabase>,
  id: string,
  by: string | null,
  note: string | null,
  now: number,
): Promise<DriftAlarmTable | undefined> {
  await db
    .updateTable('uptake_drift_alarm')
    .set({ acknowledged_at: now, acknowledged_by: by, acknowledge_note: note })
    .where('id', '=', id)
    .where('acknowledged_at', 'is', null)
    .execute();
  return db.selectFrom('uptake_drift_alarm').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listAlarms(
  db: Kysely<UptakeDatabase>,
  filter: { from?: Date; to?: Date; service?: string; status?: 'open' | 'acknowledged' },
): Promise<DriftAlarmTable[]> {
  let q = db.selectFrom('uptake_drift_alarm').selectAll();
  if (filter.from) q = q.where('raised_at', '>=', filter.from.getTime());
  if (filter.to) q = q.where('raised_at', '<', filter.to.getTime());
  if (filter.service) q = q.where('service_id', '=', filter.service);
  if (filter.status === 'open') q = q.where('acknowledged_at', 'is', null);
  if (filter.status === 'acknowledged') q = q.where('acknowledged_at', 'is not', null);
  return q.orderBy('raised_at', 'desc').orderBy('id').execute();
}

/** How many detectors are learning, monitoring, or quiet after an alarm. */
export async function detectorCounts(db: Kysely<UptakeDatabase>): Promise<Record<DetectorState['phase'], number>> {
  const rows = await db
    .selectFrom('uptake_drift_state')
    .select(['key', 'state'])
    .where('key', '<>', POSITION_KEY)
    .execute();
  const counts = { learning: 0, monitoring: 0, quiet: 0 };
  for (const r of rows) counts[(JSON.parse(r.state) as StoredState).detector.phase]++;
  return counts;
}

/** When the last call the detectors read started (null before the first scan). */
export async function scannedThrough(db: Kysely<UptakeDatabase>): Promise<number | null> {
  const row = await db
    .selectFrom('uptake_drift_state')
    .select('state')
    .where('key', '=', POSITION_KEY)
    .executeTakeFirst();
  const at = row ? (JSON.parse(row.state) as Position).at : 0;
  return at > 0 ? at : null;
}
