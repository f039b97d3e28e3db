// The statistics of experiment and shadow reports: pure functions of counts, no database.
//
// - Proportions are ratio estimators (successes ÷ trials summed over randomisation units); their
//   variance is cluster-robust by unit (CR1: the sandwich over units times G/(G−1)), because the
//   cards of one clinician are not independent of each other.
// - The always-valid p-value and confidence sequence are the normal-mixture mSPRT of Johari,
//   Pekelis and Walsh ("Always valid inference", Operations Research 2022): a team may look every
//   day and stop whenever it likes without inflating the false positive rate.
// - The sample-ratio-mismatch check is Pearson's χ² of units per arm against the weights.

/** z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

/**
 * Variance τ² of the normal mixing distribution of the mSPRT, on the scale of a difference of two
 * proportions: effects of about ±10 points (τ = 0.1), the size of the effects wording and
 * presentation changes of alerts have had. A larger τ² favours detecting large effects sooner, a
 * smaller one small effects; the false positive guarantee holds for any τ².
 */
export const MIXING_VARIANCE = 0.01;

/**
 * A daily look counts towards the always-valid p-value only once each arm has this many units with
 * trials. With fewer clusters the cluster-robust variance is too small (in seeded simulations with
 * 3 to 5 units per arm, 9 to 16 % of trials without any difference reached p < 0.05; with 10, under 2 %).
 */
export const MIN_UNITS_PER_LOOK = 10;

/** An experiment arm is flagged for sample-ratio mismatch below this χ² p-value. */
export const SRM_THRESHOLD = 0.001;

export interface Interval {
  estimate: number | null;
  low: number | null;
  high: number | null;
}

/** Wilson score interval for successes out of n, at 95 % unless another z is given. */
export function wilsonInterval(successes: number, n: number, z = Z95): Interval {
  if (n <= 0) return { estimate: null, low: null, high: null };
  const p = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  return { estimate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** Sums over the units (clusters) of one arm from which a ratio estimator and its variance follow. */
export interface ClusterSums {
  successes: number;
  trials: number;
  /** Units with at least one trial. */
  clusters: number;
  /** Σ successes², Σ successes × trials, Σ trials² over units. */
  successesSquared: number;
  cross: number;
  trialsSquared: number;
  /** The most trials of one unit: 1 means every unit had a single trial. */
  maxTrials: number;
}

export interface UnitCounts {
  successes: number;
  trials: number;
}

export const EMPTY_SUMS: ClusterSums = {
  successes: 0,
  trials: 0,
  clusters: 0,
  successesSquared: 0,
  cross: 0,
  trialsSquared: 0,
  maxTrials: 0,
};

export function clusterSums(units: Iterable<UnitCounts>): ClusterSums {
  const s = { ...EMPTY_SUMS };
  for (const u of units) addUnit(s, u.successes, u.trials, 1);
  return s;
}

function addUnit(s: ClusterSums, y: number, n: number, sign: 1 | -1): void {
  if (n <= 0) return;
  s.successes += sign * y;
  s.trials += sign * n;
  s.clusters += sign;
  s.successesSquared += sign * y * y;
  s.cross += sign * y * n;
  s.trialsSquared += sign * n * n;
  if (sign === 1) s.maxTrials = Math.max(s.maxTrials, n);
}

/**
 * Per-unit counts that grow over time (daily looks): add a unit's new successes and trials and
 * read the sums of everything so far.
 */
export class ClusterAccumulator {
  private readonly units = new Map<string, UnitCounts>();
  private readonly totals: ClusterSums = { ...EMPTY_SUMS };

  add(unit: string, successes: number, trials: number): void {
    if (trials <= 0) return;
    const before = this.units.get(unit);
    if (before) addUnit(this.totals, before.successes, before.trials, -1);
    const after = { successes: (before?.successes ?? 0) + successes, trials: (before?.trials ?? 0) + trials };
    this.units.set(unit, after);
    addUnit(this.totals, after.successes, after.trials, 1);
  }

  sums(): ClusterSums {
    return { ...this.totals };
  }
}

export interface RatioEstimate {
  estimate: number;
  /** Variance of the estimate; null when it cannot be estimated (one unit with several trials). */
  variance: number | null;
  method: 'cluster-robust' | 'binomial';
}

/**
 * successes ÷ trials with its variance: cluster-robust by unit,
 * G/(G−1) · Σ_g (y_g − p·n_g)² / (Σ n_g)², or p(1−p)/n when every unit had one trial.
 */
export function ratioEstimate(s: ClusterSums): RatioEstimate | null {
  if (s.trials <= 0) return null;
  const p = s.successes / s.trials;
  if (s.maxTrials <= 1) return { estimate: p, variance: (p * (1 - p)) / s.trials, method: 'binomial' };
  if (s.clusters < 2) return { estimate: p, variance: null, method: 'cluster-robust' };
  const residuals = Math.max(0, s.successesSquared - 2 * p * s.cross + p * p * s.trialsSquared);
  const g = s.clusters;
  return { estimate: p, variance: ((g / (g - 1)) * residuals) / (s.trials * s.trials), method: 'cluster-robust' };
}

export interface Difference extends Interval {
  standardError: number | null;
  method: 'cluster-robust' | 'binomial' | 'paired' | null;
}

/** treatment − reference with a 95 % interval; the arms are independent (each unit is in one). */
export function differenceOfProportions(reference: ClusterSums, treatment: ClusterSums, z = Z95): Difference {
  const r = ratioEstimate(reference);
  const t = ratioEstimate(treatment);
  if (!r || !t) return { estimate: null, low: null, high: null, standardError: null, method: null };
  const estimate = t.estimate - r.estimate;
  const method = r.method === 'binomial' && t.method === 'binomial' ? 'binomial' : 'cluster-robust';
  if (r.variance === null || t.variance === null)
    return { estimate, low: null, high: null, standardError: null, method };
  const standardError = Math.sqrt(r.variance + t.variance);
  return { estimate, low: estimate - z * standardError, high: estimate + z * standardError, standardError, method };
}

/**
 * log of the mSPRT mixture likelihood ratio of H0: θ = θ0 for an estimate θ̂ with variance V and a
 * N(θ0, τ²) mixture: Λ = √(V / (V + τ²)) · exp(τ² (θ̂ − θ0)² / (2 V (V + τ²))).
 */
export function logMixtureLikelihoodRatio(
  estimate: number,
  variance: number,
  tau2 = MIXING_VARIANCE,
  theta0 = 0,
): number {
  const d = estimate - theta0;
  return 0.5 * Math.log(variance / (variance + tau2)) + (tau2 * d * d) / (2 * variance * (variance + tau2));
}

/** Half-width of the set of θ0 not rejected at level α by one look: {θ0 : Λ(θ0) < 1/α}. */
export function confidenceSequenceRadius(variance: number, tau2 = MIXING_VARIANCE, alpha = 0.05): number {
  return Math.sqrt(
    ((variance * (variance + tau2)) / tau2) * (Math.log((variance + tau2) / variance) + 2 * Math.log(1 / alpha)),
  );
}

export interface Look {
  estimate: number;
  variance: number;
}

export interface AlwaysValid {
  /** p_t = min(1, 1 / max over looks of Λ). */
  pValue: number | null;
  /** The running intersection of each look's confidence set (1 − α). */
  low: number | null;
  high: number | null;
  /** Looks that had an estimate and a positive variance. */
  looks: number;
}

/** One look at treatment − reference: null until both arms have MIN_UNITS_PER_LOOK units and a variance. */
export function lookAt(reference: ClusterSums, treatment: ClusterSums): Look | null {
  if (reference.clusters < MIN_UNITS_PER_LOOK || treatment.clusters < MIN_UNITS_PER_LOOK) return null;
  const d = differenceOfProportions(reference, treatment);
  if (d.estimate === null || d.standardError === null || !(d.standardError > 0)) return null;
  return { estimate: d.estimate, variance: d.standardError * d.standardError };
}

/** Always-valid p-value and confidence sequence over a series of looks (skipping those without a variance). */
export function alwaysValid(
  looks: Array<Look | null>,
  { tau2 = MIXING_VARIANCE, alpha = 0.05 }: { tau2?: number; alpha?: number } = {},
): AlwaysValid {
  let maxLog = -Infinity;
  let low = -Infinity;
  let high = Infinity;
  let last: { low: number; high: number } | undefined;
  let used = 0;
  for (const look of looks) {
    if (!look || !(look.variance > 0) || !Number.isFinite(look.estimate)) continue;
    used++;
    maxLog = Math.max(maxLog, logMixtureLikelihoodRatio(look.estimate, look.variance, tau2));
    const r = confidenceSequenceRadius(look.variance, tau2, alpha);
    last = { low: look.estimate - r, high: look.estimate + r };
    low = Math.max(low, last.low);
    high = Math.min(high, last.high);
  }
  if (used === 0 || !last) return { pValue: null, low: null, high: null, looks: 0 };
  // Estimated variances can make the running intersection empty; the latest set is then the answer.
  if (low > high) ({ low, high } = last);
  return { pValue: Math.min(1, Math.exp(-maxLog)), low, high, looks: used };
}

// ---- χ² and the incomplete gamma function --------------------------------------------------

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPSILON = 1e-15;
const TINY = 1e-300;
const MAX_ITERATIONS = 10_000;

/** Regularised lower incomplete gamma P(a, x) = γ(a, x) / Γ(a). */
export function regularizedGammaP(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return NaN;
  if (x === 0) return 0;
  return x < a + 1 ? gammaSeries(a, x) : 1 - gammaContinuedFraction(a, x);
}

/** Regularised upper incomplete gamma Q(a, x) = 1 − P(a, x), computed directly where it is small. */
export function regularizedGammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) return NaN;
  if (x === 0) return 1;
  return x < a + 1 ? 1 - gammaSeries(a, x) : gammaContinuedFraction(a, x);
}

function gammaSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITERATIONS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

// Modified Lentz evaluation of the continued fraction for Q(a, x), valid for x ≥ a + 1.
function gammaContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** P(χ²_df ≥ x). */
export function chiSquareSurvival(x: number, degreesOfFreedom: number): number {
  if (x <= 0) return 1;
  return regularizedGammaQ(degreesOfFreedom / 2, x / 2);
}

export interface SampleRatioCheck {
  chiSquare: number;
  degreesOfFreedom: number;
  pValue: number;
  /** pValue < SRM_THRESHOLD: the units are not split as the weights say; the comparison is suspect. */
  flagged: boolean;
  /** The share of units each weight expects. */
  expectedShares: number[];
}

/** Pearson's χ² of units per arm against the arms' weights; null without two arms and some units. */
export function sampleRatioMismatch(
  observed: number[],
  weights: number[],
  threshold = SRM_THRESHOLD,
): SampleRatioCheck | null {
  if (observed.length < 2 || observed.length !== weights.length) return null;
  const total = observed.reduce((a, b) => a + b, 0);
  const weightTotal = weights.reduce((a, b) => a + b, 0);
  if (total <= 0 || !(weightTotal > 0) || weights.some((w) => !(w > 0))) return null;
  const expectedShares = weights.map((w) => w / weightTotal);
  const chiSquare = observed.reduce((sum, o, i) => {
    const e = total * expectedShares[i];
    return sum + ((o - e) * (o - e)) / e;
  }, 0);
  const degreesOfFreedom = observed.length - 1;
  const pValue = chiSquareSurvival(chiSquare, degreesOfFreedom);
  return { chiSquare, degreesOfFreedom, pValue, flagged: pValue < threshold, expectedShares };
}

// ---- Concordance of two versions on the same calls -------------------------------------------

/** Calls by whether the live and the shadow version produced cards. */
export interface FiringTable {
  bothFired: number;
  liveOnly: number;
  shadowOnly: number;
  neither: number;
}

export function tableTotal(t: FiringTable): number {
  return t.bothFired + t.liveOnly + t.shadowOnly + t.neither;
}

/** Cohen's κ: (observed − chance agreement) ÷ (1 − chance agreement); null when chance agreement is 1. */
export function cohensKappa(t: FiringTable): number | null {
  const n = tableTotal(t);
  if (n === 0) return null;
  const observed = (t.bothFired + t.neither) / n;
  const liveFires = (t.bothFired + t.liveOnly) / n;
  const shadowFires = (t.bothFired + t.shadowOnly) / n;
  const chance = liveFires * shadowFires + (1 - liveFires) * (1 - shadowFires);
  if (chance >= 1) return null;
  return (observed - chance) / (1 - chance);
}

/**
 * Shadow firing rate − live firing rate on the same calls, with the paired (McNemar) standard error
 * √(b + c − (c − b)²/n) / n, b and c the discordant calls.
 */
export function pairedDifference(t: FiringTable, z = Z95): Difference {
  const n = tableTotal(t);
  if (n === 0) return { estimate: null, low: null, high: null, standardError: null, method: null };
  const b = t.liveOnly;
  const c = t.shadowOnly;
  const estimate = (c - b) / n;
  const standardError = Math.sqrt(Math.max(0, b + c - ((c - b) * (c - b)) / n)) / n;
  return {
    estimate,
    low: estimate - z * standardError,
    high: estimate + z * standardError,
    standardError,
    method: 'paired',
  };
}

export interface Rate {
  rate: number | null;
  /** Wilson 95 % interval. */
  low: number | null;
  high: number | null;
}

/** Rounded to `digits` decimals. */
export function round(value: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Wilson score interval at 95 %, rounded. */
export function wilson(successes: number, n: number): Rate {
  const w = wilsonInterval(successes, n);
  if (w.estimate === null) return { rate: null, low: null, high: null };
  return { rate: round(w.estimate), low: round(w.low!), high: round(w.high!) };
}

/** Median of sorted values (the mean of the two middle ones when their number is even). */
export function median(sorted: number[]): number | null {
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** 90th percentile, nearest rank: the smallest value with at least 90 % of values at or below it. */
export function p90(sorted: number[]): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(0.9 * sorted.length) - 1)];
}

/**
 * median() and p90() of the values that (value, count) pairs stand for, without expanding them: the same
 * figures as over the sorted list in which each value appears count times.
 */
export function histogramQuantiles(pairs: Array<[number, number]>): { median: number | null; p90: number | null } {
  const sorted = pairs.filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return { median: null, p90: null };
  /** The value at 0-based rank r. */
  const at = (r: number): number => {
    let seen = 0;
    for (const [value, n] of sorted) {
      seen += n;
      if (r < seen) return value;
    }
    return sorted[sorted.length - 1][0];
  };
  const mid = Math.floor(total / 2);
  return {
    median: total % 2 === 1 ? at(mid) : (at(mid - 1) + at(mid)) / 2,
    p90: at(Math.max(0, Math.ceil(0.9 * total) - 1)),
  };
}
