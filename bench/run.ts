// npm run bench: load on loopback (autocannon) per service at concurrency 1 and 10, with 1 evaluation
// thread and with 2 (CDS_WORKERS), then generated records of 1,000 and 10,000 resources at concurrency 10
// (BENCH_HEAVY=only: these alone, BENCH_HEAVY=0: without them), then the in-process evaluation time of the
// fixtures without HTTP. Medians are what to compare.
import { fixtureRequests, type FixtureRequest } from './fixtures.js';
import { byService, load, percentile, startServer, threadCpuMs, type BenchServer } from './http.js';
import { cpuCalls } from './cpu-calls.js';
import { createCqlTranslator, loadKnowledge } from '../src/knowledge/index.js';
import { defaultConfig } from '../src/config.js';
import { invokeService } from '../src/engine/index.js';

const DURATION = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const NOW = new Date('2026-06-01T12:00:00Z');

async function inProcess(
  requests: FixtureRequest[],
  rounds: number,
): Promise<Array<{ service: string; name: string; p50: number; p95: number }>> {
  const config = defaultConfig();
  const knowledge = await loadKnowledge(config.knowledgeDir, { translator: await createCqlTranslator() });
  const out = [];
  for (const r of requests) {
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      await invokeService(knowledge, r.service, r.body, {
        clock: () => NOW,
        prefetch: { timeoutMs: 1000, maxPages: 1 },
      });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    out.push({ service: r.service, name: r.name, p50: percentile(times, 50), p95: percentile(times, 95) });
  }
  return out;
}

const fmt = (n: number) => n.toFixed(1).padStart(8);
const cpu = (xs: number[]) => (xs.length > 0 ? median(xs).toFixed(2) : '-');
const share = (xs: number[]) => (xs.length > 0 ? `${(median(xs) * 100).toFixed(0)} %` : '-');

const WORKERS = [1, 2];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Load runs of each group of requests at each concurrency on each server (1 and 2 workers), rounds alternating
 * between the servers: noise from the machine falls on both. One row per group, concurrency and server, with
 * beside it the load generator's own CPU (in cores) and the machine's idle share: where the generator takes a
 * core or nothing is idle, the machine was the limit, not the server. Returns the 2-over-1 req/s ratio at
 * concurrency 10 of each group.
 */
async function loadRows(
  servers: BenchServer[],
  groups: Map<string, FixtureRequest[]>,
  concurrencies: number[],
  seconds: number,
): Promise<number[]> {
  console.log(
    `${'service'.padEnd(28)} conc workers      p50      p95      p99    req/s   non-2xx  cpu ms/call: http  others  loader  idle   (medians of ${ROUNDS} runs)`,
  );
  const ratios: number[] = [];
  for (const [group, list] of groups) {
    for (const connections of concurrencies) {
      const runs = servers.map(() => ({
        p50: [] as number[],
        p95: [] as number[],
        p99: [] as number[],
        rps: [] as number[],
        http: [] as number[],
        others: [] as number[],
        loader: [] as number[],
        idle: [] as number[],
        failed: 0,
      }));
      for (let round = 0; round < ROUNDS; round++) {
        for (const [i, server] of servers.entries()) {
          const before = threadCpuMs(server.pid);
          const r = await load(server.port, list, connections, seconds);
          const after = threadCpuMs(server.pid);
          const calls = r.requestsPerSecond * seconds;
          if (before && after && calls > 0) {
            runs[i].http.push((after.main - before.main) / calls);
            runs[i].others.push((after.others - before.others) / calls);
          }
          const l = r.latencies;
          runs[i].p50.push(percentile(l, 50));
          runs[i].p95.push(percentile(l, 95));
          runs[i].p99.push(percentile(l, 99));
          runs[i].rps.push(r.requestsPerSecond);
          if (r.loaderCores !== undefined) runs[i].loader.push(r.loaderCores);
          if (r.idle !== undefined) runs[i].idle.push(r.idle);
          runs[i].failed += r.non2xx + r.errors;
        }
      }
      for (const [i, run] of runs.entries()) {
        console.log(
          `${group.padEnd(28)} ${String(connections).padStart(4)} ${String(WORKERS[i]).padStart(7)} ${fmt(median(run.p50))} ${fmt(median(run.p95))} ${fmt(median(run.p99))} ${fmt(median(run.rps))} ${String(run.failed).padStart(9)} ${cpu(run.http).padStart(17)} ${cpu(run.others).padStart(7)} ${cpu(run.loader).padStart(7)} ${share(run.idle).padStart(5)}`,
        );
      }
      if (connections === 10) ratios.push(median(runs[1].rps) / median(runs[0].rps));
    }
  }
  return ratios;
}

async function withServers<T>(
  { uptake, maxResources }: { uptake: boolean; maxResources?: number },
  work: (servers: BenchServer[]) => Promise<T>,
): Promise<T> {
  const servers = await Promise.all(WORKERS.map((workers) => startServer({ uptake, workers, maxResources })));
  try {
    return await work(servers);
  } finally {
    for (const server of servers) server.stop();
  }
}

/**
 * Every shipped service's first example over a generated record of 1,000 and of 10,000 resources (bench/cpu-calls.ts),
 * one group per size (the services in turn), at concurrency 10: evaluation dominates the call, so what a second
 * thread gives shows, unlike on the shipped fixtures, where the HTTP thread and the load generator do.
 */
async function heavyRows(): Promise<void> {
  const seconds = Number(process.env.BENCH_HEAVY_SECONDS ?? 8);
  const groups = new Map<string, FixtureRequest[]>();
  const calls = await cpuCalls(HEAVY_SIZES);
  for (const size of HEAVY_SIZES)
    groups.set(
      `heavy ${size} resources`,
      calls.filter((c) => c.size === size).map((c) => ({ service: c.service, name: String(size), body: c.body })),
    );
  await withServers({ uptake: false, maxResources: 2 * Math.max(...HEAVY_SIZES) }, async (servers) => {
    console.log(
      `HTTP over loopback, generated records (every service in turn), ${seconds} s per run (latency in ms), uptake ledger off`,
    );
    const ratios = await loadRows(servers, groups, [10], seconds);
    console.log(
      `req/s at concurrency 10, 2 workers over 1: ${[...groups.keys()].map((g, i) => `${g} ${ratios[i].toFixed(2)}x`).join(', ')}`,
    );
    console.log('');
  });
}

const HEAVY_SIZES = [1000, 10000];

async function main(): Promise<void> {
  // BENCH_HEAVY=only: the generated heavy records alone; BENCH_HEAVY=0: without them.
  const heavy = process.env.BENCH_HEAVY ?? '1';
  if (heavy === 'only') {
    await heavyRows();
    return;
  }
  const services = byService(fixtureRequests());
  // The same runs without and with the uptake ledger (SQLite), one after the other: what recording costs.
  // Each with 1 evaluation thread (the HTTP thread, CDS_WORKERS=1) and a pool of 2, servers side by side and
  // runs alternating between them: both see the same machine.
  for (const uptake of [false, true]) {
    await withServers({ uptake }, async (servers) => {
      console.log(
        `HTTP over loopback, ${DURATION} s per run (latency in ms), uptake ledger ${uptake ? 'on (SQLite)' : 'off'}`,
      );
      // CPU per call is what the machine cannot blur: the HTTP thread's share bounds what more threads can give.
      const ratios = await loadRows(servers, services, [1, 10], DURATION);
      console.log(
        `req/s at concurrency 10, 2 workers over 1: median over services ${median(ratios).toFixed(2)}x (${ratios.map((r) => r.toFixed(2)).join(', ')})`,
      );
      console.log('');
    });
  }
  if (heavy !== '0') await heavyRows();
  console.log('In-process evaluation (validate + prefetch + CQL + rules + cards), 50 rounds each (ms)');
  console.log(`${'service / request'.padEnd(60)}      p50      p95`);
  for (const r of await inProcess(fixtureRequests(), 50))
    console.log(`${`${r.service} / ${r.name}`.padEnd(60)} ${fmt(r.p50)} ${fmt(r.p95)}`);
}

await main();
