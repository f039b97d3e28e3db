// Why overridden: a rule's override reasons as a Pareto chart (counts, largest first, with the
// cumulative share); the clinicians' comments only on request, since free text may identify people.
import type { Report, ReportRow } from '../../../../src/uptake/report.js';
import { choice, NO_DATA, type Panel, type PanelContext } from '../panel.js';
import { display, isWithheld, WITHHELD, type Cell, type TableData } from '../table.js';

const ruleOf = (r: ReportRow) => `${r.group.ruleSet ?? '?'}/${r.group.rule ?? '?'}`;

function commentsBlock(ctx: PanelContext, rule: ReportRow): HTMLElement {
  const block = document.createElement('div');
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'Show comments';
  button.setAttribute('aria-expanded', 'false');
  const note = document.createElement('p');
  note.className = 'note';
  note.textContent = 'Comments are free text clinicians typed when overriding; they may name people.';
  const list = document.createElement('ul');
  list.className = 'comments';
  list.setAttribute('aria-live', 'polite');
  button.addEventListener('click', () => {
    if (button.getAttribute('aria-expanded') === 'true') {
      list.replaceChildren();
      button.textContent = 'Show comments';
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    void (async () => {
      const report = await ctx.api.get<Report>('/uptake/report', {
        ...ctx.filters,
        ruleSet: rule.group.ruleSet,
        rule: rule.group.rule,
        groupBy: 'rule',
        comments: 'true',
      });
      const comments = report.rows.find((r) => ruleOf(r) === ruleOf(rule))?.userComments ?? [];
      list.replaceChildren(
        ...(comments.length > 0 ? comments : ['No comments for this rule.']).map((c) => {
          const li = document.createElement('li');
          li.textContent = c;
          return li;
        }),
      );
      button.textContent = 'Hide comments';
      button.setAttribute('aria-expanded', 'true');
    })();
  });
  block.append(note, button, list);
  return block;
}

export const overrides: Panel = {
  id: 'overrides',
  title: 'Why overridden',
  filters: ['from', 'to', 'service', 'ruleSet', 'version', 'client'],
  async load(ctx) {
    const report = await ctx.api.get<Report>('/uptake/report', { ...ctx.filters, groupBy: 'rule' });
    const rules = report.rows.filter((r) => r.overrideReasons.length > 0 || (r.overridden ?? 0) > 0);
    if (report.rows.length === 0) return { minCell: report.minCell, sections: [], empty: NO_DATA };
    if (rules.length === 0)
      return {
        minCell: report.minCell,
        sections: [],
        empty: 'No card has been overridden for these filters: nothing to explain yet.',
      };
    // The rule with the most overrides first.
    rules.sort((a, b) => (b.overridden ?? 0) - (a.overridden ?? 0) || ruleOf(a).localeCompare(ruleOf(b)));
    const chosen = rules.find((r) => ruleOf(r) === ctx.local.rule) ?? rules[0];
    const controls = [
      choice(
        ctx,
        'rule',
        'Rule',
        rules.map((r) => ({ value: ruleOf(r), label: ruleOf(r) })),
        ruleOf(chosen),
      ),
    ];
    const reasons = chosen.overrideReasons;
    const withheld = reasons.some((r) => r.count === null);
    let cumulative = 0;
    const rows: Cell[][] = reasons.map((r) => {
      cumulative += r.share ?? 0;
      const name = r.display ?? r.code ?? '(no coded reason)';
      return [
        name + (r.clientAdded ? ' (client-added)' : ''),
        r.code,
        r.system,
        r.count ?? WITHHELD,
        r.share ?? WITHHELD,
        withheld ? WITHHELD : Math.round(cumulative * 10_000) / 10_000,
      ];
    });
    const table: TableData = {
      columns: [
        { label: 'Reason', kind: 'text' },
        { label: 'Code', kind: 'text' },
        { label: 'System', kind: 'text' },
        { label: 'Overrides', kind: 'count' },
        { label: 'Share', kind: 'rate' },
        { label: 'Cumulative share', kind: 'rate' },
      ],
      rows,
    };
    const names = rows.map((r) => display(r[0], 'text'));
    return {
      minCell: report.minCell,
      controls,
      sections: [
        {
          id: 'pareto',
          title: `Override reasons of ${ruleOf(chosen)}`,
          note: withheld
            ? `The counts are withheld: some rest on fewer than ${report.minCell} overrides.`
            : `${chosen.overridden ?? 0} overrides; reasons largest first, the line is the cumulative share.`,
          ...(withheld
            ? {}
            : {
                chart: {
                  label: `Pareto chart of the override reasons of ${ruleOf(chosen)}`,
                  option: {
                    grid: { left: 48, right: 56, top: 24, bottom: 72 },
                    legend: { bottom: 0 },
                    xAxis: {
                      type: 'category',
                      data: names,
                      axisLabel: { interval: 0, width: 110, overflow: 'truncate' },
                    },
                    yAxis: [
                      { type: 'value', name: 'overrides', minInterval: 1 },
                      { type: 'value', name: 'cumulative', min: 0, max: 100, axisLabel: { formatter: '{value} %' } },
                    ],
                    series: [
                      { type: 'bar', name: 'Overrides', data: rows.map((r) => (isWithheld(r[3]) ? null : r[3])) },
                      {
                        type: 'line',
                        name: 'Cumulative share',
                        yAxisIndex: 1,
                        symbol: 'diamond',
                        symbolSize: 9,
                        data: rows.map((r) => (typeof r[5] === 'number' ? Math.round(r[5] * 1000) / 10 : null)),
                      },
                    ],
                  },
                },
              }),
          table,
          extra: commentsBlock(ctx, chosen),
        },
      ],
    };
  },
};
