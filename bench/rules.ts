// Rule evaluation (json-rules-engine) per call, with jsonpath-plus reading condition paths (the
// engine's default) and with this engine's resolver (src/knowledge/fact-path.ts), in the same run
// over the facts of each shipped example request. Medians of repeated runs.
import { Engine } from 'json-rules-engine';
import { fixtureRequests } from './fixtures.js';
import { createCqlTranslator, loadKnowledge } from '../src/knowledge/index.js';
import { defaultConfig } from '../src/config.js';
import { invokeService, primaryEvaluation } from '../src/engine/index.js';

const ROUNDS = 400;
const knowledge = await loadKnowledge(defaultConfig().knowledgeDir, { translator: await createCqlTranslator() });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(engine: Engine, facts: Record<string, unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await engine.run(facts);
    times.push(performance.now() - t);
  }
  return median(times) * 1000;
}

console.log(`Rule evaluation per call (median µs of ${ROUNDS} runs)`);
console.log(`${'service / request'.padEnd(60)} jsonpath-plus   this engine`);
const totals = [0, 0];
for (const r of fixtureRequests()) {
  const { outcome } = await invokeService(knowledge, r.service, r.body, {
    clock: () => new Date('2026-06-01T12:00:00Z'),
    prefetch: { timeoutMs: 1000, maxPages: 1 },
  });
  const { service, request } = outcome;
  const evaluation = primaryEvaluation(outcome);
  const context = request.context;
  const facts = { cql: evaluation.trace.cql, context, hook: request.hook, draftOrders: [], selections: [], user: null };
  // The same rules in an engine that reads paths with jsonpath-plus (json-rules-engine's default).
  const stock = new Engine([], { allowUndefinedFacts: true });
  for (const rule of (service.ruleSet.engine as unknown as { rules: Array<{ toJSON(s: boolean): object }> }).rules)
    stock.addRule(rule.toJSON(false) as never);
  const a = await time(stock, facts);
  const b = await time(service.ruleSet.engine, facts);
  totals[0] += a;
  totals[1] += b;
  console.log(`${`${r.service} / ${r.name}`.padEnd(60)} ${a.toFixed(0).padStart(13)}   ${b.toFixed(0).padStart(11)}`);
}
console.log(
  `${'sum of medians'.padEnd(60)} ${totals[0].toFixed(0).padStart(13)}   ${totals[1].toFixed(0).padStart(11)}`,
);
