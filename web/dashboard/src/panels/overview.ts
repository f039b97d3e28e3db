// Overview: per service, calls, cards, firing, feedback coverage, acceptance with its interval,
// burden per clinician-day and failed calls, as a sortable table.
import type { Report } from '../../../../src/uptake/report.js';
import { NO_DATA, type Panel } from '../panel.js';
import { figure, type TableData } from '../table.js';

export const overview: Panel = {
  id: 'overview',
  title: 'Overview',
  filters: ['from', 'to', 'service', 'ruleSet', 'version', 'client'],
  async load({ api, filters }) {
    const report = await api.get<Report>('/uptake/report', { ...filters, groupBy: 'service' });
    if (report.rows.length === 0) return { minCell: report.minCell, sections: [], empty: NO_DATA };
    const table: TableData = {
      columns: [
        { label: 'Service', kind: 'text' },
        { label: 'Calls', kind: 'count' },
        { label: 'Cards', kind: 'count' },
        { label: 'Firing per 100 calls', kind: 'number' },
        { label: 'Feedback coverage', kind: 'rate' },
        { label: 'Acceptance', kind: 'rate' },
        { label: 'Acceptance low 95 %', kind: 'rate' },
        { label: 'Acceptance high 95 %', kind: 'rate' },
        { label: 'Cards per clinician-day, median', kind: 'number' },
        { label: 'Cards per clinician-day, p90', kind: 'number' },
        { label: 'Failed calls', kind: 'count' },
      ],
      rows: report.rows.map((r) => {
        const s = r.suppressed;
        return [
          r.group.service ?? '',
          figure(r.invocations, 'invocations', s),
          figure(r.cardsServed, 'cardsServed', s),
          figure(r.cardsPer100Invocations, 'cardsPer100Invocations', s),
          figure(r.feedbackCoverage, 'feedbackCoverage', s),
          figure(r.acceptance.rate, 'acceptance', s),
          figure(r.acceptance.low, 'acceptance', s),
          figure(r.acceptance.high, 'acceptance', s),
          figure(r.burdenPerClinicianDay.median, 'burdenPerClinicianDay', s),
          figure(r.burdenPerClinicianDay.p90, 'burdenPerClinicianDay', s),
          figure(r.failedInvocations, 'failedInvocations', s),
        ];
      }),
    };
    return {
      minCell: report.minCell,
      sections: [
        {
          id: 'services',
          title: 'Per service',
          note: 'Acceptance: accepted ÷ cards with an outcome, with its Wilson 95 % interval. Sort by any column.',
          table,
        },
      ],
    };
  },
};
