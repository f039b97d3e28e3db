// The quality dashboard: sign-in with an admin key of the `quality` role, the filter bar, one tab per
// panel (panels/index.ts), and each panel's sections drawn as a chart with its table, or a table.
import type { Report } from '../../../src/uptake/report.js';
import { ApiError, createApi, forgetKey, storedKey, storeKey, type Api } from './api.js';
import { disposeCharts, drawChart, resizeCharts } from './chart.js';
import { FILTER_KEYS, type FilterKey, type Filters, type Panel, type PanelResult, type Section } from './panel.js';
import { PANELS } from './panels/index.js';
import { downloadCsv, renderTable } from './table.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const FILTER_LABELS: Record<FilterKey, string> = {
  from: 'From',
  to: 'To',
  service: 'Service',
  ruleSet: 'Rule set',
  version: 'Version',
  client: 'Client',
};

interface State {
  api: Api;
  filters: Filters;
  panel: Panel;
  local: Record<string, Record<string, string>>;
  /** Bumped on every draw: an answer for an older draw is dropped. */
  generation: number;
}

let state: State | undefined;

function signInMessage(err: unknown): string {
  if (err instanceof ApiError && err.status === 401)
    return 'That key was refused (401): it is not one of the keys in CDS_ADMIN_KEYS.';
  if (err instanceof ApiError && err.status === 403)
    return 'That key does not hold the quality role (403): ask for a key of role quality.';
  if (err instanceof ApiError && err.status === 404)
    return 'This server keeps no uptake ledger, so there is nothing to show.';
  return `The server could not be reached: ${err instanceof Error ? err.message : String(err)}`;
}

async function signIn(key: string): Promise<void> {
  const api = createApi(key);
  // The choices of the filter bar, and the check that the key is good.
  const report = await api.get<Report>('/uptake/report', { groupBy: 'service,version' });
  storeKey(key);
  $('sign-in').hidden = true;
  $('board').hidden = false;
  $('sign-out').hidden = false;
  const fromHash = PANELS.find((p) => `#${p.id}` === location.hash);
  state = { api, filters: {}, panel: fromHash ?? PANELS[0], local: {}, generation: 0 };
  buildFilters(report);
  buildTabs();
  await drawPanel();
}

function signOut(message = ''): void {
  forgetKey();
  disposeCharts();
  state = undefined;
  $('board').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = message;
  $<HTMLInputElement>('key').value = '';
  $('key').focus();
}

function select(name: FilterKey, values: string[]): HTMLSelectElement {
  const el = document.createElement('select');
  el.name = name;
  el.add(new Option('all', ''));
  for (const v of [...new Set(values)].filter(Boolean).sort()) el.add(new Option(v, v));
  return el;
}

function buildFilters(report: Report): void {
  const form = $<HTMLFormElement>('filters');
  form.replaceChildren();
  const rows = report.rows;
  const controls: Record<FilterKey, HTMLInputElement | HTMLSelectElement> = {
    from: Object.assign(document.createElement('input'), { type: 'date', name: 'from' }),
    to: Object.assign(document.createElement('input'), { type: 'date', name: 'to' }),
    service: select(
      'service',
      rows.map((r) => r.group.service ?? ''),
    ),
    ruleSet: select(
      'ruleSet',
      rows.map((r) => r.group.ruleSet ?? ''),
    ),
    version: select(
      'version',
      rows.map((r) => r.group.version ?? ''),
    ),
    client: select(
      'client',
      rows.flatMap((r) => r.coverageByClient.map((c) => c.iss ?? '')),
    ),
  };
  for (const key of FILTER_KEYS) {
    const label = document.createElement('label');
    label.append(FILTER_LABELS[key], controls[key]);
    form.append(label);
  }
  const apply = Object.assign(document.createElement('button'), { type: 'submit', textContent: 'Apply filters' });
  const clear = Object.assign(document.createElement('button'), { type: 'reset', textContent: 'Clear' });
  const unused = Object.assign(document.createElement('p'), { id: 'filters-unused', className: 'note' });
  form.append(apply, clear, unused);
  const read = () => {
    const filters: Filters = {};
    for (const key of FILTER_KEYS) if (controls[key].value) filters[key] = controls[key].value;
    return filters;
  };
  form.onsubmit = (ev) => {
    ev.preventDefault();
    if (!state) return;
    state.filters = read();
    void drawPanel();
  };
  form.onreset = () => {
    if (!state) return;
    state.filters = {};
    setTimeout(() => void drawPanel());
  };
}

function buildTabs(): void {
  const nav = $('tabs');
  nav.replaceChildren();
  const tabs = PANELS.map((p) => {
    const tab = document.createElement('button');
    tab.type = 'button';
    tab.id = `tab-${p.id}`;
    tab.setAttribute('role', 'tab');
    tab.setAttribute('aria-controls', 'panel');
    tab.textContent = p.title;
    tab.addEventListener('click', () => choose(p));
    nav.append(tab);
    return tab;
  });
  // Arrow keys, Home and End move between tabs (the WAI-ARIA tabs pattern).
  nav.onkeydown = (ev) => {
    const i = tabs.findIndex((t) => t === document.activeElement);
    if (i < 0) return;
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    const j = (next + tabs.length) % tabs.length;
    tabs[j].focus();
    choose(PANELS[j]);
  };
  markTabs();
}

function markTabs(): void {
  for (const p of PANELS) {
    const tab = $(`tab-${p.id}`);
    const selected = p === state?.panel;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  if (state) $('panel').setAttribute('aria-labelledby', `tab-${state.panel.id}`);
}

function choose(panel: Panel): void {
  if (!state || state.panel === panel) return;
  state.panel = panel;
  history.replaceState(null, '', `#${panel.id}`);
  markTabs();
  void drawPanel();
}

async function drawPanel(): Promise<void> {
  if (!state) return;
  const s = state;
  const generation = ++s.generation;
  const { panel } = s;
  const root = $('panel');
  root.setAttribute('aria-busy', 'true');
  // The panel keeps its height until the new answer is drawn: what is below it does not jump up and back.
  root.style.minHeight = `${root.offsetHeight}px`;
  const ignored = FILTER_KEYS.filter((k) => s.filters[k] && !panel.filters.includes(k));
  $('filters-unused').textContent =
    ignored.length > 0 ? `Not used by ${panel.title}: ${ignored.map((k) => FILTER_LABELS[k]).join(', ')}.` : '';
  // The loading placeholder takes the room of a section: the page does not jump when the answer comes.
  const loading = document.createElement('div');
  loading.className = 'loading';
  loading.textContent = 'Loading…';
  const heading = Object.assign(document.createElement('h2'), { textContent: panel.title });
  disposeCharts();
  root.replaceChildren(heading, loading);
  let result: PanelResult;
  try {
    const local = (s.local[panel.id] ??= {});
    result = await panel.load({
      api: s.api,
      filters: s.filters,
      local,
      setLocal: (key, value) => {
        local[key] = value;
        void drawPanel();
      },
    });
  } catch (err) {
    if (generation !== s.generation) return;
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      signOut(signInMessage(err));
      return;
    }
    const error = Object.assign(document.createElement('p'), {
      className: 'error',
      textContent: `This panel could not be read: ${err instanceof Error ? err.message : String(err)}`,
    });
    error.setAttribute('role', 'alert');
    root.replaceChildren(heading, error);
    root.style.minHeight = '';
    root.removeAttribute('aria-busy');
    return;
  }
  if (generation !== s.generation) return;
  const parts: HTMLElement[] = [heading];
  if (result.controls?.length) {
    const controls = Object.assign(document.createElement('div'), { className: 'controls' });
    controls.append(...result.controls);
    parts.push(controls);
  }
  let announce: HTMLElement | undefined;
  if (result.announce) {
    announce = Object.assign(document.createElement('p'), { className: 'announce', textContent: result.announce });
    announce.setAttribute('role', 'status');
    announce.tabIndex = -1;
    parts.push(announce);
  }
  for (const n of result.notes ?? [])
    parts.push(Object.assign(document.createElement('p'), { className: 'note', textContent: n }));
  if (result.minCell > 1)
    parts.push(
      Object.assign(document.createElement('p'), {
        className: 'note',
        textContent: `Figures resting on fewer than ${result.minCell} cards or calls are withheld, never shown as zero.`,
      }),
    );
  const charts: Array<() => void> = [];
  if (result.empty !== undefined) {
    const empty = Object.assign(document.createElement('div'), { className: 'empty' });
    empty.append(Object.assign(document.createElement('p'), { textContent: result.empty }));
    parts.push(empty);
  }
  for (const section of result.sections) parts.push(renderSection(panel, section, result.minCell, charts));
  root.replaceChildren(...parts);
  for (const draw of charts) draw();
  root.style.minHeight = '';
  root.removeAttribute('aria-busy');
  // The control that was used is gone with the redraw: keyboard focus goes to what it did.
  announce?.focus();
}

function renderSection(panel: Panel, section: Section, minCell: number, charts: Array<() => void>): HTMLElement {
  const el = document.createElement('section');
  el.className = 'section';
  el.id = `section-${section.id}`;
  const h = Object.assign(document.createElement('h3'), { id: `${el.id}-title`, textContent: section.title });
  el.setAttribute('aria-labelledby', h.id);
  el.append(h);
  if (section.note)
    el.append(Object.assign(document.createElement('p'), { className: 'note', textContent: section.note }));
  const controls = Object.assign(document.createElement('div'), { className: 'controls' });
  const table = renderTable(
    section.table,
    `${section.title}: the figures${section.chart ? ' of the chart' : ''}`,
    minCell,
  );
  table.id = `${el.id}-table`;
  if (section.chart) {
    const toggle = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Show data table' });
    toggle.setAttribute('aria-expanded', 'false');
    toggle.setAttribute('aria-controls', table.id);
    table.hidden = true;
    toggle.addEventListener('click', () => {
      table.hidden = !table.hidden;
      toggle.setAttribute('aria-expanded', String(!table.hidden));
      toggle.textContent = table.hidden ? 'Show data table' : 'Hide data table';
    });
    controls.append(toggle);
  }
  const csv = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Download CSV' });
  csv.addEventListener('click', () =>
    downloadCsv(section.table, `${panel.id}-${section.id}-${new Date().toISOString().slice(0, 10)}.csv`),
  );
  controls.append(csv);
  el.append(controls);
  if (section.chart) {
    const chart = Object.assign(document.createElement('div'), { className: 'chart' });
    el.append(chart);
    const { option, label } = section.chart;
    charts.push(() => void drawChart(chart, option, label));
  }
  el.append(table);
  if (section.extra) el.append(section.extra);
  return el;
}

function start(): void {
  $('sign-in-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $<HTMLInputElement>('key').value.trim();
    $('sign-in-error').textContent = '';
    signIn(key).catch((err: unknown) => signOut(signInMessage(err)));
  });
  $('sign-out').addEventListener('click', () => signOut());
  window.addEventListener('resize', () => resizeCharts());
  const key = storedKey();
  if (key) signIn(key).catch((err: unknown) => signOut(signInMessage(err)));
}

start();
