// Concordance of each shadow version with the live version on the same calls: a shadow version is
// evaluated after the answer of a call, so each shadow evaluation is paired with the evaluation the
// answer came from (disposition 'shown', else 'suppressed') by their invocation id.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { round } from './report.js';
import type { UptakeDatabase } from './schema.js';
import { cohensKappa, pairedDifference, wilsonInterval, type FiringTable } from './statistics.js';
import { csvCell } from './export.js';

export interface ShadowReportOptions {
  from?: Date;
  to?: Date;
  now?: Date;
  /** The shadow versions the knowledge declares for the service (listed even before they have data). */
  declaredShadows?: string[];
}

export type DisagreementKind = 'live-only' | 'shadow-only' | 'cards-differ';

export interface Disagreement {
  /** The call (ledger invocation id). */
  call: string;
  evaluatedAt: string;
  kind: DisagreementKind;
  /** Card uuids, for GET /admin/explain/{uuid}. */
  liveCards: string[];
  shadowCards: string[];
}

export interface ShadowComparison {
  shadow: { ruleSet: string; version: string };
  live: { ruleSet: string; version: string };
  /** Calls where both versions were evaluated without error: the 2×2 table's total. */
  calls: number;
  /** Shadow evaluations that failed (not in the table). */
  failed: number;
  table: FiringTable;
  kappa: number | null;
  firing: {
    live: number | null;
    shadow: number | null;
    /** shadow − live on the same calls, with its paired 95 % interval. */
    difference: number | null;
    low: number | null;
    high: number | null;
  };
  /** Calls where both fired but the cards differ in indicator or suggestions. */
  cardsDiffer: number;
  /** Calls where both fired with the same cards (indicator and suggestions), from rules of other ids. */
  rulesDiffer: number;
  /** Up to 20 of the latest calls on which the versions disagree. */
  disagreements: Disagreement[];
}

export interface ShadowReport {
  generatedAt: string;
  service: string;
  query: { from?: string; to?: string };
  declaredShadows: string[] | null;
  /** Shadow evaluations with no live evaluation of the same call to compare with. */
  withoutLive: number;
  comparisons: ShadowComparison[];
}

export const MAX_DISAGREEMENTS = 20;

type Row = Record<string, unknown>;

interface SignatureCard {
  rule?: unknown;
  indicator?: unknown;
  suggestions?: unknown;
}

function parseSignature(text: unknown): SignatureCard[] {
  try {
    const value = JSON.parse(String(text)) as unknown;
    return Array.isArray(value) ? (value as SignatureCard[]) : [];
  } catch {
    return [];
  }
}

/** The cards as an EHR sees them: indicator and suggestions, whatever rule made them. */
function cardsSeen(signature: SignatureCard[]): string {
  return JSON.stringify(signature.map((c) => JSON.stringify([c.indicator ?? null, c.suggestions ?? []])).sort());
}

/** The service's shadow report, or undefined when the ledger has no call of it and nothing is declared. */
export async function shadowReport(
  db: Kysely<UptakeDatabase>,
  serviceId: string,
  options: ShadowReportOptions = {},
): Promise<ShadowReport | undefined> {
  const { from, to, now = new Date(), declaredShadows } = options;
  const run = async (q: RawBuilder<unknown>): Promise<Row[]> => (await q.execute(db)).rows as Row[];
  if (!declaredShadows) {
    const seen = await run(sql`SELECT 1 AS found FROM uptake_invocation WHERE service_id = ${serviceId} LIMIT 1`);
    if (seen.length === 0) return undefined;
  }
  const where = sql.join(
    [
      sql`s.service_id = ${serviceId}`,
      sql`s.disposition = 'shadow'`,
      ...(from ? [sql`s.evaluated_at >= ${from.getTime()}`] : []),
      ...(to ? [sql`s.evaluated_at < ${to.getTime()}`] : []),
    ],
    sql` AND `,
  );
  // The live evaluation of the call: the one shown, else the suppressed one (a no-card arm).
  const pairs = sql`
    FROM uptake_evaluation s
    LEFT JOIN uptake_evaluation l ON l.id = (
      SELECT e.id FROM uptake_evaluation e
      WHERE e.invocation_id = s.invocation_id AND e.disposition IN ('shown', 'suppressed') AND e.status = 'ok'
      ORDER BY CASE WHEN e.disposition = 'shown' THEN 0 ELSE 1 END, e.id
      LIMIT 1
    )
    WHERE ${where}`;
  const fires = (alias: 's' | 'l') => sql`CASE WHEN ${sql.ref(`${alias}.card_count`)} > 0 THEN 1 ELSE 0 END`;
  const ok = sql`s.status = 'ok' AND l.id IS NOT NULL`;
  const [counts, candidates] = await Promise.all([
    run(sql`
      SELECT s.rule_set AS shadow_rule_set, s.rule_set_version AS shadow_version,
        l.rule_set AS live_rule_set, l.rule_set_version AS live_version,
        SUM(CASE WHEN s.status <> 'ok' AND l.id IS NOT NULL THEN 1 ELSE 0 END) AS failed,
        SUM(CASE WHEN l.id IS NULL THEN 1 ELSE 0 END) AS without_live,
        SUM(CASE WHEN ${ok} AND s.card_count > 0 AND l.card_count > 0 THEN 1 ELSE 0 END) AS both_fired,
        SUM(CASE WHEN ${ok} AND s.card_count = 0 AND l.card_count > 0 THEN 1 ELSE 0 END) AS live_only,
        SUM(CASE WHEN ${ok} AND s.card_count > 0 AND l.card_count = 0 THEN 1 ELSE 0 END) AS shadow_only,
        SUM(CASE WHEN ${ok} AND s.card_count = 0 AND l.card_count = 0 THEN 1 ELSE 0 END) AS neither
      ${pairs}
      GROUP BY s.rule_set, s.rule_set_version, l.rule_set, l.rule_set_version`),
    // Calls where the two disagree in firing (the latest few of each pair of versions), or where both
    // fired with other signatures (all of them: whether the cards differ is decided below).
    run(sql`
      SELECT * FROM (
        SELECT s.id AS shadow_id, l.id AS live_id, l.disposition AS live_disposition,
          s.invocation_id AS invocation, s.evaluated_at AS evaluated,
          s.rule_set AS shadow_rule_set, s.rule_set_version AS shadow_version,
          l.rule_set AS live_rule_set, l.rule_set_version AS live_version,
          s.card_count AS shadow_cards, l.card_count AS live_cards,
          s.signature AS shadow_signature, l.signature AS live_signature,
          ROW_NUMBER() OVER (
            PARTITION BY s.rule_set, s.rule_set_version, l.rule_set, l.rule_set_version, ${fires('s')}, ${fires('l')}
            ORDER BY s.evaluated_at DESC, s.id
          ) AS rank_in_pair
        ${pairs} AND ${ok}
          AND (${fires('s')} <> ${fires('l')} OR (s.card_count > 0 AND l.card_count > 0 AND s.signature <> l.signature))
      ) candidates
      WHERE shadow_cards > 0 AND live_cards > 0 OR rank_in_pair <= ${MAX_DISAGREEMENTS}`),
  ]);

  const keyOf = (r: Row) => JSON.stringify([r.shadow_rule_set, r.shadow_version, r.live_rule_set, r.live_version]);
  let withoutLive = 0;
  const comparisons = new Map<string, ShadowComparison>();
  for (const r of counts) {
    withoutLive += Number(r.without_live);
    if (r.live_version === null || r.live_version === undefined) continue;
    const table: FiringTable = {
      bothFired: Number(r.both_fired),
      liveOnly: Number(r.live_only),
      shadowOnly: Number(r.shadow_only),
      neither: Number(r.neither),
    };
    const calls = table.bothFired + table.liveOnly + table.shadowOnly + table.neither;
    const d = pairedDifference(table);
    const rate = (n: number) => wilsonInterval(n, calls).estimate;
    const r4 = (v: number | null) => (v === null ? null : round(v));
    comparisons.set(keyOf(r), {
      shadow: { ruleSet: String(r.shadow_rule_set), version: String(r.shadow_version) },
      live: { ruleSet: String(r.live_rule_set), version: r.live_version as string },
      calls,
      failed: Number(r.failed),
      table,
      kappa: r4(cohensKappa(table)),
      firing: {
        live: r4(rate(table.bothFired + table.liveOnly)),
        shadow: r4(rate(table.bothFired + table.shadowOnly)),
        difference: r4(d.estimate),
        low: r4(d.low),
        high: r4(d.high),
      },
      cardsDiffer: 0,
      rulesDiffer: 0,
      disagreements: [],
    });
  }

  interface Candidate {
    row: Row;
    kind: DisagreementKind;
    at: number;
  }
  const chosen = new Map<string, Candidate[]>();
  for (const r of candidates) {
    const c = comparisons.get(keyOf(r));
    if (!c) continue;
    let kind: DisagreementKind;
    if (Number(r.shadow_cards) > 0 && Number(r.live_cards) > 0) {
      const shadow = parseSignature(r.shadow_signature);
      const live = parseSignature(r.live_signature);
      if (cardsSeen(shadow) === cardsSeen(live)) {
        c.rulesDiffer++;
        continue;
      }
      c.cardsDiffer++;
      kind = 'cards-differ';
    } else {
      kind = Number(r.live_cards) > 0 ? 'live-only' : 'shadow-only';
    }
    const list = chosen.get(keyOf(r)) ?? [];
    list.push({ row: r, kind, at: Number(r.evaluated) });
    chosen.set(keyOf(r), list);
  }
  const latest = new Map(
    [...chosen].map(([k, list]) => [
      k,
      list
        .sort((a, b) => b.at - a.at || String(a.row.shadow_id).localeCompare(String(b.row.shadow_id)))
        .slice(0, MAX_DISAGREEMENTS),
    ]),
  );
  const calls = [...new Set([...latest.values()].flat().map((c) => String(c.row.invocation)))];
  const cards =
    calls.length === 0
      ? []
      : await run(sql`
    SELECT card_uuid, invocation_id, evaluation_id, disposition FROM uptake_card
    WHERE invocation_id IN (${sql.join(calls)}) ORDER BY served_at, card_uuid`);
  for (const [k, list] of latest) {
    const c = comparisons.get(k)!;
    c.disagreements = list.map(({ row, kind, at }) => {
      const ofCall = cards.filter((card) => card.invocation_id === row.invocation);
      // Cards name the evaluation that made them; rows without one belong to the live answer.
      const live = ofCall.filter(
        (card) =>
          card.evaluation_id === row.live_id ||
          (card.evaluation_id === null && card.disposition === row.live_disposition),
      );
      const shadow = ofCall.filter((card) => card.evaluation_id === row.shadow_id);
      return {
        call: String(row.invocation),
        evaluatedAt: new Date(at).toISOString(),
        kind,
        liveCards: live.map((card) => String(card.card_uuid)),
        shadowCards: shadow.map((card) => String(card.card_uuid)),
      };
    });
  }

  return {
    generatedAt: now.toISOString(),
    service: serviceId,
    query: { ...(from ? { from: from.toISOString() } : {}), ...(to ? { to: to.toISOString() } : {}) },
    declaredShadows: declaredShadows ?? null,
    withoutLive,
    comparisons: [...comparisons.values()].sort(
      (a, b) =>
        a.shadow.ruleSet.localeCompare(b.shadow.ruleSet) ||
        a.shadow.version.localeCompare(b.shadow.version, 'en', { numeric: true }) ||
        a.live.version.localeCompare(b.live.version, 'en', { numeric: true }),
    ),
  };
}

export const SHADOW_CSV_COLUMNS = [
  'service',
  'shadowRuleSet',
  'shadowVersion',
  'liveRuleSet',
  'liveVersion',
  'calls',
  'failed',
  'bothFired',
  'liveOnly',
  'shadowOnly',
  'neither',
  'kappa',
  'liveFiring',
  'shadowFiring',
  'firingDifference',
  'firingDifferenceLow95',
  'firingDifferenceHigh95',
  'cardsDiffer',
  'rulesDiffer',
  'disagreeingCards',
] as const;

/** One line per shadow version and live version; the disagreeing calls' card uuids in one cell. */
export function shadowReportToCsv(report: ShadowReport): string {
  const lines = [SHADOW_CSV_COLUMNS.join(',')];
  for (const c of report.comparisons) {
    const cards = c.disagreements
      .map((d) => `${d.kind}: live ${d.liveCards.join(' ') || '-'} / shadow ${d.shadowCards.join(' ') || '-'}`)
      .join('; ');
    const values = [
      report.service,
      c.shadow.ruleSet,
      c.shadow.version,
      c.live.ruleSet,
      c.live.version,
      c.calls,
      c.failed,
      c.table.bothFired,
      c.table.liveOnly,
      c.table.shadowOnly,
      c.table.neither,
      c.kappa,
      c.firing.live,
      c.firing.shadow,
      c.firing.difference,
      c.firing.low,
      c.firing.high,
      c.cardsDiffer,
      c.rulesDiffer,
      cards,
    ];
    lines.push(values.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
