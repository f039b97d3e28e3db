// Exports of a report: small cells suppressed, as JSON or CSV.
import type { Report, ReportRow } from './report.js';
import { suppressCompletion } from './completion.js';

/**
 * Withholds every count from 1 to k−1, and every figure from which such a count could be worked
 * back: a rate whose numerator or denominator is withheld, accepted and overridden together (their
 * sum is the cards with an outcome), distributions over fewer than k cards or clinician-days. Zero is shown.
 */
export function suppressSmallCells(report: Report, k: number): Report {
  if (k <= 1) return { ...report, minCell: 1 };
  return { ...report, minCell: k, rows: report.rows.map((row) => suppressRow(row, k)) };
}

function suppressRow(row: ReportRow, k: number): ReportRow {
  const suppressed: string[] = [];
  const small = (n: number | null) => n !== null && n > 0 && n < k;
  const keep = <T>(name: string, value: T, withheld: boolean, empty: T): T => {
    if (!withheld) return value;
    suppressed.push(name);
    return empty;
  };
  const invocationsSmall = small(row.invocations);
  const cardsSmall = small(row.cardsServed);
  const feedbackSmall = small(row.cardsWithFeedback);
  const outcomesSmall = small(row.accepted) || small(row.overridden);
  const offeredSmall = small(row.suggestionsOffered);
  const acceptedSuggestionsSmall = small(row.suggestionsAccepted);
  const reasonsSmall = outcomesSmall || row.overrideReasons.some((r) => small(r.count));
  const clientsSmall = row.coverageByClient.some((c) => small(c.cardsServed) || small(c.cardsWithFeedback));
  const out: ReportRow = {
    ...row,
    invocations: keep('invocations', row.invocations, invocationsSmall, null),
    failedInvocations: keep('failedInvocations', row.failedInvocations, small(row.failedInvocations), null),
    cardsServed: keep('cardsServed', row.cardsServed, cardsSmall, null),
    cardsPer100Invocations: keep(
      'cardsPer100Invocations',
      row.cardsPer100Invocations,
      invocationsSmall || cardsSmall,
      null,
    ),
    systemActionsReturned: keep(
      'systemActionsReturned',
      row.systemActionsReturned,
      small(row.systemActionsReturned),
      null,
    ),
    cardsWithFeedback: keep('cardsWithFeedback', row.cardsWithFeedback, feedbackSmall, null),
    feedbackCoverage: keep('feedbackCoverage', row.feedbackCoverage, cardsSmall || feedbackSmall, null),
    coverageByClient: keep(
      'coverageByClient',
      row.coverageByClient,
      clientsSmall,
      row.coverageByClient.map((c) => ({ ...c, cardsServed: null, cardsWithFeedback: null, coverage: null })),
    ),
    accepted: keep('accepted', row.accepted, outcomesSmall, null),
    overridden: keep('overridden', row.overridden, outcomesSmall, null),
    acceptance: keep('acceptance', row.acceptance, outcomesSmall, { rate: null, low: null, high: null }),
    suggestionsOffered: keep('suggestionsOffered', row.suggestionsOffered, offeredSmall, null),
    suggestionsAccepted: keep('suggestionsAccepted', row.suggestionsAccepted, acceptedSuggestionsSmall, null),
    suggestionAcceptance: keep(
      'suggestionAcceptance',
      row.suggestionAcceptance,
      offeredSmall || acceptedSuggestionsSmall,
      null,
    ),
    overrideReasons: keep(
      'overrideReasons',
      row.overrideReasons,
      reasonsSmall,
      row.overrideReasons.map((r) => ({ ...r, count: null, share: null })),
    ),
    timeToFeedbackSeconds: keep('timeToFeedbackSeconds', row.timeToFeedbackSeconds, feedbackSmall, {
      median: null,
      p90: null,
    }),
    burdenPerClinicianDay: keep(
      'burdenPerClinicianDay',
      row.burdenPerClinicianDay,
      small(row.burdenPerClinicianDay.clinicianDays),
      { clinicianDays: null, median: null, p90: null },
    ),
    distinctPatients: keep('distinctPatients', row.distinctPatients, small(row.distinctPatients), null),
    completion: suppressCompletion(row.completion, small, suppressed),
  };
  if (suppressed.length > 0) out.suppressed = suppressed;
  return out;
}

export const CSV_COLUMNS = [
  'service',
  'ruleSet',
  'version',
  'rule',
  'indicator',
  'day',
  'week',
  'invocations',
  'failedInvocations',
  'cardsServed',
  'cardsPer100Invocations',
  'systemActionsReturned',
  'cardsWithFeedback',
  'feedbackCoverage',
  'accepted',
  'overridden',
  'acceptanceRate',
  'acceptanceLow95',
  'acceptanceHigh95',
  'suggestionsOffered',
  'suggestionsAccepted',
  'suggestionAcceptance',
  'timeToFeedbackMedianSeconds',
  'timeToFeedbackP90Seconds',
  'clinicianDays',
  'cardsPerClinicianDayMedian',
  'cardsPerClinicianDayP90',
  'distinctPatients',
  'cardsMeasuredForCompletion',
  'completed',
  'notCompleted',
  'completionOpen',
  'completionRate',
  'completionLow95',
  'completionHigh95',
  'timeToCompletionMedianSeconds',
  'timeToCompletionP90Seconds',
  'acceptedNotCompleted',
  'overriddenCompleted',
  'noFeedbackCompleted',
  'topOverrideReasons',
  'coverageByClient',
  'suppressed',
] as const;

/**
 * One line per group; lists (reasons, clients) as `a=1; b=2` inside one cell. Empty cell = not defined or suppressed.
 */
export function reportToCsv(report: Report): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of report.rows) {
    const g = row.group;
    const values: Array<string | number | null | undefined> = [
      g.service,
      g.ruleSet,
      g.version,
      g.rule,
      g.indicator,
      g.day,
      g.week,
      row.invocations,
      row.failedInvocations,
      row.cardsServed,
      row.cardsPer100Invocations,
      row.systemActionsReturned,
      row.cardsWithFeedback,
      row.feedbackCoverage,
      row.accepted,
      row.overridden,
      row.acceptance.rate,
      row.acceptance.low,
      row.acceptance.high,
      row.suggestionsOffered,
      row.suggestionsAccepted,
      row.suggestionAcceptance,
      row.timeToFeedbackSeconds.median,
      row.timeToFeedbackSeconds.p90,
      row.burdenPerClinicianDay.clinicianDays,
      row.burdenPerClinicianDay.median,
      row.burdenPerClinicianDay.p90,
      row.distinctPatients,
      row.completion.cardsMeasured,
      row.completion.completed,
      row.completion.notCompleted,
      row.completion.open,
      row.completion.completion.rate,
      row.completion.completion.low,
      row.completion.completion.high,
      row.completion.timeToCompletionSeconds.median,
      row.completion.timeToCompletionSeconds.p90,
      row.completion.byFeedback.accepted.notCompleted,
      row.completion.byFeedback.overridden.completed,
      row.completion.byFeedback.none.completed,
      row.overrideReasons
        .slice(0, 5)
        .map(
          (r) => `${r.code ?? '(no coded reason)'}${r.clientAdded ? ' (client-added)' : ''}=${r.count ?? 'suppressed'}`,
        )
        .join('; '),
      row.coverageByClient
        .map((c) => `${c.iss ?? '(unknown client)'}${c.tenant ? `/${c.tenant}` : ''}=${c.coverage ?? 'suppressed'}`)
        .join('; '),
      (row.suppressed ?? []).join(' '),
    ];
    lines.push(values.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  // Cells that a spreadsheet would run as a formula are quoted with a leading apostrophe.
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
