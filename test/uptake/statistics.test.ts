import { describe, expect, it } from 'vitest';
import {
  alwaysValid,
  chiSquareSurvival,
  ClusterAccumulator,
  clusterSums,
  cohensKappa,
  confidenceSequenceRadius,
  differenceOfProportions,
  lookAt,
  logMixtureLikelihoodRatio,
  MIN_UNITS_PER_LOOK,
  pairedDifference,
  ratioEstimate,
  regularizedGammaP,
  regularizedGammaQ,
  sampleRatioMismatch,
  wilsonInterval,
  Z95,
} from '../../src/uptake/statistics.js';
import { seededRandom, simulateTrial, type TrialDesign } from './trial-simulation.js';

const units = (...pairs: Array<[number, number]>) => pairs.map(([successes, trials]) => ({ successes, trials }));

describe('Wilson interval', () => {
  it('gives the Wilson score bounds of 7 of 20', () => {
    // p = 0.35, z² = 3.8415; centre = (0.35 + z²/40) / (1 + z²/20) = 0.374165;
    // half = z·√(0.35·0.65/20 + z²/1600) / (1 + z²/20) = 0.192977.
    const w = wilsonInterval(7, 20);
    expect(w.estimate).toBe(0.35);
    expect(w.low).toBeCloseTo(0.181192, 6);
    expect(w.high).toBeCloseTo(0.567146, 6);
  });

  it('has no interval without trials, and stays within 0 and 1', () => {
    expect(wilsonInterval(0, 0)).toEqual({ estimate: null, low: null, high: null });
    expect(wilsonInterval(0, 5).low).toBe(0);
    expect(wilsonInterval(5, 5).high).toBe(1);
  });
});

describe('cluster-robust difference of two proportions', () => {
  // Reference: units (2 of 4), (1 of 3), (3 of 3): p = 6/10 = 0.6; residuals y − p·n = −0.4, −0.8, 1.2;
  //   Σ r² = 2.24; V = 3/2 · 2.24 / 10² = 0.0336.
  // Treatment: (4 of 5), (2 of 2), (1 of 3), (3 of 4): p = 10/14; residuals 0.428571, 0.571429, −1.142857,
  //   0.142857; Σ r² = 1.836735; V = 4/3 · 1.836735 / 14² = 0.0124948.
  // Difference 10/14 − 0.6 = 0.114286; SE = √(0.0336 + 0.0124948) = 0.214697; ± 1.96 SE.
  const reference = clusterSums(units([2, 4], [1, 3], [3, 3]));
  const treatment = clusterSums(units([4, 5], [2, 2], [1, 3], [3, 4]));

  it('computes each arm as a ratio estimator with the CR1 variance', () => {
    expect(ratioEstimate(reference)).toEqual({
      estimate: 0.6,
      variance: expect.closeTo(0.0336, 10),
      method: 'cluster-robust',
    });
    expect(ratioEstimate(treatment)?.variance).toBeCloseTo(0.0124948, 7);
  });

  it('gives the difference with its 95 % interval', () => {
    const d = differenceOfProportions(reference, treatment);
    expect(d.method).toBe('cluster-robust');
    expect(d.estimate).toBeCloseTo(0.114286, 6);
    expect(d.standardError).toBeCloseTo(0.214697, 6);
    expect(d.low).toBeCloseTo(-0.306513, 6);
    expect(d.high).toBeCloseTo(0.535084, 6);
  });

  it('falls back to the binomial standard error when every unit has one trial', () => {
    // 3 of 5 against 6 of 10 single-trial units: √(0.6·0.4/5 + 0.6·0.4/10) = 0.268328.
    const r = clusterSums(units([1, 1], [1, 1], [1, 1], [0, 1], [0, 1]));
    const t = clusterSums(units(...Array.from({ length: 10 }, (_, i): [number, number] => [i < 6 ? 1 : 0, 1])));
    const d = differenceOfProportions(r, t);
    expect(d.method).toBe('binomial');
    expect(d.estimate).toBeCloseTo(0, 12);
    expect(d.standardError).toBeCloseTo(Math.sqrt(0.048 + 0.024), 12);
  });

  it('has no interval for an arm of one unit with several trials, and no estimate for an arm without trials', () => {
    const one = clusterSums(units([2, 5]));
    expect(differenceOfProportions(reference, one)).toMatchObject({
      estimate: expect.closeTo(-0.2, 12),
      standardError: null,
      low: null,
    });
    expect(differenceOfProportions(reference, clusterSums([]))).toMatchObject({ estimate: null, standardError: null });
  });

  it('accumulates a unit over days as if its trials had come at once', () => {
    const acc = new ClusterAccumulator();
    acc.add('u1', 1, 2);
    acc.add('u2', 1, 3);
    acc.add('u1', 1, 2);
    acc.add('u3', 3, 3);
    acc.add('u4', 0, 0);
    expect(acc.sums()).toEqual(reference);
  });
});

describe('always-valid p-value (mSPRT)', () => {
  it('computes the mixture likelihood ratio of one look by hand', () => {
    // θ̂ = 0.1, V = 0.05², τ² = 0.01: Λ = √(0.0025/0.0125) · exp(0.01 · 0.01 / (2 · 0.0025 · 0.0125))
    //   = √0.2 · e^1.6 = 2.215063; p = 1/Λ = 0.451454.
    expect(Math.exp(logMixtureLikelihoodRatio(0.1, 0.0025))).toBeCloseTo(2.215063, 6);
    expect(alwaysValid([{ estimate: 0.1, variance: 0.0025 }]).pValue).toBeCloseTo(0.451454, 6);
  });

  it('keeps the smallest p-value of all looks (the running maximum of Λ), and never exceeds 1', () => {
    const strong = { estimate: 0.1, variance: 0.0025 };
    const weak = { estimate: 0.0, variance: 0.002 };
    expect(alwaysValid([weak]).pValue).toBe(1);
    expect(alwaysValid([strong, weak, null]).pValue).toBeCloseTo(0.451454, 6);
    expect(alwaysValid([strong, weak]).looks).toBe(2);
    expect(alwaysValid([null]).pValue).toBeNull();
  });

  it('gives a confidence sequence: the running intersection of each look’s set', () => {
    // Radius √(V(V+τ²)/τ² · (ln((V+τ²)/V) + 2 ln 20)) = √(0.003125 · (ln 5 + 2 ln 20)) = 0.154119 for V = 0.0025.
    expect(confidenceSequenceRadius(0.0025)).toBeCloseTo(0.154119, 6);
    const one = alwaysValid([{ estimate: 0.1, variance: 0.0025 }]);
    expect(one.low).toBeCloseTo(0.1 - 0.154119, 6);
    expect(one.high).toBeCloseTo(0.1 + 0.154119, 6);
    const two = alwaysValid([
      { estimate: 0.1, variance: 0.0025 },
      { estimate: 0.2, variance: 0.0025 },
    ]);
    expect(two.low).toBeCloseTo(0.2 - 0.154119, 6);
    expect(two.high).toBeCloseTo(0.1 + 0.154119, 6);
  });

  it(`waits for ${MIN_UNITS_PER_LOOK} units in each arm before a look counts`, () => {
    const few = clusterSums(units(...Array.from({ length: MIN_UNITS_PER_LOOK - 1 }, (): [number, number] => [1, 2])));
    const enough = clusterSums(
      units(...Array.from({ length: MIN_UNITS_PER_LOOK }, (_, i): [number, number] => [i % 2, 2])),
    );
    expect(lookAt(few, enough)).toBeNull();
    expect(lookAt(enough, enough)).toMatchObject({ estimate: 0 });
  });

  const noDifference: TrialDesign = {
    units: 40,
    days: 30,
    cardsPerUnitDay: 2,
    reference: 0.4,
    treatment: 0.4,
    spread: 0.2,
  };

  it('stays above 0.05 in at least 95 % of 200 seeded trials without a difference, looked at every day', () => {
    let stayedAbove = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const { pValues } = simulateTrial(noDifference, seededRandom(seed));
      expect(pValues.filter((p) => p !== null).length).toBeGreaterThan(20);
      if (pValues.every((p) => p === null || p >= 0.05)) stayedAbove++;
    }
    expect(stayedAbove).toBeGreaterThanOrEqual(190);
  });

  it('covers a true +15-point difference with the 95 % interval in ≥ 90 % of 200 seeded trials, and detects it', () => {
    let covered = 0;
    let sequenceCovered = 0;
    let detected = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const { final, sequence, pValues } = simulateTrial(
        { ...noDifference, treatment: 0.55 },
        seededRandom(100_000 + seed),
      );
      if (final.low! <= 0.15 && 0.15 <= final.high!) covered++;
      if (sequence.low! <= 0.15 && 0.15 <= sequence.high!) sequenceCovered++;
      if (pValues.at(-1)! < 0.05) detected++;
    }
    expect(covered).toBeGreaterThanOrEqual(180);
    expect(sequenceCovered).toBeGreaterThanOrEqual(190);
    expect(detected).toBeGreaterThanOrEqual(190);
  });
});

describe('χ² survival and the incomplete gamma function', () => {
  it('matches closed forms', () => {
    // P(3, 2) = 1 − e^−2 (1 + 2 + 2²/2); Q(1, x) = e^−x; χ²₂ survival = e^(−x/2); χ²₄ = e^(−x/2)(1 + x/2).
    expect(regularizedGammaP(3, 2)).toBeCloseTo(1 - Math.exp(-2) * 5, 13);
    expect(regularizedGammaQ(1, 7.5)).toBeCloseTo(Math.exp(-7.5), 14);
    for (const x of [0.1, 1, 5.991464547107979, 30, 80])
      expect(chiSquareSurvival(x, 2) / Math.exp(-x / 2)).toBeCloseTo(1, 11);
    for (const x of [0.001, 2, 9.487729036781154, 40])
      expect(chiSquareSurvival(x, 4) / (Math.exp(-x / 2) * (1 + x / 2))).toBeCloseTo(1, 11);
  });

  it('matches tabulated critical values', () => {
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 12);
    expect(chiSquareSurvival(10.827566170662733, 1)).toBeCloseTo(0.001, 12);
    expect(chiSquareSurvival(7.814727903251178, 3)).toBeCloseTo(0.05, 12);
    expect(chiSquareSurvival(23.209251158954356, 10)).toBeCloseTo(0.01, 12);
    expect(chiSquareSurvival(124.342113404, 100)).toBeCloseTo(0.05, 9);
    expect(chiSquareSurvival(0.5, 1)).toBeCloseTo(0.4795001221869534, 12);
    expect(chiSquareSurvival(50, 3) / 7.989179244951495e-11).toBeCloseTo(1, 9);
    expect(chiSquareSurvival(200, 150)).toBeCloseTo(0.003973185970821635, 12);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });

  it('answers NaN outside its domain', () => {
    expect(regularizedGammaP(0, 1)).toBeNaN();
    expect(regularizedGammaQ(2, -1)).toBeNaN();
  });
});

describe('sample-ratio mismatch', () => {
  it('computes χ² of units per arm against equal weights and does not flag a small imbalance', () => {
    // 100, 100, 130 units; 110 expected each: χ² = (100 + 100 + 400) / 110 = 5.454545; df 2; p = e^(−χ²/2) = 0.065398.
    const srm = sampleRatioMismatch([100, 100, 130], [1, 1, 1])!;
    expect(srm.chiSquare).toBeCloseTo(600 / 110, 10);
    expect(srm.degreesOfFreedom).toBe(2);
    expect(srm.pValue).toBeCloseTo(Math.exp(-300 / 110), 10);
    expect(srm.flagged).toBe(false);
  });

  it('flags a deliberately skewed assignment at p < 0.001', () => {
    // 100, 100, 160: 120 expected each; χ² = (400 + 400 + 1600) / 120 = 20; p = e^−10 = 4.54e−5.
    const srm = sampleRatioMismatch([100, 100, 160], [1, 1, 1])!;
    expect(srm.chiSquare).toBeCloseTo(20, 10);
    expect(srm.pValue).toBeCloseTo(Math.exp(-10), 12);
    expect(srm.flagged).toBe(true);
  });

  it('reads the weights: 200 and 100 units for weights 2 and 1 are exactly as expected', () => {
    expect(sampleRatioMismatch([200, 100], [2, 1])).toMatchObject({
      chiSquare: 0,
      pValue: 1,
      flagged: false,
      expectedShares: [2 / 3, 1 / 3],
    });
  });

  it('has no check without units or with fewer than two arms', () => {
    expect(sampleRatioMismatch([0, 0], [1, 1])).toBeNull();
    expect(sampleRatioMismatch([5], [1])).toBeNull();
  });
});

describe('concordance of a shadow version with the live one', () => {
  // 40 both fire, 5 live only, 10 shadow only, 45 neither (n = 100).
  const table = { bothFired: 40, liveOnly: 5, shadowOnly: 10, neither: 45 };

  it('gives Cohen’s κ by hand', () => {
    // Observed 0.85; live fires 0.45, shadow 0.50; chance 0.45·0.5 + 0.55·0.5 = 0.5; κ = 0.35 / 0.5 = 0.7.
    expect(cohensKappa(table)).toBeCloseTo(0.7, 12);
    expect(cohensKappa({ bothFired: 10, liveOnly: 0, shadowOnly: 0, neither: 0 })).toBeNull();
    expect(cohensKappa({ bothFired: 0, liveOnly: 0, shadowOnly: 0, neither: 0 })).toBeNull();
  });

  it('gives the paired difference in firing rate with its interval', () => {
    // (10 − 5) / 100 = 0.05; SE = √(15 − 25/100) / 100 = 0.0384057.
    const d = pairedDifference(table);
    expect(d.estimate).toBeCloseTo(0.05, 12);
    expect(d.standardError).toBeCloseTo(0.0384057, 7);
    expect(d.low).toBeCloseTo(0.05 - Z95 * 0.0384057, 6);
    expect(d.high).toBeCloseTo(0.05 + Z95 * 0.0384057, 6);
  });
});
