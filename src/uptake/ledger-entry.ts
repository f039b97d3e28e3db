// One hook call → the rows the ledger keeps. Identifiers are pseudonymised here, before anything
// is queued, so raw ids never wait in memory for the database.
import { randomUUID } from 'node:crypto';
import type { VerifiedClient } from '../auth/index.js';
import { KNOWLEDGE_EXTENSION, type Card } from '../cards/index.js';
import type { LedgerEntry } from './recorder.js';
import type { Pseudonymize } from './pseudonym.js';

export interface InvocationInput {
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
  /** Cards in the answer (only for a 200). */
  cards?: Card[];
  /** Why each card was served, by card uuid, already without identifiers (engine explainCards). */
  explanations?: Record<string, unknown>;
}

interface CardKnowledge {
  service?: string;
  ruleSet?: string;
  version?: string;
  rule?: string;
  cql?: Array<{ library: string; version: string }>;
}

export function ledgerEntry(input: InvocationInput, pseudonymize: Pseudonymize): LedgerEntry {
  const id = randomUUID();
  const cards = input.cards ?? [];
  const patient = pseudonymize('patient', input.context?.patientId);
  const user = pseudonymize('user', input.context?.userId);
  const encounter = pseudonymize('encounter', input.context?.encounterId);
  const servedAt = input.startedAt.getTime() + Math.round(input.durationMs);
  const iss = text(input.client?.iss);
  const tenant = text(input.client?.tenant);
  return {
    invocation: {
      id,
      service_id: input.serviceId,
      hook: text(input.hook),
      hook_instance: text(input.hookInstance),
      rule_set: text(input.ruleSet),
      rule_set_version: text(input.ruleSetVersion),
      cql: input.cql ? JSON.stringify(input.cql) : null,
      client_iss: iss,
      client_tenant: tenant,
      started_at: input.startedAt.getTime(),
      duration_ms: Math.round(input.durationMs * 1000) / 1000,
      status: input.status,
      card_count: cards.length,
      patient_pseudonym: patient,
      user_pseudonym: user,
      encounter_pseudonym: encounter,
    },
    explanations: Object.entries(input.explanations ?? {})
      .filter(([uuid]) => cards.some((c) => c.uuid === uuid))
      .map(([card_uuid, explanation]) => ({ card_uuid, explanation: JSON.stringify(explanation) })),
    cards: cards
      .filter((card) => typeof card.uuid === 'string')
      .map((card) => {
        const k = (card.extension?.[KNOWLEDGE_EXTENSION] ?? {}) as CardKnowledge;
        const suggestions = (card.suggestions ?? []).map((s) => s.uuid).filter((u): u is string => typeof u === 'string');
        return {
          card_uuid: card.uuid!,
          invocation_id: id,
          service_id: k.service ?? input.serviceId,
          hook: input.hook ?? '',
          rule_set: k.ruleSet ?? input.ruleSet ?? '',
          rule_set_version: k.version ?? input.ruleSetVersion ?? '',
          rule: k.rule ?? '',
          cql: JSON.stringify(k.cql ?? input.cql ?? []),
          indicator: card.indicator,
          summary: card.summary,
          override_reasons: JSON.stringify(card.overrideReasons ?? []),
          suggestion_uuids: JSON.stringify(suggestions),
          suggestion_count: suggestions.length,
          disposition: 'shown',
          arm: null,
          served_at: servedAt,
          client_iss: iss,
          client_tenant: tenant,
          patient_pseudonym: patient,
          user_pseudonym: user,
          encounter_pseudonym: encounter,
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
        };
      }),
  };
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value.slice(0, 512) : null;
}
