// Action completion: whether what a card suggested happened, seen in later calls of the same patient
// (pseudonym) within the card's window. Matched when a call is written (off the request path), from the
// intents the ledger holds and the codes of the call being written; one linkage row per action decided.
//
// Evidence, per action:
// - create: a later call holds a resource of the type with a matching code (the suggestion's codes and those
//   of the knowledge's value sets holding them) in its draftOrders or dispatchedOrders (authored at or after
//   the card when it says), or in its prefetch with an authored / occurrence time at or after the card.
// - delete: the next order-sign of the patient decides: its draftOrders hold no resource of the type with
//   the draft's codes (completed) or still do (not completed, the draft was signed).
// - update: the next order-sign holds a draft with the update's codes (completed) or not (not completed).
// A call of the same hook instance as the card (another service answering the same EHR event) is not later.
import { sql, type RawBuilder, type Transaction } from 'kysely';
import type { EvidenceResource } from './intents.js';
import type { UptakeDatabase } from './schema.js';
import { histogramQuantiles, round, wilson, type Rate } from './statistics.js';

/** Clock skew allowed between the EHR's authoredOn and the server's time of the card. */
export const SKEW_MS = 60_000;

/** A call written to the ledger, as evidence for earlier cards of its patient. */
export interface CallEvidence {
  invocationId: string;
  patient: string;
  hook: string;
  hookInstance: string | null;
  at: number;
  resources: EvidenceResource[];
}

interface OpenIntent {
  card_uuid: string;
  suggestion_uuid: string;
  action_index: number;
  action: string;
  resource_type: string;
  codes: string;
  hook_instance: string | null;
  served_at: number;
}

interface Candidate extends OpenIntent {
  patient_pseudonym: string;
  window_ms: number;
}

/**
 * Writes the linkage rows the calls of one batch decide, in call order; run inside the transaction that writes
 * them (after their own intents). One query reads the open intents of every patient of the batch.
 */
export async function linkEvidence(
  trx: Transaction<UptakeDatabase>,
  calls: CallEvidence[],
  /** The serving times of the cards whose completion changed are added here (their days are rolled up again). */
  touched: number[],
): Promise<number> {
  const relevant = calls.filter((e) => e.hook === 'order-sign' || e.resources.length > 0);
  if (relevant.length === 0) return 0;
  const patients = [...new Set(relevant.map((e) => e.patient))];
  const earliest = Math.min(...relevant.map((e) => e.at));
  const latest = Math.max(...relevant.map((e) => e.at));
  const byPatient = new Map<string, Candidate[]>();
  for (let i = 0; i < patients.length; i += 500) {
    const rows = (await trx
      .selectFrom('uptake_intent as i')
      .leftJoin('uptake_completion as c', (j) =>
        j
          .onRef('c.card_uuid', '=', 'i.card_uuid')
          .onRef('c.suggestion_uuid', '=', 'i.suggestion_uuid')
          .onRef('c.action_index', '=', 'i.action_index'),
      )
      .select([
        'i.card_uuid',
        'i.suggestion_uuid',
        'i.action_index',
        'i.action',
        'i.resource_type',
        'i.codes',
        'i.hook_instance',
        'i.served_at',
        'i.patient_pseudonym',
        'i.window_ms',
      ])
      .where('i.patient_pseudonym', 'in', patients.slice(i, i + 500))
      .where('i.served_at', '<', latest)
      .where(sql<boolean>`i.served_at + i.window_ms >= ${earliest}`)
      .where('c.card_uuid', 'is', null)
      .execute()) as Candidate[];
    for (const r of rows) {
      const list = byPatient.get(r.patient_pseudonym) ?? [];
      list.push(r);
      byPatient.set(r.patient_pseudonym, list);
    }
  }
  const rows: UptakeDatabase['uptake_completion'][] = [];
  const decidedKeys = new Set<string>();
  for (const evidence of relevant) {
    const signs = evidence.hook === 'order-sign';
    for (const intent of byPatient.get(evidence.patient) ?? []) {
      const servedAt = Number(intent.served_at);
      if (servedAt >= evidence.at || servedAt + Number(intent.window_ms) < evidence.at) continue;
      if (intent.hook_instance !== null && intent.hook_instance === evidence.hookInstance) continue;
      const key = JSON.stringify([intent.card_uuid, intent.suggestion_uuid, intent.action_index]);
      if (decidedKeys.has(key)) continue;
      const decided = decide(intent, evidence, signs);
      if (!decided) continue;
      decidedKeys.add(key);
      rows.push({
        card_uuid: intent.card_uuid,
        suggestion_uuid: intent.suggestion_uuid,
        action_index: intent.action_index,
        completed: decided.completed ? 1 : 0,
        evidence_invocation_id: evidence.invocationId,
        evidence_hook: evidence.hook,
        evidence_source: decided.source,
        evidence_at: evidence.at,
        time_to_completion_ms: decided.completed ? Math.max(0, evidence.at - servedAt) : null,
      });
    }
  }
  for (let i = 0; i < rows.length; i += 400) {
    await trx
      .insertInto('uptake_completion')
      .values(rows.slice(i, i + 400))
      .onConflict((oc) => oc.columns(['card_uuid', 'suggestion_uuid', 'action_index']).doNothing())
      .execute();
  }
  // A card's completion figures belong to the day it was served.
  const servedAt = new Map(candidatesServed(byPatient));
  for (const r of rows) touched.push(servedAt.get(r.card_uuid)!);
  return rows.length;
}

function candidatesServed(byPatient: Map<string, Candidate[]>): Array<[string, number]> {
  return [...byPatient.values()].flat().map((c) => [c.card_uuid, Number(c.served_at)]);
}

function decide(
  intent: OpenIntent,
  evidence: CallEvidence,
  signs: boolean,
): { completed: boolean; source: string } | undefined {
  const codes = new Set(JSON.parse(intent.codes) as string[]);
  const servedAt = Number(intent.served_at);
  const matches = (r: EvidenceResource): boolean =>
    r.resourceType === intent.resource_type && r.codes.some((c) => codes.has(c));
  const drafts = evidence.resources.filter((r) => r.source === 'draftOrders');
  if (intent.action === 'create') {
    const found = evidence.resources.find(
      (r) =>
        matches(r) &&
        (r.source === 'prefetch'
          ? r.at !== undefined && r.at >= servedAt - SKEW_MS
          : r.at === undefined || r.at >= servedAt - SKEW_MS),
    );
    return found ? { completed: true, source: found.source } : undefined;
  }
  if (!signs) return undefined;
  const held = drafts.some(matches);
  if (intent.action === 'delete') return { completed: !held, source: 'draftOrders' };
  return { completed: held, source: 'draftOrders' };
}

/**
 * Per card with at least one intended action: completed (some suggestion had every action done), its time to
 * completion (the earliest such suggestion's last action), whether any evidence was seen, and its window.
 */
export function cardCompletion(
  scope: {
    from?: Date;
    to?: Date;
    service?: string;
    /** Only intents served in one of these [from, to) ranges (ms; an undefined end is open). */
    ranges?: Array<[number | undefined, number | undefined]>;
  } = {},
): RawBuilder<unknown> {
  // The intents of the cards asked for only (an intent has its card's service and time).
  const range = ([a, b]: [number | undefined, number | undefined]) =>
    sql`(${sql.join(
      [
        sql`1 = 1`,
        ...(a !== undefined ? [sql`i.served_at >= ${a}`] : []),
        ...(b !== undefined ? [sql`i.served_at < ${b}`] : []),
      ],
      sql` AND `,
    )})`;
  const where = sql.join(
    [
      sql`1 = 1`,
      ...(scope.from ? [sql`i.served_at >= ${scope.from.getTime()}`] : []),
      ...(scope.to ? [sql`i.served_at < ${scope.to.getTime()}`] : []),
      ...(scope.service ? [sql`i.service_id = ${scope.service}`] : []),
      ...(scope.ranges
        ? [scope.ranges.length > 0 ? sql`(${sql.join(scope.ranges.map(range), sql` OR `)})` : sql`1 = 0`]
        : []),
    ],
    sql` AND `,
  );
  return sql`(
    SELECT card_uuid,
      MAX(CASE WHEN done = actions THEN 1 ELSE 0 END) AS completed,
      MIN(CASE WHEN done = actions THEN ttc END) AS ttc,
      MAX(evidenced) AS evidenced,
      MAX(window_ms) AS window_ms
    FROM (
      SELECT i.card_uuid AS card_uuid, i.suggestion_uuid AS suggestion_uuid, COUNT(*) AS actions,
        SUM(CASE WHEN c.completed = 1 THEN 1 ELSE 0 END) AS done,
        MAX(c.time_to_completion_ms) AS ttc,
        MAX(CASE WHEN c.card_uuid IS NULL THEN 0 ELSE 1 END) AS evidenced,
        MAX(i.window_ms) AS window_ms
      FROM uptake_intent i
      LEFT JOIN uptake_completion c
        ON c.card_uuid = i.card_uuid AND c.suggestion_uuid = i.suggestion_uuid AND c.action_index = i.action_index
      WHERE ${where}
      GROUP BY i.card_uuid, i.suggestion_uuid
    ) s
    GROUP BY card_uuid
  )`;
}

/** A card's state: 'completed', 'not-completed' (window closed without it) or 'open' (window still open). */
export function completionState(alias: string, now: number): RawBuilder<unknown> {
  const a = sql.ref(alias);
  return sql`CASE WHEN ${a}.completed = 1 THEN 'completed'
    WHEN uptake_card.served_at + ${a}.window_ms <= ${sql.lit(Math.trunc(now))} THEN 'not-completed' ELSE 'open' END`;
}

export type FeedbackOutcome = 'accepted' | 'overridden' | 'none';

export interface CompletionCell {
  completed: number | null;
  notCompleted: number | null;
  open: number | null;
}

export interface CompletionFigures {
  /** Cards with at least one suggestion whose action can be matched (a coded create, a delete of a draft). */
  cardsMeasured: number | null;
  /** Of those, cards whose window has closed, or that completed earlier: the rate's denominator. */
  cardsDecided: number | null;
  completed: number | null;
  notCompleted: number | null;
  /** Cards whose window is still open and that have not completed yet: in no rate. */
  open: number | null;
  /** Not-completed cards for which no later call of the patient brought any evidence either way. */
  notCompletedWithoutEvidence: number | null;
  /** completed ÷ (completed + not completed), Wilson 95 %. */
  completion: Rate;
  timeToCompletionSeconds: { median: number | null; p90: number | null };
  /** Feedback outcome × completion (accepted but not done, overridden but done, no feedback but done). */
  byFeedback: Record<FeedbackOutcome, CompletionCell>;
}

/** Counts of one group, summed from rows of (outcome, state, n). */
export class CompletionTally {
  private cells: Record<FeedbackOutcome, { completed: number; notCompleted: number; open: number }> = {
    accepted: { completed: 0, notCompleted: 0, open: 0 },
    overridden: { completed: 0, notCompleted: 0, open: 0 },
    none: { completed: 0, notCompleted: 0, open: 0 },
  };
  private withoutEvidence = 0;
  private times: Array<[number, number]> = [];

  add(outcome: string | null, state: string, n: number, evidenced: boolean): void {
    const o: FeedbackOutcome = outcome === 'accepted' ? 'accepted' : outcome === 'overridden' ? 'overridden' : 'none';
    const cell = this.cells[o];
    if (state === 'completed') cell.completed += n;
    else if (state === 'not-completed') {
      cell.notCompleted += n;
      if (!evidenced) this.withoutEvidence += n;
    } else cell.open += n;
  }

  /** A time to completion, of `count` cards. */
  addTime(ms: number, count = 1): void {
    this.times.push([ms, count]);
  }

  figures(): CompletionFigures {
    const sum = (f: 'completed' | 'notCompleted' | 'open') =>
      this.cells.accepted[f] + this.cells.overridden[f] + this.cells.none[f];
    const completed = sum('completed');
    const notCompleted = sum('notCompleted');
    const open = sum('open');
    const times = histogramQuantiles(this.times);
    const s = (ms: number | null) => (ms === null ? null : round(ms / 1000, 3));
    return {
      cardsMeasured: completed + notCompleted + open,
      cardsDecided: completed + notCompleted,
      completed,
      notCompleted,
      open,
      notCompletedWithoutEvidence: this.withoutEvidence,
      completion: wilson(completed, completed + notCompleted),
      timeToCompletionSeconds: { median: s(times.median), p90: s(times.p90) },
      byFeedback: {
        accepted: { ...this.cells.accepted },
        overridden: { ...this.cells.overridden },
        none: { ...this.cells.none },
      },
    };
  }
}

/**
 * Small cells of completion figures withheld (counts 1..k−1, and what rests on them); the names of what was
 * withheld are added to `suppressed` as `completion.<field>`.
 */
export function suppressCompletion(
  c: CompletionFigures,
  small: (n: number | null) => boolean,
  suppressed: string[],
): CompletionFigures {
  const out: CompletionFigures = { ...c, byFeedback: { ...c.byFeedback } };
  type Count = 'cardsMeasured' | 'cardsDecided' | 'completed' | 'notCompleted' | 'open' | 'notCompletedWithoutEvidence';
  const hide = (name: Count) => {
    if (small(c[name])) {
      out[name] = null;
      suppressed.push(`completion.${name}`);
    }
  };
  hide('cardsMeasured');
  hide('cardsDecided');
  hide('completed');
  hide('notCompleted');
  hide('open');
  hide('notCompletedWithoutEvidence');
  if (small(c.completed) || small(c.notCompleted) || small(c.cardsDecided)) {
    out.completion = { rate: null, low: null, high: null };
    suppressed.push('completion.completion');
  }
  if (small(c.completed)) {
    out.timeToCompletionSeconds = { median: null, p90: null };
    suppressed.push('completion.timeToCompletionSeconds');
  }
  for (const o of ['accepted', 'overridden', 'none'] as const) {
    const cell = c.byFeedback[o];
    if (small(cell.completed) || small(cell.notCompleted) || small(cell.open)) {
      out.byFeedback[o] = { completed: null, notCompleted: null, open: null };
      suppressed.push(`completion.byFeedback.${o}`);
    }
  }
  return out;
}
