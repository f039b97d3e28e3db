// Detection delays and false-alarm rates of the drift detectors (src/uptake/drift.ts) on simulated streams
// of one rule's firing: a baseline learned from the first calls of a version, then a change. Seeded, so that
// every run prints the same figures. Usage: npx tsx bench/drift.ts [--quick]
import {
  CUSUM_H,
  newDetector,
  observe,
  relearn,
  silenceRun,
  type DetectorSettings,
  type DriftSignal,
} from '../src/uptake/drift.js';

const quick = process.argv.includes('--quick');
const BASELINE_CALLS = 2000;
const settings: DetectorSettings = { baselineCalls: BASELINE_CALLS, directions: ['up', 'down'] };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Calls until the change is detected: the baseline is learned at `p0`, then `warm` calls at p0, then the rate
 * becomes `p1`. An alarm before the change counts as a false alarm and the run is repeated.
 */
function delay(p0: number, p1: number, random: () => number, warm = 3000): { delay: number; early: number } {
  let early = 0;
  for (;;) {
    const state = newDetector(settings);
    let t = 0;
    let alarm: DriftSignal | undefined;
    while (state.phase === 'learning') observe(state, random() < p0, t++, settings);
    for (let i = 0; i < warm && !alarm; i++) alarm = observe(state, random() < p0, t++, settings);
    if (alarm) {
      early++;
      continue;
    }
    for (let n = 1; n < 1_000_000; n++) {
      const a = observe(state, random() < p1, t++, settings);
      if (a) return { delay: n, early };
    }
    return { delay: Infinity, early };
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** In-control alarms per 100,000 monitored calls, the detector relearning after each alarm (as when acknowledged). */
function falseAlarms(
  p0: number,
  calls: number,
  random: () => number,
): { per100k: number; alarms: number; monitored: number } {
  let state = newDetector(settings);
  let alarms = 0;
  let monitored = 0;
  for (let t = 0; t < calls; t++) {
    const was = state.phase;
    const a = observe(state, random() < p0, t, settings);
    if (was === 'monitoring') monitored++;
    if (a) {
      alarms++;
      state = relearn(state, settings);
    }
  }
  return { per100k: (alarms / monitored) * 100_000, alarms, monitored };
}

const runs = quick ? 100 : 400;
const random = mulberry32(20260601);
const p0 = 0.05;
console.log(`drift detectors: Bernoulli CUSUM (h = ${CUSUM_H}, rise ×2, drop ×½) and silence run`);
console.log(`baseline learned from the first ${BASELINE_CALLS} calls; ${runs} simulated changes each\n`);
const targets: Array<{ name: string; p1: number; target: number }> = [
  { name: '50 % drop (5 % → 2.5 %)', p1: p0 * 0.5, target: 1000 },
  { name: 'total silence (5 % → 0)', p1: 0, target: 300 },
  { name: 'doubling (5 % → 10 %)', p1: p0 * 2, target: 500 },
];
let ok = true;
for (const { name, p1, target } of targets) {
  const delays: number[] = [];
  for (let i = 0; i < runs; i++) delays.push(delay(p0, p1, random).delay);
  delays.sort((a, b) => a - b);
  const median = quantile(delays, 0.5);
  const pass = median <= target;
  ok &&= pass;
  console.log(
    `${name.padEnd(28)} median ${String(median).padStart(5)} calls  p90 ${String(quantile(delays, 0.9)).padStart(5)}  ` +
      `(target median ≤ ${target}) ${pass ? 'ok' : 'MISSED'}`,
  );
}
console.log(`silence run at 5 %: ${silenceRun(p0)} calls without a firing`);
console.log('');
const controlCalls = quick ? 2_000_000 : 5_000_000;
for (const rate of [0.01, 0.05, 0.2, 0.5]) {
  const f = falseAlarms(rate, controlCalls, random);
  const pass = f.per100k <= 1;
  if (rate === p0) ok &&= pass;
  console.log(
    `in control at ${(rate * 100).toFixed(0).padStart(2)} %: ${f.alarms} false alarms in ${f.monitored.toLocaleString('en')} ` +
      `monitored calls = ${f.per100k.toFixed(3)} per 100,000 (target ≤ 1) ${pass ? 'ok' : 'MISSED'}`,
  );
}
console.log(ok ? '\nall targets met' : '\nSOME TARGETS MISSED');
