// The report from the daily roll-ups against the report from the raw rows, on a seeded random ledger of three
// weeks (calls, cards, systemActions, suggestions whose actions later calls complete, feedback that arrives late
// and changes), for every grouping the dashboard asks for and filters that cut days in the middle.
// Run on SQLite (rollups.test.ts) and PostgreSQL (rollups.pg.test.ts).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import type { Card } from '../../src/cards/index.js';
import { createLogger } from '../../src/logger.js';
import { createUptakeStore, parseReportQuery, type UptakeStore } from '../../src/uptake/index.js';
import type { InvocationInput } from '../../src/uptake/ledger-entry.js';
import { buildReport } from '../../src/uptake/report.js';
import { readPlan, ROLLUP_TABLES } from '../../src/uptake/rollups.js';
import pg from 'pg';
import { PG_URL, testUptakeStore, type StoreKind, type TestStore } from './support.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const START = Date.parse('2026-03-01T00:00:00Z');
const NOW = new Date('2026-03-21T10:30:00Z');
const CODE = (k: number) => ({ coding: [{ system: 'http://example.org/codes', code: `c${k}` }] });
const OR1 = { system: 'http://example.org/override', code: 'or1', display: 'Benefit outweighs risk' };
const OR2 = { system: 'http://example.org/override', code: 'or2', display: 'Patient declined' };

/** A small deterministic generator (mulberry32): the same ledger on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = [
  { id: 'svc-a', hook: 'order-sign', ruleSet: 'rs-a', versions: ['1.0.0', '1.1.0'], windowMs: 6 * HOUR },
  { id: 'svc-b', hook: 'order-sign', ruleSet: 'rs-b', versions: ['2.0.0'], windowMs: 72 * HOUR },
  { id: 'svc-c', hook: 'patient-view', ruleSet: 'rs-a', versions: ['1.1.0'], windowMs: 24 * HOUR },
];
const CLIENTS = [{ iss: 'https://ehr-1.example.org' }, { iss: 'https://ehr-2.example.org', tenant: 't2' }];
const INDICATORS = ['info', 'warning', 'critical'] as const;

interface Served {
  card: Card;
  service: string;
  client: (typeof CLIENTS)[number];
  servedAt: number;
}

/**
 * Calls over 20 days and a morning (or from `from`), in time order; the cards shown. `people` prefixes the
 * patients and clinicians (new ones: not seen before).
 */
function calls(
  rand: () => number,
  count: number,
  { from = START, people = '' }: { from?: number; people?: string } = {},
): { inputs: InvocationInput[]; served: Served[] } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const times = Array.from({ length: count }, () => from + Math.floor(rand() * (NOW.getTime() - from - HOUR)));
  times.sort((a, b) => a - b);
  const inputs: InvocationInput[] = [];
  const served: Served[] = [];
  for (const at of times) {
    const service = pick(SERVICES);
    const version = pick(service.versions);
    const client = pick(CLIENTS);
    const status = rand() < 0.08 ? pick([400, 412, 500]) : 200;
    const patientId = `${people}p${Math.floor(rand() * 25)}`;
    const cards: Array<{ card: Card; rule: string }> = [];
    const systemActions: Array<{ action: { type: string; resource: unknown }; rule: string }> = [];
    if (status === 200) {
      const n = Math.floor(rand() * 4);
      for (let i = 0; i < n; i++) {
        const rule = pick(['r1', 'r2', 'r3']);
        const suggestions = Array.from({ length: Math.floor(rand() * 3) }, () => ({
          label: 'Order it',
          uuid: randomUUID(),
          actions: [
            {
              type: 'create' as const,
              description: 'Order',
              resource: { resourceType: 'ServiceRequest', code: CODE(Math.floor(rand() * 3)) },
            },
          ],
        }));
        cards.push({
          card: {
            uuid: randomUUID(),
            summary: `${rule} fired`,
            indicator: pick(INDICATORS),
            source: { label: 'Seed' },
            ...(suggestions.length > 0 ? { suggestions } : {}),
            overrideReasons: [OR1, OR2],
          },
          rule,
        });
      }
      if (rand() < 0.2)
        systemActions.push({
          action: { type: 'create', resource: { resourceType: 'Task' } },
          rule: pick(['r1', 'r2']),
        });
    }
    const draft = rand() < 0.5 && service.hook === 'order-sign';
    inputs.push({
      serviceId: service.id,
      hook: service.hook,
      hookInstance: randomUUID(),
      ruleSet: service.ruleSet,
      ruleSetVersion: version,
      client,
      startedAt: new Date(at),
      durationMs: 5 + Math.floor(rand() * 200),
      status,
      context: {
        patientId,
        ...(rand() < 0.9 ? { userId: `Practitioner/${people}u${Math.floor(rand() * 6)}` } : {}),
        ...(draft
          ? {
              draftOrders: {
                resourceType: 'Bundle',
                type: 'collection',
                entry: [{ resource: { resourceType: 'ServiceRequest', id: 'd1', code: CODE(Math.floor(rand() * 3)) } }],
              },
            }
          : {}),
      },
      completionWindowMs: service.windowMs,
      evaluations:
        status === 200
          ? [
              {
                disposition: 'shown',
                ruleSet: service.ruleSet,
                version,
                cql: [],
                status: 'ok',
                cards,
                systemActions,
              },
            ]
          : [],
    });
    for (const { card } of cards) served.push({ card, service: service.id, client, servedAt: at });
  }
  return { inputs, served };
}

/** Feedback on some of the cards: minutes to days after the card, some changing their outcome later. */
async function feedback(store: UptakeStore, rand: () => number, served: Served[], share: number): Promise<void> {
  for (const s of served) {
    if (rand() >= share) continue;
    const overridden = rand() < 0.4 || !s.card.suggestions?.length;
    const delay = Math.floor(rand() * (rand() < 0.2 ? 3 * DAY : 20 * 60_000));
    const at = Math.min(NOW.getTime() - 1000, s.servedAt + delay);
    const item = overridden
      ? {
          card: s.card.uuid,
          outcome: 'overridden',
          overrideReason: {
            reason: rand() < 0.2 ? { system: 'http://example.org/local', code: 'local' } : rand() < 0.5 ? OR1 : OR2,
            ...(rand() < 0.3 ? { userComment: 'Discussed with the patient' } : {}),
          },
          outcomeTimestamp: new Date(at).toISOString(),
        }
      : {
          card: s.card.uuid,
          outcome: 'accepted',
          acceptedSuggestions: [{ id: s.card.suggestions![0].uuid! }],
          outcomeTimestamp: new Date(at).toISOString(),
        };
    const [result] = await store.ingestFeedback(s.service, [item], s.client);
    if (result.result === 'rejected') throw new Error(JSON.stringify(result.issues));
  }
}

const GROUPINGS = [
  '',
  'service',
  'service,version',
  'version',
  'rule',
  'day,version',
  'week,version',
  'service,rule,week',
];
const FILTERS: Array<Record<string, string>> = [
  {},
  { from: '2026-03-03', to: '2026-03-15' },
  { from: '2026-03-02T13:30:00Z', to: '2026-03-18T02:00:00Z' },
  { service: 'svc-a' },
  { client: 'https://ehr-2.example.org', from: '2026-03-05' },
  { ruleSet: 'rs-a', version: '1.1.0' },
  { indicator: 'warning', rule: 'r1' },
  { ruleSet: 'rs-a', rule: 'r2', comments: 'true' },
];

export function rollupRun(kind: StoreKind): void {
  let t: TestStore;
  let served: Served[];
  const rand = random(20260321);

  const compareAll = async (store: UptakeStore): Promise<number> => {
    await store.flush();
    let rolledQueries = 0;
    for (const groupBy of GROUPINGS) {
      for (const filter of FILTERS) {
        const query = parseReportQuery({ ...filter, ...(groupBy ? { groupBy } : {}) });
        const rolled = await buildReport(store.database, store.dialect, query, NOW);
        const plan = await readPlan(store.database, query.from, query.to, NOW.getTime());
        if (plan.rollupDays.length > 0) rolledQueries++;
        const raw = await buildReport(store.database, store.dialect, query, NOW, { rollups: false });
        expect(rolled, `groupBy=${groupBy} ${JSON.stringify(filter)}`).toEqual(raw);
      }
    }
    return rolledQueries;
  };

  beforeAll(async () => {
    t = await testUptakeStore(kind, { clock: () => NOW });
    const generated = calls(rand, 900);
    served = generated.served;
    for (const input of generated.inputs) t.store.record(input);
    await t.store.flush();
    await feedback(t.store, rand, served, 0.6);
  }, 120_000);

  afterAll(async () => {
    await t?.cleanup();
  });

  it('gives the same report from the roll-ups as from the raw rows, for every grouping and filter', async () => {
    const rolled = await compareAll(t.store);
    const rows = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM uptake_rollup_completion`.execute(t.store.database);
    // Most queries read whole days from the roll-ups (not only the raw rows, which would prove nothing).
    expect(rolled).toBeGreaterThan(GROUPINGS.length * (FILTERS.length - 2));
    expect(Number(rows.rows[0].n)).toBeGreaterThan(0);
    const report = await buildReport(t.store.database, t.store.dialect, parseReportQuery({}), NOW);
    expect(report.rows[0].completion.completed).toBeGreaterThan(0);
    expect(report.rows[0].cardsWithFeedback).toBeGreaterThan(0);
  }, 300_000);

  it('stays exact when feedback arrives days later, changes an outcome, and a call is recorded twice', async () => {
    // Days already rolled up get feedback (and changed outcomes) now.
    await feedback(t.store, rand, served, 0.5);
    await compareAll(t.store);
    const again = calls(random(7), 40);
    for (const input of again.inputs) {
      t.store.record(input);
      // A retry: the same call written again is kept once.
      t.store.record(input);
    }
    await t.store.flush();
    await compareAll(t.store);
  }, 300_000);

  it('counts patients and clinicians seen only on days read raw once each, with those of rolled-up days', async () => {
    // The last days are read raw (completion windows still open); yesterday is rolled up all the same, today is
    // not: today's new people have no roll-up id yet.
    const late = calls(random(21), 80, { from: NOW.getTime() - 30 * HOUR, people: 'late-' });
    const today = calls(random(22), 40, { from: NOW.getTime() - 8 * HOUR, people: 'today-' });
    for (const input of [...late.inputs, ...today.inputs]) t.store.record(input);
    await t.store.flush();
    await compareAll(t.store);
    const report = await buildReport(t.store.database, t.store.dialect, parseReportQuery({}), NOW);
    expect(report.rows[0].distinctPatients).toBeGreaterThan(50);
  }, 300_000);

  it('rolls up the days left stale (as after an upgrade) by itself after start-up', async () => {
    const db = t.store.database;
    await t.store.flush();
    for (const table of ROLLUP_TABLES) await sql`DELETE FROM ${sql.table(table)}`.execute(db);
    const today = Math.floor(NOW.getTime() / DAY);
    for (let day = Math.floor(START / DAY); day <= today; day++)
      await sql`INSERT INTO uptake_rollup_stale (day, shard, changes) VALUES (${day}, 0, 1)
        ON CONFLICT (day, shard) DO NOTHING`.execute(db);
    const staleBefore = async () =>
      Number(
        (await sql<{ n: number }>`SELECT COUNT(*) AS n FROM uptake_rollup_stale WHERE day < ${today}`.execute(db))
          .rows[0].n,
      );
    expect(await staleBefore()).toBeGreaterThan(15);
    const restarted = await createUptakeStore(t.config, { logger: createLogger('error', true), clock: () => NOW });
    try {
      await vi.waitFor(async () => expect(await staleBefore()).toBe(0), { timeout: 60_000, interval: 100 });
      const rows = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM uptake_rollup_patient_set`.execute(db);
      expect(Number(rows.rows[0].n)).toBeGreaterThan(0);
      // SQLite: the planner has statistics of the ledger after that (PostgreSQL's autovacuum keeps its own).
      if (kind === 'sqlite')
        await vi.waitFor(
          async () => {
            const stats = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM sqlite_stat1 WHERE tbl = 'uptake_card'`
              .execute(db)
              .catch(() => ({ rows: [{ n: 0 }] }));
            expect(Number(stats.rows[0].n)).toBeGreaterThan(0);
          },
          { timeout: 10_000, interval: 100 },
        );
    } finally {
      await restarted.close();
    }
    await compareAll(t.store);
  }, 300_000);

  if (kind === 'postgres')
    it('stays exact when two instances share the database and write and report at the same time', async () => {
      const other = await createUptakeStore(t.config, { logger: createLogger('error', true), clock: () => NOW });
      try {
        const a = calls(random(11), 60);
        const b = calls(random(12), 60);
        a.inputs.forEach((input) => t.store.record(input));
        b.inputs.forEach((input) => other.record(input));
        await Promise.all([
          t.store.flush(),
          other.flush(),
          t.store.report(parseReportQuery({ groupBy: 'service' })),
          other.report(parseReportQuery({ groupBy: 'rule' })),
        ]);
        await Promise.all([
          feedback(t.store, random(13), [...served.slice(0, 200), ...a.served], 0.5),
          feedback(other, random(14), [...served.slice(200, 400), ...b.served], 0.5),
          t.store.report(parseReportQuery({ groupBy: 'version' })),
          other.report(parseReportQuery({ groupBy: 'day,version' })),
        ]);
        await other.flush();
        await compareAll(t.store);
      } finally {
        await other.close();
      }
    }, 300_000);

  it('gives the people of a day rolled up again no new ids (PostgreSQL drew one per conflicting row)', async () => {
    const db = t.store.database;
    await buildReport(db, t.store.dialect, parseReportQuery({}), NOW);
    const largest = async () =>
      Number((await sql<{ n: number }>`SELECT MAX(id) AS n FROM uptake_rollup_pseudonym`.execute(db)).rows[0].n);
    const before = await largest();
    expect(before).toBeGreaterThan(10);
    // Late feedback marks days stale; the next report rolls them up again, three times over.
    for (let i = 0; i < 3; i++) {
      for (let day = Math.floor(START / DAY); day < Math.floor(NOW.getTime() / DAY); day++)
        await sql`INSERT INTO uptake_rollup_stale (day, shard, changes) VALUES (${day}, 0, 1)
          ON CONFLICT (day, shard) DO NOTHING`.execute(db);
      await buildReport(db, t.store.dialect, parseReportQuery({}), NOW);
    }
    // The id the next new pseudonym gets shows what the refreshes used up.
    await sql`INSERT INTO uptake_rollup_pseudonym (pseudonym) VALUES ('probe')`.execute(db);
    expect(await largest()).toBe(before + 1);
    await sql`DELETE FROM uptake_rollup_pseudonym WHERE pseudonym = 'probe'`.execute(db);
    await compareAll(t.store);
  }, 300_000);

  it('rejects a report whose roll-up set query fails while the others still run, leaving nothing unhandled', async () => {
    const db = t.store.database;
    await buildReport(db, t.store.dialect, parseReportQuery({}), NOW);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    await sql`ALTER TABLE uptake_rollup_patient_set RENAME TO uptake_rollup_patient_set_away`.execute(db);
    // PostgreSQL: the other queries wait on a lock another session holds, so the failing one ends first.
    let release = Promise.resolve();
    if (kind === 'postgres') {
      const schema = (await sql<{ s: string }>`SELECT current_schema() AS s`.execute(db)).rows[0].s;
      const other = new pg.Client({ connectionString: PG_URL });
      await other.connect();
      await other.query('BEGIN');
      await other.query(`LOCK TABLE ${schema}.uptake_invocation IN ACCESS EXCLUSIVE MODE`);
      release = new Promise((r) => setTimeout(r, 500)).then(() => other.query('COMMIT')).then(() => other.end());
    }
    try {
      await expect(buildReport(db, t.store.dialect, parseReportQuery({}), NOW)).rejects.toThrow(
        /uptake_rollup_patient_set/,
      );
      await release;
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await release;
      await sql`ALTER TABLE uptake_rollup_patient_set_away RENAME TO uptake_rollup_patient_set`.execute(db);
    }
  }, 60_000);
}
