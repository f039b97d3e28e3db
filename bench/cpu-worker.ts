// One side of bench/cpu.ts: evaluates the calls of bench/cpu-calls.ts in process with the engine of
// the checkout BENCH_ROOT (default: this one), as the parent asks, and answers each call's CPU
// time (process.cpuUsage: every thread, garbage collection included) and wall time.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CpuCall } from './cpu-calls.js';

interface Engine {
  invokeService: (knowledge: unknown, id: string, body: unknown, deps: unknown) => Promise<unknown>;
}
interface KnowledgeModule {
  createCqlTranslator: () => Promise<unknown>;
  loadKnowledge: (dir: string, options: { translator: unknown }) => Promise<unknown>;
}

const root = resolve(process.env.BENCH_ROOT ?? process.cwd());
const load = <T>(path: string) => import(pathToFileURL(join(root, path)).href) as Promise<T>;
const { invokeService } = await load<Engine>('src/engine/index.ts');
const { createCqlTranslator, loadKnowledge } = await load<KnowledgeModule>('src/knowledge/index.ts');
const knowledge = await loadKnowledge(root, { translator: await createCqlTranslator() });
// The calls come from the parent: the same data for both sides, made without this side's engine.
const calls = await new Promise<CpuCall[]>((res) => process.once('message', (m) => res(m as CpuCall[])));
const NOW = new Date('2026-06-01T12:00:00Z');

async function once(body: unknown, service: string): Promise<{ cpu: number; wall: number; cards: number }> {
  // The body as the HTTP layer hands it over: parsed afresh, never shared between calls.
  const fresh = JSON.parse(JSON.stringify(body)) as unknown;
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const result = (await invokeService(knowledge, service, fresh, {
    clock: () => NOW,
    prefetch: { timeoutMs: 1000, maxPages: 1 },
  })) as { outcome: { evaluations: Array<{ evaluation?: { cards: unknown[] } }> } };
  const used = process.cpuUsage(cpu);
  return {
    wall: performance.now() - wall,
    cpu: (used.user + used.system) / 1000,
    cards: result.outcome.evaluations[0].evaluation?.cards.length ?? -1,
  };
}

process.on('message', (m: { service: string; size: number; count: number }) => {
  void (async () => {
    const call = calls.find((c) => c.service === m.service && c.size === m.size);
    if (!call) throw new Error(`no call for ${m.service} at ${m.size}`);
    const samples = [];
    for (let i = 0; i < m.count; i++) samples.push(await once(call.body, call.service));
    process.send!(samples);
  })();
});
process.send!({ ready: true });
