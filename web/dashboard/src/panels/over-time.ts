// Over time: firing per 100 calls and acceptance per day or week, one line per rule set version,
// with the first day each version was served and the knowledge's last load and reload marked.
import type { Report, ReportRow } from '../../../../src/uptake/report.js';
import { SYMBOLS, type ChartOption } from '../chart.js';
import { choice, NO_DATA, type Panel } from '../panel.js';
import { figure, isWithheld, type Cell, type TableData } from '../table.js';

interface Ready {
  knowledge?: { loadedAt?: string; reload?: { last?: { at: string; ok: boolean } } };
}

const versionOf = (r: ReportRow) => `${r.group.ruleSet ?? '?'}@${r.group.version ?? '?'}`;

/** The day or week (named by its Monday, as the report names it) an instant falls in. */
function periodOf(instant: string, unit: 'day' | 'week'): string {
  const d = new Date(instant);
  if (unit === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

export const overTime: Panel = {
  id: 'over-time',
  title: 'Over time',
  filters: ['from', 'to', 'service', 'ruleSet', 'version', 'client'],
  async load(ctx) {
    const unit = ctx.local.unit === 'week' ? 'week' : 'day';
    const [report, ready] = await Promise.all([
      ctx.api.get<Report>('/uptake/report', { ...ctx.filters, groupBy: `${unit},version` }),
      ctx.api.get<Ready>('/ready').catch((): Ready => ({})),
    ]);
    const controls = [
      choice(
        ctx,
        'unit',
        'Per',
        [
          { value: 'day', label: 'day' },
          { value: 'week', label: 'week' },
        ],
        unit,
      ),
    ];
    if (report.rows.length === 0) return { minCell: report.minCell, sections: [], empty: NO_DATA, controls };
    const periods = [...new Set(report.rows.map((r) => r.group[unit] ?? ''))].sort();
    const versions = [...new Set(report.rows.map(versionOf))].sort();
    const cell = (version: string, period: string, pick: (r: ReportRow) => Cell): Cell => {
      const row = report.rows.find((r) => versionOf(r) === version && r.group[unit] === period);
      return row ? pick(row) : null;
    };
    // Events on the time axis: each version's first period with data; the knowledge's load and last reload.
    const events: Array<{ period: string; label: string }> = versions.map((v) => ({
      period: periods.find((p) => report.rows.some((r) => versionOf(r) === v && r.group[unit] === p)) ?? periods[0],
      label: `${v} first served`,
    }));
    const loadedAt = ready.knowledge?.loadedAt;
    const reload = ready.knowledge?.reload?.last;
    for (const [at, label] of [
      [loadedAt, 'knowledge loaded'],
      [reload?.at, reload?.ok === false ? 'reload refused' : 'reload'],
    ] as const) {
      if (at && periods.includes(periodOf(at, unit))) events.push({ period: periodOf(at, unit), label });
    }
    const lineChart = (pick: (r: ReportRow) => Cell, percent: boolean): ChartOption => ({
      legend: { type: 'scroll', bottom: 0 },
      grid: { left: 48, right: 16, top: 24, bottom: 64 },
      // A time axis: periods without data keep their place, so gaps show as gaps.
      xAxis: { type: 'time', minInterval: unit === 'week' ? 7 * 86_400_000 : 86_400_000 },
      yAxis: { type: 'value', min: 0, ...(percent ? { max: 100, axisLabel: { formatter: '{value} %' } } : {}) },
      series: versions.map((v, i) => ({
        type: 'line',
        name: v,
        symbol: SYMBOLS[i % SYMBOLS.length],
        symbolSize: 8,
        connectNulls: false,
        data: periods.map((p) => {
          const c = cell(v, p, pick);
          return [p, typeof c === 'number' ? (percent ? Math.round(c * 1000) / 10 : c) : null];
        }),
        ...(i === 0
          ? {
              markLine: {
                symbol: 'none',
                silent: true,
                lineStyle: { type: 'dashed', color: '#555' },
                label: { formatter: '{b}', position: 'insideEndTop', fontSize: 10 },
                data: events.map((e) => ({ xAxis: e.period, name: e.label })),
              },
            }
          : {}),
      })),
    });
    const table = (columns: TableData['columns'], pick: (r: ReportRow) => Cell[]): TableData => ({
      columns: [
        { label: unit === 'day' ? 'Day' : 'Week of', kind: 'text' },
        { label: 'Version', kind: 'text' },
        ...columns,
      ],
      rows: report.rows.map((r) => [r.group[unit] ?? '', versionOf(r), ...pick(r)]),
    });
    const withheldPoints = report.rows.filter((r) => isWithheld(figure(r.acceptance.rate, 'acceptance', r.suppressed)));
    return {
      minCell: report.minCell,
      controls,
      notes: [`Marked on the time axis: ${events.map((e) => `${e.label} (${e.period})`).join('; ')}.`],
      sections: [
        {
          id: 'firing',
          title: 'Firing per 100 calls',
          chart: {
            option: lineChart((r) => figure(r.cardsPer100Invocations, 'cardsPer100Invocations', r.suppressed), false),
            label: `Cards per 100 calls per ${unit}, one line per version`,
          },
          table: table(
            [
              { label: 'Calls', kind: 'count' },
              { label: 'Cards', kind: 'count' },
              { label: 'Firing per 100 calls', kind: 'number' },
            ],
            (r) => [
              figure(r.invocations, 'invocations', r.suppressed),
              figure(r.cardsServed, 'cardsServed', r.suppressed),
              figure(r.cardsPer100Invocations, 'cardsPer100Invocations', r.suppressed),
            ],
          ),
        },
        {
          id: 'acceptance',
          title: 'Acceptance',
          ...(withheldPoints.length > 0
            ? { note: `${withheldPoints.length} point(s) withheld (fewer than ${report.minCell}): gaps in the lines.` }
            : {}),
          chart: {
            option: lineChart((r) => figure(r.acceptance.rate, 'acceptance', r.suppressed), true),
            label: `Acceptance per ${unit} in per cent, one line per version`,
          },
          table: table(
            [
              { label: 'Cards with feedback', kind: 'count' },
              { label: 'Accepted', kind: 'count' },
              { label: 'Acceptance', kind: 'rate' },
              { label: 'Acceptance low 95 %', kind: 'rate' },
              { label: 'Acceptance high 95 %', kind: 'rate' },
            ],
            (r) => [
              figure(r.cardsWithFeedback, 'cardsWithFeedback', r.suppressed),
              figure(r.accepted, 'accepted', r.suppressed),
              figure(r.acceptance.rate, 'acceptance', r.suppressed),
              figure(r.acceptance.low, 'acceptance', r.suppressed),
              figure(r.acceptance.high, 'acceptance', r.suppressed),
            ],
          ),
        },
      ],
    };
  },
};
