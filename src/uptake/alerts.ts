// The drift alarms as GET /uptake/alerts and `cds uptake alerts` give them: self-describing (what was
// watched, the method and its settings, the rates before and after), newest first.
import { parameterReader } from './query-parameters.js';
import type { DriftAlarmTable } from './schema.js';
import type { DetectorState } from './drift.js';
import { CUSUM_H, DROP_FACTOR, REFERENCE_RATE, RISE_FACTOR, SILENCE_ALPHA, MIN_BASELINE_EVENTS } from './drift.js';
import { round } from './report.js';

export interface AlertQuery {
  from?: Date;
  to?: Date;
  service?: string;
  status?: 'open' | 'acknowledged';
}

export const ALERT_PARAMETERS = ['from', 'to', 'service', 'status'] as const;

/** Query string or command-line options → the alerts asked for, or a 400 naming every problem. */
export function parseAlertQuery(raw: Record<string, unknown>): AlertQuery {
  const read = parameterReader(raw);
  read.only(ALERT_PARAMETERS, 'the alerts');
  const query: AlertQuery = { ...read.period() };
  const service = read.text('service');
  if (service !== undefined) query.service = service;
  const status = read.text('status');
  if (status !== undefined) {
    if (status === 'open' || status === 'acknowledged') query.status = status;
    else if (status !== 'all') read.problem('status', `'${status}' must be open, acknowledged or all`);
  }
  read.done();
  return query;
}

export interface Alert {
  id: string;
  /** When the alarm was raised: the start time of the call that crossed the limit. */
  raisedAt: string;
  status: 'open' | 'acknowledged';
  /** firing (a rule, or any card of a version), errors, precondition-failed (412) or latency. */
  signal: string;
  service: string;
  /** Empty for the service's own signals (errors, 412, latency). */
  ruleSet: string;
  version: string;
  /** The rule, or '(any card)', '(errors)', '(412)', '(latency)': the `rule` label of cds_rule_drift_alarm. */
  rule: string;
  direction: 'up' | 'down';
  method: 'bernoulli-cusum' | 'silence-run';
  /** The estimated start of the change: where the statistic that crossed the limit last left zero. */
  changeStartedAt: string | null;
  /** The baseline: its rate per call and how many calls it was learned from (0: declared). */
  before: { rate: number; calls: number };
  /** From the change's estimated start to the alarm. */
  after: { rate: number; calls: number };
  acknowledged: { at: string; by: string | null; note: string | null } | null;
}

export interface AlertList {
  generatedAt: string;
  query: { from?: string; to?: string; service?: string; status?: string };
  /** The start time of the last call the detectors have read; later calls are not yet looked at. */
  scannedThrough: string | null;
  method: {
    name: string;
    cusumThreshold: number;
    cusumThresholdAbove: string;
    riseFactor: number;
    dropFactor: number;
    silenceAlpha: number;
    baselineCalls: number;
    minBaselineEvents: number;
    latencyEvent: string;
    errorEvent: string;
  };
  detectors: Record<DetectorState['phase'], number>;
  alerts: Alert[];
}

export function alertOf(row: DriftAlarmTable): Alert {
  const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
  return {
    id: row.id,
    raisedAt: iso(row.raised_at)!,
    status: row.acknowledged_at === null ? 'open' : 'acknowledged',
    signal: row.signal,
    service: row.service_id,
    ruleSet: row.rule_set,
    version: row.rule_set_version,
    rule: row.rule,
    direction: row.direction as Alert['direction'],
    method: row.method as Alert['method'],
    changeStartedAt: iso(row.change_at),
    before: { rate: round(Number(row.rate_before), 6), calls: Number(row.calls_before) },
    after: { rate: round(Number(row.rate_after), 6), calls: Number(row.calls_after) },
    acknowledged:
      row.acknowledged_at === null
        ? null
        : { at: iso(row.acknowledged_at)!, by: row.acknowledged_by, note: row.acknowledge_note },
  };
}

export function alertList(
  rows: DriftAlarmTable[],
  query: AlertQuery,
  extra: { now: Date; scannedThrough: number | null; baselineCalls: number; detectors: AlertList['detectors'] },
): AlertList {
  return {
    generatedAt: extra.now.toISOString(),
    query: {
      ...(query.from ? { from: query.from.toISOString() } : {}),
      ...(query.to ? { to: query.to.toISOString() } : {}),
      ...(query.service ? { service: query.service } : {}),
      ...(query.status ? { status: query.status } : {}),
    },
    scannedThrough: extra.scannedThrough === null ? null : new Date(extra.scannedThrough).toISOString(),
    method: {
      name: 'two one-sided Bernoulli CUSUMs (rise and drop) and a silence run, per call',
      cusumThreshold: CUSUM_H,
      cusumThresholdAbove: `baseline rates above ${REFERENCE_RATE}: threshold + ln(rate / ${REFERENCE_RATE})`,
      riseFactor: RISE_FACTOR,
      dropFactor: DROP_FACTOR,
      silenceAlpha: SILENCE_ALPHA,
      baselineCalls: extra.baselineCalls,
      minBaselineEvents: Math.min(MIN_BASELINE_EVENTS, Math.ceil(extra.baselineCalls / 40)),
      latencyEvent: "a 200 answered slower than the 95th percentile of the service's baseline calls",
      errorEvent: 'an answer with status 400-599 other than 412; 412 is its own signal; 499 (caller gone) neither',
    },
    detectors: extra.detectors,
    alerts: rows.map(alertOf),
  };
}
