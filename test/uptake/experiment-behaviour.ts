// The experiment and shadow reports on the seeded ledgers of experiment-seed.ts, run against SQLite
// (experiment-report.test.ts) and PostgreSQL (experiment-report.pg.test.ts). Every expected figure
// is worked out by hand below from the counts the seed describes.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  experimentReportToCsv,
  suppressExperimentReport,
  type ArmFigures,
  type ExperimentPlan,
} from '../../src/uptake/index.js';
import { EXPERIMENT_CSV_COLUMNS } from '../../src/uptake/experiment-export.js';
import {
  EXPERIMENT_ID,
  EXPERIMENT_PLAN,
  insertCalls,
  seedExperiment,
  seedShadow,
  shadowKind,
  SHADOW_SERVICE,
  SITE_A,
  STOPPED_AT,
  type SeededShadow,
} from './experiment-seed.js';
import { testUptakeStore, type StoreKind, type TestStore } from './support.js';

// The seeded cards' suggestions carry no actions: no card is measured for completion.
const NOTHING_MEASURED = expect.objectContaining({ cardsMeasured: 0 }) as ArmFigures['completion'];
const NO_DIFFERENCE = expect.objectContaining({ difference: null, standardError: null });

const Z = 1.959963984540054;
const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
/** mSPRT with τ² = 0.01 for one look: p = 1 / (√(V/(V+τ²)) · exp(τ² d² / (2V(V+τ²)))), at most 1. */
const msprtP = (d: number, v: number) =>
  Math.min(1, 1 / (Math.sqrt(v / (v + 0.01)) * Math.exp((0.01 * d * d) / (2 * v * (v + 0.01)))));
/** Half-width of the 95 % confidence sequence after one look. */
const sequenceRadius = (v: number) =>
  Math.sqrt(((v * (v + 0.01)) / 0.01) * (Math.log((v + 0.01) / v) + 2 * Math.log(20)));
const NOW = new Date('2027-01-10T00:00:00Z');

// Acceptance, per unit (accepted of cards with feedback):
//   usual: 8 units 2 of 2, 4 units 0 of 2 (3 units without feedback): p = 16/24; G = 12.
const pAU = 16 / 24;
const vAU = ((12 / 11) * (8 * (2 - 2 * pAU) ** 2 + 4 * (0 - 2 * pAU) ** 2)) / 24 ** 2;
//   new-wording: 7 units 3 of 3, 3 units 1 of 3, 2 units 0 of 1, 1 unit 1 of 1: p = 25/33; G = 13.
const pAN = 25 / 33;
const vAN =
  ((13 / 12) * (7 * (3 - 3 * pAN) ** 2 + 3 * (1 - 3 * pAN) ** 2 + 2 * (0 - pAN) ** 2 + (1 - pAN) ** 2)) / 33 ** 2;
// Firing, per unit (calls whose evaluation produced cards, of calls):
//   usual: 8 units 2 of 4, 7 units 2 of 3: p = 30/53; G = 15.
const pFU = 30 / 53;
const vFU = ((15 / 14) * (8 * (2 - 4 * pFU) ** 2 + 7 * (2 - 3 * pFU) ** 2)) / 53 ** 2;
//   new-wording: 10 units 3 of 4, 4 units 1 of 2, 1 unit 1 of 3 (its failed call counts): p = 35/51; G = 15.
const pFN = 35 / 51;
const vFN = ((15 / 14) * (10 * (3 - 4 * pFN) ** 2 + 4 * (1 - 2 * pFN) ** 2 + (1 - 3 * pFN) ** 2)) / 51 ** 2;
//   no-card: 7 units 2 of 3, 7 units 1 of 2: p = 21/35; G = 14.
const pFC = 21 / 35;
const vFC = ((14 / 13) * (7 * (2 - 3 * pFC) ** 2 + 7 * (1 - 2 * pFC) ** 2)) / 35 ** 2;

/** The figures of a difference d with variance v, after the one look that counts (day 1). */
function differenceOf(d: number, v: number) {
  const se = Math.sqrt(v);
  return {
    difference: r4(d),
    low: r4(d - Z * se),
    high: r4(d + Z * se),
    standardError: r4(se),
    method: 'cluster-robust',
    alwaysValid: {
      pValue: r4(msprtP(d, v)),
      low: r4(d - sequenceRadius(v)),
      high: r4(d + sequenceRadius(v)),
      looks: 1,
    },
  };
}

const ARM_INFO = {
  usual: { arm: 'usual', version: '1.0.0', weight: 1, shown: true },
  'new-wording': { arm: 'new-wording', version: '1.1.0', weight: 1, shown: true },
  'no-card': { arm: 'no-card', version: '1.0.0', weight: 1, shown: false },
};

export function experimentReportBehaviour(kind: StoreKind): void {
  let t: TestStore;
  beforeEach(async () => {
    t = await testUptakeStore(kind);
    await seedExperiment(t.store.database);
  });
  afterEach(async () => {
    await t.cleanup();
  });
  const report = (options: { plan?: ExperimentPlan; from?: Date; to?: Date } = { plan: EXPERIMENT_PLAN }) =>
    t.store.experimentReport(EXPERIMENT_ID, { ...options, now: NOW });

  it('gives every figure of each assigned arm', async () => {
    const r = (await report())!;
    expect(r.arms).toEqual<ArmFigures[]>([
      {
        ...ARM_INFO.usual,
        units: 15,
        calls: 8 * 4 + 7 * 3,
        failedCalls: 0,
        evaluationsWithCards: 30,
        cardsShown: 30,
        firingPer100Calls: 56.6, // 100 × 30 / 53
        cardsWithFeedback: 24,
        feedbackCoverage: 0.8,
        accepted: 16,
        overridden: 8,
        acceptance: { rate: 0.6667, low: 0.4671, high: 0.8203 }, // Wilson, 16 of 24
        completion: NOTHING_MEASURED,
      },
      {
        ...ARM_INFO['new-wording'],
        units: 15,
        calls: 10 * 4 + 5 * 2 + 1,
        failedCalls: 1,
        evaluationsWithCards: 35,
        cardsShown: 35,
        firingPer100Calls: 68.63, // 100 × 35 / 51
        cardsWithFeedback: 33,
        feedbackCoverage: 0.9429, // 33 / 35
        accepted: 25,
        overridden: 8,
        acceptance: { rate: 0.7576, low: 0.5898, high: 0.8717 }, // Wilson, 25 of 33
        completion: NOTHING_MEASURED,
      },
      {
        ...ARM_INFO['no-card'],
        units: 14,
        calls: 7 * 3 + 7 * 2,
        failedCalls: 0,
        evaluationsWithCards: 21, // suppressed cards: evaluated, never shown
        cardsShown: 0,
        firingPer100Calls: 60,
        cardsWithFeedback: 0,
        feedbackCoverage: null,
        accepted: 0,
        overridden: 0,
        acceptance: { rate: null, low: null, high: null },
        completion: NOTHING_MEASURED,
      },
    ]);
  });

  it('compares each arm with the first declared one: cluster-robust intervals and always-valid p-values', async () => {
    const r = (await report())!;
    expect(r.methods.reference).toBe('usual');
    expect(r.comparisons).toEqual([
      {
        arm: 'new-wording',
        reference: 'usual',
        acceptance: differenceOf(pAN - pAU, vAU + vAN),
        firing: differenceOf(pFN - pFU, vFU + vFN),
        completion: NO_DIFFERENCE,
      },
      {
        arm: 'no-card',
        reference: 'usual',
        acceptance: {
          difference: null,
          low: null,
          high: null,
          standardError: null,
          method: null,
          alwaysValid: { pValue: null, low: null, high: null, looks: 0 },
        },
        firing: differenceOf(pFC - pFU, vFU + vFC),
        completion: NO_DIFFERENCE,
      },
    ]);
    // The numbers themselves, for a reader: +9.1 points in acceptance, not significant; +12 points in firing.
    expect(r.comparisons[0].acceptance).toMatchObject({
      difference: 0.0909,
      standardError: 0.173,
      alwaysValid: { pValue: 1 },
    });
    expect(r.comparisons[0].firing).toMatchObject({
      difference: 0.1202,
      standardError: 0.0376,
      alwaysValid: { pValue: 0.0323 },
    });
  });

  it('checks the units per arm against the weights', async () => {
    // 15, 15, 14 units; 44/3 expected each: χ² = (2·(1/3)² + (2/3)²) / (44/3) = 1/22; df 2; p = e^(−1/44).
    expect((await report())!.sampleRatio).toEqual({
      arms: ['usual', 'new-wording', 'no-card'],
      weights: [1, 1, 1],
      expectedShares: [0.3333, 0.3333, 0.3333],
      chiSquare: r4(1 / 22),
      degreesOfFreedom: 2,
      pValue: r4(Math.exp(-1 / 44)),
      flagged: false,
    });
  });

  it('says when and by whom the experiment was stopped, and counts the calls not in it by reason', async () => {
    const r = (await report())!;
    expect(r.experiment).toEqual({
      id: EXPERIMENT_ID,
      services: ['svc-x'],
      declared: true,
      unit: 'practitioner',
      status: 'stopped',
      start: '2027-01-04T00:00:00.000Z',
      end: '2027-03-01T00:00:00.000Z',
      stopped: { at: STOPPED_AT, by: 'qa-lead', reason: 'harm at site B' },
      firstCall: '2027-01-03T10:00:00.000Z',
      lastCall: '2027-01-06T09:20:00.000Z',
    });
    expect(r.callsNotInExperiment).toEqual([
      { reason: 'no-unit', calls: 12 },
      { reason: 'not-started', calls: 3 },
      { reason: 'stopped', calls: 20 },
    ]);
    expect(r.unitsInSeveralArms).toBe(0);
  });

  it('gives the same per site, so that one hospital is not averaged away', async () => {
    const r = (await report())!;
    expect(r.sites.map((s) => s.site)).toEqual([SITE_A, { iss: 'https://b.example.org', tenant: 't1' }]);
    const [a, b] = r.sites;
    // Site A: units with index < 8 (u0–u7, v0–v7, w0–w7).
    expect(a.arms).toEqual([
      {
        ...ARM_INFO.usual,
        units: 8,
        calls: 32,
        failedCalls: 0,
        evaluationsWithCards: 16,
        cardsShown: 16,
        firingPer100Calls: 50,
        cardsWithFeedback: 16,
        feedbackCoverage: 1,
        accepted: 16,
        overridden: 0,
        acceptance: { rate: 1, low: 0.8064, high: 1 },
        completion: NOTHING_MEASURED,
      },
      {
        ...ARM_INFO['new-wording'],
        units: 8,
        calls: 32,
        failedCalls: 0,
        evaluationsWithCards: 24,
        cardsShown: 24,
        firingPer100Calls: 75,
        cardsWithFeedback: 24,
        feedbackCoverage: 1,
        accepted: 22,
        overridden: 2,
        acceptance: { rate: 0.9167, low: 0.7415, high: 0.9768 },
        completion: NOTHING_MEASURED,
      },
      {
        ...ARM_INFO['no-card'],
        units: 8,
        calls: 7 * 3 + 2,
        failedCalls: 0,
        evaluationsWithCards: 15,
        cardsShown: 0,
        firingPer100Calls: 65.22,
        cardsWithFeedback: 0,
        feedbackCoverage: null,
        accepted: 0,
        overridden: 0,
        acceptance: { rate: null, low: null, high: null },
        completion: NOTHING_MEASURED,
      },
    ]);
    // Acceptance at A: usual 16/16 (every unit 2 of 2: no residual), new-wording 22/24: 7 units 3 of 3 (residual
    // 3 − 3·22/24 = 0.25) and 1 unit 1 of 3 (−1.75): V = 8/7 · (7·0.25² + 1.75²) / 24² = 4/576; SE = 1/12.
    // Fewer than 10 units per arm: no always-valid p-value.
    const none = { pValue: null, low: null, high: null, looks: 0 };
    expect(a.comparisons[0].acceptance).toEqual({
      difference: r4(-1 / 12),
      low: r4(-1 / 12 - Z / 12),
      high: r4(-1 / 12 + Z / 12),
      standardError: r4(1 / 12),
      method: 'cluster-robust',
      alwaysValid: none,
    });
    // Firing at A: usual every unit 2 of 4, new-wording every unit 3 of 4: no spread between units, SE 0.
    expect(a.comparisons[0].firing).toEqual({
      difference: 0.25,
      low: 0.25,
      high: 0.25,
      standardError: 0,
      method: 'cluster-robust',
      alwaysValid: none,
    });
    expect(a.sampleRatio).toMatchObject({ chiSquare: 0, pValue: 1, flagged: false });
    // Site B: u8–u14, v8–v14, w8–w13. SRM: 7, 7, 6 against 20/3 each: χ² = 0.1, p = e^−0.05.
    expect(
      b.arms.map((arm) => [
        arm.units,
        arm.calls,
        arm.failedCalls,
        arm.evaluationsWithCards,
        arm.cardsWithFeedback,
        arm.accepted,
        arm.overridden,
      ]),
    ).toEqual([
      [7, 21, 0, 14, 8, 0, 8],
      [7, 2 * 4 + 5 * 2 + 1, 1, 11, 9, 3, 6],
      [6, 12, 0, 6, 0, 0, 0],
    ]);
    expect(b.arms[0].acceptance).toEqual({ rate: 0, low: 0, high: 0.3244 });
    expect(b.sampleRatio).toMatchObject({ chiSquare: 0.1, pValue: r4(Math.exp(-0.05)), flagged: false });
  });

  it('withholds small cells with k as the other exports do: figures null and named, zero shown', async () => {
    const r = suppressExperimentReport((await report())!, 11);
    expect(r.minCell).toBe(11);
    // usual: 8 overridden < 11 → accepted, overridden and acceptance withheld together,
    // and so is the difference in acceptance.
    expect(r.arms[0]).toMatchObject({
      units: 15,
      calls: 53,
      accepted: null,
      overridden: null,
      acceptance: { rate: null, low: null, high: null },
      suppressed: ['accepted', 'overridden', 'acceptance'],
    });
    expect(r.arms[1]).toMatchObject({
      failedCalls: null,
      accepted: null,
      suppressed: ['failedCalls', 'accepted', 'overridden', 'acceptance'],
    });
    expect(r.arms[2]).toMatchObject({ cardsShown: 0, accepted: 0, overridden: 0 });
    expect(r.arms[2].suppressed).toBeUndefined();
    expect(r.comparisons[0]).toMatchObject({
      acceptance: { difference: null, low: null, alwaysValid: { pValue: null } },
      firing: { difference: 0.1202 },
      suppressed: ['acceptance'],
    });
    expect(r.callsNotInExperiment).toEqual([
      { reason: 'no-unit', calls: 12 },
      { reason: 'not-started', calls: null },
      { reason: 'stopped', calls: 20 },
    ]);
    expect(r.suppressed).toEqual(['callsNotInExperiment.not-started']);
    // Sites: 8 units per arm at A → units withheld, and with them the sample-ratio check.
    expect(r.sites[0].arms[0]).toMatchObject({ units: null, calls: 32 });
    expect(r.sites[0].sampleRatio).toMatchObject({
      chiSquare: null,
      pValue: null,
      flagged: null,
      suppressed: ['chiSquare', 'pValue', 'flagged'],
    });
    // k = 1 leaves everything.
    expect(suppressExperimentReport((await report())!, 1).arms[0].accepted).toBe(16);
  });

  it('writes CSV: one line per arm, per arm and site, and per reason for calls not in the experiment', async () => {
    const csv = experimentReportToCsv(suppressExperimentReport((await report())!, 11));
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe(EXPERIMENT_CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(1 + 3 + 2 * 3 + 3);
    const row = (i: number) => Object.fromEntries(lines[i].split(',').map((v, c) => [EXPERIMENT_CSV_COLUMNS[c], v]));
    expect(row(1)).toMatchObject({
      scope: 'experiment',
      experiment: EXPERIMENT_ID,
      status: 'stopped',
      stoppedAt: STOPPED_AT,
      stoppedBy: 'qa-lead',
      arm: 'usual',
      units: '15',
      calls: '53',
      accepted: '',
      acceptanceRate: '',
      suppressed: 'accepted overridden acceptance',
    });
    expect(row(2)).toMatchObject({
      arm: 'new-wording',
      reference: 'usual',
      firingDifference: '0.1202',
      firingAlwaysValidP: '0.0323',
      srmPValue: String(r4(Math.exp(-1 / 44))),
      srmFlagged: 'false',
    });
    expect(row(4)).toMatchObject({ scope: 'site', siteIss: SITE_A.iss, arm: 'usual', units: '' });
    expect(row(11)).toMatchObject({
      scope: 'not-in-experiment',
      reason: 'not-started',
      calls: '',
      suppressed: 'calls',
    });
  });

  it('orders arms by first call and has no sample-ratio check for an experiment not declared', async () => {
    const r = (await report({}))!;
    expect(r.experiment).toMatchObject({ declared: false, status: 'stopped', unit: null });
    expect(r.arms.map((a) => [a.arm, a.version, a.weight, a.shown])).toEqual([
      ['usual', '1.0.0', null, true],
      ['new-wording', '1.1.0', null, true],
      ['no-card', '1.0.0', null, false],
    ]);
    expect(r.sampleRatio).toBeNull();
    expect(r.notes[0]).toMatch(/does not declare this experiment/);
  });

  it('reads only the calls of the period asked for, with daily looks from the first of them', async () => {
    // Up to the end of 2027-01-04: site A only (8 units per arm), so no look counts.
    const r = (await report({ plan: EXPERIMENT_PLAN, to: new Date('2027-01-05T00:00:00Z') }))!;
    expect(r.query).toEqual({ to: '2027-01-05T00:00:00.000Z' });
    expect(r.arms.map((a) => a.units)).toEqual([8, 8, 8]);
    expect(r.callsNotInExperiment).toEqual([
      { reason: 'no-unit', calls: 12 },
      { reason: 'not-started', calls: 3 },
    ]);
    expect(r.comparisons[0].acceptance.alwaysValid).toEqual({ pValue: null, low: null, high: null, looks: 0 });
    expect(r.sites).toHaveLength(1);
  });

  it('flags a deliberately skewed assignment', async () => {
    // 30, 30 and 60 units for weights 1:1:1: 40 expected each; χ² = (100 + 100 + 400) / 40 = 15; p = e^−7.5 = 0.00055.
    const id = 'exp-skewed';
    const arms = [...Array(30).fill('a'), ...Array(30).fill('b'), ...Array(60).fill('c')] as string[];
    await insertCalls(
      t.store.database,
      arms.map((arm, i) => ({
        service: 'svc-y',
        at: Date.parse('2027-01-04T08:00:00Z') + i * 1000,
        site: SITE_A,
        experiment: { id, arm, unit: `skew-${i}` },
        evaluations: [{ disposition: 'shown' as const, version: '1.0.0', cards: [] }],
      })),
    );
    const plan: ExperimentPlan = {
      id,
      services: ['svc-y'],
      unit: 'patient',
      arms: ['a', 'b', 'c'].map((name) => ({ name, weight: 1, show: true })),
    };
    const r = (await t.store.experimentReport(id, { plan, now: NOW }))!;
    expect(r.sampleRatio).toMatchObject({
      chiSquare: 15,
      degreesOfFreedom: 2,
      pValue: r4(Math.exp(-7.5)),
      flagged: true,
    });
    // The same units with weights 1:1:2 are as expected.
    const weighted = (await t.store.experimentReport(id, {
      plan: { ...plan, arms: plan.arms.map((a) => ({ ...a, weight: a.name === 'c' ? 2 : 1 })) },
      now: NOW,
    }))!;
    expect(weighted.sampleRatio).toMatchObject({ chiSquare: 0, pValue: 1, flagged: false });
  });

  it('knows nothing of an undeclared experiment without calls; reports a declared one without calls', async () => {
    expect(await t.store.experimentReport('no-such-experiment')).toBeUndefined();
    const plan: ExperimentPlan = {
      ...EXPERIMENT_PLAN,
      id: 'exp-future',
      start: new Date('2027-06-01T00:00:00Z'),
      end: undefined,
    };
    const r = (await t.store.experimentReport('exp-future', { plan, now: NOW }))!;
    expect(r.experiment).toMatchObject({ status: 'scheduled', firstCall: null, stopped: null });
    expect(r.arms.map((a) => [a.arm, a.units, a.calls, a.firingPer100Calls])).toEqual([
      ['usual', 0, 0, null],
      ['new-wording', 0, 0, null],
      ['no-card', 0, 0, null],
    ]);
    expect(r.sampleRatio).toBeNull();
  });

  it('lists the experiments of the knowledge and of the ledger with status and counts', async () => {
    const future: ExperimentPlan = { ...EXPERIMENT_PLAN, id: 'exp-future', start: new Date('2027-06-01T00:00:00Z') };
    const list = await t.store.experiments({ plans: [future], now: NOW });
    expect(list.experiments).toEqual([
      expect.objectContaining({
        id: 'exp-future',
        declared: true,
        status: 'scheduled',
        callsInExperiment: 0,
        units: 0,
        arms: [
          { name: 'usual', version: '1.0.0', weight: 1, show: true },
          { name: 'new-wording', version: '1.1.0', weight: 1, show: true },
          { name: 'no-card', version: '1.0.0', weight: 1, show: false },
        ],
      }),
      {
        id: EXPERIMENT_ID,
        services: ['svc-x'],
        declared: false,
        unit: null,
        arms: null,
        start: null,
        end: null,
        status: 'stopped',
        stopped: { at: STOPPED_AT, by: 'qa-lead', reason: 'harm at site B' },
        firstCall: '2027-01-03T10:00:00.000Z',
        lastCall: '2027-01-06T09:20:00.000Z',
        callsInExperiment: 53 + 51 + 35,
        callsNotInExperiment: 3 + 12 + 20,
        units: 44,
        cardsShown: 65,
      },
    ]);
  });
}

export function shadowReportBehaviour(kind: StoreKind): void {
  let t: TestStore;
  let seeded: SeededShadow;
  beforeEach(async () => {
    t = await testUptakeStore(kind);
    seeded = await seedShadow(t.store.database);
  });
  afterEach(async () => {
    await t.cleanup();
  });

  describe('against the live version on the same calls', () => {
    it('gives the 2×2 table, κ and the paired difference in firing', async () => {
      const r = (await t.store.shadowReport(SHADOW_SERVICE))!;
      expect(r.withoutLive).toBe(2);
      expect(r.comparisons.map((c) => c.shadow.version)).toEqual(['2.1.0', '2.2.0']);
      const [c21, c22] = r.comparisons;
      // 40 both (6 of them live from a no-card arm), 6 live only, 12 shadow only, 42 neither.
      // κ: observed 0.82; live fires 0.46, shadow 0.52; chance 0.46·0.52 + 0.54·0.48 = 0.4984; κ = 0.3216 / 0.5016.
      // Paired difference (12 − 6)/100 = 0.06, SE = √(18 − 36/100)/100 = 0.042.
      expect(c21).toMatchObject({
        shadow: { ruleSet: SHADOW_SERVICE, version: '2.1.0' },
        live: { ruleSet: SHADOW_SERVICE, version: '2.0.0' },
        calls: 100,
        failed: 0,
        table: { bothFired: 40, liveOnly: 6, shadowOnly: 12, neither: 42 },
        kappa: r4(0.3216 / 0.5016),
        firing: { live: 0.46, shadow: 0.52, difference: 0.06, low: r4(0.06 - Z * 0.042), high: r4(0.06 + Z * 0.042) },
        cardsDiffer: 4,
        rulesDiffer: 2,
      });
      // 2.2.0: 3 failed; on the 27 others, 22 both and 5 neither: κ 1, no difference.
      expect(c22).toMatchObject({
        calls: 27,
        failed: 3,
        table: { bothFired: 22, liveOnly: 0, shadowOnly: 0, neither: 5 },
        kappa: 1,
        firing: { difference: 0, low: 0, high: 0 },
        cardsDiffer: 0,
        disagreements: [],
      });
    });

    it('lists the latest 20 disagreeing calls with their live and shadow card ids', async () => {
      const r = (await t.store.shadowReport(SHADOW_SERVICE))!;
      const kinds = {
        'live-only': 'live-only',
        'shadow-only': 'shadow-only',
        'cards-differ': 'cards-differ',
      } as Record<string, string>;
      // 22 disagreements (calls 30–51); the two earliest (30, 31) are left out.
      const expected = seeded.calls
        .map((call, i) => ({ call, i }))
        .filter(({ i }) => i < 100 && kinds[shadowKind(i)] !== undefined)
        .sort((a, b) => b.i - a.i)
        .slice(0, 20)
        .map(({ call, i }) => ({
          call: call.id,
          evaluatedAt: new Date(call.at + 1000).toISOString(),
          kind: shadowKind(i),
          liveCards: call.evaluations[0].cards,
          shadowCards: call.evaluations[1].cards,
        }));
      expect(expected.at(-1)!.evaluatedAt).toBe('2027-02-01T08:32:01.000Z');
      expect(r.comparisons[0].disagreements).toEqual(expected);
    });

    it('reads only the period asked for', async () => {
      // 08:00–08:30: calls 0–29: 18 both, 6 both from a no-card arm, 6 neither.
      const r = (await t.store.shadowReport(SHADOW_SERVICE, {
        from: new Date('2027-02-01T08:00:00Z'),
        to: new Date('2027-02-01T08:30:00Z'),
      }))!;
      expect(r.query).toEqual({ from: '2027-02-01T08:00:00.000Z', to: '2027-02-01T08:30:00.000Z' });
      expect(r.comparisons[0]).toMatchObject({
        calls: 30,
        table: { bothFired: 24, liveOnly: 0, shadowOnly: 0, neither: 6 },
        kappa: 1,
        disagreements: [],
      });
      expect(r.withoutLive).toBe(0);
    });

    it('knows nothing of a service with no call, unless its shadows are declared', async () => {
      expect(await t.store.shadowReport('svc-none')).toBeUndefined();
      expect(await t.store.shadowReport('svc-none', { declaredShadows: ['1.1.0'] })).toMatchObject({
        service: 'svc-none',
        declaredShadows: ['1.1.0'],
        comparisons: [],
        withoutLive: 0,
      });
    });
  });
}
