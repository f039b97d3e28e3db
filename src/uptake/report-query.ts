// What a report asks for: filters and grouping, validated the same way for the CLI and HTTP.
import { parameterReader } from './query-parameters.js';

export const GROUP_KEYS = ['service', 'ruleSet', 'version', 'rule', 'indicator', 'day', 'week'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];
export const INDICATORS = ['info', 'warning', 'critical'] as const;

export interface ReportQuery {
  /** Cards served (and invocations started) at or after this instant. */
  from?: Date;
  /** ... and before this instant. */
  to?: Date;
  service?: string;
  ruleSet?: string;
  version?: string;
  rule?: string;
  indicator?: string;
  /** The calling client's `iss`. */
  client?: string;
  groupBy: GroupKey[];
  /** Adds override comments (free text that may hold PHI) to each group. */
  includeComments?: boolean;
}

export const REPORT_PARAMETERS = [
  'from',
  'to',
  'service',
  'ruleSet',
  'version',
  'rule',
  'indicator',
  'client',
  'groupBy',
  'comments',
];

/** Raw options as strings (query string or command line) → a query, or a 400 naming every problem. */
export function parseReportQuery(raw: Record<string, unknown>): ReportQuery {
  const read = parameterReader(raw);
  const { problem, text: str } = read;
  for (const field of Object.keys(raw)) {
    if (!REPORT_PARAMETERS.includes(field))
      problem(field, `is not a report parameter (use ${REPORT_PARAMETERS.join(', ')})`);
  }
  const query: ReportQuery = { groupBy: [], ...read.period() };
  for (const field of ['service', 'ruleSet', 'version', 'rule', 'client'] as const) {
    const value = str(field);
    if (value !== undefined) query[field] = value;
  }
  const indicator = str('indicator');
  if (indicator !== undefined) {
    if ((INDICATORS as readonly string[]).includes(indicator)) query.indicator = indicator;
    else problem('indicator', `'${indicator}' must be one of ${INDICATORS.join(', ')}`);
  }
  const groupBy = str('groupBy');
  if (groupBy !== undefined) {
    for (const key of groupBy
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (!(GROUP_KEYS as readonly string[]).includes(key))
        problem('groupBy', `'${key}' is not one of ${GROUP_KEYS.join(', ')}`);
      else if (!query.groupBy.includes(key as GroupKey)) query.groupBy.push(key as GroupKey);
    }
    if (query.groupBy.includes('day') && query.groupBy.includes('week'))
      problem('groupBy', 'day and week cannot both be used');
  }
  const comments = str('comments');
  if (comments !== undefined) {
    if (comments === 'true') query.includeComments = true;
    else if (comments !== 'false') problem('comments', 'must be true or false');
  }
  read.done();
  return query;
}
