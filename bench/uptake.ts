// npm run bench (uptake part): feedback ingestion in items/s through the store (validated, joined
// to the served card, durably written), and the uptake report over a generated ledger of
// 1,000,000 served cards, on SQLite and, when BENCH_DATABASE_URL (or CDS_TEST_DATABASE_URL) names
// one, on PostgreSQL. Medians of several runs are what to compare.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createLogger } from '../src/logger.js';
import { createUptakeStore, parseReportQuery, type UptakeConfig, type UptakeStore } from '../src/uptake/index.js';
import { openDatabase } from '../src/uptake/database.js';
import { migrateTo, migrateToLatest } from '../src/uptake/migrations.js';
import { buildReport } from '../src/uptake/report.js';
import { refreshRollups } from '../src/uptake/rollups.js';
import type { Card } from '../src/cards/index.js';
import { generateLedger, LEDGER_START } from './ledger.js';

const LEDGER_CARDS = Number(process.env.BENCH_LEDGER_CARDS ?? 1_000_000);
const FEEDBACK_RUNS = 5;
const FEEDBACK_BATCHES = 40;
const FEEDBACK_BATCH_SIZE = 50;
const REPORT_RUNS = Number(process.env.BENCH_REPORT_RUNS ?? 3);
const PG_URL = process.env.BENCH_DATABASE_URL ?? process.env.CDS_TEST_DATABASE_URL;
const KEY = 'bench-pseudonym-key-0123456789abcdef';

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

interface Target {
  name: string;
  config: UptakeConfig;
  cleanup: () => Promise<void>;
}

async function target(kind: 'sqlite' | 'postgres'): Promise<Target> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cds-bench-uptake-'));
  const base = { dataDir, pseudonymKey: KEY, uptakeFlushMs: 50, uptakeQueueLimit: 1_000_000 };
  if (kind === 'sqlite')
    return {
      name: 'SQLite',
      config: base,
      cleanup: () => Promise.resolve(rmSync(dataDir, { recursive: true, force: true })),
    };
  const name = `uptake_bench_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${name}`);
  await admin.end();
  const url = new URL(PG_URL!);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    name: 'PostgreSQL',
    config: { ...base, databaseUrl: url.toString() },
    cleanup: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA ${name} CASCADE`);
      await c.end();
    },
  };
}

function servedCard(i: number): Card {
  return {
    uuid: randomUUID(),
    summary: 'Bench card',
    indicator: 'warning',
    source: { label: 'Bench' },
    suggestions: [{ label: 'Do it', uuid: randomUUID() }],
    overrideReasons: [{ system: 'http://example.org/override', code: 'r1' }],
    extension: {
      'org.cdsengine.knowledge': { service: 'bench', ruleSet: 'bench', version: '1.0.0', rule: `rule-${i % 3}` },
    },
  };
}

async function feedbackItemsPerSecond(store: UptakeStore): Promise<number[]> {
  const perRun = FEEDBACK_BATCHES * FEEDBACK_BATCH_SIZE;
  const cards: Card[] = [];
  for (let i = 0; i < perRun * FEEDBACK_RUNS; i++) {
    const card = servedCard(i);
    cards.push(card);
    store.record({
      serviceId: 'bench',
      hook: 'order-sign',
      startedAt: new Date(),
      durationMs: 10,
      status: 200,
      context: { patientId: `p${i % 500}`, userId: `Practitioner/u${i % 40}` },
      evaluations: [
        {
          disposition: 'shown',
          ruleSet: 'bench',
          version: '1.0.0',
          cql: [],
          status: 'ok',
          cards: [{ card, rule: `rule-${i % 3}` }],
        },
      ],
    });
  }
  await store.flush();
  const rates: number[] = [];
  for (let run = 0; run < FEEDBACK_RUNS; run++) {
    const mine = cards.slice(run * perRun, (run + 1) * perRun);
    const started = performance.now();
    for (let b = 0; b < FEEDBACK_BATCHES; b++) {
      const items = mine.slice(b * FEEDBACK_BATCH_SIZE, (b + 1) * FEEDBACK_BATCH_SIZE).map((card, i) =>
        i % 3 === 0
          ? {
              card: card.uuid,
              outcome: 'overridden',
              overrideReason: { reason: { system: 'http://example.org/override', code: 'r1' } },
              outcomeTimestamp: new Date().toISOString(),
            }
          : {
              card: card.uuid,
              outcome: 'accepted',
              acceptedSuggestions: [{ id: card.suggestions![0].uuid }],
              outcomeTimestamp: new Date().toISOString(),
            },
      );
      const results = await store.ingestFeedback('bench', items);
      if (results.some((r) => r.result !== 'stored')) throw new Error('a bench feedback item was not stored');
    }
    rates.push(perRun / ((performance.now() - started) / 1000));
  }
  return rates;
}

interface ReportTiming {
  label: string;
  rows: number;
  raw: number[];
  rollups: number[];
}

/** The dashboard's groupings and filters (web/dashboard/src/panels), and the two. */
const REPORT_QUERIES: Array<Record<string, string>> = [
  {},
  { groupBy: 'service' },
  { groupBy: 'service,version' },
  { groupBy: 'version' },
  { groupBy: 'rule' },
  { groupBy: 'day,version' },
  { groupBy: 'week,version' },
  { groupBy: 'service,rule,week' },
  { groupBy: 'service', from: '2025-09-01', to: '2026-02-28' },
  { groupBy: 'week,version', service: 'svc-1' },
  { groupBy: 'rule', ruleSet: 'rs-2', version: '1.0.0' },
  { groupBy: 'service', client: 'https://ehr-1.example.org' },
  { groupBy: 'rule', ruleSet: 'rs-3', rule: 'rule-1', comments: 'true' },
];

/**
 * The report over a generated ledger: the ledger is written at migration 0007, the roll-ups of every day are
 * computed (what a store does after an upgrade) and timed, then each query runs from the raw rows and from the
 * roll-ups, alternating. "Now" is an hour after the last card: the last days (today and the completion windows
 * still open) are read raw.
 */
async function reportSeconds(config: UptakeConfig): Promise<ReportTiming[]> {
  const { db, dialect } = openDatabase(config);
  try {
    await migrateTo(db, dialect, '0007-system-actions');
    let t = performance.now();
    await generateLedger(db, dialect, LEDGER_CARDS);
    console.log(
      `  generated ${LEDGER_CARDS.toLocaleString('en')} cards and invocations in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    t = performance.now();
    await migrateToLatest(db, dialect);
    console.log(
      `  migrations to the latest (every day marked stale) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const now = new Date(LEDGER_START + LEDGER_CARDS * 30_000 + 3_600_000);
    t = performance.now();
    const days = await refreshRollups(db, dialect, now.getTime());
    console.log(
      `  roll-ups of ${days} days (${LEDGER_CARDS.toLocaleString('en')} cards) computed in ${((performance.now() - t) / 1000).toFixed(1)} s, as after an upgrade`,
    );
    console.log(
      `  report over ${LEDGER_CARDS.toLocaleString('en')} cards, median of ${REPORT_RUNS} runs: raw rows -> roll-ups`,
    );
    const timings: ReportTiming[] = [];
    for (const raw of REPORT_QUERIES) {
      const query = parseReportQuery(raw);
      const timing: ReportTiming = {
        label: decodeURIComponent(new URLSearchParams(raw).toString()) || '(no grouping)',
        rows: 0,
        raw: [],
        rollups: [],
      };
      for (let i = 0; i < REPORT_RUNS; i++) {
        for (const rollups of [false, true]) {
          t = performance.now();
          const report = await buildReport(db, dialect, query, now, { rollups });
          (rollups ? timing.rollups : timing.raw).push((performance.now() - t) / 1000);
          timing.rows = report.rows.length;
        }
      }
      timings.push(timing);
      console.log(
        `    ${timing.label.padEnd(58)} ${String(timing.rows).padStart(5)} rows  ${median(timing.raw).toFixed(2).padStart(6)} s -> ${median(timing.rollups).toFixed(3).padStart(6)} s`,
      );
    }
    return timings;
  } finally {
    await db.destroy();
  }
}

async function main(): Promise<void> {
  const kinds: Array<'sqlite' | 'postgres'> = PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];
  if (!PG_URL) console.log('(PostgreSQL skipped: set BENCH_DATABASE_URL=postgres://… to include it)');
  for (const kind of kinds) {
    const t = await target(kind);
    try {
      const store = await createUptakeStore(t.config, { logger: createLogger('error', true) });
      const rates = await feedbackItemsPerSecond(store);
      await store.close();
      console.log(`\nUptake on ${t.name}`);
      console.log(
        `  feedback ingestion, ${FEEDBACK_RUNS} runs of ${FEEDBACK_BATCHES} batches × ${FEEDBACK_BATCH_SIZE} items: median ${median(rates).toFixed(0)} items/s (runs: ${rates.map((r) => r.toFixed(0)).join(', ')})`,
      );
      // The report runs on a ledger of its own: the generated cards only.
      const ledger = await target(kind);
      try {
        await reportSeconds(ledger.config);
      } finally {
        await ledger.cleanup();
      }
    } finally {
      await t.cleanup();
    }
  }
}

await main();
