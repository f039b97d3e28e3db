// Simulated two-arm trials at the level of the statistics (no server, no database), with a seeded
// generator so that every run gives the same numbers. Units (clinicians) differ in how often they
// accept a card, so cards of one unit are correlated: what the cluster-robust error is for.
import {
  alwaysValid,
  ClusterAccumulator,
  differenceOfProportions,
  lookAt,
  type Difference,
  type Look,
} from '../../src/uptake/statistics.js';

/** mulberry32: a small, fast, seeded generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Poisson(mean) by inversion (small means). */
function poisson(random: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

export interface TrialDesign {
  /** Units per arm. */
  units: number;
  days: number;
  /** Mean cards with feedback per unit per day. */
  cardsPerUnitDay: number;
  /** Mean acceptance of each arm; each unit's own acceptance is uniform within ±spread of it. */
  reference: number;
  treatment: number;
  spread: number;
}

export interface TrialOutcome {
  /** The difference and its cluster-robust 95 % interval at the end. */
  final: Difference;
  /** The always-valid p-value after each daily look (the last is the smallest so far). */
  pValues: Array<number | null>;
  /** The always-valid 95 % confidence sequence at the end. */
  sequence: { low: number | null; high: number | null };
}

/** Plays one trial, looking once a day, and returns what the report would have said each day. */
export function simulateTrial(design: TrialDesign, random: () => number): TrialOutcome {
  const arms = [design.reference, design.treatment].map((mean) => ({
    propensity: Array.from({ length: design.units }, () => mean - design.spread + 2 * design.spread * random()),
    acc: new ClusterAccumulator(),
  }));
  const looks: Look[] = [];
  const pValues: Array<number | null> = [];
  let final: Difference = { estimate: null, low: null, high: null, standardError: null, method: null };
  for (let day = 0; day < design.days; day++) {
    for (const arm of arms) {
      arm.propensity.forEach((p, unit) => {
        const trials = poisson(random, design.cardsPerUnitDay);
        let successes = 0;
        for (let i = 0; i < trials; i++) if (random() < p) successes++;
        arm.acc.add(String(unit), successes, trials);
      });
    }
    final = differenceOfProportions(arms[0].acc.sums(), arms[1].acc.sums());
    const look = lookAt(arms[0].acc.sums(), arms[1].acc.sums());
    if (look) looks.push(look);
    pValues.push(alwaysValid(looks).pValue);
  }
  const sequence = alwaysValid(looks);
  return { final, pValues, sequence: { low: sequence.low, high: sequence.high } };
}
