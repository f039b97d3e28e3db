// Versions and experiments: each experiment's arms with their acceptance intervals (a forest plot),
// the sample-ratio check and status; each shadow version's agreement with the live one (κ, differing cards).
import type { ExperimentList } from '../../../../src/uptake/experiment-list.js';
import type { ExperimentReport } from '../../../../src/uptake/experiment-report.js';
import type { Report } from '../../../../src/uptake/report.js';
import type { ShadowReport } from '../../../../src/uptake/shadow-report.js';
import { ApiError } from '../api.js';
import { PALETTE } from '../chart.js';
import type { Panel, Section } from '../panel.js';
import { figure, type TableData } from '../table.js';

interface Ready {
  knowledge?: { services?: Array<{ id: string; shadow?: string[] }> };
}

const pct = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 10);

function experimentSection(report: ExperimentReport): Section {
  const e = report.experiment;
  const arms = report.arms;
  const srm = report.sampleRatio;
  const srmText = !srm
    ? 'Sample ratio: not checked (no declared weights or no units yet).'
    : srm.flagged === null
      ? 'Sample ratio: withheld (an arm has fewer units than the threshold).'
      : srm.flagged
        ? `Sample ratio MISMATCH (SRM): p = ${srm.pValue?.toPrecision(2)}; the arms' sizes do not match their weights — check assignment before reading the figures.`
        : `Sample ratio as planned: p = ${srm.pValue?.toPrecision(2)}.`;
  const stopped = e.stopped
    ? `, stopped ${e.stopped.at.slice(0, 10)}${e.stopped.reason ? ` (${e.stopped.reason})` : ''}`
    : '';
  const comparison = (arm: string) => report.comparisons.find((c) => c.arm === arm);
  const table: TableData = {
    columns: [
      { label: 'Arm', kind: 'text' },
      { label: 'Version', kind: 'text' },
      { label: 'Shown', kind: 'text' },
      { label: 'Units', kind: 'count' },
      { label: 'Calls', kind: 'count' },
      { label: 'Cards with feedback', kind: 'count' },
      { label: 'Accepted', kind: 'count' },
      { label: 'Acceptance', kind: 'rate' },
      { label: 'Acceptance low 95 %', kind: 'rate' },
      { label: 'Acceptance high 95 %', kind: 'rate' },
      { label: 'Difference vs reference', kind: 'rate' },
      { label: 'Difference low 95 %', kind: 'rate' },
      { label: 'Difference high 95 %', kind: 'rate' },
    ],
    rows: arms.map((a) => {
      const c = comparison(a.arm);
      const s = a.suppressed;
      return [
        a.arm,
        a.version,
        a.shown === null ? null : a.shown ? 'yes' : 'no (control)',
        figure(a.units, 'units', s),
        figure(a.calls, 'calls', s),
        figure(a.cardsWithFeedback, 'cardsWithFeedback', s),
        figure(a.accepted, 'accepted', s),
        figure(a.acceptance.rate, 'acceptance', s),
        figure(a.acceptance.low, 'acceptance', s),
        figure(a.acceptance.high, 'acceptance', s),
        c ? figure(c.acceptance.difference, 'acceptance', c.suppressed) : null,
        c ? figure(c.acceptance.low, 'acceptance', c.suppressed) : null,
        c ? figure(c.acceptance.high, 'acceptance', c.suppressed) : null,
      ];
    }),
  };
  const plotted = arms.filter((a) => a.acceptance.rate !== null);
  return {
    id: `experiment-${e.id}`,
    title: `Experiment ${e.id}: ${e.status}${stopped}`,
    note: `${srmText} Services: ${e.services.join(', ')}. Reference arm: ${report.methods.reference ?? 'none'}.`,
    ...(plotted.length > 0
      ? {
          chart: {
            label: `Forest plot: acceptance of each arm of ${e.id} with its 95 % interval`,
            option: {
              grid: { left: 110, right: 24, top: 16, bottom: 40 },
              xAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value} %' } },
              yAxis: { type: 'category', data: plotted.map((a) => a.arm), inverse: true },
              legend: { bottom: 0 },
              series: [
                {
                  type: 'custom',
                  name: '95 % interval',
                  encode: { x: [1, 2], y: 0 },
                  data: plotted.map((a, i) => [i, pct(a.acceptance.low), pct(a.acceptance.high)]),
                  renderItem: (_params: unknown, api: any) => {
                    const lo = api.coord([api.value(1), api.value(0)]) as number[];
                    const hi = api.coord([api.value(2), api.value(0)]) as number[];
                    const style = { stroke: PALETTE[0], lineWidth: 2 };
                    const tick = (x: number, y: number) => ({
                      type: 'line',
                      shape: { x1: x, y1: y - 6, x2: x, y2: y + 6 },
                      style,
                    });
                    return {
                      type: 'group',
                      children: [
                        { type: 'line', shape: { x1: lo[0], y1: lo[1], x2: hi[0], y2: hi[1] }, style },
                        tick(lo[0], lo[1]),
                        tick(hi[0], hi[1]),
                      ],
                    };
                  },
                },
                {
                  type: 'scatter',
                  name: 'Acceptance',
                  symbol: 'rect',
                  symbolSize: 12,
                  itemStyle: { color: PALETTE[1] },
                  data: plotted.map((a, i) => [pct(a.acceptance.rate), i]),
                },
              ],
            },
          },
        }
      : {}),
    table,
  };
}

function shadowSection(reports: ShadowReport[]): Section {
  return {
    id: 'shadow',
    title: 'Shadow versions against the live one',
    note: 'On the same calls: Cohen’s κ of firing (1 = always agree), and calls where both fired with different cards.',
    table: {
      columns: [
        { label: 'Service', kind: 'text' },
        { label: 'Live', kind: 'text' },
        { label: 'Shadow', kind: 'text' },
        { label: 'Calls compared', kind: 'count' },
        { label: 'κ', kind: 'number' },
        { label: 'Live fires only', kind: 'count' },
        { label: 'Shadow fires only', kind: 'count' },
        { label: 'Cards differ', kind: 'count' },
        { label: 'Firing difference (shadow − live)', kind: 'rate' },
      ],
      rows: reports.flatMap((r) =>
        r.comparisons.map((c) => [
          r.service,
          `${c.live.ruleSet}@${c.live.version}`,
          `${c.shadow.ruleSet}@${c.shadow.version}`,
          c.calls,
          c.kappa,
          c.table.liveOnly,
          c.table.shadowOnly,
          c.cardsDiffer,
          c.firing.difference,
        ]),
      ),
    },
  };
}

export const experiments: Panel = {
  id: 'experiments',
  title: 'Versions and experiments',
  filters: ['from', 'to', 'service'],
  async load({ api, filters }) {
    const period = { from: filters.from, to: filters.to };
    const [list, services, ready] = await Promise.all([
      api.get<ExperimentList>('/uptake/experiments'),
      api.get<Report>('/uptake/report', { ...period, groupBy: 'service' }),
      api.get<Ready>('/ready').catch((): Ready => ({})),
    ]);
    const wanted = (ids: string[]) => !filters.service || ids.includes(filters.service);
    const reports = await Promise.all(
      list.experiments
        .filter((e) => wanted(e.services))
        .map((e) => api.get<ExperimentReport>(`/uptake/experiments/${encodeURIComponent(e.id)}`, period)),
    );
    const shadowServices = new Set([
      ...services.rows.map((r) => r.group.service ?? ''),
      ...(ready.knowledge?.services ?? []).filter((s) => (s.shadow ?? []).length > 0).map((s) => s.id),
    ]);
    const shadows = (
      await Promise.all(
        [...shadowServices]
          .filter((s) => s && wanted([s]))
          .sort()
          .map((s) =>
            api.get<ShadowReport>(`/uptake/shadow/${encodeURIComponent(s)}`, period).catch((err: unknown) => {
              if (err instanceof ApiError && err.status === 404) return undefined;
              throw err;
            }),
          ),
      )
    ).filter((r): r is ShadowReport => r !== undefined && r.comparisons.length > 0);
    const sections = [...reports.map(experimentSection), ...(shadows.length > 0 ? [shadowSection(shadows)] : [])];
    const minCell = reports[0]?.minCell ?? list.minCell;
    if (sections.length === 0)
      return {
        minCell,
        sections,
        empty:
          'No experiment or shadow version yet. Declare one under rollout in cds-services.json (see the README: ' +
          'Rollout) and its arms or its agreement with the live version appear here.',
      };
    return { minCell, sections };
  },
};
