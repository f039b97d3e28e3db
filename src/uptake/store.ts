// The uptake store: the ledger database, the batching recorder, feedback ingestion and reports.
// Built once by createUptakeStore(config) and passed to whoever needs it; close() flushes.
import { sql, type Kysely } from 'kysely';
import type { UptakeDatabase } from './schema.js';
import type { VerifiedClient } from '../auth/index.js';
import { CdsError, uptakeUnavailable } from '../errors.js';
import { fingerprintKey } from '../knowledge/index.js';
import type { Logger } from '../logger.js';
import { openDatabase } from './database.js';
import { ingestFeedback, type FeedbackItemResult } from './ingest-feedback.js';
import { ledgerEntry, shadowEntry, type InvocationInput, type ShadowInput } from './ledger-entry.js';
import { createArmAssigner, type ArmAssigner } from './assignment.js';
import { migrateToLatest } from './migrations.js';
import { refreshRollups } from './rollups.js';
import { createPseudonymizer, loadPseudonymKey } from './pseudonym.js';
import {
  describe,
  Recorder,
  retrySetAside,
  setAsideSummary,
  type RecorderStatus,
  type SetAsideSummary,
} from './recorder.js';
import { buildReport, type Report } from './report.js';
import type { ReportQuery } from './report-query.js';
import { experimentReport, type ExperimentReport, type ExperimentReportOptions } from './experiment-report.js';
import { experimentList, type ExperimentList } from './experiment-list.js';
import type { ExperimentPlan } from './experiment-plan.js';
import { shadowReport, type ShadowReport, type ShadowReportOptions } from './shadow-report.js';
import type { Dialect } from './migrations.js';
import type { DriftAlarmTable } from './schema.js';
import { acknowledgeAlarm, detectorCounts, listAlarms, scanDrift, scannedThrough } from './drift-scan.js';
import { alertList, alertOf, type Alert, type AlertList, type AlertQuery } from './alerts.js';
import { variationReport, type VariationQuery, type VariationReport } from './variation.js';

export interface UptakeConfig {
  dataDir: string;
  databaseUrl?: string;
  pseudonymKey?: string;
  uptakeFlushMs: number;
  uptakeQueueLimit: number;
  /** Calls from which drift detectors learn their baseline (CDS_DRIFT_BASELINE_CALLS). */
  driftBaselineCalls?: number;
  /** How often the drift detectors read new calls; 0: only when alerts or metrics are read. */
  driftScanMs?: number;
}

export interface UptakeStatus {
  status: 'ok' | 'unavailable';
  database: Dialect;
  recorder: RecorderStatus;
  error?: string;
}

export interface UptakeStore {
  readonly dialect: Dialect;
  /** The store's database connection, for other tables that live beside the ledger (used JWT ids). */
  readonly database: Kysely<UptakeDatabase>;
  /** Queues one hook call for the ledger; never waits, never throws. */
  record(invocation: InvocationInput): void;
  /**
   * Writes one hook call (its invocation, evaluations and cards) before it resolves: the answer that shows the
   * cards waits for it. When the database cannot take it now, it is queued as record() does; never throws.
   */
  recordNow(invocation: InvocationInput): Promise<void>;
  /** Queues shadow evaluations that finished after their call was recorded; never waits, never throws. */
  recordShadow(shadow: ShadowInput): void;
  /** Assigns experiment arms with the pseudonym key: the same on every instance sharing it. */
  readonly assignArm: ArmAssigner;
  /** Stops an experiment for every instance sharing the database; the first stop is the one kept. */
  stopExperiment(
    id: string,
    stoppedBy: string | undefined,
    reason?: string,
  ): Promise<ExperimentStop & { already: boolean }>;
  /**
   * Whether an experiment is stopped, as last read from the database (re-read every STOP_REFRESH_MS);
   * 'unknown' until the stops have been read once.
   */
  isStopped(id: string): boolean | 'unknown';
  /** Every stored stop, by experiment id. */
  experimentStops(): Promise<Map<string, ExperimentStop>>;
  /** Writes everything queued; rejects when the database cannot take it. */
  flush(): Promise<void>;
  /** Stores the valid items durably before it resolves; one result per item. */
  ingestFeedback(serviceId: string, items: unknown[], client?: VerifiedClient): Promise<FeedbackItemResult[]>;
  report(query: ReportQuery): Promise<Report>;
  /** An experiment by assigned arm; undefined when neither the plan nor the ledger knows it. */
  experimentReport(experimentId: string, options?: ExperimentReportOptions): Promise<ExperimentReport | undefined>;
  /** The experiments of the plans and of the ledger, with status and counts. */
  experiments(options: { plans: ExperimentPlan[]; now?: Date }): Promise<ExperimentList>;
  /**
   * Each shadow version against the live one; undefined when the ledger has no call of the service and nothing is
   * declared.
   */
  shadowReport(serviceId: string, options?: ShadowReportOptions): Promise<ShadowReport | undefined>;
  /**
   * The firing rates a rule set version declares for its rules in a service (expectedFiringRate): detectors
   * created from then on take them as their baseline instead of learning one.
   */
  declareFiringRates(serviceId: string, ruleSet: string, version: string, rates: Record<string, number>): void;
  /** Feeds the calls written since the last look to the drift detectors; alarms are logged and stored. */
  scanDrift(): Promise<void>;
  /** The drift alarms (the calls written so far read first). */
  alerts(query: AlertQuery): Promise<AlertList>;
  /** Acknowledges an alarm (the first acknowledgement is kept); undefined when there is no such alarm. */
  acknowledgeAlert(
    id: string,
    by: string | undefined,
    note?: string,
  ): Promise<(Alert & { already: boolean }) | undefined>;
  /** The alarms not acknowledged, as last read (for /metrics; refreshed by every scan). */
  openAlarms(): DriftAlarmTable[];
  /** Per clinician or site: cards, acceptance and completion with funnel limits. */
  variation(query: VariationQuery): Promise<VariationReport>;
  /** Whether the database answers now (checked with a short time limit), and the recorder's state. */
  status(): Promise<UptakeStatus>;
  /** The ledger entries the database refused as values, kept aside (uptake_set_aside), by reason. */
  setAside(): Promise<SetAsideSummary>;
  /** Writes the set-aside entries again (after the cause is fixed); those still refused stay. */
  retrySetAside(): Promise<{ written: number; refused: number }>;
  /**
   * Remembers the content hash of each knowledge version the first time it is served (once per
   * version per process; never waits, never throws). A later, different hash is refused at load.
   */
  recordServed(fingerprints: ServedFingerprint[]): void;
  /** Why a served card was served: its ledger row and the explanation kept with it (undefined when unknown). */
  explanation(cardUuid: string): Promise<StoredExplanation | undefined>;
  /**
   * Notes (in memory) the versions a call is starting on, before anything is written: a reload while
   * the call runs must not swap in different content under the same versions.
   */
  noteInUse(fingerprints: ServedFingerprint[]): void;
  /**
   * How long a rule set version has run in shadow in a service: the time of its first successful
   * shadow evaluation and how many there have been (uptake_evaluation, disposition 'shadow', status 'ok').
   */
  shadowHistory(serviceId: string, ruleSet: string, version: string): Promise<ShadowHistory>;
  /** The fingerprints of every version served so far (and of those in use by this process). */
  servedFingerprints(): Promise<Map<string, { hash: string; firstServedAt: string }>>;
  /** Flushes and closes the database. */
  close(): Promise<void>;
}

export interface StoredExplanation {
  card: {
    uuid: string;
    service: string;
    hook: string;
    ruleSet: string;
    version: string;
    rule: string;
    cql: unknown;
    indicator: string;
    summary: string;
    servedAt: string;
  };
  explanation: unknown;
}

export interface ExperimentStop {
  stoppedAt: string;
  stoppedBy: string | null;
  reason: string | null;
}

export interface ShadowHistory {
  firstAt?: Date;
  calls: number;
}

export interface ServedFingerprint {
  kind: string;
  name: string;
  version: string;
  hash: string;
}

export interface UptakeDeps {
  logger: Logger;
  clock?: () => Date;
}

const PING_TIMEOUT_MS = 1000;
/** Calls started less than this long ago wait for the next drift scan: other instances may not have written theirs. */
/**
 * How old a call must be before the drift scan reads it: longer than the call deadline plus the recorder's
 * flush, so that a slow or failed call (written after it ends) is not passed over.
 */
export const DRIFT_LAG_MS = 60_000;
/** Calls one drift scan reads on SQLite (about 40 ms of its single connection). */
const SQLITE_SCAN_CALLS = 1_000;
/**
 * How often the stored experiment stops are re-read: the longest another instance keeps serving a stopped experiment.
 */
export const STOP_REFRESH_MS = 2000;
/** How often SQLite's planner statistics are brought up to date. */
const OPTIMIZE_MS = 3_600_000;

/**
 * Opens the store and runs its migrations. A database that cannot be reached does not stop the
 * server: hook calls go on, the store reports itself unavailable and retries.
 */
export async function createUptakeStore(
  config: UptakeConfig,
  { logger, clock = () => new Date() }: UptakeDeps,
): Promise<UptakeStore> {
  const pseudonymKey = loadPseudonymKey(config.pseudonymKey, config.dataDir);
  if (pseudonymKey.source === 'new file')
    logger.warn('created a pseudonym key file; keep it with the data (pseudonyms change without it)', {
      file: pseudonymKey.file,
    });
  if (config.databaseUrl && pseudonymKey.source !== 'environment') {
    logger.warn(
      'CDS_DATABASE_URL is set but CDS_PSEUDONYM_KEY is not: server instances sharing the database must share the key, or one patient gets several pseudonyms',
    );
  }
  const pseudonymize = createPseudonymizer(pseudonymKey.key);
  const { db, dialect, location, optimize } = openDatabase(config);

  let migrated: Promise<void> | undefined;
  const migrate = (): Promise<void> => {
    migrated ??= migrateToLatest(db, dialect).then(
      (applied) => {
        if (applied.length > 0) logger.info('uptake store migrated', { database: dialect, location, applied });
      },
      (err: unknown) => {
        migrated = undefined;
        throw err;
      },
    );
    return migrated;
  };
  let migratedAtStart = false;
  try {
    await migrate();
    migratedAtStart = true;
    logger.info('uptake store ready', { database: dialect, location });
  } catch (err) {
    logger.error('uptake store unavailable at start-up; hook calls go on and recording is retried', {
      database: dialect,
      location,
      reason: describe(err),
    });
  }

  const recorder = new Recorder(db, {
    flushMs: config.uptakeFlushMs,
    queueLimit: config.uptakeQueueLimit,
    prepare: migrate,
    onError: (reason, detail) => logger.error('uptake recording failed; will retry', { reason, ...detail }),
    onRecovered: (detail) => logger.info('uptake recording recovered', detail),
  });

  const unavailable = (err: unknown, what: string): CdsError =>
    uptakeUnavailable(what, { internal: describe(err), cause: err });

  const stops = new Map<string, ExperimentStop>();
  const readStops = async (): Promise<Map<string, ExperimentStop>> => {
    await migrate();
    const rows = await db
      .selectFrom('experiment_stop')
      .select(['experiment_id', 'stopped_at', 'stopped_by', 'reason'])
      .execute();
    for (const r of rows) {
      stops.set(r.experiment_id, {
        stoppedAt: new Date(Number(r.stopped_at)).toISOString(),
        stoppedBy: r.stopped_by,
        reason: r.reason,
      });
    }
    return stops;
  };
  let stopsFailing = false;
  let stopsRead = false;
  let stopsReading: Promise<void> | undefined;
  const refreshStops = (): Promise<void> => {
    stopsReading ??= readStops().then(
      () => {
        if (stopsFailing) logger.info('experiment stops read again');
        stopsFailing = false;
        stopsRead = true;
        stopsReading = undefined;
      },
      (err: unknown) => {
        if (!stopsFailing) logger.error('reading experiment stops failed; will retry', { reason: describe(err) });
        stopsFailing = true;
        stopsReading = undefined;
      },
    );
    return stopsReading;
  };
  // Read before the first call: a restarted instance must not randomise into an experiment stopped elsewhere.
  await withTimeout(refreshStops(), PING_TIMEOUT_MS).catch(() => undefined);
  const stopTimer = setInterval(() => void refreshStops(), STOP_REFRESH_MS);
  stopTimer.unref();

  // Days left stale (an upgrade marks the whole ledger; an instance stopped before rolling up yesterday) are
  // rolled up after start-up, a day at a time between calls, so that the first report does not do it.
  let closing = false;
  const rollingUp = migratedAtStart
    ? (async () => {
        const started = Date.now();
        const days = await refreshRollups(db, dialect, clock().getTime(), { stop: () => closing });
        if (days > 0) logger.info('uptake roll-ups brought up to date', { days, ms: Date.now() - started });
        if (!closing) await optimize();
      })().catch((err: unknown) => {
        if (!closing) logger.warn('uptake roll-ups not brought up to date', { reason: describe(err) });
      })
    : Promise.resolve();
  // Planner statistics follow the ledger's growth (SQLite; PostgreSQL's autovacuum keeps its own).
  const optimizeTimer = setInterval(() => {
    optimize().catch((err: unknown) => {
      if (!closing) logger.warn('uptake database statistics not updated', { reason: describe(err) });
    });
  }, OPTIMIZE_MS);
  optimizeTimer.unref();

  const baselineCalls = config.driftBaselineCalls ?? 2000;
  const declaredRates = new Map<string, Record<string, number>>();
  let openAlarms: DriftAlarmTable[] = [];
  let scanning: Promise<void> | undefined;
  let scanFailing = false;
  const runScan = (): Promise<void> => {
    scanning ??= (async () => {
      await recorder.flush().catch(() => undefined);
      await migrate();
      const scanOnce = () =>
        scanDrift(db, dialect, {
          baselineCalls,
          lagMs: DRIFT_LAG_MS,
          now: clock().getTime(),
          maxCalls: dialect === 'sqlite' ? SQLITE_SCAN_CALLS : undefined,
          declared: (service, ruleSet, version) => declaredRates.get(JSON.stringify([service, ruleSet, version])),
          onAlarm: (a) =>
            logger.warn('drift alarm: a rate changed', {
              signal: a.signal,
              service: a.service_id,
              ruleSet: a.rule_set,
              version: a.rule_set_version,
              rule: a.rule,
              direction: a.direction,
              method: a.method,
              rateBefore: a.rate_before,
              rateAfter: a.rate_after,
            }),
        });
      // SQLite has one connection: a scan's transaction holds every other query, the write before each answer
      // included. Short scans, one after another with the event loop free in between, until caught up.
      for (let i = 0; i < 100; i++) {
        const { calls } = await scanOnce();
        if (dialect !== 'sqlite' || calls < SQLITE_SCAN_CALLS) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      openAlarms = await listAlarms(db, { status: 'open' });
    })().then(
      () => {
        if (scanFailing) logger.info('drift detection recovered');
        scanFailing = false;
        scanning = undefined;
      },
      (err: unknown) => {
        if (!scanFailing) logger.error('drift detection failed; will retry', { reason: describe(err) });
        scanFailing = true;
        scanning = undefined;
        throw err;
      },
    );
    return scanning;
  };
  const scanTimer =
    (config.driftScanMs ?? 15_000) > 0
      ? setInterval(() => void runScan().catch(() => undefined), config.driftScanMs ?? 15_000)
      : undefined;
  scanTimer?.unref();

  /** Reads from the ledger with everything queued written first. */
  const read = async <T>(what: string, query: () => Promise<T>): Promise<T> => {
    try {
      await recorder.flush().catch(() => undefined);
      await migrate();
      return await query();
    } catch (err) {
      if (err instanceof CdsError) throw err;
      throw unavailable(err, what);
    }
  };

  const fingerprinted = new Set<string>();
  const inUse = new Map<string, string>();
  const pendingFingerprints = new Set<Promise<unknown>>();

  return {
    dialect,
    database: db,
    recordServed(fingerprints) {
      const fresh = fingerprints.filter((f) => !fingerprinted.has(fingerprintKey(f)));
      if (fresh.length === 0) return;
      for (const f of fresh) fingerprinted.add(fingerprintKey(f));
      const at = clock().getTime();
      const write = migrate()
        .then(() =>
          db
            .insertInto('knowledge_fingerprint')
            .values(
              fresh.map((f) => ({ kind: f.kind, name: f.name, version: f.version, hash: f.hash, first_served_at: at })),
            )
            .onConflict((oc) => oc.columns(['kind', 'name', 'version']).doNothing())
            .execute(),
        )
        .catch((err: unknown) => {
          for (const f of fresh) fingerprinted.delete(fingerprintKey(f));
          logger.error('recording knowledge fingerprints failed; will retry on the next call', {
            reason: describe(err),
          });
        })
        .finally(() => pendingFingerprints.delete(write));
      pendingFingerprints.add(write);
    },
    async explanation(cardUuid) {
      try {
        await recorder.flush().catch(() => undefined);
        await migrate();
        const row = await db
          .selectFrom('uptake_card')
          .leftJoin('uptake_explanation', 'uptake_explanation.card_uuid', 'uptake_card.card_uuid')
          .select([
            'uptake_card.card_uuid',
            'service_id',
            'hook',
            'rule_set',
            'rule_set_version',
            'rule',
            'cql',
            'indicator',
            'summary',
            'served_at',
            'uptake_explanation.explanation',
          ])
          .where('uptake_card.card_uuid', '=', cardUuid)
          .executeTakeFirst();
        if (!row) return undefined;
        return {
          card: {
            uuid: row.card_uuid,
            service: row.service_id,
            hook: row.hook,
            ruleSet: row.rule_set,
            version: row.rule_set_version,
            rule: row.rule,
            cql: JSON.parse(row.cql) as unknown,
            indicator: row.indicator,
            summary: row.summary,
            servedAt: new Date(Number(row.served_at)).toISOString(),
          },
          explanation: row.explanation ? (JSON.parse(row.explanation) as unknown) : null,
        };
      } catch (err) {
        throw unavailable(err, 'the explanation could not be read');
      }
    },
    noteInUse(fingerprints) {
      for (const f of fingerprints) if (!inUse.has(fingerprintKey(f))) inUse.set(fingerprintKey(f), f.hash);
    },
    async servedFingerprints() {
      await migrate();
      const rows = await db
        .selectFrom('knowledge_fingerprint')
        .select(['kind', 'name', 'version', 'hash', 'first_served_at'])
        .execute();
      const served = new Map<string, { hash: string; firstServedAt: string }>();
      for (const [key, hash] of inUse) served.set(key, { hash, firstServedAt: 'in use by a call on this server' });
      for (const r of rows) {
        served.set(fingerprintKey(r), {
          hash: r.hash,
          firstServedAt: new Date(Number(r.first_served_at)).toISOString(),
        });
      }
      return served;
    },
    async shadowHistory(serviceId, ruleSet, version) {
      try {
        await recorder.flush().catch(() => undefined);
        await migrate();
        const row = await db
          .selectFrom('uptake_evaluation')
          .select((eb) => [eb.fn.min('evaluated_at').as('first_at'), eb.fn.countAll().as('calls')])
          .where('service_id', '=', serviceId)
          .where('rule_set', '=', ruleSet)
          .where('rule_set_version', '=', version)
          .where('disposition', '=', 'shadow')
          .where('status', '=', 'ok')
          .executeTakeFirst();
        const first = row?.first_at;
        return {
          ...(first !== null && first !== undefined ? { firstAt: new Date(Number(first)) } : {}),
          calls: Number(row?.calls ?? 0),
        };
      } catch (err) {
        throw unavailable(err, 'the shadow history could not be read');
      }
    },
    record(invocation) {
      try {
        recorder.record(ledgerEntry(invocation, pseudonymize));
      } catch (err) {
        logger.error('uptake recording skipped', { reason: describe(err) });
      }
    },
    async recordNow(invocation) {
      try {
        const written = await recorder.writeNow(ledgerEntry(invocation, pseudonymize));
        if (!written) {
          const { lastError, queued } = recorder.current();
          logger.error('uptake recording before the answer failed; queued instead', { reason: lastError, queued });
        }
      } catch (err) {
        logger.error('uptake recording skipped', { reason: describe(err) });
      }
    },
    recordShadow(shadow) {
      try {
        recorder.record(shadowEntry(shadow, pseudonymize));
      } catch (err) {
        logger.error('uptake recording of shadow evaluations skipped', { reason: describe(err) });
      }
    },
    assignArm: createArmAssigner(pseudonymKey.key),
    async stopExperiment(id, stoppedBy, reason) {
      try {
        await migrate();
        const at = clock().getTime();
        const inserted = await db
          .insertInto('experiment_stop')
          .values({ experiment_id: id, stopped_at: at, stopped_by: stoppedBy ?? null, reason: reason ?? null })
          .onConflict((oc) => oc.column('experiment_id').doNothing())
          .returning(['experiment_id'])
          .execute();
        await readStops();
        const stop = stops.get(id)!;
        return { ...stop, already: inserted.length === 0 };
      } catch (err) {
        throw unavailable(err, 'the experiment was not stopped');
      }
    },
    isStopped: (id) => (stops.has(id) ? true : stopsRead ? false : 'unknown'),
    async experimentStops() {
      try {
        return new Map(await readStops());
      } catch (err) {
        throw unavailable(err, 'the experiment stops could not be read');
      }
    },
    flush: () => recorder.flush(),
    async ingestFeedback(serviceId, items, client) {
      try {
        // Cards served a moment ago may still be queued: feedback must find them.
        await recorder.flush();
        await migrate();
        return await ingestFeedback(db, serviceId, items, { client, now: clock() });
      } catch (err) {
        if (err instanceof CdsError) throw err;
        throw unavailable(err, 'the feedback was not stored');
      }
    },
    report: (query) => read('the report could not be made', () => buildReport(db, dialect, query, clock())),
    experimentReport: (id, options = {}) =>
      read('the experiment report could not be made', () =>
        experimentReport(db, id, { ...options, now: options.now ?? clock() }),
      ),
    experiments: (options) =>
      read('the experiments could not be listed', () =>
        experimentList(db, { ...options, now: options.now ?? clock() }),
      ),
    shadowReport: (serviceId, options = {}) =>
      read('the shadow report could not be made', () =>
        shadowReport(db, serviceId, { ...options, now: options.now ?? clock() }),
      ),
    scanDrift: () =>
      runScan().catch((err: unknown) => {
        throw unavailable(err, 'the drift detectors could not read the ledger');
      }),
    openAlarms: () => openAlarms,
    declareFiringRates(serviceId, ruleSet, version, rates) {
      declaredRates.set(JSON.stringify([serviceId, ruleSet, version]), { ...rates });
    },
    alerts: (query) =>
      read('the alerts could not be read', async () => {
        await runScan();
        const [rows, through, detectors] = await Promise.all([
          listAlarms(db, query),
          scannedThrough(db),
          detectorCounts(db),
        ]);
        return alertList(rows, query, { now: clock(), scannedThrough: through, baselineCalls, detectors });
      }),
    acknowledgeAlert: (id, by, note) =>
      read('the alert was not acknowledged', async () => {
        const before = await db
          .selectFrom('uptake_drift_alarm')
          .select('acknowledged_at')
          .where('id', '=', id)
          .executeTakeFirst();
        if (!before) return undefined;
        const row = await acknowledgeAlarm(db, id, by ?? null, note ?? null, clock().getTime());
        openAlarms = await listAlarms(db, { status: 'open' });
        return { ...alertOf(row!), already: before.acknowledged_at !== null };
      }),
    variation: (query) => read('the variation report could not be made', () => variationReport(db, query, clock())),
    setAside: () => read('the set-aside entries could not be read', () => setAsideSummary(db)),
    retrySetAside: () => read('the set-aside entries could not be written', () => retrySetAside(db)),
    async status() {
      let error: string | undefined;
      try {
        await withTimeout(sql`SELECT 1`.execute(db), PING_TIMEOUT_MS);
        await migrate();
      } catch (err) {
        error = describe(err);
      }
      const recorderStatus = recorder.current();
      const ok = !error && recorderStatus.state === 'ok';
      return {
        status: ok ? 'ok' : 'unavailable',
        database: dialect,
        recorder: recorderStatus,
        ...(error ? { error } : !ok ? { error: recorderStatus.lastError } : {}),
      };
    },
    async close() {
      closing = true;
      clearInterval(stopTimer);
      clearInterval(optimizeTimer);
      await rollingUp;
      if (scanTimer) clearInterval(scanTimer);
      await scanning?.catch(() => undefined);
      await stopsReading?.catch(() => undefined);
      await Promise.allSettled([...pendingFingerprints]);
      const { unwritten } = await recorder.close();
      if (unwritten > 0) logger.error('uptake ledger entries could not be written before shutdown', { unwritten });
      await db.destroy().catch(() => undefined);
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
