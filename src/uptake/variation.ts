// Variation between clinicians (pseudonymised users) or sites (client iss and tenant) for a chosen service,
// rule set, version or rule: each unit's cards, acceptance and completion against funnel-plot limits around
// the overall rate (Spiegelhalter 2005): p̄ ± z·√(p̄(1−p̄)/n) for the unit's n, at 95 % (z 1.96) and 99.8 %
// (z 3.09). A unit outside the 99.8 % limits is an outlier; outside the 95 % limits only, it is flagged.
// Units with fewer than k cards are pooled and never listed; when the pool itself would hold fewer than k
// cards, the smallest listed units join it, so that no small count can be worked back from the totals. Cards of
// calls that named no clinician (or no client) are in the pool too.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { parameterReader } from './query-parameters.js';
import type { UptakeDatabase } from './schema.js';
import { cardCompletion } from './completion.js';
import { round, wilson, type Rate } from './report.js';
import { Z95 } from './statistics.js';

export const Z998 = 3.090232306167813;
export const VARIATION_UNITS = ['clinician', 'site'] as const;
export type VariationUnit = (typeof VARIATION_UNITS)[number];
export const VARIATION_PARAMETERS = ['from', 'to', 'service', 'ruleSet', 'version', 'rule', 'by'] as const;

export interface VariationQuery {
  from?: Date;
  to?: Date;
  service?: string;
  ruleSet?: string;
  version?: string;
  rule?: string;
  by: VariationUnit;
  /** Small-cell threshold k: units with fewer cards are pooled. */
  minCell: number;
}

/** Query string or command-line options (and the server's k) → a variation query, or a 400 naming every problem. */
export function parseVariationQuery(raw: Record<string, unknown>, minCell: number): VariationQuery {
  const read = parameterReader(raw);
  read.only(VARIATION_PARAMETERS, 'the variation report');
  const query: VariationQuery = { by: 'clinician', minCell, ...read.period() };
  for (const field of ['service', 'ruleSet', 'version', 'rule'] as const) {
    const value = read.text(field);
    if (value !== undefined) query[field] = value;
  }
  const by = read.text('by');
  if (by !== undefined) {
    if ((VARIATION_UNITS as readonly string[]).includes(by)) query.by = by as VariationUnit;
    else read.problem('by', `'${by}' must be one of ${VARIATION_UNITS.join(', ')}`);
  }
  read.done();
  return query;
}

export interface FunnelLimits {
  low95: number;
  high95: number;
  low998: number;
  high998: number;
}

export interface UnitMeasure {
  /** accepted (acceptance) or completed (completion). */
  successes: number | null;
  /** cards with feedback (acceptance) or decided cards (completion). */
  trials: number | null;
  /** Wilson 95 % interval of the unit's own rate. */
  rate: Rate;
  /** The funnel around the overall rate at this unit's trials; null without trials. */
  limits: FunnelLimits | null;
  /** 'within', 'outside-95' (flagged) or 'outside-99.8' (outlier); null without trials. */
  position: 'within' | 'outside-95' | 'outside-99.8' | null;
  direction: 'above' | 'below' | null;
}

export interface VariationUnitRow {
  /** The clinician's pseudonym, or the site as `iss` or `iss|tenant`. */
  unit: string;
  site?: { iss: string | null; tenant: string | null };
  cards: number;
  acceptance: UnitMeasure;
  completion: UnitMeasure;
}

export interface Totals {
  units: number | null;
  cards: number | null;
  acceptance: { successes: number | null; trials: number | null; rate: Rate };
  completion: { successes: number | null; trials: number | null; rate: Rate };
}

export interface Outlier {
  unit: string;
  measure: 'acceptance' | 'completion';
  direction: 'above' | 'below';
  rate: number;
  trials: number;
  limits: { low998: number; high998: number };
}

export interface VariationReport {
  generatedAt: string;
  query: {
    from?: string;
    to?: string;
    service?: string;
    ruleSet?: string;
    version?: string;
    rule?: string;
    by: string;
  };
  minCell: number;
  method: {
    limits: string;
    z95: number;
    z998: number;
    outlier: string;
    acceptance: string;
    completion: string;
    pooling: string;
  };
  /** Every card of the query, listed or pooled. */
  overall: Totals;
  units: VariationUnitRow[];
  /**
   * Units with fewer than k cards (and the smallest others when needed), and the cards whose call named no
   * clinician (by clinician) or no client (by site): counted, never listed. `units` counts the units only.
   */
  pooled: Totals & { withheld: boolean };
  outliers: Outlier[];
}

interface Counts {
  cards: number;
  accepted: number;
  withFeedback: number;
  completed: number;
  decided: number;
}

const add = (a: Counts, b: Counts): Counts => ({
  cards: a.cards + b.cards,
  accepted: a.accepted + b.accepted,
  withFeedback: a.withFeedback + b.withFeedback,
  completed: a.completed + b.completed,
  decided: a.decided + b.decided,
});
const ZERO: Counts = { cards: 0, accepted: 0, withFeedback: 0, completed: 0, decided: 0 };

export async function variationReport(
  db: Kysely<UptakeDatabase>,
  query: VariationQuery,
  now: Date,
): Promise<VariationReport> {
  const filters: RawBuilder<unknown>[] = [sql`uptake_card.disposition = 'shown'`];
  if (query.from) filters.push(sql`uptake_card.served_at >= ${query.from.getTime()}`);
  if (query.to) filters.push(sql`uptake_card.served_at < ${query.to.getTime()}`);
  if (query.service) filters.push(sql`uptake_card.service_id = ${query.service}`);
  if (query.ruleSet) filters.push(sql`uptake_card.rule_set = ${query.ruleSet}`);
  if (query.version) filters.push(sql`uptake_card.rule_set_version = ${query.version}`);
  if (query.rule) filters.push(sql`uptake_card.rule = ${query.rule}`);
  const keys =
    query.by === 'clinician'
      ? sql`uptake_card.user_pseudonym AS k1, NULL AS k2`
      : sql`uptake_card.client_iss AS k1, uptake_card.client_tenant AS k2`;
  const group =
    query.by === 'clinician' ? sql`uptake_card.user_pseudonym` : sql`uptake_card.client_iss, uptake_card.client_tenant`;
  const closed = sql`uptake_card.served_at + cc.window_ms <= ${sql.lit(Math.trunc(now.getTime()))}`;
  const rows = (
    await sql`
      SELECT ${keys}, COUNT(*) AS cards,
        SUM(CASE WHEN uptake_card.outcome = 'accepted' THEN 1 ELSE 0 END) AS accepted,
        SUM(CASE WHEN uptake_card.outcome IN ('accepted', 'overridden') THEN 1 ELSE 0 END) AS with_feedback,
        SUM(CASE WHEN cc.completed = 1 THEN 1 ELSE 0 END) AS completed,
        SUM(CASE WHEN cc.completed = 1 OR (cc.card_uuid IS NOT NULL AND ${closed}) THEN 1 ELSE 0 END) AS decided
      FROM uptake_card LEFT JOIN ${cardCompletion(query)} cc ON cc.card_uuid = uptake_card.card_uuid
      WHERE ${sql.join(filters, sql` AND `)}
      GROUP BY ${group}`.execute(db)
  ).rows as Array<Record<string, unknown>>;

  const k = Math.max(1, query.minCell);
  let unattributed = ZERO;
  let overall = ZERO;
  const units: Array<{ unit: string; site?: { iss: string | null; tenant: string | null }; counts: Counts }> = [];
  for (const r of rows) {
    const counts: Counts = {
      cards: Number(r.cards),
      accepted: Number(r.accepted),
      withFeedback: Number(r.with_feedback),
      completed: Number(r.completed),
      decided: Number(r.decided),
    };
    overall = add(overall, counts);
    const k1 = (r.k1 as string | null) ?? null;
    const k2 = (r.k2 as string | null) ?? null;
    if (k1 === null) {
      unattributed = add(unattributed, counts);
      continue;
    }
    units.push(
      query.by === 'clinician'
        ? { unit: k1, counts }
        : { unit: k2 ? `${k1}|${k2}` : k1, site: { iss: k1, tenant: k2 }, counts },
    );
  }
  // Pool the small units; then, while the pool is non-empty but below k, move the smallest listed unit into it.
  units.sort((a, b) => a.counts.cards - b.counts.cards || a.unit.localeCompare(b.unit));
  let pooledCounts = unattributed;
  let pooledUnits = 0;
  while (units.length > 0 && (units[0].counts.cards < k || (pooledCounts.cards > 0 && pooledCounts.cards < k))) {
    pooledCounts = add(pooledCounts, units.shift()!.counts);
    pooledUnits++;
  }
  const pAccept = overall.withFeedback > 0 ? overall.accepted / overall.withFeedback : null;
  const pComplete = overall.decided > 0 ? overall.completed / overall.decided : null;
  const listed: VariationUnitRow[] = units
    .map((u) => ({
      unit: u.unit,
      ...(u.site ? { site: u.site } : {}),
      cards: u.counts.cards,
      acceptance: measure(u.counts.accepted, u.counts.withFeedback, pAccept),
      completion: measure(u.counts.completed, u.counts.decided, pComplete),
    }))
    .sort((a, b) => a.unit.localeCompare(b.unit));
  const outliers: Outlier[] = [];
  for (const u of listed) {
    for (const m of ['acceptance', 'completion'] as const) {
      const x = u[m];
      if (x.position === 'outside-99.8' && x.limits && x.rate.rate !== null) {
        outliers.push({
          unit: u.unit,
          measure: m,
          direction: x.direction!,
          rate: x.rate.rate,
          trials: x.trials!,
          limits: { low998: x.limits.low998, high998: x.limits.high998 },
        });
      }
    }
  }
  const small = (n: number) => n > 0 && n < k;
  const totals = (c: Counts, unitCount: number, withheld: boolean): Totals => ({
    units: withheld ? null : unitCount,
    cards: withheld ? null : c.cards,
    acceptance: withheld
      ? { successes: null, trials: null, rate: { rate: null, low: null, high: null } }
      : { successes: c.accepted, trials: c.withFeedback, rate: wilson(c.accepted, c.withFeedback) },
    completion: withheld
      ? { successes: null, trials: null, rate: { rate: null, low: null, high: null } }
      : { successes: c.completed, trials: c.decided, rate: wilson(c.completed, c.decided) },
  });
  // The pool is below k only when everything is (no listed unit was left to join it): then nothing is shown.
  const poolWithheld = small(pooledCounts.cards);
  const overallWithheld = small(overall.cards) || (poolWithheld && listed.length === 0);
  return {
    generatedAt: now.toISOString(),
    query: {
      ...(query.from ? { from: query.from.toISOString() } : {}),
      ...(query.to ? { to: query.to.toISOString() } : {}),
      ...(query.service ? { service: query.service } : {}),
      ...(query.ruleSet ? { ruleSet: query.ruleSet } : {}),
      ...(query.version ? { version: query.version } : {}),
      ...(query.rule ? { rule: query.rule } : {}),
      by: query.by,
    },
    minCell: k,
    method: {
      limits: 'funnel plot: overall rate ± z·√(p(1−p)/n) at the unit’s n (normal approximation), clipped to [0, 1]',
      z95: round(Z95, 4),
      z998: round(Z998, 4),
      outlier: 'outside the 99.8 % limits; outside the 95 % limits only is flagged (outside-95), not an outlier',
      acceptance: 'accepted ÷ cards with feedback (accepted or overridden)',
      completion: 'completed ÷ decided cards (completed, or window closed), over cards with a matchable suggestion',
      pooling: `units with fewer than ${k} cards are pooled and never listed; the smallest others join a pool below ${k}`,
    },
    overall: totals(overall, listed.length + pooledUnits, overallWithheld),
    units: overallWithheld ? [] : listed,
    pooled: {
      ...totals(pooledCounts, pooledUnits, poolWithheld || overallWithheld),
      withheld: poolWithheld || overallWithheld,
    },
    outliers: overallWithheld ? [] : outliers,
  };
}

function measure(successes: number, trials: number, overall: number | null): UnitMeasure {
  if (trials === 0 || overall === null) {
    return { successes, trials, rate: wilson(successes, trials), limits: null, position: null, direction: null };
  }
  const se = Math.sqrt((overall * (1 - overall)) / trials);
  const clip = (v: number) => round(Math.min(1, Math.max(0, v)));
  const limits: FunnelLimits = {
    low95: clip(overall - Z95 * se),
    high95: clip(overall + Z95 * se),
    low998: clip(overall - Z998 * se),
    high998: clip(overall + Z998 * se),
  };
  const p = successes / trials;
  const outside = (low: number, high: number) => p < overall - low || p > overall + high;
  const position = outside(Z998 * se, Z998 * se)
    ? 'outside-99.8'
    : outside(Z95 * se, Z95 * se)
      ? 'outside-95'
      : 'within';
  return {
    successes,
    trials,
    rate: wilson(successes, trials),
    limits,
    position,
    direction: position === 'within' ? null : p > overall ? 'above' : 'below',
  };
}
