// Completion, drift, variation: whether what the cards suggested was done, next to acceptance; the drift
// alarms with their rates before and after, acknowledged from here; and a funnel plot of clinicians or sites
// against the overall rate, with the planted-or-real outliers marked.
import type { Alert, AlertList } from '../../../../src/uptake/alerts.js';
import type { Report, ReportRow } from '../../../../src/uptake/report.js';
import type { UnitMeasure, VariationReport } from '../../../../src/uptake/variation.js';
import type { ChartOption } from '../chart.js';
import { PALETTE } from '../chart.js';
import { choice, NO_DATA, type Panel, type PanelContext, type Section } from '../panel.js';
import { display, figure, WITHHELD, type Cell, type TableData } from '../table.js';

const groupOf = (r: ReportRow, by: string) =>
  by === 'rule'
    ? `${r.group.ruleSet ?? '?'}/${r.group.rule ?? '?'}`
    : by === 'version'
      ? `${r.group.ruleSet ?? '?'}@${r.group.version ?? '?'}`
      : (r.group.service ?? '');

const pct = (v: Cell) => (typeof v === 'number' ? Math.round(v * 1000) / 10 : null);

function completionSection(report: Report, by: string): Section {
  const rows: Cell[][] = report.rows.map((r) => {
    const s = r.suppressed;
    const c = r.completion;
    return [
      groupOf(r, by),
      figure(r.cardsServed, 'cardsServed', s),
      figure(r.acceptance.rate, 'acceptance', s),
      figure(r.acceptance.low, 'acceptance', s),
      figure(r.acceptance.high, 'acceptance', s),
      figure(c.cardsMeasured, 'completion.cardsMeasured', s),
      figure(c.cardsDecided, 'completion.cardsDecided', s),
      figure(c.completed, 'completion.completed', s),
      figure(c.notCompleted, 'completion.notCompleted', s),
      figure(c.open, 'completion.open', s),
      figure(c.completion.rate, 'completion.completion', s),
      figure(c.completion.low, 'completion.completion', s),
      figure(c.completion.high, 'completion.completion', s),
      figure(c.notCompletedWithoutEvidence, 'completion.notCompletedWithoutEvidence', s),
      figure(c.timeToCompletionSeconds.median, 'completion.timeToCompletionSeconds', s),
      figure(c.timeToCompletionSeconds.p90, 'completion.timeToCompletionSeconds', s),
      figure(c.byFeedback.accepted.notCompleted, 'completion.byFeedback', s),
      figure(c.byFeedback.overridden.completed, 'completion.byFeedback', s),
    ];
  });
  const table: TableData = {
    columns: [
      { label: by === 'rule' ? 'Rule' : by === 'version' ? 'Version' : 'Service', kind: 'text' },
      { label: 'Cards', kind: 'count' },
      { label: 'Acceptance', kind: 'rate' },
      { label: 'Acceptance low 95 %', kind: 'rate' },
      { label: 'Acceptance high 95 %', kind: 'rate' },
      { label: 'Cards measured', kind: 'count' },
      { label: 'Decided', kind: 'count' },
      { label: 'Completed', kind: 'count' },
      { label: 'Not completed', kind: 'count' },
      { label: 'Open', kind: 'count' },
      { label: 'Completion', kind: 'rate' },
      { label: 'Completion low 95 %', kind: 'rate' },
      { label: 'Completion high 95 %', kind: 'rate' },
      { label: 'Not completed, no evidence', kind: 'count' },
      { label: 'Time to completion, median s', kind: 'number' },
      { label: 'Time to completion, p90 s', kind: 'number' },
      { label: 'Accepted, not done', kind: 'count' },
      { label: 'Overridden, done', kind: 'count' },
    ],
    rows,
  };
  const names = rows.map((r) => display(r[0], 'text'));
  // Error bars: the Wilson interval drawn as a custom series over each bar.
  const interval = (lowAt: number, highAt: number, offset: number) => ({
    type: 'custom',
    name: '95 % interval',
    silent: true,
    itemStyle: { color: PALETTE[7] },
    renderItem: (
      _params: unknown,
      api: {
        value: (i: number) => number;
        coord: (v: number[]) => number[];
        size: (v: number[]) => number[];
        style: () => unknown;
      },
    ) => {
      const x = api.value(0);
      const low = api.coord([x, api.value(1)]);
      const high = api.coord([x, api.value(2)]);
      const shift = api.size([1, 0])[0] * offset;
      return {
        type: 'line',
        shape: { x1: low[0] + shift, y1: low[1], x2: high[0] + shift, y2: high[1] },
        style: { stroke: PALETTE[7], lineWidth: 1.5 },
      };
    },
    data: rows.flatMap((r, i) => {
      const low = pct(r[lowAt]);
      const high = pct(r[highAt]);
      return low === null || high === null ? [] : [[i, low, high]];
    }),
  });
  const option: ChartOption = {
    grid: { left: 48, right: 16, top: 24, bottom: 72 },
    legend: { bottom: 0 },
    xAxis: { type: 'category', data: names, axisLabel: { interval: 0, width: 110, overflow: 'truncate' } },
    yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value} %' } },
    series: [
      { type: 'bar', name: 'Acceptance', data: rows.map((r) => pct(r[2])) },
      { type: 'bar', name: 'Completion', data: rows.map((r) => pct(r[10])) },
      interval(3, 4, -0.2),
      interval(11, 12, 0.2),
    ],
  };
  const measured = report.rows.some((r) => (r.completion.cardsMeasured ?? 1) > 0);
  return {
    id: 'completion',
    title: 'Completion next to acceptance',
    note: measured
      ? 'Completion: cards whose suggested order or action was then done ÷ decided cards (done, or window closed); ' +
        'acceptance: accepted ÷ cards with an outcome. Both with Wilson 95 % intervals.'
      : 'No card with a matchable suggestion (a coded create, a delete of a draft) for these filters: ' +
        'completion is measured once such cards are served and later calls of the patient are recorded.',
    // Nothing to draw when every rate is withheld or missing: the table says which.
    ...(rows.some((r) => pct(r[2]) !== null || pct(r[10]) !== null)
      ? { chart: { label: `Acceptance and completion per ${by}, with 95 % intervals`, option } }
      : {}),
    table,
  };
}

// A service's own signals (errors, 412, latency) carry their name as the rule too: said once.
const describeAlert = (a: Alert) =>
  `${a.signal} of ${a.service}${a.ruleSet ? ` ${a.ruleSet}@${a.version} ${a.rule}` : ''}: ` +
  `${a.direction === 'up' ? 'rose' : 'fell'} from ${display(a.before.rate, 'rate')} to ${display(a.after.rate, 'rate')}`;

function acknowledgeForms(ctx: PanelContext, alerts: Alert[]): HTMLElement {
  const list = document.createElement('ul');
  list.className = 'alarms';
  for (const a of alerts.filter((x) => x.status === 'open')) {
    const li = document.createElement('li');
    const form = document.createElement('form');
    form.dataset.alarm = a.id;
    form.className = 'controls';
    const what = document.createElement('span');
    what.textContent = describeAlert(a);
    const note = document.createElement('label');
    note.textContent = 'Note ';
    const input = Object.assign(document.createElement('input'), { type: 'text', name: 'note', maxLength: 2000 });
    note.append(input);
    const button = Object.assign(document.createElement('button'), { type: 'submit', textContent: 'Acknowledge' });
    button.setAttribute('aria-label', `Acknowledge: ${describeAlert(a)}`);
    const status = document.createElement('span');
    status.setAttribute('role', 'status');
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      button.disabled = true;
      status.textContent = 'Acknowledging…';
      const body = input.value.trim() ? { note: input.value.trim() } : undefined;
      ctx.api
        .post<Alert & { alreadyAcknowledged: boolean }>(`/uptake/alerts/${encodeURIComponent(a.id)}/acknowledge`, body)
        .then((done) => {
          ctx.setLocal(
            'message',
            `${done.alreadyAcknowledged ? 'Already acknowledged' : 'Acknowledged'}: ${describeAlert(done)}. ` +
              'The detector now learns the new level.',
          );
        })
        .catch((err: unknown) => {
          button.disabled = false;
          status.setAttribute('role', 'alert');
          status.textContent = `Not acknowledged: ${err instanceof Error ? err.message : String(err)}`;
        });
    });
    form.append(what, note, button, status);
    li.append(form);
    list.append(li);
  }
  return list;
}

function alarmSection(ctx: PanelContext, list: AlertList): Section {
  // Open alarms first, newest first within each.
  const alerts = [...list.alerts].sort(
    (a, b) => (a.status === b.status ? 0 : a.status === 'open' ? -1 : 1) || b.raisedAt.localeCompare(a.raisedAt),
  );
  const table: TableData = {
    columns: [
      { label: 'Raised', kind: 'text' },
      { label: 'Status', kind: 'text' },
      { label: 'Signal', kind: 'text' },
      { label: 'Service', kind: 'text' },
      { label: 'Version', kind: 'text' },
      { label: 'Rule', kind: 'text' },
      { label: 'Direction', kind: 'text' },
      { label: 'Before', kind: 'rate' },
      { label: 'Calls before', kind: 'count' },
      { label: 'After', kind: 'rate' },
      { label: 'Calls after', kind: 'count' },
      { label: 'Change started', kind: 'text' },
      { label: 'Method', kind: 'text' },
      { label: 'Acknowledged', kind: 'text' },
      { label: 'Acknowledged by', kind: 'text' },
      { label: 'Note', kind: 'text' },
    ],
    rows: alerts.map((a) => [
      a.raisedAt.slice(0, 16).replace('T', ' '),
      a.status,
      a.signal,
      a.service,
      a.ruleSet ? `${a.ruleSet}@${a.version}` : '',
      a.rule,
      a.direction,
      a.before.rate,
      a.before.calls,
      a.after.rate,
      a.after.calls,
      a.changeStartedAt ? a.changeStartedAt.slice(0, 16).replace('T', ' ') : null,
      a.method,
      a.acknowledged ? a.acknowledged.at.slice(0, 16).replace('T', ' ') : null,
      a.acknowledged?.by ?? null,
      a.acknowledged?.note ?? null,
    ]),
  };
  const open = alerts.filter((a) => a.status === 'open').length;
  const scanned = list.scannedThrough
    ? ` Calls read through ${list.scannedThrough.slice(0, 16).replace('T', ' ')}.`
    : '';
  return {
    id: 'alarms',
    title: `Drift alarms: ${open} open`,
    note:
      alerts.length === 0
        ? `No drift alarm for these filters (period and service only).${scanned} ` +
          `The detectors are learning ${list.detectors.learning}, watching ${list.detectors.monitoring}.`
        : `Rates per call, before the change and from its estimated start to the alarm; filtered by period and ` +
          `service only.${scanned} Acknowledging an alarm says it was looked at; its detector then learns the new level.`,
    table,
    extra: acknowledgeForms(ctx, alerts),
  };
}

function positionText(m: UnitMeasure): string | null {
  if (m.position === null) return null;
  if (m.position === 'within') return 'within';
  return m.position === 'outside-99.8' ? `outlier, ${m.direction ?? ''}` : `flagged, ${m.direction ?? ''}`;
}

function funnelSection(v: VariationReport, measure: 'acceptance' | 'completion'): Section {
  const trialsLabel = measure === 'acceptance' ? 'Cards with feedback' : 'Decided cards';
  const successLabel = measure === 'acceptance' ? 'Accepted' : 'Completed';
  const overall = v.overall[measure];
  const p = overall.rate.rate;
  const withheldIf = (value: number | null | undefined, withheld: boolean): Cell =>
    value === null || value === undefined ? (withheld ? WITHHELD : null) : value;
  const overallWithheld = v.overall.cards === null;
  const rows: Cell[][] = v.units.map((u) => {
    const m = u[measure];
    return [
      u.unit,
      u.cards,
      m.successes,
      m.trials,
      m.rate.rate,
      m.rate.low,
      m.rate.high,
      m.limits?.low998 ?? null,
      m.limits?.high998 ?? null,
      positionText(m),
    ];
  });
  const pool = v.pooled;
  if (pool.withheld || (pool.cards ?? 0) > 0)
    rows.push([
      pool.withheld
        ? `pooled (fewer than ${v.minCell} cards each)`
        : `pooled: ${pool.units ?? 0} units under ${v.minCell} cards, and cards naming none`,
      withheldIf(pool.cards, pool.withheld),
      withheldIf(pool[measure].successes, pool.withheld),
      withheldIf(pool[measure].trials, pool.withheld),
      withheldIf(pool[measure].rate.rate, pool.withheld),
      withheldIf(pool[measure].rate.low, pool.withheld),
      withheldIf(pool[measure].rate.high, pool.withheld),
      null,
      null,
      'not compared',
    ]);
  rows.push([
    'overall',
    withheldIf(v.overall.cards, overallWithheld),
    withheldIf(overall.successes, overallWithheld),
    withheldIf(overall.trials, overallWithheld),
    withheldIf(p, overallWithheld),
    withheldIf(overall.rate.low, overallWithheld),
    withheldIf(overall.rate.high, overallWithheld),
    null,
    null,
    'centre line',
  ]);
  const table: TableData = {
    columns: [
      { label: v.query.by === 'site' ? 'Site' : 'Clinician (pseudonym)', kind: 'text' },
      { label: 'Cards', kind: 'count' },
      { label: successLabel, kind: 'count' },
      { label: trialsLabel, kind: 'count' },
      { label: 'Rate', kind: 'rate' },
      { label: 'Rate low 95 %', kind: 'rate' },
      { label: 'Rate high 95 %', kind: 'rate' },
      { label: 'Limit low 99.8 %', kind: 'rate' },
      { label: 'Limit high 99.8 %', kind: 'rate' },
      { label: 'Position', kind: 'text' },
    ],
    rows,
  };
  const outliers = v.outliers.filter((o) => o.measure === measure);
  const points = v.units.filter((u) => (u[measure].trials ?? 0) > 0);
  const point = (position: string) =>
    points
      .filter((u) => u[measure].position === position)
      .map((u) => ({ value: [u[measure].trials, pct(u[measure].rate.rate)], name: u.unit }));
  const section: Section = {
    id: 'funnel',
    title: `Variation between ${v.query.by === 'site' ? 'sites' : 'clinicians'}: ${measure}`,
    note: overallWithheld
      ? `Withheld: these filters hold fewer than ${v.minCell} cards, so no unit is shown.`
      : `${v.units.length} ${v.query.by === 'site' ? 'sites' : 'clinicians'} against the overall rate ` +
        `${display(p, 'rate')} with funnel limits at 95 % and 99.8 %. ` +
        (outliers.length === 0
          ? 'No outlier outside the 99.8 % limits.'
          : `Outliers outside the 99.8 % limits: ${outliers
              .map((o) => `${o.unit} (${o.direction}, ${display(o.rate, 'rate')} of ${o.trials})`)
              .join('; ')}.`) +
        ` Units with fewer than ${v.minCell} cards are pooled, never listed.`,
    table,
  };
  if (p === null || points.length === 0) return section;
  // The funnel: p ± z·√(p(1−p)/n) over the range of the units' n, clipped to [0, 100] %.
  const ns = points.map((u) => u[measure].trials!);
  const lo = Math.max(1, Math.floor(Math.min(...ns) / 2));
  const hi = Math.ceil(Math.max(...ns) * 1.25);
  const steps = 60;
  const grid = [...new Set(Array.from({ length: steps + 1 }, (_, i) => Math.round(lo * (hi / lo) ** (i / steps))))];
  const limit = (z: number) => (n: number) => {
    const se = Math.sqrt((p * (1 - p)) / n);
    return [Math.round(Math.max(0, p - z * se) * 1000) / 10, Math.round(Math.min(1, p + z * se) * 1000) / 10];
  };
  const line = (name: string, z: number, side: 0 | 1, color: string, type: 'dashed' | 'dotted' | 'solid') => ({
    type: 'line',
    name,
    showSymbol: false,
    silent: true,
    lineStyle: { color, type, width: 1.5 },
    itemStyle: { color },
    data: grid.map((n) => [n, z === 0 ? Math.round(p * 1000) / 10 : limit(z)(n)[side]]),
  });
  section.chart = {
    label: `Funnel plot of ${measure} per ${v.query.by}: rate against ${trialsLabel.toLowerCase()}, outliers marked`,
    option: {
      grid: { left: 48, right: 16, top: 24, bottom: 72 },
      // One scrolling line of legend: on a phone it does not wrap over the axis.
      legend: { bottom: 0, type: 'scroll' },
      xAxis: { type: 'value', name: trialsLabel.toLowerCase(), nameLocation: 'middle', nameGap: 24, min: lo, max: hi },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value} %' } },
      series: [
        line('Overall rate', 0, 0, PALETTE[7], 'solid'),
        line('95 % limits', v.method.z95, 0, PALETTE[2], 'dashed'),
        line('95 % limits', v.method.z95, 1, PALETTE[2], 'dashed'),
        line('99.8 % limits', v.method.z998, 0, PALETTE[3], 'dotted'),
        line('99.8 % limits', v.method.z998, 1, PALETTE[3], 'dotted'),
        {
          type: 'scatter',
          name: 'Within',
          symbol: 'circle',
          symbolSize: 8,
          itemStyle: { color: PALETTE[0] },
          data: point('within'),
        },
        {
          type: 'scatter',
          name: 'Flagged (outside 95 %)',
          symbol: 'triangle',
          symbolSize: 11,
          itemStyle: { color: PALETTE[1] },
          data: point('outside-95'),
        },
        {
          type: 'scatter',
          name: 'Outlier (outside 99.8 %)',
          symbol: 'diamond',
          symbolSize: 14,
          itemStyle: { color: PALETTE[5] },
          label: { show: true, position: 'right', formatter: (x: { name: string }) => x.name.slice(0, 12) },
          data: point('outside-99.8'),
        },
      ],
    },
  };
  return section;
}

export const completion: Panel = {
  id: 'completion',
  title: 'Completion, drift, variation',
  // The client filter applies to completion only: alarms and the variation report do not take it.
  filters: ['from', 'to', 'service', 'ruleSet', 'version', 'client'],
  async load(ctx) {
    const { api, filters, local } = ctx;
    const { client, ...rest } = filters;
    const groupBy = ['service', 'version', 'rule'].includes(local.groupBy) ? local.groupBy : 'service';
    const by = local.by === 'site' ? 'site' : 'clinician';
    const measure = local.measure === 'completion' ? 'completion' : 'acceptance';
    const status = ['open', 'acknowledged'].includes(local.status) ? local.status : 'all';
    const [report, alerts, variation] = await Promise.all([
      api.get<Report>('/uptake/report', { ...filters, groupBy }),
      api.get<AlertList>('/uptake/alerts', { from: filters.from, to: filters.to, service: filters.service, status }),
      api.get<VariationReport>('/uptake/variation', { ...rest, by }),
    ]);
    const message = local.message;
    delete local.message;
    const controls = [
      choice(
        ctx,
        'groupBy',
        'Completion per',
        [
          { value: 'service', label: 'service' },
          { value: 'version', label: 'version' },
          { value: 'rule', label: 'rule' },
        ],
        groupBy,
      ),
      choice(
        ctx,
        'status',
        'Alarms',
        [
          { value: 'all', label: 'open and acknowledged' },
          { value: 'open', label: 'open' },
          { value: 'acknowledged', label: 'acknowledged' },
        ],
        status,
      ),
      choice(
        ctx,
        'by',
        'Compare',
        [
          { value: 'clinician', label: 'clinicians' },
          { value: 'site', label: 'sites' },
        ],
        by,
      ),
      choice(
        ctx,
        'measure',
        'Funnel of',
        [
          { value: 'acceptance', label: 'acceptance' },
          { value: 'completion', label: 'completion' },
        ],
        measure,
      ),
    ];
    const notes: string[] = [];
    if (client)
      notes.push(
        `The client filter (${client}) applies to completion only; the alarms and the funnel cover every client.`,
      );
    if (report.rows.length === 0 && alerts.alerts.length === 0)
      return { minCell: report.minCell, sections: [], empty: NO_DATA, controls, notes, announce: message };
    return {
      minCell: report.minCell,
      controls,
      notes,
      announce: message,
      sections: [
        ...(report.rows.length > 0 ? [completionSection(report, groupBy)] : []),
        alarmSection(ctx, alerts),
        funnelSection(variation, measure),
      ],
    };
  },
};
