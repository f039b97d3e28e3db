// npx tsx bench/experiment-statistics.ts: the error rates of the experiment statistics over many
// seeded simulated trials (test/uptake/trial-simulation.ts), for several designs. Without a true
// difference: how often the always-valid p-value, looked at every day, ever fell below 0.05 (at
// most 5 % is the promise). With a true +15-point difference: how often the 95 % cluster-robust
// interval and the always-valid confidence sequence covered it, and how often it was detected.
import { seededRandom, simulateTrial, type TrialDesign } from '../test/uptake/trial-simulation.js';

const RUNS = Number(process.env.BENCH_TRIALS ?? 2000);

const designs: Array<{ name: string; design: TrialDesign }> = [
  {
    name: '40 clinicians per arm, 30 days, 2 cards a day',
    design: { units: 40, days: 30, cardsPerUnitDay: 2, reference: 0.4, treatment: 0.4, spread: 0.2 },
  },
  {
    name: '10 clinicians per arm, 30 days, 1 card a day',
    design: { units: 10, days: 30, cardsPerUnitDay: 1, reference: 0.4, treatment: 0.4, spread: 0.3 },
  },
  {
    name: '100 clinicians per arm, 60 days, 0.3 cards a day',
    design: { units: 100, days: 60, cardsPerUnitDay: 0.3, reference: 0.2, treatment: 0.2, spread: 0.15 },
  },
  {
    name: '5 clinicians per arm (too few for a look)',
    design: { units: 5, days: 60, cardsPerUnitDay: 0.5, reference: 0.4, treatment: 0.4, spread: 0.3 },
  },
];

const pct = (n: number) => `${((100 * n) / RUNS).toFixed(1)} %`;
for (const { name, design } of designs) {
  const started = performance.now();
  let falsePositives = 0;
  for (let seed = 1; seed <= RUNS; seed++) {
    if (simulateTrial(design, seededRandom(seed)).pValues.some((p) => p !== null && p < 0.05)) falsePositives++;
  }
  let covered = 0;
  let sequenceCovered = 0;
  let detected = 0;
  let withSequence = 0;
  const truth = 0.15;
  for (let seed = 1; seed <= RUNS; seed++) {
    const o = simulateTrial({ ...design, treatment: design.reference + truth }, seededRandom(1_000_000 + seed));
    if (o.final.low !== null && o.final.low <= truth && truth <= o.final.high!) covered++;
    if (o.sequence.low !== null) withSequence++;
    if (o.sequence.low !== null && o.sequence.low <= truth && truth <= o.sequence.high!) sequenceCovered++;
    if (o.pValues.some((p) => p !== null && p < 0.05)) detected++;
  }
  console.log(
    `${name}: no difference, ever p < 0.05 in ${pct(falsePositives)}; +15 points: interval covers ${pct(covered)}, ` +
      `${withSequence > 0 ? `sequence covers ${pct(sequenceCovered)}` : 'no look counted'}, ` +
      `detected ${pct(detected)} (${RUNS} trials each, ${Math.round(performance.now() - started)} ms)`,
  );
}
