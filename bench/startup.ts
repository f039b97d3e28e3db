// Start to /ready as `npm start` runs the server (scripts/start.js: dist/, built first when out of date),
// with the shipped knowledge: cold (a fresh data directory, nothing in the ELM cache) and warm (a restart
// on the data directory of an earlier start, the ELM cache filled). Medians over BENCH_ROUNDS starts each.
//
//   npx tsx bench/startup.ts
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
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

/** Milliseconds from spawning the server to its first 200 on /ready. */
async function startToReady(dataDir: string): Promise<number> {
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
try {
  for (let round = 0; round < ROUNDS; round++) {
    const dir = mkdtempSync(join(tmpdir(), 'cds-bench-start-'));
    dirs.push(dir);
    cold.push(await startToReady(dir));
    warm.push(await startToReady(dir));
  }
} finally {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
const f = (xs: number[]) => `${(median(xs) / 1000).toFixed(2)} s (runs: ${xs.map((x) => x.toFixed(0)).join(', ')} ms)`;
console.log(`start to /ready, shipped knowledge, median of ${ROUNDS}`);
console.log(`  cold (empty ELM cache):  ${f(cold)}`);
console.log(`  warm (ELM cache filled): ${f(warm)}`);
