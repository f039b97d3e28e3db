// Before / after in one run: BENCH_BASELINE names another checkout of this project (e.g. a git
// worktree of an earlier commit, with node_modules). Its bench/server.ts and this one's run side by
// side; short load runs alternate between them per service, so both see the same machine. Prints
// the median over rounds of each run's p50, p99 and req/s, at concurrency BENCH_CONNECTIONS (default 1;
// 10 shows whether calls use more than one core). BENCH_UPTAKE=sqlite runs both with the uptake ledger
// on SQLite (what recording costs a call). BENCH_WORKERS=2 runs both with a pool of 2 evaluation threads.
// BENCH_RECORD_SIZE=N sends each service's call over a generated record of N resources (bench/cpu-calls.ts)
// instead of the shipped examples. Beside the latencies: the server's CPU per call (all its threads, GC included).
//
//   git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
//   BENCH_BASELINE=/tmp/base npx tsx bench/compare.ts
import { resolve } from 'node:path';
import { fixtureRequests, type FixtureRequest } from './fixtures.js';
import { byService, load, percentile, startServer, threadCpuMs } from './http.js';
import { cpuCalls } from './cpu-calls.js';

const baseline = process.env.BENCH_BASELINE;
if (!baseline) throw new Error('BENCH_BASELINE must name the checkout to compare with');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpu = (xs: number[]) => (xs.length > 0 ? median(xs).toFixed(2) : '-');

const uptake = process.env.BENCH_UPTAKE === 'sqlite';
const workers = Number(process.env.BENCH_WORKERS ?? 1);
const size = Number(process.env.BENCH_RECORD_SIZE ?? 0);
const requests: FixtureRequest[] =
  size > 0
    ? (await cpuCalls([size])).map((c) => ({ service: c.service, name: String(size), body: c.body }))
    : fixtureRequests();
const maxResources = size > 0 ? 2 * size : undefined;
const before = await startServer({ dir: resolve(baseline), uptake, workers, maxResources });
const after = await startServer({ uptake, workers, maxResources });
try {
  console.log(
    `HTTP over loopback, concurrency ${CONNECTIONS}, evaluation threads ${workers}${uptake ? ', uptake on SQLite' : ''}${size > 0 ? `, records of ${size} resources` : ''}: medians over ${ROUNDS} alternating ${SECONDS} s runs`,
  );
  console.log(
    `${'service'.padEnd(28)} p50 before  p50 after  p99 before  p99 after   req/s before  req/s after  cpu ms/call before  after`,
  );
  for (const [service, list] of byService(requests)) {
    const runs = {
      before: { p50: [] as number[], p99: [] as number[], rps: [] as number[], cpu: [] as number[] },
      after: { p50: [] as number[], p99: [] as number[], rps: [] as number[], cpu: [] as number[] },
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, server] of [
        ['before', before],
        ['after', after],
      ] as const) {
        const cpuBefore = threadCpuMs(server.pid);
        const r = await load(server.port, list, CONNECTIONS, SECONDS);
        const cpuAfter = threadCpuMs(server.pid);
        if (r.non2xx + r.errors > 0) throw new Error(`${name}: ${r.non2xx + r.errors} failed calls to ${service}`);
        const calls = r.requestsPerSecond * SECONDS;
        if (cpuBefore && cpuAfter && calls > 0)
          runs[name].cpu.push((cpuAfter.main + cpuAfter.others - cpuBefore.main - cpuBefore.others) / calls);
        runs[name].p50.push(percentile(r.latencies, 50));
        runs[name].p99.push(percentile(r.latencies, 99));
        runs[name].rps.push(r.requestsPerSecond);
      }
    }
    const f = (n: number) => n.toFixed(1).padStart(10);
    console.log(
      `${service.padEnd(28)} ${f(median(runs.before.p50))} ${f(median(runs.after.p50))} ${f(median(runs.before.p99))} ${f(median(runs.after.p99))} ${f(median(runs.before.rps)).padStart(13)} ${f(median(runs.after.rps)).padStart(12)} ${cpu(runs.before.cpu).padStart(19)} ${cpu(runs.after.cpu).padStart(6)}`,
    );
  }
} finally {
  before.stop();
  after.stop();
}
