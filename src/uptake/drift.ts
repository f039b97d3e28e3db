// Online change detection on a stream of yes/no observations (a rule fired in this call or not; the call
// failed; it was slower than the baseline's 95th percentile). Pure functions over a small state object, so
// that the state can be stored and resumed on any instance.
//
// Method: two one-sided Bernoulli CUSUMs (Page 1954; Reynolds & Stoumbos 1999), each the cumulative
// log-likelihood ratio of the rate having changed by a factor (½ for a drop, 2 for a rise) against the
// baseline rate, reset at zero; an alarm when it exceeds `h`. A drop to nothing is caught sooner by a
// silence rule: a run of L calls without the event, L the run that has probability α under the baseline
// (Wright et al. 2016 saw rules stop firing altogether when a code changed). The baseline is the rate of the
// first `baselineCalls` calls (with at least minBaselineEvents events, or MAX_BASELINE_FACTOR times the calls).
// bench/drift.ts shows the detection delays and false-alarm rates these settings give.

export type Direction = 'up' | 'down';

export interface DetectorSettings {
  /** Calls from which the baseline rate is learned. */
  baselineCalls: number;
  /** Which changes alarm: a rule's firing both ways, errors and latency only upwards. */
  directions: Direction[];
  /** Threshold of each CUSUM (log-likelihood ratio). */
  h?: number;
  /** Probability of a silent run under the baseline that raises a silence alarm. */
  silenceAlpha?: number;
  /** A baseline declared in the knowledge instead of learned. */
  expectedRate?: number;
  /**
   * Events the learned baseline needs (default minBaselineEvents). 0 for signals that are rare when all is
   * well (errors): the baseline is then at least one event in the calls learned from.
   */
  minEvents?: number;
}

/**
 * CUSUM threshold at baseline rates up to REFERENCE_RATE; above it the threshold grows with ln(rate ÷ 5 %), as each
 * call then carries more information and the statistic moves faster. With it, in-control false alarms stay under
 * 1 per 100,000 calls from 1 % to 50 % (bench/drift.ts).
 */
export const CUSUM_H = 9.25;
export const REFERENCE_RATE = 0.05;
/** A rise to twice, a drop to half the baseline rate: the changes the CUSUMs are tuned to. */
export const RISE_FACTOR = 2;
export const DROP_FACTOR = 0.5;
export const SILENCE_ALPHA = 2e-6;
export const MIN_BASELINE_EVENTS = 50;
export const MAX_BASELINE_FACTOR = 10;
/** Rates are kept inside [FLOOR, 1 − FLOOR]: a baseline of 0 or 1 has no likelihood ratio. */
const FLOOR = 1e-4;

interface Side {
  /** The CUSUM statistic. */
  s: number;
  /** Calls and events since the statistic was last 0, and when that run began. */
  calls: number;
  events: number;
  start: number | null;
}

export interface DetectorState {
  phase: 'learning' | 'monitoring' | 'quiet';
  learnCalls: number;
  learnEvents: number;
  /** The baseline rate (monitoring and quiet). */
  rate: number;
  /** Whether the baseline was declared rather than learned. */
  declared: boolean;
  up: Side;
  down: Side;
  zeros: number;
  zerosStart: number | null;
  /** Calls observed in all. */
  calls: number;
  /** The open alarm: the detector stays quiet until it is acknowledged. */
  alarm?: string;
}

export interface DriftSignal {
  direction: Direction;
  method: 'bernoulli-cusum' | 'silence-run';
  rateBefore: number;
  rateAfter: number;
  callsBefore: number;
  callsAfter: number;
  /** When the run that crossed the limit began (ms): the change's estimated start. */
  changeAt: number | null;
}

const side = (): Side => ({ s: 0, calls: 0, events: 0, start: null });

export function newDetector(settings: DetectorSettings, priorCalls = 0): DetectorState {
  const declared = settings.expectedRate !== undefined;
  return {
    phase: declared ? 'monitoring' : 'learning',
    learnCalls: declared ? 0 : priorCalls,
    learnEvents: 0,
    rate: declared ? clampRate(settings.expectedRate!) : 0,
    declared,
    up: side(),
    down: side(),
    zeros: 0,
    zerosStart: null,
    calls: priorCalls,
  };
}

/** Learns the baseline again (after an acknowledged alarm: the new level is the new normal). */
export function relearn(state: DetectorState, settings: DetectorSettings): DetectorState {
  const fresh = newDetector(settings);
  return { ...fresh, calls: state.calls };
}

function clampRate(p: number): number {
  return Math.min(1 - FLOOR, Math.max(FLOOR, p));
}

/** Events the baseline needs: MIN_BASELINE_EVENTS, fewer for short baselines (one per 40 calls). */
export function minBaselineEvents(baselineCalls: number): number {
  return Math.min(MIN_BASELINE_EVENTS, Math.ceil(baselineCalls / 40));
}

/** The CUSUM threshold at baseline rate p. */
export function cusumThreshold(p: number): number {
  return CUSUM_H + Math.max(0, Math.log(p / REFERENCE_RATE));
}

/** The silent run that raises an alarm at baseline rate p. */
export function silenceRun(p: number, alpha = SILENCE_ALPHA): number {
  const rate = clampRate(p);
  return Math.max(1, Math.ceil(Math.log(alpha / rate) / Math.log(1 - rate)));
}

function llr(p0: number, p1: number, event: boolean): number {
  return event ? Math.log(p1 / p0) : Math.log((1 - p1) / (1 - p0));
}

/** One observation; returns the alarm it raises, if any. Mutates and returns nothing else. */
export function observe(
  state: DetectorState,
  event: boolean,
  at: number,
  settings: DetectorSettings,
): DriftSignal | undefined {
  state.calls++;
  if (state.phase === 'learning') {
    state.learnCalls++;
    if (event) state.learnEvents++;
    const minEvents = settings.minEvents ?? minBaselineEvents(settings.baselineCalls);
    const enough =
      state.learnCalls >= settings.baselineCalls &&
      (state.learnEvents >= minEvents || state.learnCalls >= settings.baselineCalls * MAX_BASELINE_FACTOR);
    if (enough) {
      state.phase = 'monitoring';
      const events = minEvents === 0 ? Math.max(1, state.learnEvents) : state.learnEvents;
      state.rate = clampRate(events / state.learnCalls);
    }
    return undefined;
  }
  if (state.phase === 'quiet') return undefined;
  const p0 = state.rate;
  const h = settings.h ?? cusumThreshold(p0);
  const before = state.declared ? 0 : state.learnCalls;
  const step = (s: Side, p1: number): boolean => {
    if (s.s === 0) s.start = at;
    s.s = Math.max(0, s.s + llr(p0, p1, event));
    if (s.s === 0) {
      s.calls = 0;
      s.events = 0;
      s.start = null;
      return false;
    }
    s.calls++;
    if (event) s.events++;
    return s.s > h;
  };
  const signal = (
    direction: Direction,
    method: DriftSignal['method'],
    calls: number,
    events: number,
    start: number | null,
  ): DriftSignal => {
    state.phase = 'quiet';
    return {
      direction,
      method,
      rateBefore: p0,
      rateAfter: calls > 0 ? events / calls : 0,
      callsBefore: before,
      callsAfter: calls,
      changeAt: start,
    };
  };
  if (event) {
    state.zeros = 0;
    state.zerosStart = null;
  } else {
    if (state.zeros === 0) state.zerosStart = at;
    state.zeros++;
  }
  const wantsUp = settings.directions.includes('up');
  const wantsDown = settings.directions.includes('down');
  if (wantsUp && step(state.up, Math.min(1 - FLOOR, p0 * RISE_FACTOR))) {
    return signal('up', 'bernoulli-cusum', state.up.calls, state.up.events, state.up.start);
  }
  if (wantsDown) {
    if (state.zeros >= silenceRun(p0, settings.silenceAlpha)) {
      return signal('down', 'silence-run', state.zeros, 0, state.zerosStart);
    }
    if (step(state.down, p0 * DROP_FACTOR)) {
      return signal('down', 'bernoulli-cusum', state.down.calls, state.down.events, state.down.start);
    }
  }
  return undefined;
}
