// The detector on its own (src/uptake/drift.ts): baseline learning, the CUSUMs, the silence run and quiet after
// an alarm, on seeded streams. bench/drift.ts measures delays and false-alarm rates on many more.
import { describe, expect, it } from 'vitest';
import {
  cusumThreshold,
  CUSUM_H,
  newDetector,
  observe,
  relearn,
  silenceRun,
  type DetectorSettings,
  type DriftSignal,
} from '../../src/uptake/drift.js';

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const settings: DetectorSettings = { baselineCalls: 2000, directions: ['up', 'down'] };

function run(rates: Array<[number, number]>, seed = 7): { alarms: Array<DriftSignal & { at: number }> } {
  const random = seeded(seed);
  const state = newDetector(settings);
  const alarms: Array<DriftSignal & { at: number }> = [];
  let t = 0;
  for (const [calls, p] of rates) {
    for (let i = 0; i < calls; i++, t++) {
      const a = observe(state, random() < p, t, settings);
      if (a) alarms.push({ ...a, at: t });
    }
  }
  return { alarms };
}

describe('drift detector', () => {
  it('learns its baseline from the first calls and stays silent while the rate holds', () => {
    // About 0.5 false alarms per 100,000 calls (bench/drift.ts): none is expected in 50,000.
    expect(run([[50_000, 0.05]]).alarms).toEqual([]);
  });

  it('catches total silence within the silent run the baseline rate implies', () => {
    const { alarms } = run([
      [5000, 0.05],
      [1000, 0],
    ]);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ direction: 'down', method: 'silence-run', rateAfter: 0 });
    expect(alarms[0].at - 5000).toBeLessThanOrEqual(silenceRun(0.05));
    expect(silenceRun(0.05)).toBe(198);
  });

  it('catches a doubling and a halving with the CUSUMs, and says the rate after', () => {
    const up = run([
      [5000, 0.05],
      [5000, 0.1],
    ]).alarms;
    expect(up[0]).toMatchObject({ direction: 'up', method: 'bernoulli-cusum' });
    expect(up[0].at).toBeGreaterThan(5000);
    expect(up[0].rateAfter).toBeGreaterThan(0.07);
    const down = run([
      [5000, 0.05],
      [10_000, 0.025],
    ]).alarms;
    expect(down[0]).toMatchObject({ direction: 'down' });
    expect(down[0].at).toBeGreaterThan(5000);
  });

  it('stays quiet after an alarm until it is told to learn again, then learns the new level', () => {
    const random = seeded(3);
    let state = newDetector(settings);
    let alarms = 0;
    for (let t = 0; t < 4000; t++) if (observe(state, random() < 0.05, t, settings)) alarms++;
    for (let t = 4000; t < 8000; t++) if (observe(state, false, t, settings)) alarms++;
    expect(alarms).toBe(1);
    expect(state.phase).toBe('quiet');
    state = relearn(state, settings);
    expect(state.phase).toBe('learning');
    for (let t = 8000; t < 30_000; t++) if (observe(state, random() < 0.01, t, settings)) alarms++;
    expect(alarms).toBe(1);
    expect(state.rate).toBeCloseTo(0.01, 2);
  });

  it('monitors a declared rate from the first call, and only upwards when told so', () => {
    const upOnly: DetectorSettings = { baselineCalls: 2000, directions: ['up'], expectedRate: 0.05 };
    const state = newDetector(upOnly);
    expect(state.phase).toBe('monitoring');
    let alarm: DriftSignal | undefined;
    for (let t = 0; t < 2000 && !alarm; t++) alarm = observe(state, false, t, upOnly);
    expect(alarm).toBeUndefined();
    for (let t = 2000; t < 2100 && !alarm; t++) alarm = observe(state, true, t, upOnly);
    expect(alarm).toMatchObject({ direction: 'up', callsBefore: 0 });
  });

  it('raises its threshold with the baseline rate above 5 %', () => {
    expect(cusumThreshold(0.01)).toBe(CUSUM_H);
    expect(cusumThreshold(0.05)).toBe(CUSUM_H);
    expect(cusumThreshold(0.2)).toBeCloseTo(CUSUM_H + Math.log(4), 10);
  });
});
