// The uptake report: figures per group, computed from the ledger. The CLI and GET /uptake/report
// both call buildReport; exports then suppress small cells (suppress.ts).
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Dialect } from './migrations.js';
import type { GroupKey, ReportQuery } from './report-query.js';
import type { UptakeDatabase } from './schema.js';
import { median, p90, round, wilson, type Rate } from './statistics.js';
// Shared with the other reports, which take them from here.
export { median, p90, round, wilson, type Rate } from './statistics.js';
import { cardCompletion, completionState, CompletionTally, type CompletionFigures } from './completion.js';

export interface Group {
  service?: string;
  ruleSet?: string;
  version?: string;
  rule?: string;
  indicator?: string;
  /** UTC day, YYYY-MM-DD. */
  day?: string;
  /** UTC week starting Monday, named by its Monday (YYYY-MM-DD). */
  week?: string;
}

export interface OverrideReasonCount {
  system: string | null;
  code: string | null;
  display: string | null;
  clientAdded: boolean;
  count: number | null;
  share: number | null;
}

export interface ClientCoverage {
  iss: string | null;
  tenant: string | null;
  cardsServed: number | null;
  cardsWithFeedback: number | null;
  coverage: number | null;
}

export interface ReportRow {
  group: Group;
  invocations: number | null;
  failedInvocations: number | null;
  cardsServed: number | null;
  cardsPer100Invocations: number | null;
  /** systemActions the group's shown evaluations returned to the EHR. */
  systemActionsReturned: number | null;
  cardsWithFeedback: number | null;
  feedbackCoverage: number | null;
  coverageByClient: ClientCoverage[];
  accepted: number | null;
  overridden: number | null;
  acceptance: Rate;
  suggestionsOffered: number | null;
  suggestionsAccepted: number | null;
  suggestionAcceptance: number | null;
  overrideReasons: OverrideReasonCount[];
  timeToFeedbackSeconds: { median: number | null; p90: number | null };
  burdenPerClinicianDay: { clinicianDays: number | null; median: number | null; p90: number | null };
  distinctPatients: number | null;
  /** Whether what the cards suggested was done (see completion.ts and the README). */
  completion: CompletionFigures;
  userComments?: string[];
  /** Figures withheld because they rest on fewer than k cards (see suppress.ts). */
  suppressed?: string[];
}

export interface Report {
  generatedAt: string;
  query: {
    from?: string;
    to?: string;
    service?: string;
    ruleSet?: string;
    version?: string;
    rule?: string;
    indicator?: string;
    client?: string;
    groupBy: GroupKey[];
  };
  /** Small-cell threshold applied (1 = nothing suppressed). */
  minCell: number;
  rows: ReportRow[];
}

const DAY_MS = 86_400_000;

interface KeyColumn {
  alias: string;
  card: RawBuilder<unknown>;
  invocation?: RawBuilder<unknown>;
}

function keyColumns(groupBy: GroupKey[], dialect: Dialect): KeyColumn[] {
  const day = (col: string) =>
    dialect === 'postgres' ? sql`(${sql.ref(col)} / 86400000)` : sql`CAST(${sql.ref(col)} / 86400000 AS INTEGER)`;
  const week = (col: string) =>
    dialect === 'postgres'
      ? sql`(((${sql.ref(col)} / 86400000) + 3) / 7)`
      : sql`CAST((CAST(${sql.ref(col)} / 86400000 AS INTEGER) + 3) / 7 AS INTEGER)`;
  const out: KeyColumn[] = [];
  for (const key of groupBy) {
    switch (key) {
      case 'service':
        out.push({ alias: 'k_service', card: sql.ref('service_id'), invocation: sql.ref('service_id') });
        break;
      case 'ruleSet':
        out.push({ alias: 'k_rule_set', card: sql.ref('rule_set'), invocation: sql.ref('rule_set') });
        break;
      case 'version':
        // A version belongs to a rule set: grouping by version groups by rule set too.
        if (!groupBy.includes('ruleSet'))
          out.push({ alias: 'k_rule_set', card: sql.ref('rule_set'), invocation: sql.ref('rule_set') });
        out.push({ alias: 'k_version', card: sql.ref('rule_set_version'), invocation: sql.ref('rule_set_version') });
        break;
      case 'rule':
        if (!groupBy.includes('ruleSet') && !groupBy.includes('version'))
          out.push({ alias: 'k_rule_set', card: sql.ref('rule_set'), invocation: sql.ref('rule_set') });
        out.push({ alias: 'k_rule', card: sql.ref('rule') });
        break;
      case 'indicator':
        out.push({ alias: 'k_indicator', card: sql.ref('indicator') });
        break;
      case 'day':
        out.push({ alias: 'k_day', card: day('served_at'), invocation: day('started_at') });
        break;
      case 'week':
        out.push({ alias: 'k_week', card: week('served_at'), invocation: week('started_at') });
        break;
    }
  }
  return out.filter((k, i) => out.findIndex((o) => o.alias === k.alias) === i);
}

function cardFilters(q: ReportQuery): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [sql`disposition = 'shown'`];
  if (q.from) parts.push(sql`served_at >= ${q.from.getTime()}`);
  if (q.to) parts.push(sql`served_at < ${q.to.getTime()}`);
  if (q.service) parts.push(sql`service_id = ${q.service}`);
  if (q.ruleSet) parts.push(sql`rule_set = ${q.ruleSet}`);
  if (q.version) parts.push(sql`rule_set_version = ${q.version}`);
  if (q.rule) parts.push(sql`rule = ${q.rule}`);
  if (q.indicator) parts.push(sql`indicator = ${q.indicator}`);
  if (q.client) parts.push(sql`client_iss = ${q.client}`);
  return sql.join(parts, sql` AND `);
}

function invocationFilters(q: ReportQuery): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [sql`1 = 1`];
  if (q.from) parts.push(sql`started_at >= ${q.from.getTime()}`);
  if (q.to) parts.push(sql`started_at < ${q.to.getTime()}`);
  if (q.service) parts.push(sql`service_id = ${q.service}`);
  if (q.ruleSet) parts.push(sql`rule_set = ${q.ruleSet}`);
  if (q.version) parts.push(sql`rule_set_version = ${q.version}`);
  if (q.client) parts.push(sql`client_iss = ${q.client}`);
  return sql.join(parts, sql` AND `);
}

type Row = Record<string, unknown>;

interface GroupTotals {
  /** A row of the group, for its key values. */
  row: Row;
  cards: number;
  withFeedback: number;
  accepted: number;
  overridden: number;
  offered: number;
  acceptedSuggestions: number;
  clients: Map<string, { iss: string | null; tenant: string | null; cards: number; withFeedback: number }>;
  reasons: Map<
    string,
    { system: string | null; code: string | null; display: string | null; clientAdded: boolean; count: number }
  >;
}

export async function buildReport(
  db: Kysely<UptakeDatabase>,
  dialect: Dialect,
  query: ReportQuery,
  now = new Date(),
): Promise<Report> {
  const keys = keyColumns(query.groupBy, dialect);
  const selectKeys = (extra: RawBuilder<unknown>[] = []) =>
    sql.join([...keys.map((k) => sql`${k.card} AS ${sql.ref(k.alias)}`), ...extra]);
  const groupKeys = (extra: RawBuilder<unknown>[] = []) =>
    keys.length + extra.length > 0 ? sql`GROUP BY ${sql.join([...keys.map((k) => k.card), ...extra])}` : sql``;
  const where = cardFilters(query);
  const run = async (q: RawBuilder<unknown>): Promise<Row[]> => (await q.execute(db)).rows as Row[];
  const dayOfServed = keyColumns(['day'], dialect)[0].card;

  // Invocations are counted on the keys they have (service, rule set, version, day, week): grouped by
  // rule or indicator, a group's invocations are those of its service / rule set / period.
  const invocationKeys = keys.filter((k) => k.invocation);
  const invocationsQuery = sql`
    SELECT ${sql.join([
      ...invocationKeys.map((k) => sql`${k.invocation} AS ${sql.ref(k.alias)}`),
      sql`SUM(CASE WHEN status = 200 THEN 1 ELSE 0 END) AS ok`,
      sql`SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS failed`,
    ])}
    FROM uptake_invocation WHERE ${invocationFilters(query)}
    ${invocationKeys.length > 0 ? sql`GROUP BY ${sql.join(invocationKeys.map((k) => k.invocation!))}` : sql``}`;
  const commentsQuery = sql`SELECT ${selectKeys([sql`override_comment AS comment`])} FROM uptake_card WHERE ${where} AND outcome = 'overridden' AND override_comment IS NOT NULL ORDER BY served_at`;

  // The queries run side by side (on PostgreSQL, each on a connection of its own). The first one
  // counts per group, client, outcome and override reason; the figures are summed up below.
  const state = completionState('cc', now.getTime());
  const completionJoin = sql`JOIN ${cardCompletion(query)} cc ON cc.card_uuid = uptake_card.card_uuid`;
  // systemActions have no indicator: grouped or filtered by indicator, they fall in no card's group.
  const systemActionsFrom = sql`(SELECT service_id, rule_set, rule_set_version, rule, served_at, client_iss, disposition, CAST(NULL AS TEXT) AS indicator FROM uptake_system_action) sa`;
  const [counts, patients, delays, burden, invocations, comments, completions, completionTimes, systemActions] =
    await Promise.all([
      run(sql`
      SELECT ${selectKeys([
        sql`client_iss AS iss`,
        sql`client_tenant AS tenant`,
        sql`outcome`,
        sql`override_system AS system`,
        sql`override_code AS code`,
        sql`COALESCE(override_client_added, 0) AS client_added`,
        sql`MAX(override_display) AS display`,
        sql`COUNT(*) AS n`,
        sql`SUM(suggestion_count) AS suggestions`,
        sql`SUM(accepted_suggestion_count) AS accepted_suggestions`,
      ])}
      FROM uptake_card WHERE ${where}
      ${groupKeys([sql.ref('client_iss'), sql.ref('client_tenant'), sql.ref('outcome'), sql.ref('override_system'), sql.ref('override_code'), sql`COALESCE(override_client_added, 0)`])}`),
      run(
        sql`SELECT ${selectKeys([sql`COUNT(DISTINCT patient_pseudonym) AS patients`])} FROM uptake_card WHERE ${where} ${groupKeys()}`,
      ),
      run(
        sql`SELECT ${selectKeys([sql`outcome_at - served_at AS ms`])} FROM uptake_card WHERE ${where} AND outcome IS NOT NULL`,
      ),
      run(sql`
      SELECT ${selectKeys([sql`COUNT(*) AS n`])} FROM uptake_card WHERE ${where} AND user_pseudonym IS NOT NULL
      ${groupKeys([sql.ref('user_pseudonym'), dayOfServed])}`),
      run(invocationsQuery),
      query.includeComments ? run(commentsQuery) : Promise.resolve([]),
      run(sql`
      SELECT ${selectKeys([sql`outcome`, sql`${state} AS state`, sql`cc.evidenced AS evidenced`, sql`COUNT(*) AS n`])}
      FROM uptake_card ${completionJoin} WHERE ${where}
      ${groupKeys([sql.ref('outcome'), state, sql`cc.evidenced`])}`),
      run(
        sql`SELECT ${selectKeys([sql`cc.ttc AS ms`])} FROM uptake_card ${completionJoin} WHERE ${where} AND cc.completed = 1`,
      ),
      run(sql`SELECT ${selectKeys([sql`COUNT(*) AS n`])} FROM ${systemActionsFrom} WHERE ${where} ${groupKeys()}`),
    ]);

  const keyOf = (row: Row, columns = keys) => JSON.stringify(columns.map((k) => row[k.alias] ?? null));
  const invocationsByKey = new Map(invocations.map((r) => [keyOf(r, invocationKeys), r]));
  const groups = new Map<string, GroupTotals>();
  const totals = (row: Row): GroupTotals => {
    const k = keyOf(row);
    let g = groups.get(k);
    if (!g) {
      g = {
        row,
        cards: 0,
        withFeedback: 0,
        accepted: 0,
        overridden: 0,
        offered: 0,
        acceptedSuggestions: 0,
        clients: new Map(),
        reasons: new Map(),
      };
      groups.set(k, g);
    }
    return g;
  };
  for (const r of counts) {
    const g = totals(r);
    const n = Number(r.n);
    const outcome = r.outcome as string | null;
    g.cards += n;
    const clientKey = JSON.stringify([r.iss ?? null, r.tenant ?? null]);
    const client = g.clients.get(clientKey) ?? {
      iss: (r.iss as string | null) ?? null,
      tenant: (r.tenant as string | null) ?? null,
      cards: 0,
      withFeedback: 0,
    };
    client.cards += n;
    g.clients.set(clientKey, client);
    if (outcome === null) continue;
    g.withFeedback += n;
    client.withFeedback += n;
    g.offered += Number(r.suggestions ?? 0);
    if (outcome === 'accepted') {
      g.accepted += n;
      g.acceptedSuggestions += Number(r.accepted_suggestions ?? 0);
    } else if (outcome === 'overridden') {
      g.overridden += n;
      const reasonKey = JSON.stringify([r.system ?? null, r.code ?? null, Number(r.client_added)]);
      const reason = g.reasons.get(reasonKey) ?? {
        system: (r.system as string | null) ?? null,
        code: (r.code as string | null) ?? null,
        display: null,
        clientAdded: Number(r.client_added) === 1,
        count: 0,
      };
      reason.count += n;
      reason.display ??= (r.display as string | null) ?? null;
      g.reasons.set(reasonKey, reason);
    }
  }
  // Groups with invocations but no card (only when every key is one invocations have).
  if (invocationKeys.length === keys.length && !query.rule && !query.indicator) {
    for (const r of invocations) if (!groups.has(keyOf(r)) && Number(r.ok) + Number(r.failed) > 0) totals(r);
  }
  const collect = <T>(rows: Row[], map: (row: Row) => T): Map<string, T[]> => {
    const out = new Map<string, T[]>();
    for (const row of rows) {
      const k = keyOf(row);
      const list = out.get(k) ?? [];
      list.push(map(row));
      out.set(k, list);
    }
    return out;
  };
  const patientsByKey = new Map(patients.map((r) => [keyOf(r), Number(r.patients)]));
  const delaysByKey = collect(delays, (r) => Number(r.ms));
  const burdenByKey = collect(burden, (r) => Number(r.n));
  const commentsByKey = collect(comments, (r) => String(r.comment));
  const tallies = new Map<string, CompletionTally>();
  const tally = (row: Row): CompletionTally => {
    const k = keyOf(row);
    let t = tallies.get(k);
    if (!t) tallies.set(k, (t = new CompletionTally()));
    return t;
  };
  for (const r of completions) {
    totals(r);
    tally(r).add(r.outcome as string | null, String(r.state), Number(r.n), Number(r.evidenced) === 1);
  }
  for (const r of completionTimes) tally(r).addTime(Number(r.ms));
  const systemActionsByKey = new Map<string, number>();
  for (const r of systemActions) {
    // Without grouping, COUNT(*) answers one row even when nothing matched.
    if (Number(r.n) === 0) continue;
    totals(r);
    systemActionsByKey.set(keyOf(r), Number(r.n));
  }

  const rows: ReportRow[] = [];
  for (const [k, g] of groups) {
    const inv = invocationsByKey.get(keyOf(g.row, invocationKeys));
    const ok = inv ? Number(inv.ok) : 0;
    const delaysSorted = (delaysByKey.get(k) ?? []).sort((a, b) => a - b);
    const burdenSorted = (burdenByKey.get(k) ?? []).sort((a, b) => a - b);
    rows.push({
      group: groupOf(g.row, keys),
      invocations: ok,
      failedInvocations: inv ? Number(inv.failed) : 0,
      cardsServed: g.cards,
      cardsPer100Invocations: ok > 0 ? round((100 * g.cards) / ok, 4) : null,
      systemActionsReturned: systemActionsByKey.get(k) ?? 0,
      cardsWithFeedback: g.withFeedback,
      feedbackCoverage: ratio(g.withFeedback, g.cards),
      coverageByClient: [...g.clients.values()]
        .map((c) => ({
          iss: c.iss,
          tenant: c.tenant,
          cardsServed: c.cards,
          cardsWithFeedback: c.withFeedback,
          coverage: ratio(c.withFeedback, c.cards),
        }))
        .sort(
          (a, b) =>
            String(a.iss ?? '').localeCompare(String(b.iss ?? '')) ||
            String(a.tenant ?? '').localeCompare(String(b.tenant ?? '')),
        ),
      accepted: g.accepted,
      overridden: g.overridden,
      acceptance: wilson(g.accepted, g.accepted + g.overridden),
      suggestionsOffered: g.offered,
      suggestionsAccepted: g.acceptedSuggestions,
      suggestionAcceptance: ratio(g.acceptedSuggestions, g.offered),
      overrideReasons: [...g.reasons.values()]
        .map((r) => ({ ...r, share: ratio(r.count, g.overridden) }))
        .sort((a, b) => b.count - a.count || String(a.code ?? '\uffff').localeCompare(String(b.code ?? '\uffff'))),
      timeToFeedbackSeconds: { median: seconds(median(delaysSorted)), p90: seconds(p90(delaysSorted)) },
      burdenPerClinicianDay: {
        clinicianDays: burdenSorted.length,
        median: median(burdenSorted),
        p90: p90(burdenSorted),
      },
      distinctPatients: patientsByKey.get(k) ?? 0,
      completion: (tallies.get(k) ?? new CompletionTally()).figures(),
      ...(query.includeComments ? { userComments: commentsByKey.get(k) ?? [] } : {}),
    });
  }
  rows.sort((a, b) => compareGroups(a.group, b.group));
  return {
    generatedAt: now.toISOString(),
    query: {
      ...(query.from ? { from: query.from.toISOString() } : {}),
      ...(query.to ? { to: query.to.toISOString() } : {}),
      ...Object.fromEntries(
        (['service', 'ruleSet', 'version', 'rule', 'indicator', 'client'] as const)
          .filter((f) => query[f] !== undefined)
          .map((f) => [f, query[f]]),
      ),
      groupBy: query.groupBy,
    },
    minCell: 1,
    rows,
  };
}

function groupOf(row: Row, keys: KeyColumn[]): Group {
  const group: Group = {};
  for (const k of keys) {
    const value = row[k.alias];
    switch (k.alias) {
      case 'k_service':
        group.service = String(value);
        break;
      case 'k_rule_set':
        group.ruleSet = String(value);
        break;
      case 'k_version':
        group.version = String(value);
        break;
      case 'k_rule':
        group.rule = String(value);
        break;
      case 'k_indicator':
        group.indicator = String(value);
        break;
      case 'k_day':
        group.day = isoDate(Number(value) * DAY_MS);
        break;
      case 'k_week':
        group.week = isoDate((Number(value) * 7 - 3) * DAY_MS);
        break;
    }
  }
  return group;
}

const GROUP_ORDER: Array<keyof Group> = ['service', 'ruleSet', 'version', 'rule', 'indicator', 'day', 'week'];

function compareGroups(a: Group, b: Group): number {
  for (const key of GROUP_ORDER) {
    const c = String(a[key] ?? '').localeCompare(String(b[key] ?? ''), 'en', { numeric: true });
    if (c !== 0) return c;
  }
  return 0;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? round(numerator / denominator) : null;
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : round(ms / 1000, 3);
}
