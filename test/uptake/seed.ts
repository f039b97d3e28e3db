// A small ledger whose figures are known by hand (see the expectations in behaviour.ts):
// 100 invocations, 40 cards, and 25 feedback items including duplicates, a changed outcome,
// a client-added override reason, an unknown card and a card of another service.
//
//   svc-a (order-sign, rule set rs-a 1.0.0, client ehr-1): invocations 0–59, a card on every even one;
//     r1 (warning, 2 suggestions) on i % 4 = 0: 15 cards; r2 (info, 1 suggestion) on i % 4 = 2: 15 cards.
//     i < 30 on 2026-06-01, the rest on 2026-06-02; user Practitioner/u{i % 3}; patient patient-a{i % 10}.
//   svc-b (patient-view, rule set rs-b 2.0.0, client ehr-2, never sends feedback): invocations 60–99
//     on 2026-06-01; r3 (critical) on i % 4 = 0: 10 cards, all for Practitioner/u0; patient patient-b{i % 5};
//     invocation 99 failed (400).
import { randomUUID } from 'node:crypto';
import type { Card } from '../../src/cards/index.js';
import type { UptakeStore } from '../../src/uptake/index.js';
import { shownEvaluations } from './support.js';

export const OR1 = { system: 'http://example.org/override', code: 'or1', display: 'Benefit outweighs risk' };
export const OR2 = { system: 'http://example.org/override', code: 'or2', display: 'Patient declined' };
export const LOCAL_REASON = {
  system: 'http://example.org/local',
  code: 'already-discussed',
  display: 'Already discussed',
};

const MINUTE = 60_000;
const DAY1 = Date.parse('2026-06-01T08:00:00Z');
const DAY2 = Date.parse('2026-06-02T08:00:00Z');
const DAY1_B = Date.parse('2026-06-01T10:00:00Z');

export interface SeededCard {
  uuid: string;
  service: string;
  rule: string;
  servedAt: number;
  suggestions: string[];
}

export interface Seeded {
  r1: SeededCard[];
  r2: SeededCard[];
  r3: SeededCard[];
}

function card(
  service: string,
  ruleSet: string,
  version: string,
  rule: string,
  indicator: Card['indicator'],
  suggestions: number,
  overrideReasons: Card['overrideReasons'],
): Card {
  return {
    uuid: randomUUID(),
    summary: `${rule} fired`,
    indicator,
    source: { label: 'Seed' },
    ...(suggestions > 0
      ? { suggestions: Array.from({ length: suggestions }, (_, i) => ({ label: `s${i}`, uuid: randomUUID() })) }
      : {}),
    ...(overrideReasons ? { overrideReasons } : {}),
    extension: {
      'org.cdsengine.knowledge': {
        service,
        ruleSet,
        version,
        rule,
        cql: [{ library: ruleSet.toUpperCase(), version }],
      },
    },
  };
}

/** Records the 100 invocations and writes them; no feedback yet. */
export async function seedInvocations(store: UptakeStore): Promise<Seeded> {
  const seeded: Seeded = { r1: [], r2: [], r3: [] };
  for (let i = 0; i < 100; i++) {
    const isA = i < 60;
    const startedAt = new Date(
      isA ? (i < 30 ? DAY1 + i * MINUTE : DAY2 + (i - 30) * MINUTE) : DAY1_B + (i - 60) * MINUTE,
    );
    const cards: Card[] = [];
    if (isA && i % 4 === 0) cards.push(card('svc-a', 'rs-a', '1.0.0', 'r1', 'warning', 2, [OR1, OR2]));
    if (isA && i % 4 === 2) cards.push(card('svc-a', 'rs-a', '1.0.0', 'r2', 'info', 1, [OR1]));
    if (!isA && i % 4 === 0) cards.push(card('svc-b', 'rs-b', '2.0.0', 'r3', 'critical', 1, undefined));
    const status = i === 99 ? 400 : 200;
    store.record({
      serviceId: isA ? 'svc-a' : 'svc-b',
      hook: isA ? 'order-sign' : 'patient-view',
      hookInstance: randomUUID(),
      ruleSet: isA ? 'rs-a' : 'rs-b',
      ruleSetVersion: isA ? '1.0.0' : '2.0.0',
      client: { iss: isA ? 'https://ehr-1.example.org' : 'https://ehr-2.example.org' },
      startedAt,
      durationMs: 0,
      status,
      context: {
        patientId: isA ? `patient-a${i % 10}` : `patient-b${i % 5}`,
        userId: `Practitioner/u${isA ? i % 3 : i % 4}`,
        encounterId: `encounter-${i}`,
      },
      evaluations: status === 200 ? shownEvaluations(cards) : undefined,
    });
    for (const c of cards) {
      const rule = (c.extension!['org.cdsengine.knowledge'] as { rule: 'r1' | 'r2' | 'r3' }).rule;
      seeded[rule].push({
        uuid: c.uuid!,
        service: isA ? 'svc-a' : 'svc-b',
        rule,
        servedAt: startedAt.getTime(),
        suggestions: (c.suggestions ?? []).map((s) => s.uuid!),
      });
    }
  }
  await store.flush();
  return seeded;
}

const at = (c: SeededCard, seconds: number) => new Date(c.servedAt + seconds * 1000).toISOString();
const accepted = (c: SeededCard, seconds: number, suggestions = [c.suggestions[0]]) => ({
  card: c.uuid,
  outcome: 'accepted',
  acceptedSuggestions: suggestions.map((id) => ({ id })),
  outcomeTimestamp: at(c, seconds),
});
const overridden = (c: SeededCard, seconds: number, overrideReason?: Record<string, unknown>) => ({
  card: c.uuid,
  outcome: 'overridden',
  ...(overrideReason ? { overrideReason } : {}),
  outcomeTimestamp: at(c, seconds),
});

/** The first batch: 18 valid items and 4 to be rejected (indexes 18–21). */
export function firstBatch({ r1, r2, r3 }: Seeded): unknown[] {
  return [
    accepted(r1[0], 60, r1[0].suggestions),
    ...[1, 2, 3, 4, 5, 6, 7].map((k) => accepted(r1[k], (k + 1) * 60)),
    overridden(r1[8], 600, { reason: OR1 }),
    overridden(r1[9], 600, { reason: OR1, userComment: 'Seen by nephrology last week' }),
    overridden(r1[10], 600, { reason: OR2 }),
    overridden(r1[11], 600, { reason: LOCAL_REASON }),
    overridden(r1[12], 120, { reason: OR1 }),
    accepted(r1[12], 300),
    accepted(r2[0], 30),
    accepted(r2[1], 30),
    overridden(r2[2], 90, { userComment: 'Already on it' }),
    // The sandbox sends reasons without a system: still one the card offered.
    overridden(r2[3], 90, { reason: { code: 'or1', display: 'Benefit outweighs risk' } }),
    // 18: unknown card; 19: a card of svc-b; 20: accepted without suggestions; 21: a suggestion of another card.
    {
      card: randomUUID(),
      outcome: 'accepted',
      acceptedSuggestions: [{ id: randomUUID() }],
      outcomeTimestamp: '2026-06-01T09:00:00Z',
    },
    accepted(r3[0], 60),
    { card: r1[13].uuid, outcome: 'accepted', outcomeTimestamp: at(r1[13], 60) },
    accepted(r1[14], 60, [r1[0].suggestions[1]]),
  ];
}

/** Three items of the first batch again, as a client retrying would send them. */
export function duplicateBatch(seeded: Seeded): unknown[] {
  const first = firstBatch(seeded);
  return [first[0], first[8], first[14]];
}
