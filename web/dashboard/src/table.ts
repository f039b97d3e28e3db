// A panel's figures as a table: shown under a chart (behind a toggle) or on its own, sortable by
// any column, and downloaded as CSV with exactly its rows and columns.

/** A figure withheld by small-cell suppression: shown as "withheld", never as zero. */
export interface Withheld {
  withheld: true;
}
export const WITHHELD: Withheld = { withheld: true };
export type Cell = string | number | null | Withheld;

export type ColumnKind = 'text' | 'count' | 'rate' | 'number';

export interface Column {
  label: string;
  kind: ColumnKind;
}

export interface TableData {
  columns: Column[];
  rows: Cell[][];
}

export const isWithheld = (c: Cell): c is Withheld => typeof c === 'object' && c !== null;

/** The value of a figure, or WITHHELD when the export suppressed it (null and named in `suppressed`). */
export function figure(value: number | null | undefined, name: string, suppressed: string[] | undefined): Cell {
  if ((value === null || value === undefined) && suppressed?.includes(name)) return WITHHELD;
  return value ?? null;
}

const counts = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const decimals = new Intl.NumberFormat('en', { maximumFractionDigits: 2, minimumFractionDigits: 0 });

export function display(cell: Cell, kind: ColumnKind): string {
  if (isWithheld(cell)) return 'withheld';
  if (cell === null) return '—';
  if (typeof cell === 'string') return cell;
  if (kind === 'count') return counts.format(cell);
  if (kind === 'rate') return `${(cell * 100).toFixed(1)} %`;
  return decimals.format(cell);
}

function compare(a: Cell, b: Cell): number {
  const rank = (c: Cell) => (c === null ? 2 : isWithheld(c) ? 1 : 0);
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return display(a, 'text').localeCompare(display(b, 'text'));
}

/** CSV of the table: its labels, then each row; withheld cells say so, missing ones are empty. */
export function tableToCsv(table: TableData): string {
  const cell = (c: Cell): string => {
    const text = isWithheld(c) ? 'withheld' : c === null ? '' : String(c);
    const safe = typeof c === 'string' && /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return [table.columns.map((c) => c.label), ...table.rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

export function downloadCsv(table: TableData, fileName: string): void {
  const url = URL.createObjectURL(new Blob([tableToCsv(table)], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A sortable <table>: each header is a button; aria-sort says the order. */
export function renderTable(table: TableData, caption: string, minCell: number): HTMLElement {
  const wrap = document.createElement('div');
  wrap.className = 'table-wrap';
  const el = document.createElement('table');
  const cap = document.createElement('caption');
  cap.className = 'note';
  cap.textContent = caption;
  el.append(cap);
  const head = el.createTHead().insertRow();
  const body = el.createTBody();
  let order: { column: number; dir: 1 | -1 } | undefined;
  const fill = () => {
    body.replaceChildren();
    const rows = [...table.rows];
    if (order) {
      const { column, dir } = order;
      rows.sort((a, b) => dir * compare(a[column], b[column]));
    }
    for (const row of rows) {
      const tr = body.insertRow();
      row.forEach((c, i) => {
        const td = tr.insertCell();
        const kind = table.columns[i].kind;
        if (kind === 'text') td.className = 'text';
        td.textContent = display(c, kind);
        if (isWithheld(c)) {
          td.classList.add('withheld');
          td.title = `Withheld: fewer than ${minCell} cards or calls`;
        }
      });
    }
  };
  table.columns.forEach((c, i) => {
    const th = document.createElement('th');
    th.scope = 'col';
    if (c.kind === 'text') th.className = 'text';
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = c.label;
    button.addEventListener('click', () => {
      order = { column: i, dir: order?.column === i && order.dir === 1 ? -1 : 1 };
      head.querySelectorAll('th').forEach((h) => h.removeAttribute('aria-sort'));
      th.setAttribute('aria-sort', order.dir === 1 ? 'ascending' : 'descending');
      fill();
    });
    th.append(button);
    head.append(th);
  });
  fill();
  wrap.append(el);
  return wrap;
}
