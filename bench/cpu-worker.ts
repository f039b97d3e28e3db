// One side of bench/cpu.ts: evaluates the calls of bench/cpu-calls.ts in process with the engine of
// the checkout BENCH_ROOT (default: this one), as the parent asks, and answers each call's CPU
// time (process.cpuUsage: every thread, garbage collection included) and wall time.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CpuCall } from './cpu-calls.js';

interface Engine {
  invokeService: (knowledge: unknown, id: string, body: unknown, deps: unknown) => Promise<unknown>;
}
interface Translator {
  close(): Promise<void>;
}
interface KnowledgeModule {
  createCqlTranslator: () => Promise<Translator>;
  createThreadedCqlTranslator?: () => Translator;
  loadKnowledge: (dir: string, options: { translator: unknown }) => Promise<unknown>;
}

const root = resolve(process.env.BENCH_ROOT ?? process.cwd());
const load = <T>(path: string) => import(pathToFileURL(join(root, path)).href) as Promise<T>;
const { invokeService } = await load<Engine>('src/engine/index.ts');
const { createCqlTranslator, createThreadedCqlTranslator, loadKnowledge } =
  await load<KnowledgeModule>('src/knowledge/index.ts');
// The translator on its own thread, as the server has it, closed once the knowledge is loaded: in this thread
// its model infos would be some 25 MiB of live heap that every full garbage collection marks again.
const translator = createThreadedCqlTranslator ? createThreadedCqlTranslator() : await createCqlTranslator();
const knowledge = await loadKnowledge(root, { translator });
await translator.close();
// The calls come from the parent: the same data for both sides, made without this side's engine. Each is kept
// as its JSON text, as a server holds a body before parsing it: the parsed records of every service and size
// (some 100 MiB) would be live heap no server has, which every full garbage collection would mark again.
const calls = (await new Promise<CpuCall[]>((res) => process.once('message', (m) => res(m as CpuCall[])))).map((c) => ({
  service: c.service,
  size: c.size,
  text: JSON.stringify(c.body),
}));
const NOW = new Date('2026-06-01T12:00:00Z');

async function once(text: string, service: string): Promise<{ cpu: number; wall: number; cards: number }> {
  // The body as the HTTP layer hands it over: parsed afresh, never shared between calls.
  const fresh = JSON.parse(text) as unknown;
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
    for (let i = 0; i < m.count; i++) samples.push(await once(call.text, call.service));
    process.send!(samples);
  })();
});
process.send!({ ready: true });
