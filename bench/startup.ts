// Start to /ready as `npm start` runs the server (scripts/start.js: dist/, built first when out of date),
// with the shipped knowledge: cold (a fresh data directory, nothing in the ELM cache) and warm (a restart
// on the data directory of an earlier start, the ELM cache filled). Medians over BENCH_ROUNDS starts each.
// Then the idle resident memory of a warm start by CDS_WORKERS (what each evaluation thread adds).
//
//   npx tsx bench/startup.ts
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const root = resolve(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function freePort(): Promise<number> {
  return new Promise((done) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

/** Resident memory of a process in bytes (Linux). */
function rssOf(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/**
 * Milliseconds from spawning the server to its first 200 on /ready; with `idleRss`, its resident memory once
 * it has been idle that many ms after /ready instead.
 */
async function startToReady(dataDir: string, { workers, idleRss }: { workers?: number; idleRss?: number } = {}) {
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
      ...(workers === undefined ? {} : { CDS_WORKERS: String(workers) }),
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
      if (ok && idleRss !== undefined) {
        await new Promise((r) => setTimeout(r, idleRss));
        return rssOf(child.pid!);
      }
      if (ok) return performance.now() - began;
      if (performance.now() - began > 60_000) throw new Error('the server did not become ready in 60 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

// Build once, untimed: the starts measured run the build as it is (what `npm start` does when it is current).
const { isBuildCurrent, BUILD_MARKER } = (await import(join(root, 'scripts/build-status.js'))) as {
  isBuildCurrent: (root: string) => boolean;
  BUILD_MARKER: string;
};
if (!isBuildCurrent(root)) {
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

const cold: number[] = [];
const warm: number[] = [];
const dirs: string[] = [];
const WORKERS = [1, 2, 3];
const rss = new Map<number, number[]>(WORKERS.map((w) => [w, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'cds-bench-start-'));
    dirs.push(dir);
    cold.push(await startToReady(dir));
    warm.push(await startToReady(dir));
    for (const workers of WORKERS) rss.get(workers)!.push(await startToReady(dir, { workers, idleRss: 2000 }));
  }
} finally {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
const f = (xs: number[]) => `${(median(xs) / 1000).toFixed(2)} s (runs: ${xs.map((x) => x.toFixed(0)).join(', ')} ms)`;
console.log(`start to /ready, shipped knowledge, median of ${ROUNDS}`);
console.log(`  cold (empty ELM cache):  ${f(cold)}`);
console.log(`  warm (ELM cache filled): ${f(warm)}`);
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
console.log(`idle RSS 2 s after /ready (warm start, shipped knowledge), median of ${ROUNDS}, by CDS_WORKERS`);
for (const workers of WORKERS) {
  const own = median(rss.get(workers)!);
  const added =
    workers === 1 ? '' : `  (+${mb((own - median(rss.get(1)!)) / workers)} MB per thread over CDS_WORKERS=1)`;
  console.log(`  CDS_WORKERS=${workers}: ${mb(own)} MB${added}`);
}
