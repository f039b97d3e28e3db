// Reading report parameters (a query string or command-line options, as strings) with every
// problem collected and answered at once as a 400 naming each parameter.
import { isCalendarValue, readCalendar } from '../calendar.js';
import { badRequest, type Issue } from '../errors.js';
import { hasControlCharacter } from '../text.js';

export interface ParameterReader {
  problem: (field: string, diagnostics: string) => void;
  /** The parameter as text, or undefined when absent or empty. */
  text: (field: string) => string | undefined;
  /** A day (UTC) or an instant with its offset; a day given for an end (`endOfDay`) includes that whole day. */
  date: (field: string, endOfDay: boolean) => Date | undefined;
  /** `from` and `to`, the second after the first. */
  period: () => { from?: Date; to?: Date };
  /** Every parameter not in `allowed` is a problem. */
  only: (allowed: readonly string[], what: string) => void;
  /** Throws the 400 when any problem was found. */
  done: () => void;
}

export function parameterReader(raw: Record<string, unknown>): ParameterReader {
  const issues: Issue[] = [];
  const problem = (field: string, diagnostics: string): void => {
    issues.push({ severity: 'error', code: 'invalid', diagnostics: `${field}: ${diagnostics}`, expression: [field] });
  };
  const text = (field: string): string | undefined => {
    const value = raw[field];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') {
      problem(field, 'must be given once, as text');
      return undefined;
    }
    if (value.length > 256) problem(field, 'is longer than 256 characters');
    // No identifier, version or date holds one; PostgreSQL refuses NUL in a query's parameters.
    else if (hasControlCharacter(value)) problem(field, 'must not contain control characters');
    return value;
  };
  const date = (field: string, endOfDay: boolean): Date | undefined => {
    const value = text(field);
    if (value === undefined) return undefined;
    const read = readCalendar(value, { least: 'day', most: 'second' });
    if (!isCalendarValue(read)) {
      problem(
        field,
        `'${value}' must be a date (2026-06-01, UTC) or a date and time with its offset (2026-06-01T12:00:00Z): it ${read.problem}`,
      );
      return undefined;
    }
    const dayOnly = read.precision === 'day';
    const parsed = new Date(read.ms);
    return dayOnly && endOfDay ? new Date(parsed.getTime() + 86_400_000) : parsed;
  };
  return {
    problem,
    text,
    date,
    period: () => {
      const from = date('from', false);
      const to = date('to', true);
      if (from && to && from >= to) problem('to', 'must be after from');
      return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
    },
    only: (allowed, what) => {
      for (const field of Object.keys(raw)) {
        if (!allowed.includes(field))
          problem(field, `is not a parameter of ${what} (use ${allowed.length > 0 ? allowed.join(', ') : 'none'})`);
      }
    },
    done: () => {
      if (issues.length > 0) throw badRequest(issues.map((i) => i.diagnostics).join('; '), { issues });
    },
  };
}

export type ExportFormat = 'json' | 'csv';

export interface AnalysisQuery {
  from?: Date;
  to?: Date;
  format: ExportFormat;
}

export const ANALYSIS_PARAMETERS = ['from', 'to', 'format'] as const;

/** `from`, `to` and `format` (json or csv) of an experiment or shadow report. */
export function parseAnalysisQuery(raw: Record<string, unknown>, what: string): AnalysisQuery {
  const read = parameterReader(raw);
  read.only(ANALYSIS_PARAMETERS, what);
  const period = read.period();
  const format = read.text('format') ?? 'json';
  if (format !== 'json' && format !== 'csv') read.problem('format', `'${format}' must be json or csv`);
  read.done();
  return { ...period, format: format as ExportFormat };
}
