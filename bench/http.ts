// Load over loopback for the benchmarks: start bench/server.ts (of this checkout or another one)
// in its own process, and send the example requests at it with autocannon.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import type { FixtureRequest } from './fixtures.js';

export interface BenchServer {
  port: number;
  stop: () => void;
  /** The server's process id. */
  pid: number;
}

/**
 * bench/server.ts of `dir` (default: this checkout), optionally recording uptake in SQLite, serving
 * the knowledge of `knowledge` (default: the checkout's shipped knowledge), evaluating on `workers`
 * threads (default 1: the HTTP thread), with at most `maxResources` FHIR resources a call (CDS_MAX_RESOURCES_PER_CALL).
 */
export async function startServer({
  dir = process.cwd(),
  uptake = false,
  knowledge,
  workers = 1,
  maxResources,
}: {
  dir?: string;
  uptake?: boolean;
  knowledge?: string;
  workers?: number;
  maxResources?: number;
} = {}): Promise<BenchServer> {
  const env = {
    ...process.env,
    BENCH_UPTAKE: uptake ? 'sqlite' : '',
    BENCH_WORKERS: String(workers),
    ...(knowledge ? { BENCH_KNOWLEDGE_DIR: knowledge } : {}),
    ...(maxResources ? { BENCH_MAX_RESOURCES: String(maxResources) } : {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', join(dir, 'bench/server.ts')], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { port, pid: child.pid ?? 0, stop: () => child.kill('SIGTERM') };
}

export function byService(requests: FixtureRequest[]): Map<string, FixtureRequest[]> {
  const map = new Map<string, FixtureRequest[]>();
  for (const r of requests) map.set(r.service, [...(map.get(r.service) ?? []), r]);
  return map;
}

export interface LoadResult {
  /** Response times in ms, sorted. */
  latencies: number[];
  requestsPerSecond: number;
  non2xx: number;
  errors: number;
  /**
   * The load generator's own CPU over the run (this process: autocannon runs in it), in cores (1 = one core
   * busy the whole run). With `idle`, whether the machine rather than the server was the limit.
   */
  loaderCores?: number;
  /** The share of the machine's CPU time (all cores) that was idle during the run, 0 to 1 (Linux /proc/stat). */
  idle?: number;
}

/** The machine's CPU time so far, idle and in all, in clock ticks (Linux /proc/stat); undefined elsewhere. */
export function machineTicks(): { idle: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is in user already)
    const t = line.trim().split(/\s+/).slice(1, 9).map(Number);
    return { idle: t[3] + t[4], total: t.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

export async function load(
  port: number,
  requests: FixtureRequest[],
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const options: autocannon.Options = {
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    // A call over a record of 10,000 resources may take seconds at concurrency 10 on one thread.
    timeout: 60,
    requests: requests.map((r) => ({
      method: 'POST' as const,
      path: `/cds-services/${r.service}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(r.body),
    })),
  };
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const ticksBefore = machineTicks();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (err: unknown, res) =>
      err ? reject(err instanceof Error ? err : new Error('load run failed')) : resolve(res),
    );
    instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) =>
      latencies.push(responseTime),
    );
  });
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  const ticksAfter = machineTicks();
  latencies.sort((a, b) => a - b);
  return {
    latencies,
    requestsPerSecond: result.requests.average,
    non2xx: result.non2xx,
    errors: result.errors,
    loaderCores: (cpu.user + cpu.system) / 1000 / wallMs,
    ...(ticksBefore && ticksAfter && ticksAfter.total > ticksBefore.total
      ? { idle: (ticksAfter.idle - ticksBefore.idle) / (ticksAfter.total - ticksBefore.total) }
      : {}),
  };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * CPU time a process has used so far, in ms (Linux /proc): its main (HTTP) thread, and all its other threads
 * (evaluation threads, garbage collection helpers, libuv's pool). Undefined where /proc cannot be read.
 */
export function threadCpuMs(pid: number): { main: number; others: number } | undefined {
  try {
    let main = 0;
    let others = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // Fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100 a second).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * 10;
      if (Number(tid) === pid) main += ms;
      else others += ms;
    }
    return { main, others };
  } catch {
    return undefined;
  }
}
