// Exports of an experiment report: small cells withheld as in every other export (export.ts),
// as JSON or CSV.
import type {
  ArmFigures,
  Comparison,
  DifferenceFigures,
  ExperimentReport,
  ExperimentSection,
  SampleRatioFigures,
} from './experiment-report.js';
import { csvCell } from './export.js';
import { suppressCompletion } from './completion.js';

const WITHHELD_DIFFERENCE: DifferenceFigures = {
  difference: null,
  low: null,
  high: null,
  standardError: null,
  method: null,
  alwaysValid: { pValue: null, low: null, high: null, looks: null },
};

/**
 * Withholds every count from 1 to k−1 and every figure from which one could be worked back: a rate
 * whose numerator or denominator is withheld, accepted and overridden together, a difference
 * (and its intervals) resting on a withheld figure of either arm, and the sample-ratio check when
 * any arm's units are withheld. Withheld figures are null and named in `suppressed`; zero is shown.
 */
export function suppressExperimentReport(report: ExperimentReport, k: number): ExperimentReport {
  if (k <= 1) return { ...report, minCell: 1 };
  const small = (n: number | null) => n !== null && n > 0 && n < k;
  const suppressed: string[] = [];
  const callsNotInExperiment = report.callsNotInExperiment.map((r) => {
    if (!small(r.calls)) return r;
    suppressed.push(`callsNotInExperiment.${r.reason}`);
    return { ...r, calls: null };
  });
  const unitsInSeveralArms = small(report.unitsInSeveralArms) ? null : report.unitsInSeveralArms;
  if (unitsInSeveralArms === null && report.unitsInSeveralArms !== null) suppressed.push('unitsInSeveralArms');
  const out: ExperimentReport = {
    ...report,
    minCell: k,
    callsNotInExperiment,
    unitsInSeveralArms,
    ...suppressSection(report, small),
    sites: report.sites.map((s) => ({ ...s, ...suppressSection(s, small) })),
  };
  if (suppressed.length > 0) out.suppressed = suppressed;
  else delete out.suppressed;
  return out;
}

function suppressSection(section: ExperimentSection, small: (n: number | null) => boolean): ExperimentSection {
  const arms = section.arms.map((a) => suppressArm(a, small));
  const withheld = (arm: string, name: string) => arms.find((a) => a.arm === arm)?.suppressed?.includes(name) ?? false;
  const comparisons = section.comparisons.map((c): Comparison => {
    const names: string[] = [];
    const acceptanceWithheld = withheld(c.arm, 'acceptance') || withheld(c.reference, 'acceptance');
    const firingWithheld = [c.arm, c.reference].some(
      (arm) => withheld(arm, 'calls') || withheld(arm, 'evaluationsWithCards'),
    );
    const completionWithheld =
      withheld(c.arm, 'completion.completion') || withheld(c.reference, 'completion.completion');
    if (acceptanceWithheld) names.push('acceptance');
    if (firingWithheld) names.push('firing');
    if (completionWithheld) names.push('completion');
    const out: Comparison = {
      arm: c.arm,
      reference: c.reference,
      acceptance: acceptanceWithheld ? WITHHELD_DIFFERENCE : c.acceptance,
      firing: firingWithheld ? WITHHELD_DIFFERENCE : c.firing,
      completion: completionWithheld ? WITHHELD_DIFFERENCE : c.completion,
    };
    if (names.length > 0) out.suppressed = names;
    return out;
  });
  let sampleRatio: SampleRatioFigures | null = section.sampleRatio;
  if (sampleRatio && arms.some((a) => a.suppressed?.includes('units'))) {
    sampleRatio = {
      ...sampleRatio,
      chiSquare: null,
      pValue: null,
      flagged: null,
      suppressed: ['chiSquare', 'pValue', 'flagged'],
    };
  }
  return { arms, comparisons, sampleRatio };
}

function suppressArm(arm: ArmFigures, small: (n: number | null) => boolean): ArmFigures {
  const suppressed: string[] = [];
  const keep = <T>(name: string, value: T, withheld: boolean, empty: T): T => {
    if (!withheld) return value;
    suppressed.push(name);
    return empty;
  };
  const callsSmall = small(arm.calls);
  const firedSmall = small(arm.evaluationsWithCards);
  const cardsSmall = small(arm.cardsShown);
  const feedbackSmall = small(arm.cardsWithFeedback);
  const outcomesSmall = small(arm.accepted) || small(arm.overridden);
  const out: ArmFigures = {
    ...arm,
    units: keep('units', arm.units, small(arm.units), null),
    calls: keep('calls', arm.calls, callsSmall, null),
    failedCalls: keep('failedCalls', arm.failedCalls, small(arm.failedCalls), null),
    evaluationsWithCards: keep('evaluationsWithCards', arm.evaluationsWithCards, firedSmall, null),
    cardsShown: keep('cardsShown', arm.cardsShown, cardsSmall, null),
    firingPer100Calls: keep('firingPer100Calls', arm.firingPer100Calls, callsSmall || firedSmall, null),
    cardsWithFeedback: keep('cardsWithFeedback', arm.cardsWithFeedback, feedbackSmall, null),
    feedbackCoverage: keep('feedbackCoverage', arm.feedbackCoverage, cardsSmall || feedbackSmall, null),
    accepted: keep('accepted', arm.accepted, outcomesSmall, null),
    overridden: keep('overridden', arm.overridden, outcomesSmall, null),
    acceptance: keep('acceptance', arm.acceptance, outcomesSmall, { rate: null, low: null, high: null }),
    completion: suppressCompletion(arm.completion, small, suppressed),
  };
  delete out.suppressed;
  if (suppressed.length > 0) out.suppressed = suppressed;
  return out;
}

export const EXPERIMENT_CSV_COLUMNS = [
  'scope',
  'experiment',
  'status',
  'stoppedAt',
  'stoppedBy',
  'siteIss',
  'siteTenant',
  'arm',
  'reference',
  'version',
  'weight',
  'shown',
  'reason',
  'units',
  'calls',
  'failedCalls',
  'evaluationsWithCards',
  'cardsShown',
  'firingPer100Calls',
  'cardsWithFeedback',
  'feedbackCoverage',
  'accepted',
  'overridden',
  'acceptanceRate',
  'acceptanceLow95',
  'acceptanceHigh95',
  'acceptanceDifference',
  'acceptanceDifferenceLow95',
  'acceptanceDifferenceHigh95',
  'acceptanceAlwaysValidP',
  'acceptanceSequenceLow95',
  'acceptanceSequenceHigh95',
  'firingDifference',
  'firingDifferenceLow95',
  'firingDifferenceHigh95',
  'firingAlwaysValidP',
  'firingSequenceLow95',
  'firingSequenceHigh95',
  'completed',
  'notCompleted',
  'completionRate',
  'completionLow95',
  'completionHigh95',
  'timeToCompletionMedianSeconds',
  'completionDifference',
  'completionDifferenceLow95',
  'completionDifferenceHigh95',
  'completionAlwaysValidP',
  'completionSequenceLow95',
  'completionSequenceHigh95',
  'srmChiSquare',
  'srmPValue',
  'srmFlagged',
  'suppressed',
] as const;

type Cell = string | number | boolean | null | undefined;

/**
 * One line per arm of the whole experiment (scope `experiment`), per arm and site (`site`), and one
 * per reason calls were not in the experiment (`not-in-experiment`). Empty cell = not defined or withheld.
 */
export function experimentReportToCsv(report: ExperimentReport): string {
  const e = report.experiment;
  const head = (scope: string, iss: string | null, tenant: string | null): Cell[] => [
    scope,
    e.id,
    e.status,
    e.stopped?.at,
    e.stopped?.by,
    iss,
    tenant,
  ];
  const difference = (d: DifferenceFigures | undefined): Cell[] =>
    d
      ? [d.difference, d.low, d.high, d.alwaysValid.pValue, d.alwaysValid.low, d.alwaysValid.high]
      : [null, null, null, null, null, null];
  const lines: Cell[][] = [];
  const sectionLines = (scope: string, s: ExperimentSection, iss: string | null, tenant: string | null) => {
    for (const a of s.arms) {
      const c = s.comparisons.find((x) => x.arm === a.arm);
      const suppressed = [
        ...(a.suppressed ?? []),
        ...(c?.suppressed ?? []).map((n) => `${n}Difference`),
        ...(s.sampleRatio?.suppressed ?? []).map((n) => `srm.${n}`),
      ];
      lines.push([
        ...head(scope, iss, tenant),
        a.arm,
        c?.reference ?? null,
        a.version,
        a.weight,
        a.shown,
        null,
        a.units,
        a.calls,
        a.failedCalls,
        a.evaluationsWithCards,
        a.cardsShown,
        a.firingPer100Calls,
        a.cardsWithFeedback,
        a.feedbackCoverage,
        a.accepted,
        a.overridden,
        a.acceptance.rate,
        a.acceptance.low,
        a.acceptance.high,
        ...difference(c?.acceptance),
        ...difference(c?.firing),
        a.completion.completed,
        a.completion.notCompleted,
        a.completion.completion.rate,
        a.completion.completion.low,
        a.completion.completion.high,
        a.completion.timeToCompletionSeconds.median,
        ...difference(c?.completion),
        s.sampleRatio?.chiSquare,
        s.sampleRatio?.pValue,
        s.sampleRatio?.flagged,
        suppressed.join(' '),
      ]);
    }
  };
  sectionLines('experiment', report, null, null);
  for (const site of report.sites) sectionLines('site', site, site.site.iss, site.site.tenant);
  for (const r of report.callsNotInExperiment) {
    const row: Cell[] = [
      ...head('not-in-experiment', null, null),
      null,
      null,
      null,
      null,
      null,
      r.reason,
      null,
      r.calls,
    ];
    while (row.length < EXPERIMENT_CSV_COLUMNS.length - 1) row.push(null);
    row.push(r.calls === null ? 'calls' : '');
    lines.push(row);
  }
  const text = lines.map((l) => l.map((v) => csvCell(typeof v === 'boolean' ? String(v) : v)).join(','));
  return `${[EXPERIMENT_CSV_COLUMNS.join(','), ...text].join('\r\n')}\r\n`;
}
