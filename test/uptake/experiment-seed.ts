// Ledgers with known counts for the experiment and shadow reports, written straight into the
// tables (as the server writes them: one invocation per call, one evaluation per version evaluated,
// one card row per card produced). The figures they must give are worked out by hand in the tests.
//
// Experiment 'exp-wording' of service svc-x, unit practitioner, arms usual (1.0.0), new-wording
// (1.1.0), no-card (1.0.0, show: false), weights 1:1:1. Calls of units with index < 8 come from
// site A on 2027-01-04 (from 08:00), the others from site B (tenant t1) on 2027-01-05.
//   usual:       u0–u7 4 calls, 2 fire (1 card each), both cards accepted;
//                u8–u11 3 calls, 2 fire, both overridden; u12–u14 3 calls, 2 fire, no feedback.
//   new-wording: v0–v6 4 calls, 3 fire, 3 accepted; v7–v9 4 calls, 3 fire, 1 accepted and 2 overridden;
//                v10, v11 2 calls, 1 fires, overridden; v12 2 calls, 1 fires, accepted;
//                v13 2 calls, 1 fires, no feedback, and one more call that failed (503, no evaluation);
//                v14 2 calls, 1 fires, no feedback.
//   no-card:     w0–w6 3 calls, 2 fire (suppressed cards); w7–w13 2 calls, 1 fires.
// Not in the experiment: 3 calls 'not-started' (2027-01-03), 12 'no-unit' (2027-01-04), 20 'stopped'
// (2027-01-06 after the stop at 09:00 by 'qa-lead', reason 'harm at site B').
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ExperimentPlan } from '../../src/uptake/index.js';
import type { CardTable, EvaluationTable, InvocationTable, UptakeDatabase } from '../../src/uptake/schema.js';
import { markStale } from '../../src/uptake/rollup-stale.js';

export const SITE_A = { iss: 'https://a.example.org', tenant: null };
export const SITE_B = { iss: 'https://b.example.org', tenant: 't1' };
const MINUTE = 60_000;
const DAY0 = Date.parse('2027-01-04T08:00:00Z');
const DAY1 = Date.parse('2027-01-05T08:00:00Z');

export const EXPERIMENT_ID = 'exp-wording';

export const EXPERIMENT_PLAN: ExperimentPlan = {
  id: EXPERIMENT_ID,
  services: ['svc-x'],
  unit: 'practitioner',
  arms: [
    { name: 'usual', version: '1.0.0', weight: 1, show: true },
    { name: 'new-wording', version: '1.1.0', weight: 1, show: true },
    { name: 'no-card', version: '1.0.0', weight: 1, show: false },
  ],
  start: new Date('2027-01-04T00:00:00Z'),
  end: new Date('2027-03-01T00:00:00Z'),
};

export const STOPPED_AT = '2027-01-06T09:00:00.000Z';

interface CallSpec {
  service: string;
  at: number;
  site: { iss: string; tenant: string | null };
  status?: number;
  experiment?: { id: string; arm?: string; unit?: string; reason?: string };
  /** The evaluations of the call: live (shown or suppressed) and shadows. */
  evaluations?: EvaluationSpec[];
}

interface EvaluationSpec {
  disposition: 'shown' | 'suppressed' | 'shadow';
  version: string;
  status?: 'ok' | 'failed';
  /** One card per entry; feedback outcome of each (shown cards only). */
  cards: Array<{
    rule?: string;
    indicator?: string;
    suggestions?: string[];
    outcome?: 'accepted' | 'overridden' | null;
  }>;
  /** A shadow evaluated at another moment than the call (default: the call's time + 1 s). */
  at?: number;
}

export interface SeededCall {
  id: string;
  at: number;
  evaluations: Array<{ id: string; disposition: string; version: string; cards: string[] }>;
}

interface CallRows {
  invocation: InvocationTable;
  evaluations: EvaluationTable[];
  cards: CardTable[];
  seeded: SeededCall;
}

/** Writes one call with its evaluations and cards. */
export async function insertCall(db: Kysely<UptakeDatabase>, spec: CallSpec): Promise<SeededCall> {
  return (await insertCalls(db, [spec]))[0];
}

/** Writes calls with their evaluations and cards, a few hundred rows per statement. */
export async function insertCalls(db: Kysely<UptakeDatabase>, specs: CallSpec[]): Promise<SeededCall[]> {
  const rows = specs.map(callRows);
  const chunks = <T>(list: T[]): T[][] =>
    Array.from({ length: Math.ceil(list.length / 200) }, (_, i) => list.slice(i * 200, i * 200 + 200));
  for (const chunk of chunks(rows.map((r) => r.invocation)))
    await db.insertInto('uptake_invocation').values(chunk).execute();
  for (const chunk of chunks(rows.flatMap((r) => r.evaluations)))
    await db.insertInto('uptake_evaluation').values(chunk).execute();
  for (const chunk of chunks(rows.flatMap((r) => r.cards))) await db.insertInto('uptake_card').values(chunk).execute();
  // Like every writer of the ledger: the days written are rolled up again before a report reads them.
  await markStale(db, [
    ...rows.map((r) => r.invocation.started_at),
    ...rows.flatMap((r) => r.cards.map((c) => c.served_at)),
  ]);
  return rows.map((r) => r.seeded);
}

function callRows(spec: CallSpec): CallRows {
  const id = randomUUID();
  const status = spec.status ?? 200;
  const evaluations = spec.evaluations ?? [];
  const shownCards = evaluations.filter((e) => e.disposition === 'shown').reduce((n, e) => n + e.cards.length, 0);
  const invocation: InvocationTable = {
    id,
    service_id: spec.service,
    hook: 'order-sign',
    hook_instance: randomUUID(),
    rule_set: spec.service,
    rule_set_version: evaluations.find((e) => e.disposition !== 'shadow')?.version ?? '1.0.0',
    cql: '[]',
    client_iss: spec.site.iss,
    client_tenant: spec.site.tenant,
    started_at: spec.at,
    duration_ms: 5,
    status,
    card_count: shownCards,
    patient_pseudonym: `patient-${id.slice(0, 8)}`,
    user_pseudonym: spec.experiment?.unit ?? null,
    encounter_pseudonym: null,
    experiment_id: spec.experiment?.id ?? null,
    experiment_arm: spec.experiment?.arm ?? null,
    experiment_unit: spec.experiment?.arm ? (spec.experiment.unit ?? null) : null,
    experiment_reason: spec.experiment?.reason ?? null,
  };
  const seeded: SeededCall = { id, at: spec.at, evaluations: [] };
  const evaluationRows: EvaluationTable[] = [];
  const cardRows: CardTable[] = [];
  for (const e of evaluations) {
    const evaluationId = randomUUID();
    const at = e.at ?? spec.at + (e.disposition === 'shadow' ? 1000 : 0);
    const inArm = e.disposition !== 'shadow' && spec.experiment?.arm;
    const signature = e.cards
      .map((c) => ({
        rule: c.rule ?? 'r1',
        indicator: c.indicator ?? 'warning',
        suggestions: c.suggestions ?? ['Stop'],
      }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const evaluation: EvaluationTable = {
      id: evaluationId,
      invocation_id: id,
      service_id: spec.service,
      hook: 'order-sign',
      rule_set: spec.service,
      rule_set_version: e.version,
      cql: '[]',
      disposition: e.disposition,
      experiment_id: spec.experiment?.arm ? spec.experiment.id : null,
      arm: inArm ? spec.experiment!.arm! : null,
      status: e.status ?? 'ok',
      card_count: e.status === 'failed' ? 0 : e.cards.length,
      signature: JSON.stringify(e.status === 'failed' ? [] : signature),
      evaluated_at: at,
      client_iss: spec.site.iss,
      client_tenant: spec.site.tenant,
      patient_pseudonym: invocation.patient_pseudonym,
      user_pseudonym: invocation.user_pseudonym,
      encounter_pseudonym: null,
      unit_pseudonym: invocation.experiment_unit,
    };
    evaluationRows.push(evaluation);
    const cards: CardTable[] = (e.status === 'failed' ? [] : e.cards).map((c) => ({
      card_uuid: randomUUID(),
      invocation_id: id,
      service_id: spec.service,
      hook: 'order-sign',
      rule_set: spec.service,
      rule_set_version: e.version,
      rule: c.rule ?? 'r1',
      cql: '[]',
      indicator: c.indicator ?? 'warning',
      summary: 'Seeded card',
      override_reasons: '[]',
      suggestion_uuids: '[]',
      suggestion_count: 0,
      selection_behavior: null,
      disposition: e.disposition,
      arm: evaluation.arm,
      experiment_id: evaluation.experiment_id,
      evaluation_id: evaluationId,
      served_at: at,
      client_iss: spec.site.iss,
      client_tenant: spec.site.tenant,
      patient_pseudonym: invocation.patient_pseudonym,
      user_pseudonym: invocation.user_pseudonym,
      encounter_pseudonym: null,
      feedback_count: c.outcome ? 1 : 0,
      outcome: c.outcome ?? null,
      outcome_at: c.outcome ? at + MINUTE : null,
      outcome_client_iss: c.outcome ? spec.site.iss : null,
      outcome_client_tenant: null,
      accepted_suggestion_count: c.outcome === 'accepted' ? 1 : 0,
      override_system: null,
      override_code: null,
      override_display: null,
      override_client_added: null,
      override_comment: null,
    }));
    cardRows.push(...cards);
    seeded.evaluations.push({
      id: evaluationId,
      disposition: e.disposition,
      version: e.version,
      cards: cards.map((c) => c.card_uuid),
    });
  }
  return { invocation, evaluations: evaluationRows, cards: cardRows, seeded };
}

type Outcome = 'accepted' | 'overridden' | null;

interface UnitSpec {
  arm: 'usual' | 'new-wording' | 'no-card';
  unit: string;
  index: number;
  calls: number;
  /** Outcomes of the cards, one card per firing call. */
  fired: Outcome[];
  failedCalls?: number;
}

function experimentUnits(): UnitSpec[] {
  const units: UnitSpec[] = [];
  for (let i = 0; i < 15; i++) {
    const fired: Outcome[] = i < 8 ? ['accepted', 'accepted'] : i < 12 ? ['overridden', 'overridden'] : [null, null];
    units.push({ arm: 'usual', unit: `u${i}`, index: i, calls: i < 8 ? 4 : 3, fired });
  }
  for (let i = 0; i < 15; i++) {
    let fired: Outcome[];
    if (i < 7) fired = ['accepted', 'accepted', 'accepted'];
    else if (i < 10) fired = ['accepted', 'overridden', 'overridden'];
    else if (i < 12) fired = ['overridden'];
    else if (i === 12) fired = ['accepted'];
    else fired = [null];
    units.push({
      arm: 'new-wording',
      unit: `v${i}`,
      index: i,
      calls: i < 10 ? 4 : 2,
      fired,
      failedCalls: i === 13 ? 1 : 0,
    });
  }
  for (let i = 0; i < 14; i++)
    units.push({ arm: 'no-card', unit: `w${i}`, index: i, calls: i < 7 ? 3 : 2, fired: i < 7 ? [null, null] : [null] });
  return units;
}

/** Writes the experiment ledger described at the top of this file. */
export async function seedExperiment(db: Kysely<UptakeDatabase>): Promise<void> {
  const specs: CallSpec[] = [];
  let minute = 0;
  const experiment = (extra: { arm?: string; unit?: string; reason?: string }) => ({ id: EXPERIMENT_ID, ...extra });
  for (const u of experimentUnits()) {
    const siteA = u.index < 8;
    const base = siteA ? DAY0 : DAY1;
    const site = siteA ? SITE_A : { iss: SITE_B.iss, tenant: SITE_B.tenant };
    const version = u.arm === 'new-wording' ? '1.1.0' : '1.0.0';
    const disposition = u.arm === 'no-card' ? 'suppressed' : 'shown';
    for (let c = 0; c < u.calls; c++) {
      const outcome = c < u.fired.length ? u.fired[c] : undefined;
      specs.push({
        service: 'svc-x',
        at: base + minute++ * MINUTE,
        site,
        experiment: experiment({ arm: u.arm, unit: `unit-${u.unit}` }),
        evaluations: [{ disposition, version, cards: outcome === undefined ? [] : [{ outcome }] }],
      });
    }
    for (let f = 0; f < (u.failedCalls ?? 0); f++) {
      specs.push({
        service: 'svc-x',
        at: base + minute++ * MINUTE,
        site,
        status: 503,
        experiment: experiment({ arm: u.arm, unit: `unit-${u.unit}` }),
      });
    }
  }
  const live = (cards: number): EvaluationSpec[] => [
    {
      disposition: 'shown',
      version: '1.0.0',
      cards: Array.from({ length: cards }, () => ({ outcome: 'accepted' as const })),
    },
  ];
  for (let i = 0; i < 3; i++)
    specs.push({
      service: 'svc-x',
      at: Date.parse('2027-01-03T10:00:00Z') + i * MINUTE,
      site: SITE_A,
      experiment: experiment({ reason: 'not-started' }),
      evaluations: live(1),
    });
  for (let i = 0; i < 12; i++)
    specs.push({
      service: 'svc-x',
      at: DAY0 + (600 + i) * MINUTE,
      site: SITE_A,
      experiment: experiment({ reason: 'no-unit' }),
      evaluations: live(1),
    });
  for (let i = 0; i < 20; i++)
    specs.push({
      service: 'svc-x',
      at: Date.parse(STOPPED_AT) + (i + 1) * MINUTE,
      site: SITE_A,
      experiment: experiment({ reason: 'stopped' }),
      evaluations: live(0),
    });
  await db
    .insertInto('experiment_stop')
    .values({
      experiment_id: EXPERIMENT_ID,
      stopped_at: Date.parse(STOPPED_AT),
      stopped_by: 'qa-lead',
      reason: 'harm at site B',
    })
    .execute();
  // Another service's call, outside any experiment: never counted.
  specs.push({ service: 'svc-other', at: DAY0, site: SITE_A, evaluations: live(1) });
  await insertCalls(db, specs);
}

// ---- Shadow ---------------------------------------------------------------------------------
//
// Service svc-s, live 2.0.0, shadows 2.1.0 and 2.2.0, 100 calls from 2027-02-01T08:00 one minute apart.
// Against 2.1.0: both fire on 40 calls (6 of them answered from a no-card arm: live 'suppressed'),
// live only 6, shadow only 12, neither 42. Of the 40, 4 differ in a suggestion, 2 only in the rule id.
// 2.2.0 runs on calls 0–29: 3 fail (calls 0–2); on the 27 others it agrees (22 both fire, 5 neither).
// Two more shadow evaluations of 2.1.0 belong to calls without a live evaluation (failed calls).

export const SHADOW_SERVICE = 'svc-s';
const SHADOW_T0 = Date.parse('2027-02-01T08:00:00Z');

export type ShadowKind =
  'both' | 'both-suppressed' | 'cards-differ' | 'rules-differ' | 'live-only' | 'shadow-only' | 'neither';

/** The kind of call i (0–99) against 2.1.0. */
export function shadowKind(i: number): ShadowKind {
  if (i < 30) return i % 5 === 0 ? 'neither' : i % 5 === 1 ? 'both-suppressed' : 'both';
  if (i < 48) return i % 3 === 0 ? 'live-only' : 'shadow-only';
  if (i < 52) return 'cards-differ';
  if (i < 54) return 'rules-differ';
  if (i < 64) return 'both';
  return 'neither';
}

export interface SeededShadow {
  calls: SeededCall[];
}

export async function seedShadow(db: Kysely<UptakeDatabase>): Promise<SeededShadow> {
  const specs: CallSpec[] = [];
  const card = { rule: 'r1', indicator: 'warning', suggestions: ['Stop ibuprofen'] };
  for (let i = 0; i < 100; i++) {
    const kind = shadowKind(i);
    const liveFires = kind !== 'shadow-only' && kind !== 'neither';
    const shadowFires = kind !== 'live-only' && kind !== 'neither';
    const shadowCard =
      kind === 'cards-differ'
        ? { ...card, suggestions: ['Stop ibuprofen', 'Order creatinine'] }
        : kind === 'rules-differ'
          ? { ...card, rule: 'r1-renamed' }
          : card;
    const evaluations: EvaluationSpec[] = [
      {
        disposition: kind === 'both-suppressed' ? 'suppressed' : 'shown',
        version: '2.0.0',
        cards: liveFires ? [card] : [],
      },
      { disposition: 'shadow', version: '2.1.0', cards: shadowFires ? [shadowCard] : [] },
    ];
    if (i < 30)
      evaluations.push({
        disposition: 'shadow',
        version: '2.2.0',
        status: i < 3 ? 'failed' : 'ok',
        cards: liveFires ? [card] : [],
      });
    specs.push({ service: SHADOW_SERVICE, at: SHADOW_T0 + i * MINUTE, site: SITE_A, evaluations });
  }
  for (let i = 0; i < 2; i++) {
    specs.push({
      service: SHADOW_SERVICE,
      at: SHADOW_T0 + (100 + i) * MINUTE,
      site: SITE_A,
      status: 500,
      evaluations: [{ disposition: 'shadow', version: '2.1.0', cards: [card] }],
    });
  }
  return { calls: await insertCalls(db, specs) };
}
