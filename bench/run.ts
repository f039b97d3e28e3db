// npm run bench: load on loopback (autocannon) per service at concurrency 1 and 10, with 1 evaluation
// thread and with 2 (CDS_WORKERS), then the in-process evaluation time of the same requests without
// HTTP. Medians are what to compare.
import { fixtureRequests, type FixtureRequest } from './fixtures.js';
import { byService, load, percentile, startServer, threadCpuMs } from './http.js';
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

const WORKERS = [1, 2];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const requests = fixtureRequests();
  const services = byService(requests);
  // The same runs without and with the uptake ledger (SQLite), one after the other: what recording costs.
  // Each with 1 evaluation thread (the HTTP thread, CDS_WORKERS=1) and a pool of 2, servers side by side and
  // runs alternating between them: both see the same machine.
  for (const uptake of [false, true]) {
    const servers = await Promise.all(WORKERS.map((workers) => startServer({ uptake, workers })));
    try {
      console.log(
        `HTTP over loopback, ${DURATION} s per run (latency in ms), uptake ledger ${uptake ? 'on (SQLite)' : 'off'}`,
      );
      // CPU per call is what the machine cannot blur: the HTTP thread's share bounds what more threads can give.
      console.log(
        `${'service'.padEnd(28)} conc workers      p50      p95      p99    req/s   non-2xx  cpu ms/call: http  others   (medians of ${ROUNDS} runs)`,
      );
      const ratios: number[] = [];
      for (const [service, list] of services) {
        for (const connections of [1, 10]) {
          const runs = servers.map(() => ({
            p50: [] as number[],
            p95: [] as number[],
            p99: [] as number[],
            rps: [] as number[],
            http: [] as number[],
            others: [] as number[],
            failed: 0,
          }));
          // Rounds alternate between the servers: noise from the machine falls on both.
          for (let round = 0; round < ROUNDS; round++) {
            for (const [i, server] of servers.entries()) {
              const before = threadCpuMs(server.pid);
              const r = await load(server.port, list, connections, DURATION);
              const after = threadCpuMs(server.pid);
              const calls = r.requestsPerSecond * DURATION;
              if (before && after && calls > 0) {
                runs[i].http.push((after.main - before.main) / calls);
                runs[i].others.push((after.others - before.others) / calls);
              }
              const l = r.latencies;
              runs[i].p50.push(percentile(l, 50));
              runs[i].p95.push(percentile(l, 95));
              runs[i].p99.push(percentile(l, 99));
              runs[i].rps.push(r.requestsPerSecond);
              runs[i].failed += r.non2xx + r.errors;
            }
          }
          for (const [i, run] of runs.entries()) {
            console.log(
              `${service.padEnd(28)} ${String(connections).padStart(4)} ${String(WORKERS[i]).padStart(7)} ${fmt(median(run.p50))} ${fmt(median(run.p95))} ${fmt(median(run.p99))} ${fmt(median(run.rps))} ${String(run.failed).padStart(9)} ${cpu(run.http).padStart(17)} ${cpu(run.others).padStart(7)}`,
            );
          }
          if (connections === 10) ratios.push(median(runs[1].rps) / median(runs[0].rps));
        }
      }
      console.log(
        `req/s at concurrency 10, 2 workers over 1: median over services ${median(ratios).toFixed(2)}x (${ratios.map((r) => r.toFixed(2)).join(', ')})`,
      );
      console.log('');
    } finally {
      for (const server of servers) server.stop();
    }
  }
  console.log('In-process evaluation (validate + prefetch + CQL + rules + cards), 50 rounds each (ms)');
  console.log(`${'service / request'.padEnd(60)}      p50      p95`);
  for (const r of await inProcess(requests, 50))
    console.log(`${`${r.service} / ${r.name}`.padEnd(60)} ${fmt(r.p50)} ${fmt(r.p95)}`);
}

await main();
