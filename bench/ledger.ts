// Generates a large uptake ledger inside the database itself (one INSERT … SELECT over a number
// series), so that reports can be timed over a million cards without a million round trips.
// Deterministic: card n is served 30 s after card n−1; 30 % of cards get feedback; 20 % have a suggestion
// whose action later calls can complete (72 h window), half of which were completed.
import { sql, type Kysely } from 'kysely';
import type { UptakeDatabase } from '../src/uptake/schema.js';

export const LEDGER_START = Date.parse('2025-06-01T00:00:00Z');

export async function generateLedger(
  db: Kysely<UptakeDatabase>,
  dialect: 'sqlite' | 'postgres',
  cards: number,
): Promise<void> {
  const series =
    dialect === 'postgres'
      ? sql`SELECT n FROM generate_series(0, ${cards - 1}::bigint) AS n`
      : sql`WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < ${cards - 1}) SELECT n FROM seq`;
  const text = (expr: ReturnType<typeof sql>) =>
    dialect === 'postgres' ? sql`(${expr})::text` : sql`CAST(${expr} AS TEXT)`;
  await sql`
    INSERT INTO uptake_invocation (id, service_id, hook, hook_instance, rule_set, rule_set_version, cql, client_iss, client_tenant,
      started_at, duration_ms, status, card_count, patient_pseudonym, user_pseudonym, encounter_pseudonym)
    SELECT 'i' || ${text(sql`n`)}, 'svc-' || ${text(sql`n % 5`)}, 'order-sign', 'h' || ${text(sql`n`)}, 'rs-' || ${text(sql`n % 5`)}, '1.0.' || ${text(sql`n % 2`)}, '[]',
      'https://ehr-' || ${text(sql`n % 3`)} || '.example.org', NULL,
      ${LEDGER_START} + n * 30000, 12.5, CASE WHEN n % 100 = 0 THEN 500 ELSE 200 END, 1,
      'p' || ${text(sql`(n * 7919) % 50000`)}, 'u' || ${text(sql`n % 400`)}, 'e' || ${text(sql`n`)}
    FROM (${series}) AS s`.execute(db);
  await sql`
    INSERT INTO uptake_card (card_uuid, invocation_id, service_id, hook, rule_set, rule_set_version, rule, cql, indicator, summary,
      override_reasons, suggestion_uuids, suggestion_count, disposition, arm, served_at, client_iss, client_tenant,
      patient_pseudonym, user_pseudonym, encounter_pseudonym, feedback_count, outcome, outcome_at, outcome_client_iss, outcome_client_tenant,
      accepted_suggestion_count, override_system, override_code, override_display, override_client_added, override_comment)
    SELECT 'c' || ${text(sql`n`)}, 'i' || ${text(sql`n`)}, 'svc-' || ${text(sql`n % 5`)}, 'order-sign', 'rs-' || ${text(sql`n % 5`)}, '1.0.' || ${text(sql`n % 2`)},
      'rule-' || ${text(sql`n % 3`)}, '[]', CASE n % 3 WHEN 0 THEN 'info' WHEN 1 THEN 'warning' ELSE 'critical' END, 'Generated card',
      '[{"system":"http://example.org/override","code":"r0"}]', '["s1","s2"]', 2, 'shown', NULL, ${LEDGER_START} + n * 30000,
      'https://ehr-' || ${text(sql`n % 3`)} || '.example.org', NULL,
      'p' || ${text(sql`(n * 7919) % 50000`)}, 'u' || ${text(sql`n % 400`)}, 'e' || ${text(sql`n`)},
      CASE WHEN n % 10 < 3 THEN 1 ELSE 0 END,
      CASE WHEN n % 10 < 2 THEN 'accepted' WHEN n % 10 = 2 THEN 'overridden' ELSE NULL END,
      CASE WHEN n % 10 < 3 THEN ${LEDGER_START} + n * 30000 + (n % 600) * 1000 ELSE NULL END,
      NULL, NULL,
      CASE WHEN n % 10 < 2 THEN 1 ELSE 0 END,
      CASE WHEN n % 10 = 2 THEN 'http://example.org/override' ELSE NULL END,
      CASE WHEN n % 10 = 2 THEN 'r' || ${text(sql`n % 4`)} ELSE NULL END,
      NULL,
      CASE WHEN n % 10 = 2 THEN CASE WHEN n % 4 = 0 THEN 0 ELSE 1 END ELSE NULL END,
      NULL
    FROM (${series}) AS s`.execute(db);
  await sql`
    INSERT INTO uptake_intent (card_uuid, suggestion_uuid, action_index, action, resource_type, codes, service_id,
      hook_instance, patient_pseudonym, served_at, window_ms)
    SELECT 'c' || ${text(sql`n`)}, 's1', 0, 'create', 'ServiceRequest', '["http://example.org|c1"]', 'svc-' || ${text(sql`n % 5`)},
      'h' || ${text(sql`n`)}, 'p' || ${text(sql`(n * 7919) % 50000`)}, ${LEDGER_START} + n * 30000, 259200000
    FROM (${series}) AS s WHERE n % 5 = 0`.execute(db);
  await sql`
    INSERT INTO uptake_completion (card_uuid, suggestion_uuid, action_index, completed, evidence_invocation_id, evidence_hook,
      evidence_source, evidence_at, time_to_completion_ms)
    SELECT 'c' || ${text(sql`n`)}, 's1', 0, 1, 'i' || ${text(sql`n + 1`)}, 'order-sign', 'draftOrders',
      ${LEDGER_START} + n * 30000 + (n % 7200) * 1000, (n % 7200) * 1000
    FROM (${series}) AS s WHERE n % 10 = 0`.execute(db);
  // Planner statistics, as a database that grew to this size has them (autovacuum, or SQLite's optimize).
  await sql`ANALYZE`.execute(db);
}
