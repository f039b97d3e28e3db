// Start-up and memory of the server as `npm start` runs it (scripts/start.js: dist/, built first when out
// of date), with the shipped knowledge and the SQLite uptake ledger, medians over BENCH_ROUNDS starts:
//
// - start to /ready, cold (a fresh data directory, nothing in the ELM cache) and warm (a restart on the
//   data directory of an earlier start, the ELM cache filled);
// - resident memory (RSS, worker threads included): idle after the cold start once its translator thread
//   has ended, idle after the warm start, the most during BENCH_LOAD_SECONDS of the example requests at
//   concurrency 10, idle BENCH_IDLE_SECONDS after that load (past CDS_IDLE_GC_MS, when each thread has
//   collected its garbage once), and again BENCH_SETTLE_SECONDS after it.
//
// BENCH_WORKERS (default 1,2) repeats it per value of CDS_WORKERS, and says what each evaluation thread adds
// (CDS_WORKERS=1 has none). BENCH_VARIANTS compares server environments in the same run, rounds alternating:
// `;` between variants, spaces between the variables of one (`CDS_IDLE_GC_MS=0;MALLOC_ARENA_MAX=2`; an empty
// variant is the defaults). BENCH_COLD=off leaves out the cold start: one start fills an ELM cache all the warm
// starts share.
//
//   npx tsx bench/startup.ts
//   BENCH_COLD=off BENCH_VARIANTS='CDS_IDLE_GC_MS=0;' npx tsx bench/startup.ts
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fixtureRequests } from './fixtures.js';
import { load } from './http.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 8);
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 45);
const COLD = process.env.BENCH_COLD !== 'off';
/** Environments to compare (variables of each), `[{}]` (the defaults) unless BENCH_VARIANTS is set. */
const VARIANTS: Array<Record<string, string>> = (process.env.BENCH_VARIANTS ?? '').split(';').map((v) =>
  Object.fromEntries(
    v
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((kv) => kv.split(/=(.*)/s, 2)),
  ),
);
/** Past the translator thread's idle time (TRANSLATOR_IDLE_MS, 10 s). */
const COLD_IDLE_SECONDS = 12;
const root = resolve(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

/** Resident memory of a process in MiB (Linux /proc; NaN elsewhere). */
function rssMiB(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface Started {
  child: ChildProcess;
  port: number;
  /** Milliseconds from spawning the server to its first 200 on /ready. */
  readyMs: number;
}

async function startToReady(
  dataDir: string,
  workers: string | undefined,
  variant: Record<string, string> = {},
): Promise<Started> {
  const port = await freePort();
  const began = performance.now();
  const child = spawn(process.execPath, [join(root, 'scripts/start.js')], {
    cwd: root,
    env: {
      ...process.env,
      CDS_AUTH: 'off',
      CDS_PORT: String(port),
      CDS_HOST: '127.0.0.1',
      CDS_DATA_DIR: dataDir,
      CDS_ELM_CACHE_DIR: '',
      CDS_KNOWLEDGE_WATCH: 'off',
      CDS_LOG_LEVEL: 'error',
      CDS_DATABASE_URL: '',
      CDS_RATE_LIMIT_PER_MINUTE: '0',
      ...(workers ? { CDS_WORKERS: workers } : {}),
      ...variant,
    },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return { child, port, readyMs: performance.now() - began };
      if (performance.now() - began > 60_000) throw new Error('the server did not become ready in 60 s');
      await sleep(10);
    }
  } catch (err) {
    await stop(child);
    throw err;
  }
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r),
  );
}

/** The most RSS seen (sampled every 100 ms) while the example requests are sent for LOAD_SECONDS. */
async function loadedRss(server: Started): Promise<{ peak: number; rps: number }> {
  const pid = server.child.pid!;
  let peak = rssMiB(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 100);
  try {
    const r = await load(server.port, fixtureRequests(), 10, LOAD_SECONDS);
    if (r.non2xx + r.errors > 0) throw new Error(`${r.non2xx + r.errors} calls failed under load`);
    return { peak: Math.max(peak, rssMiB(pid)), rps: r.requestsPerSecond };
  } finally {
    clearInterval(sampler);
  }
}

interface Round {
  cold: number;
  warm: number;
  coldIdle: number;
  warmIdle: number;
  loaded: number;
  idleAfterLoad: number;
  afterLoad: number;
  rps: number;
}

async function round(
  workers: string | undefined,
  variant: Record<string, string>,
  sharedCache?: string,
): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'cds-bench-start-'));
  try {
    let cold = NaN;
    let coldIdle = NaN;
    if (COLD) {
      const started = await startToReady(dir, workers, variant);
      cold = started.readyMs;
      await sleep(COLD_IDLE_SECONDS * 1000);
      coldIdle = rssMiB(started.child.pid!);
      await stop(started.child);
    }
    const warm = await startToReady(dir, workers, {
      ...variant,
      ...(sharedCache ? { CDS_ELM_CACHE_DIR: sharedCache } : {}),
    });
    try {
      await sleep(3000);
      const warmIdle = rssMiB(warm.child.pid!);
      const { peak, rps } = await loadedRss(warm);
      await sleep(IDLE_SECONDS * 1000);
      const idleAfterLoad = rssMiB(warm.child.pid!);
      await sleep(Math.max(0, SETTLE_SECONDS - IDLE_SECONDS) * 1000);
      const afterLoad = rssMiB(warm.child.pid!);
      return { cold, warm: warm.readyMs, coldIdle, warmIdle, loaded: peak, idleAfterLoad, afterLoad, rps };
    } finally {
      await stop(warm.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints start to /ready and resident memory, per BENCH_WORKERS value (and BENCH_VARIANTS environment). */
export async function startupAndMemory(): Promise<void> {
  await buildOnce();
  // One evaluation thread (the HTTP thread evaluates) and two: what the pool adds.
  const counts = (process.env.BENCH_WORKERS ?? '1,2').split(',').map((w) => w.trim());
  const runs = new Map<string, Round[]>();
  // Without cold starts, one start fills the ELM cache every warm start reads.
  const sharedCache = COLD ? undefined : mkdtempSync(join(tmpdir(), 'cds-bench-elm-'));
  if (sharedCache) {
    const dir = mkdtempSync(join(tmpdir(), 'cds-bench-start-'));
    await stop((await startToReady(dir, undefined, { CDS_ELM_CACHE_DIR: sharedCache })).child);
    rmSync(dir, { recursive: true, force: true });
  }
  const key = (workers: string, v: number) => `${workers} ${v}`;
  // Variants and worker counts alternate within each round: all see the same machine.
  for (let i = 0; i < ROUNDS; i++)
    for (const workers of counts)
      for (const [v, variant] of VARIANTS.entries()) {
        const list = runs.get(key(workers, v)) ?? [];
        list.push(await round(workers, variant, sharedCache));
        runs.set(key(workers, v), list);
      }
  if (sharedCache) rmSync(sharedCache, { recursive: true, force: true });
  const describe = (v: number) =>
    Object.entries(VARIANTS[v])
      .map(([name, value]) => `${name}=${value}`)
      .join(' ') || 'defaults';
  for (const [v] of VARIANTS.entries()) {
    for (const workers of counts) {
      const rounds = runs.get(key(workers, v))!;
      const col = (k: keyof Round) => rounds.map((r) => r[k]);
      const s = (k: 'cold' | 'warm') =>
        `${(median(col(k)) / 1000).toFixed(2)} s (runs: ${col(k)
          .map((x) => x.toFixed(0))
          .join(', ')} ms)`;
      const m = (k: Exclude<keyof Round, 'cold' | 'warm'>, unit = 'MiB') =>
        `${median(col(k)).toFixed(0)} ${unit} (runs: ${col(k)
          .map((x) => x.toFixed(0))
          .join(', ')})`;
      console.log(
        `start to /ready and resident memory, shipped knowledge, SQLite ledger, CDS_WORKERS=${workers}` +
          `${VARIANTS.length > 1 ? `, ${describe(v)}` : ''}: median of ${ROUNDS}`,
      );
      const rows: Array<[string, string]> = [
        ...(COLD
          ? ([
              ['start, cold (empty ELM cache)', s('cold')],
              [`RSS idle, ${COLD_IDLE_SECONDS} s after a cold start`, m('coldIdle')],
            ] as Array<[string, string]>)
          : []),
        ['start, warm (ELM cache filled)', s('warm')],
        ['RSS idle, 3 s after a warm start', m('warmIdle')],
        [`RSS most under load (${LOAD_SECONDS} s, concurrency 10)`, `${m('loaded')}, ${m('rps', 'req/s')}`],
        [`RSS idle, ${IDLE_SECONDS} s after that load`, m('idleAfterLoad')],
        [`RSS idle, ${SETTLE_SECONDS} s after that load`, m('afterLoad')],
      ];
      for (const [label, value] of rows) console.log(`  ${`${label}:`.padEnd(44)} ${value}`);
    }
    // CDS_WORKERS=1 evaluates on the HTTP thread (no evaluation thread); n >= 2 starts n of them.
    const threads = (w: string) => (Number(w) >= 2 ? Number(w) : 0);
    for (let i = 1; i < counts.length; i++) {
      const [a, b] = [counts[i - 1], counts[i]];
      const added = threads(b) - threads(a);
      if (!(added > 0)) continue;
      const per = (k: 'warmIdle' | 'idleAfterLoad' | 'afterLoad') =>
        (
          (median(runs.get(key(b, v))!.map((r) => r[k])) - median(runs.get(key(a, v))!.map((r) => r[k]))) /
          added
        ).toFixed(0);
      console.log(
        `  each evaluation thread adds (CDS_WORKERS ${a} -> ${b}): ${per('warmIdle')} MiB idle after start, ` +
          `${per('idleAfterLoad')} MiB ${IDLE_SECONDS} s after a load, ${per('afterLoad')} MiB ${SETTLE_SECONDS} s after it`,
      );
    }
  }
}

/** Builds dist/ once, untimed: the starts measured run it as it is (as `npm start` does when it is current). */
async function buildOnce(): Promise<void> {
  const { isBuildCurrent, BUILD_MARKER } = (await import(join(root, 'scripts/build-status.js'))) as {
    isBuildCurrent: (root: string) => boolean;
    BUILD_MARKER: string;
  };
  if (isBuildCurrent(root)) return;
  process.stderr.write('building dist/ first (untimed)\n');
  const tsc = spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
    { cwd: root, stdio: 'inherit' },
  );
  if (tsc.status !== 0) throw new Error('the build failed');
  const now = new Date();
  utimesSync(join(root, BUILD_MARKER), now, now);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) await startupAndMemory();
