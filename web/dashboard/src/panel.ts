// What a panel is: a module that reads the JSON endpoints for the filters and answers sections
// (a chart and its table, or a table), which the page draws the same way for every panel.
import type { Api } from './api.js';
import type { ChartOption } from './chart.js';
import type { TableData } from './table.js';

export const FILTER_KEYS = ['from', 'to', 'service', 'ruleSet', 'version', 'client'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type Filters = Partial<Record<FilterKey, string>>;

export interface Section {
  /** Stable name: the section's element id and its CSV file name. */
  id: string;
  title: string;
  note?: string;
  chart?: { option: ChartOption; label: string };
  table: TableData;
  /** More of the section below the table (e.g. comments shown on request). */
  extra?: HTMLElement;
}

export interface PanelResult {
  /** Small-cell threshold of the answers (k): withheld cells rest on fewer. */
  minCell: number;
  sections: Section[];
  /** What to do when there are no data yet: set instead of sections. */
  empty?: string;
  /** The panel's own choices (granularity, rule), drawn above its sections. */
  controls?: HTMLElement[];
  notes?: string[];
  /** The outcome of what the user just did (e.g. an alarm acknowledged): announced, and focused. */
  announce?: string;
}

export interface PanelContext {
  api: Api;
  filters: Filters;
  /** The panel's own choices, kept while the page is open. */
  local: Record<string, string>;
  /** Changes one of them and draws the panel again. */
  setLocal: (key: string, value: string) => void;
}

export interface Panel {
  id: string;
  title: string;
  /** The filters its endpoints take; the others are shown as not applying. */
  filters: readonly FilterKey[];
  load(ctx: PanelContext): Promise<PanelResult>;
}

export const NO_DATA =
  'No uptake recorded yet for these filters. Widen the period or clear a filter; on a new server, connect an EHR ' +
  'or run the simulated clinic (npm run simulate) and the figures appear here.';

/** A labelled <select> for a panel's own choice. */
export function choice(
  ctx: PanelContext,
  key: string,
  label: string,
  options: Array<{ value: string; label: string }>,
  value: string,
): HTMLElement {
  const wrap = document.createElement('label');
  wrap.textContent = `${label} `;
  const select = document.createElement('select');
  select.name = key;
  for (const o of options) select.add(new Option(o.label, o.value, false, o.value === value));
  select.addEventListener('change', () => ctx.setLocal(key, select.value));
  wrap.append(select);
  return wrap;
}
