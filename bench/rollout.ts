// What rollout costs the answer: HTTP p50 / p95 of the nsaid-ckd services with no rollout, with two
// shadow versions (evaluated after the answer), and in a three-arm experiment with a no-card arm.
// The three servers run side by side, with the SQLite ledger on (experiments are randomised only
// where they are recorded); short runs alternate between them so all see the same machine.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureRequests } from './fixtures.js';
import { load, percentile, startServer, type BenchServer } from './http.js';
import { packageRoot } from '../src/paths.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const SERVICES = ['nsaid-ckd-order-sign', 'nsaid-ckd-order-select'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Catalogue {
  services: Array<{ id: string; knowledge: { ruleSet: string; version: string }; rollout?: unknown }>;
}

/** A copy of the shipped knowledge whose nsaid-ckd services get `rollout`. */
function knowledgeWith(rollout: unknown): string {
  const root = packageRoot();
  const dir = mkdtempSync(join(tmpdir(), 'cds-bench-rollout-'));
  for (const part of ['cql', 'rules', 'fixtures']) cpSync(join(root, part), join(dir, part), { recursive: true });
  // Two drafts to shadow: 1.0.0 with other wording, as `cds bump` would start them.
  for (const version of ['1.1.0', '1.2.0']) {
    const draft = JSON.parse(readFileSync(join(dir, 'rules', 'nsaid-ckd', '1.0.0.json'), 'utf8')) as {
      version: string;
      status: string;
      rules: Array<{ card: { summary: string } }>;
    };
    draft.version = version;
    draft.status = 'draft';
    for (const rule of draft.rules) rule.card.summary = `Kidney risk (${version}): ${rule.card.summary}`;
    writeFileSync(join(dir, 'rules', 'nsaid-ckd', `${version}.json`), JSON.stringify(draft, null, 2));
  }
  const catalogue = JSON.parse(readFileSync(join(root, 'cds-services.json'), 'utf8')) as Catalogue;
  for (const s of catalogue.services) if (rollout && SERVICES.includes(s.id)) s.rollout = rollout;
  writeFileSync(join(dir, 'cds-services.json'), JSON.stringify(catalogue, null, 2));
  return dir;
}

const variants: Array<{ name: string; rollout: unknown }> = [
  { name: 'no rollout', rollout: undefined },
  { name: 'two shadow versions', rollout: { shadow: [{ version: '1.1.0' }, { version: '1.2.0' }] } },
  {
    name: 'three-arm experiment',
    rollout: {
      experiment: {
        id: 'bench-wording',
        unit: 'patient',
        arms: [
          { name: 'usual', version: '1.0.0', weight: 1 },
          { name: 'other', version: '1.0.0', weight: 1 },
          { name: 'no-card', version: '1.0.0', weight: 1, show: false },
        ],
      },
    },
  },
];

const dirs = variants.map((v) => knowledgeWith(v.rollout));
const servers: BenchServer[] = [];
try {
  for (const knowledge of dirs) servers.push(await startServer({ uptake: true, knowledge }));
  const requests = fixtureRequests().filter((r) => SERVICES.includes(r.service));
  console.log(
    `HTTP over loopback, concurrency 1, ledger on: medians over ${ROUNDS} alternating ${SECONDS} s runs (ms)`,
  );
  console.log(`${'variant'.padEnd(24)}      p50      p95    req/s`);
  const runs = variants.map(() => ({ p50: [] as number[], p95: [] as number[], rps: [] as number[] }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, server] of servers.entries()) {
      const r = await load(server.port, requests, 1, SECONDS);
      if (r.non2xx + r.errors > 0) throw new Error(`${variants[i].name}: ${r.non2xx + r.errors} failed calls`);
      runs[i].p50.push(percentile(r.latencies, 50));
      runs[i].p95.push(percentile(r.latencies, 95));
      runs[i].rps.push(r.requestsPerSecond);
    }
  }
  const f = (n: number) => n.toFixed(1).padStart(8);
  for (const [i, v] of variants.entries()) {
    console.log(`${v.name.padEnd(24)} ${f(median(runs[i].p50))} ${f(median(runs[i].p95))} ${f(median(runs[i].rps))}`);
  }
} finally {
  for (const s of servers) s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
