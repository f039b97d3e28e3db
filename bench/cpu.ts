// CPU per call, in process, for every shipped service at 152 and 10,000 resources (bench/cpu-calls.ts):
// validate + prefetch check + FHIR shape check + CQL + rules + cards, without HTTP or JSON parsing.
// Prints the median CPU ms per call (process.cpuUsage, garbage collection included) and wall p50 / p95 / p99
// (with 8 rounds of 3 calls at 10,000 resources, p99 is the slowest call of 24, p95 the second slowest).
// With BENCH_BASELINE naming another checkout (with node_modules), both run side by side in two
// processes, batches alternating, so both see the same machine:
//
//   git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
//   BENCH_BASELINE=/tmp/base npx tsx bench/cpu.ts
//
// BENCH_ROUNDS (default 8) batches per side; BENCH_SIZES (default 152,10000).
import { fork, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { percentile } from './http.js';
import { cpuCalls, type CpuCall } from './cpu-calls.js';

interface Sample {
  cpu: number;
  wall: number;
  cards: number;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const sizes = (process.env.BENCH_SIZES ?? '152,10000').split(',').map(Number);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Side {
  name: string;
  child: ChildProcess;
}

async function start(name: string, root: string): Promise<Side> {
  const child = fork(join(process.cwd(), 'bench/cpu-worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    cwd: process.cwd(),
    env: { ...process.env, BENCH_ROOT: root, CDS_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  child.send(calls);
  await new Promise<void>((res, rej) => {
    child.once('message', () => res());
    child.once('exit', (code) => rej(new Error(`${name}: worker exited with ${code}`)));
  });
  return { name, child };
}

function run(side: Side, service: string, size: number, count: number): Promise<Sample[]> {
  return new Promise((res) => {
    side.child.once('message', (m) => res(m as Sample[]));
    side.child.send({ service, size, count });
  });
}

const calls: CpuCall[] = await cpuCalls(sizes);
const baseline = process.env.BENCH_BASELINE;
const sides = [
  ...(baseline ? [await start('before', resolve(baseline))] : []),
  await start(baseline ? 'after' : 'this', process.cwd()),
];
try {
  console.log(
    `CPU per call in process (ms; median CPU, wall p50, p95 and p99), ${ROUNDS} alternating batches per side${baseline ? `, before = ${baseline}` : ''}`,
  );
  const head = sides
    .map((s) => `${`cpu ${s.name}`.padStart(12)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'p99'.padStart(7)}`)
    .join(' ');
  console.log(
    `${'service'.padEnd(24)} ${'resources'.padStart(9)} ${head}${baseline ? '   cpu after/before' : ''}  cards`,
  );
  for (const { service, size } of calls) {
    const count = size >= 5000 ? 3 : 15;
    // Warm up (JIT, caches) before measuring.
    for (const side of sides) await run(side, service, size, count);
    const samples = new Map<string, Sample[]>(sides.map((s) => [s.name, []]));
    for (let round = 0; round < ROUNDS; round++)
      for (const side of sides) samples.get(side.name)!.push(...(await run(side, service, size, count)));
    const cells = sides.map((s) => {
      const xs = samples.get(s.name)!;
      const walls = xs.map((x) => x.wall).sort((a, b) => a - b);
      return {
        cpu: median(xs.map((x) => x.cpu)),
        text: `${median(xs.map((x) => x.cpu))
          .toFixed(1)
          .padStart(12)} ${[50, 95, 99].map((p) => percentile(walls, p).toFixed(1).padStart(7)).join(' ')}`,
        cards: [...new Set(xs.map((x) => x.cards))].join('/'),
      };
    });
    const ratio = baseline ? `   ${(cells[1].cpu / cells[0].cpu).toFixed(2).padStart(16)}` : '';
    console.log(
      `${service.padEnd(24)} ${String(size).padStart(9)} ${cells.map((c) => c.text).join(' ')}${ratio}  ${cells.map((c) => c.cards).join(' ')}`,
    );
  }
} finally {
  for (const side of sides) side.child.kill('SIGTERM');
}
