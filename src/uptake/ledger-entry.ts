// One hook call → the rows the ledger keeps. Identifiers are pseudonymised here, before anything
// is queued, so raw ids never wait in memory for the database. What produced each card comes from
// the evaluation that made it (rule set @ version, rule, CQL), never back out of the card's wire form.
import { randomUUID } from 'node:crypto';
import type { VerifiedClient } from '../auth/index.js';
import type { LedgerEntry } from './recorder.js';
import type { IdentifierKind, Pseudonymize } from './pseudonym.js';
import type { CardTable, EvaluationTable, IntentTable, SystemActionTable } from './schema.js';
import { evidenceResources, intendedActions, type CodeExpander, type EvidenceResource } from './intents.js';

export type Disposition = 'shown' | 'suppressed' | 'shadow';

/** A card as the ledger keeps it (the fields of a CDS Hooks card it reads). */
export interface RecordedCard {
  uuid?: string;
  indicator: string;
  summary: string;
  overrideReasons?: unknown[];
  suggestions?: Array<{ uuid?: string; label?: string; actions?: unknown[] }>;
  selectionBehavior?: string;
}

/** One rule set version evaluated in a call, with the cards it produced and where each came from. */
export interface EvaluationInput {
  disposition: Disposition;
  ruleSet: string;
  version: string;
  cql: Array<{ library: string; version: string }>;
  experiment?: { id: string; arm: string };
  /** 'failed': the version could not be evaluated (a shadow version; the call was answered all the same). */
  status: 'ok' | 'failed';
  cards: Array<{ card: RecordedCard; rule: string; explanation?: unknown }>;
  /** The systemActions it returned (or would have): only their type and resource type are kept. */
  systemActions?: Array<{ action: RecordedAction; rule: string }>;
}

/** A systemAction as the ledger reads it. */
export interface RecordedAction {
  type: string;
  resource?: unknown;
  resourceId?: string;
}

/** The call's experiment: its arm and unit when it was in it, the reason when not. */
export interface ExperimentInput {
  id: string;
  arm?: string;
  /** The unit's raw id, pseudonymised here (a site: issuer and tenant). */
  unit?: { kind: string; id: string };
  reason?: string;
}

export interface InvocationInput {
  /** The invocation's id; shadow evaluations recorded later refer to it. Made here when absent. */
  id?: string;
  serviceId: string;
  hook?: string;
  hookInstance?: string;
  /** The rule set @ version the service ran (or would have run). */
  ruleSet?: string;
  ruleSetVersion?: string;
  cql?: Array<{ library: string; version: string }>;
  client?: VerifiedClient;
  startedAt: Date;
  durationMs: number;
  status: number;
  /** The hook context: patientId, userId and encounterId are read from it and pseudonymised. */
  context?: Record<string, unknown>;
  experiment?: ExperimentInput;
  /** Every version evaluated (only for a 200): the answer's first. */
  evaluations?: EvaluationInput[];
  /** The call's prefetch (sent and fetched): only resource types and codes are read from it, as evidence. */
  prefetch?: Record<string, unknown>;
  /** That evidence, when it was read where the data was (an evaluation thread): context and prefetch are not read. */
  evidence?: EvidenceResource[];
  /** How long later calls of the patient count as evidence that a suggestion of this call's cards was taken. */
  completionWindowMs?: number;
  /** The codes of the value sets holding a code: an order of any of them completes a suggestion of one. */
  expandCode?: CodeExpander;
}

/** Later calls count as evidence for 72 hours unless the service says otherwise. */
export const DEFAULT_COMPLETION_WINDOW_MS = 72 * 3_600_000;

/** Shadow evaluations finished after their call was recorded. */
export interface ShadowInput {
  invocationId: string;
  serviceId: string;
  hook?: string;
  client?: VerifiedClient;
  context?: Record<string, unknown>;
  evaluatedAt: Date;
  evaluations: EvaluationInput[];
}

interface People {
  patient: string | null;
  user: string | null;
  encounter: string | null;
  iss: string | null;
  tenant: string | null;
}

export function ledgerEntry(input: InvocationInput, pseudonymize: Pseudonymize): LedgerEntry {
  const id = input.id ?? randomUUID();
  const people = peopleOf(input.context, input.client, pseudonymize);
  const servedAt = input.startedAt.getTime() + Math.round(input.durationMs);
  const evaluations = input.evaluations ?? [];
  const shown = evaluations.filter((e) => e.disposition === 'shown').reduce((n, e) => n + e.cards.length, 0);
  const unit = input.experiment?.unit
    ? pseudonymize(UNIT_KINDS[input.experiment.unit.kind] ?? 'client', input.experiment.unit.id)
    : null;
  const rows = evaluationRows(id, input.serviceId, input.hook, evaluations, servedAt, people, unit);
  const hookInstance = text(input.hookInstance);
  // What the shown and suppressed cards' suggestions would do, and what this call shows of earlier ones.
  const intents: IntentTable[] = [];
  if (people.patient && input.status === 200) {
    for (const e of evaluations) {
      if (e.disposition === 'shadow') continue;
      for (const { card } of e.cards) {
        if (typeof card.uuid !== 'string') continue;
        for (const a of intendedActions(card.suggestions, input.context, input.expandCode)) {
          intents.push({
            card_uuid: card.uuid,
            suggestion_uuid: a.suggestionUuid,
            action_index: a.actionIndex,
            action: a.action,
            resource_type: a.resourceType,
            codes: JSON.stringify(a.codes),
            service_id: input.serviceId,
            hook_instance: hookInstance,
            patient_pseudonym: people.patient,
            served_at: servedAt,
            window_ms: input.completionWindowMs ?? DEFAULT_COMPLETION_WINDOW_MS,
          });
        }
      }
    }
  }
  const evidence =
    people.patient && input.status === 200 && input.hook
      ? {
          invocationId: id,
          patient: people.patient,
          hook: input.hook,
          hookInstance,
          at: input.startedAt.getTime(),
          resources: input.evidence ?? evidenceResources(input.context, input.prefetch),
        }
      : undefined;
  return {
    ...(intents.length > 0 ? { intents } : {}),
    ...(evidence ? { evidence } : {}),
    invocation: {
      id,
      service_id: input.serviceId,
      hook: text(input.hook),
      hook_instance: text(input.hookInstance),
      rule_set: text(input.ruleSet),
      rule_set_version: text(input.ruleSetVersion),
      cql: input.cql ? JSON.stringify(input.cql) : null,
      client_iss: people.iss,
      client_tenant: people.tenant,
      started_at: input.startedAt.getTime(),
      duration_ms: Math.round(input.durationMs * 1000) / 1000,
      status: input.status,
      card_count: shown,
      patient_pseudonym: people.patient,
      user_pseudonym: people.user,
      encounter_pseudonym: people.encounter,
      experiment_id: text(input.experiment?.id),
      experiment_arm: text(input.experiment?.arm),
      experiment_unit: unit,
      experiment_reason: text(input.experiment?.reason),
    },
    ...rows,
  };
}

/** The rows of shadow evaluations that finished after their call's own rows were queued. */
export function shadowEntry(input: ShadowInput, pseudonymize: Pseudonymize): LedgerEntry {
  const people = peopleOf(input.context, input.client, pseudonymize);
  return evaluationRows(
    input.invocationId,
    input.serviceId,
    input.hook,
    input.evaluations,
    input.evaluatedAt.getTime(),
    people,
    null,
  );
}

function evaluationRows(
  invocationId: string,
  serviceId: string,
  hook: string | undefined,
  evaluations: EvaluationInput[],
  at: number,
  people: People,
  unit: string | null,
): Required<Pick<LedgerEntry, 'evaluations' | 'cards' | 'explanations' | 'systemActions'>> {
  const evaluationRows: EvaluationTable[] = [];
  const systemActions: SystemActionTable[] = [];
  const cards: CardTable[] = [];
  const explanations: LedgerEntry['explanations'] = [];
  for (const e of evaluations) {
    const evaluationId = randomUUID();
    const cql = JSON.stringify(e.cql);
    const recorded = e.cards.filter((c) => typeof c.card.uuid === 'string');
    evaluationRows.push({
      id: evaluationId,
      invocation_id: invocationId,
      service_id: serviceId,
      hook: hook ?? '',
      rule_set: e.ruleSet,
      rule_set_version: e.version,
      cql,
      disposition: e.disposition,
      experiment_id: e.experiment?.id ?? null,
      arm: e.experiment?.arm ?? null,
      status: e.status,
      card_count: recorded.length,
      signature: JSON.stringify(signature(recorded)),
      evaluated_at: at,
      client_iss: people.iss,
      client_tenant: people.tenant,
      patient_pseudonym: people.patient,
      user_pseudonym: people.user,
      encounter_pseudonym: people.encounter,
      unit_pseudonym: unit,
    });
    (e.systemActions ?? []).forEach(({ action, rule }, index) => {
      systemActions.push({
        id: randomUUID(),
        invocation_id: invocationId,
        evaluation_id: evaluationId,
        action_index: index,
        service_id: serviceId,
        hook: hook ?? '',
        rule_set: e.ruleSet,
        rule_set_version: e.version,
        rule,
        action: String(action.type),
        resource_type: resourceTypeOf(action),
        disposition: e.disposition,
        experiment_id: e.experiment?.id ?? null,
        arm: e.experiment?.arm ?? null,
        served_at: at,
        client_iss: people.iss,
        client_tenant: people.tenant,
        patient_pseudonym: people.patient,
        user_pseudonym: people.user,
      });
    });
    for (const { card, rule, explanation } of recorded) {
      const suggestions = (card.suggestions ?? []).map((s) => s.uuid).filter((u): u is string => typeof u === 'string');
      cards.push({
        card_uuid: card.uuid!,
        invocation_id: invocationId,
        service_id: serviceId,
        hook: hook ?? '',
        rule_set: e.ruleSet,
        rule_set_version: e.version,
        rule,
        cql,
        indicator: card.indicator,
        summary: card.summary,
        override_reasons: JSON.stringify(card.overrideReasons ?? []),
        suggestion_uuids: JSON.stringify(suggestions),
        suggestion_count: suggestions.length,
        selection_behavior: typeof card.selectionBehavior === 'string' ? card.selectionBehavior : null,
        disposition: e.disposition,
        arm: e.experiment?.arm ?? null,
        experiment_id: e.experiment?.id ?? null,
        evaluation_id: evaluationId,
        served_at: at,
        client_iss: people.iss,
        client_tenant: people.tenant,
        patient_pseudonym: people.patient,
        user_pseudonym: people.user,
        encounter_pseudonym: people.encounter,
        feedback_count: 0,
        outcome: null,
        outcome_at: null,
        outcome_client_iss: null,
        outcome_client_tenant: null,
        accepted_suggestion_count: 0,
        override_system: null,
        override_code: null,
        override_display: null,
        override_client_added: null,
        override_comment: null,
      });
      if (explanation !== undefined)
        explanations.push({ card_uuid: card.uuid!, explanation: JSON.stringify(explanation) });
    }
  }
  return { evaluations: evaluationRows, cards, explanations, systemActions };
}

/** The type of the resource an action creates or updates, or of the one its resourceId names. */
function resourceTypeOf(action: RecordedAction): string | null {
  const type = (action.resource as { resourceType?: unknown } | undefined)?.resourceType;
  if (typeof type === 'string') return text(type);
  return typeof action.resourceId === 'string' ? text(action.resourceId.split('/')[0]) : null;
}

/** What concordance compares between two versions: each card's rule, indicator and suggestion labels. */
function signature(cards: EvaluationInput['cards']): Array<{ rule: string; indicator: string; suggestions: string[] }> {
  return cards
    .map(({ card, rule }) => ({
      rule,
      indicator: card.indicator,
      suggestions: (card.suggestions ?? []).map((s) => (typeof s.label === 'string' ? s.label : '')).sort(),
    }))
    .sort(
      (a, b) =>
        compare(a.rule, b.rule) ||
        compare(a.indicator, b.indicator) ||
        compare(JSON.stringify(a.suggestions), JSON.stringify(b.suggestions)),
    );
}

/** Code-unit order: the same on every instance, whatever its locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A unit's pseudonym is the person's own (a patient unit's is the card's patient pseudonym). */
const UNIT_KINDS: Record<string, IdentifierKind> = {
  patient: 'patient',
  practitioner: 'user',
  encounter: 'encounter',
  client: 'client',
};

function peopleOf(
  context: Record<string, unknown> | undefined,
  client: VerifiedClient | undefined,
  pseudonymize: Pseudonymize,
): People {
  return {
    patient: pseudonymize('patient', context?.patientId),
    user: pseudonymize('user', context?.userId),
    encounter: pseudonymize('encounter', context?.encounterId),
    iss: text(client?.iss),
    tenant: text(client?.tenant),
  };
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value.slice(0, 512) : null;
}
