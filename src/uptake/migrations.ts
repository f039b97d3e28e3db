// Versioned migrations, run in order at start-up. A migration, once released, never changes:
// add the next one instead.
//
// Roll-ups (rollups.ts) are derived from the ledger: a migration that adds or changes them never computes them
// (the code that does is today's, not the migration's), it marks every day of the ledger stale and the store
// rolls them up again after start-up (a report reads stale days raw meanwhile: right, only slower). 0008 first
// back-filled with that code itself; since 0010 it marks, as every roll-up migration does.
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

function migrations(dialect: Dialect): Record<string, Migration> {
  const bigint = dialect === 'postgres' ? 'bigint' : 'integer';
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';
  return {
    '0001-ledger': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('uptake_invocation')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('hook', 'text')
          .addColumn('hook_instance', 'text')
          .addColumn('rule_set', 'text')
          .addColumn('rule_set_version', 'text')
          .addColumn('cql', 'text')
          .addColumn('client_iss', 'text')
          .addColumn('client_tenant', 'text')
          .addColumn('started_at', bigint, (c) => c.notNull())
          .addColumn('duration_ms', real, (c) => c.notNull())
          .addColumn('status', 'integer', (c) => c.notNull())
          .addColumn('card_count', 'integer', (c) => c.notNull())
          .addColumn('patient_pseudonym', 'text')
          .addColumn('user_pseudonym', 'text')
          .addColumn('encounter_pseudonym', 'text')
          .execute();
        await db.schema
          .createIndex('uptake_invocation_started')
          .on('uptake_invocation')
          .columns(['started_at'])
          .execute();

        await db.schema
          .createTable('uptake_card')
          .addColumn('card_uuid', 'text', (c) => c.primaryKey())
          .addColumn('invocation_id', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('hook', 'text', (c) => c.notNull())
          .addColumn('rule_set', 'text', (c) => c.notNull())
          .addColumn('rule_set_version', 'text', (c) => c.notNull())
          .addColumn('rule', 'text', (c) => c.notNull())
          .addColumn('cql', 'text', (c) => c.notNull())
          .addColumn('indicator', 'text', (c) => c.notNull())
          .addColumn('summary', 'text', (c) => c.notNull())
          .addColumn('override_reasons', 'text', (c) => c.notNull())
          .addColumn('suggestion_uuids', 'text', (c) => c.notNull())
          .addColumn('suggestion_count', 'integer', (c) => c.notNull())
          .addColumn('disposition', 'text', (c) => c.notNull())
          .addColumn('arm', 'text')
          .addColumn('served_at', bigint, (c) => c.notNull())
          .addColumn('client_iss', 'text')
          .addColumn('client_tenant', 'text')
          .addColumn('patient_pseudonym', 'text')
          .addColumn('user_pseudonym', 'text')
          .addColumn('encounter_pseudonym', 'text')
          .addColumn('feedback_count', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('outcome', 'text')
          .addColumn('outcome_at', bigint)
          .addColumn('outcome_client_iss', 'text')
          .addColumn('outcome_client_tenant', 'text')
          .addColumn('accepted_suggestion_count', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('override_system', 'text')
          .addColumn('override_code', 'text')
          .addColumn('override_display', 'text')
          .addColumn('override_client_added', 'integer')
          .addColumn('override_comment', 'text')
          .execute();
        await db.schema.createIndex('uptake_card_served').on('uptake_card').columns(['served_at']).execute();
        await db.schema
          .createIndex('uptake_card_service')
          .on('uptake_card')
          .columns(['service_id', 'served_at'])
          .execute();

        await db.schema
          .createTable('uptake_feedback')
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('card_uuid', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('item_hash', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('accepted_suggestions', 'text', (c) => c.notNull())
          .addColumn('override_system', 'text')
          .addColumn('override_code', 'text')
          .addColumn('override_display', 'text')
          .addColumn('override_client_added', 'integer')
          .addColumn('user_comment', 'text')
          .addColumn('outcome_at', bigint, (c) => c.notNull())
          .addColumn('received_at', bigint, (c) => c.notNull())
          .addColumn('client_iss', 'text')
          .addColumn('client_tenant', 'text')
          .addUniqueConstraint('uptake_feedback_item', ['card_uuid', 'item_hash'])
          .execute();
      },
    },
    '0002-knowledge-fingerprints': {
      async up(db: Kysely<any>): Promise<void> {
        // The content hash of each rule set and CQL library version when it was first served.
        await db.schema
          .createTable('knowledge_fingerprint')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .addColumn('first_served_at', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('knowledge_fingerprint_pk', ['kind', 'name', 'version'])
          .execute();
      },
    },
    '0003-card-explanations': {
      async up(db: Kysely<any>): Promise<void> {
        // Why each card was served: the rule's conditions and the define values it used, without identifiers.
        await db.schema
          .createTable('uptake_explanation')
          .addColumn('card_uuid', 'text', (c) => c.primaryKey())
          .addColumn('explanation', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0004-rollout': {
      async up(db: Kysely<any>): Promise<void> {
        // One row per rule set version evaluated in a call: the one shown, an experiment arm whose
        // cards are kept but never sent (suppressed), and each shadow version. Rows exist for
        // evaluations without cards too: firing rates and concordance need the calls that did not fire.
        await db.schema
          .createTable('uptake_evaluation')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('invocation_id', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('hook', 'text', (c) => c.notNull())
          .addColumn('rule_set', 'text', (c) => c.notNull())
          .addColumn('rule_set_version', 'text', (c) => c.notNull())
          .addColumn('cql', 'text', (c) => c.notNull())
          .addColumn('disposition', 'text', (c) => c.notNull())
          .addColumn('experiment_id', 'text')
          .addColumn('arm', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('card_count', 'integer', (c) => c.notNull())
          .addColumn('signature', 'text', (c) => c.notNull())
          .addColumn('evaluated_at', bigint, (c) => c.notNull())
          .addColumn('client_iss', 'text')
          .addColumn('client_tenant', 'text')
          .addColumn('patient_pseudonym', 'text')
          .addColumn('user_pseudonym', 'text')
          .addColumn('encounter_pseudonym', 'text')
          .addColumn('unit_pseudonym', 'text')
          .execute();
        await db.schema
          .createIndex('uptake_evaluation_invocation')
          .on('uptake_evaluation')
          .columns(['invocation_id'])
          .execute();
        await db.schema
          .createIndex('uptake_evaluation_experiment')
          .on('uptake_evaluation')
          .columns(['experiment_id', 'arm'])
          .execute();
        await db.schema
          .createIndex('uptake_evaluation_service')
          .on('uptake_evaluation')
          .columns(['service_id', 'disposition', 'evaluated_at'])
          .execute();
        // The experiment a call was in (arm and unit pseudonym), or why it was not (experiment_reason).
        await db.schema.alterTable('uptake_invocation').addColumn('experiment_id', 'text').execute();
        await db.schema.alterTable('uptake_invocation').addColumn('experiment_arm', 'text').execute();
        await db.schema.alterTable('uptake_invocation').addColumn('experiment_unit', 'text').execute();
        await db.schema.alterTable('uptake_invocation').addColumn('experiment_reason', 'text').execute();
        await db.schema
          .createIndex('uptake_invocation_experiment')
          .on('uptake_invocation')
          .columns(['experiment_id', 'experiment_arm'])
          .execute();
        await db.schema.alterTable('uptake_card').addColumn('experiment_id', 'text').execute();
        await db.schema.alterTable('uptake_card').addColumn('evaluation_id', 'text').execute();
        await db.schema
          .createIndex('uptake_card_experiment')
          .on('uptake_card')
          .columns(['experiment_id', 'arm'])
          .execute();
        // Stopping an experiment is stored, so every instance sharing the database stops it.
        await db.schema
          .createTable('experiment_stop')
          .addColumn('experiment_id', 'text', (c) => c.primaryKey())
          .addColumn('stopped_at', bigint, (c) => c.notNull())
          .addColumn('stopped_by', 'text')
          .addColumn('reason', 'text')
          .execute();
      },
    },
    '0005-completion-and-drift': {
      async up(db: Kysely<any>): Promise<void> {
        // What each suggestion of a card would do (shown and suppressed cards alike): one row per action,
        // with the resource type and codes it creates or the codes of the draft it removes. No identifiers.
        await db.schema
          .createTable('uptake_intent')
          .addColumn('card_uuid', 'text', (c) => c.notNull())
          .addColumn('suggestion_uuid', 'text', (c) => c.notNull())
          .addColumn('action_index', 'integer', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('resource_type', 'text', (c) => c.notNull())
          .addColumn('codes', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('hook_instance', 'text')
          .addColumn('patient_pseudonym', 'text', (c) => c.notNull())
          .addColumn('served_at', bigint, (c) => c.notNull())
          .addColumn('window_ms', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('uptake_intent_pk', ['card_uuid', 'suggestion_uuid', 'action_index'])
          .execute();
        await db.schema
          .createIndex('uptake_intent_patient')
          .on('uptake_intent')
          .columns(['patient_pseudonym', 'served_at'])
          .execute();
        await db.schema
          .createIndex('uptake_intent_service')
          .on('uptake_intent')
          .columns(['service_id', 'served_at'])
          .execute();
        // The linkage: the later call that showed whether an action was taken, and how long it took.
        await db.schema
          .createTable('uptake_completion')
          .addColumn('card_uuid', 'text', (c) => c.notNull())
          .addColumn('suggestion_uuid', 'text', (c) => c.notNull())
          .addColumn('action_index', 'integer', (c) => c.notNull())
          .addColumn('completed', 'integer', (c) => c.notNull())
          .addColumn('evidence_invocation_id', 'text', (c) => c.notNull())
          .addColumn('evidence_hook', 'text', (c) => c.notNull())
          .addColumn('evidence_source', 'text', (c) => c.notNull())
          .addColumn('evidence_at', bigint, (c) => c.notNull())
          .addColumn('time_to_completion_ms', bigint)
          .addPrimaryKeyConstraint('uptake_completion_pk', ['card_uuid', 'suggestion_uuid', 'action_index'])
          .execute();
        // Drift detectors: one row of state per signal, and the alarms they raised (acknowledged with who).
        await db.schema
          .createTable('uptake_drift_state')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('updated_at', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('uptake_drift_alarm')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('detector', 'text', (c) => c.notNull())
          .addColumn('signal', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('rule_set', 'text', (c) => c.notNull())
          .addColumn('rule_set_version', 'text', (c) => c.notNull())
          .addColumn('rule', 'text', (c) => c.notNull())
          .addColumn('direction', 'text', (c) => c.notNull())
          .addColumn('method', 'text', (c) => c.notNull())
          .addColumn('raised_at', bigint, (c) => c.notNull())
          .addColumn('change_at', bigint)
          .addColumn('rate_before', real, (c) => c.notNull())
          .addColumn('rate_after', real, (c) => c.notNull())
          .addColumn('calls_before', 'integer', (c) => c.notNull())
          .addColumn('calls_after', 'integer', (c) => c.notNull())
          .addColumn('acknowledged_at', bigint)
          .addColumn('acknowledged_by', 'text')
          .addColumn('acknowledge_note', 'text')
          .execute();
        await db.schema
          .createIndex('uptake_drift_alarm_raised')
          .on('uptake_drift_alarm')
          .columns(['raised_at'])
          .execute();
        // The drift scan reads invocations in this order.
        await db.schema
          .createIndex('uptake_invocation_started_id')
          .on('uptake_invocation')
          .columns(['started_at', 'id'])
          .execute();
      },
    },
    '0006-card-selection-behavior': {
      // How many of a card's suggestions may be accepted (CDS Hooks selectionBehavior); null: any number.
      async up(db: Kysely<any>): Promise<void> {
        await db.schema.alterTable('uptake_card').addColumn('selection_behavior', 'text').execute();
      },
    },
    '0007-system-actions': {
      // The systemActions an evaluation returned (shown), would have returned (suppressed) or produced in
      // shadow: one row per action with its type and resource type, never the resource itself.
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('uptake_system_action')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('invocation_id', 'text', (c) => c.notNull())
          .addColumn('evaluation_id', 'text', (c) => c.notNull())
          .addColumn('action_index', 'integer', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('hook', 'text', (c) => c.notNull())
          .addColumn('rule_set', 'text', (c) => c.notNull())
          .addColumn('rule_set_version', 'text', (c) => c.notNull())
          .addColumn('rule', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('resource_type', 'text')
          .addColumn('disposition', 'text', (c) => c.notNull())
          .addColumn('experiment_id', 'text')
          .addColumn('arm', 'text')
          .addColumn('served_at', bigint, (c) => c.notNull())
          .addColumn('client_iss', 'text')
          .addColumn('client_tenant', 'text')
          .addColumn('patient_pseudonym', 'text')
          .addColumn('user_pseudonym', 'text')
          .execute();
        await db.schema
          .createIndex('uptake_system_action_served')
          .on('uptake_system_action')
          .columns(['service_id', 'served_at'])
          .execute();
        await db.schema
          .createIndex('uptake_system_action_invocation')
          .on('uptake_system_action')
          .columns(['invocation_id'])
          .execute();
      },
    },
    '0008-daily-rollups': {
      // Daily roll-ups of what the uptake report counts (rollups.ts), back-filled from the rows already there.
      async up(db: Kysely<any>): Promise<void> {
        const dims = (t: ReturnType<Kysely<any>['schema']['createTable']>) =>
          t
            .addColumn('day', bigint, (c) => c.notNull())
            .addColumn('service_id', 'text', (c) => c.notNull())
            .addColumn('rule_set', 'text', (c) => c.notNull())
            .addColumn('rule_set_version', 'text', (c) => c.notNull())
            .addColumn('rule', 'text', (c) => c.notNull())
            .addColumn('indicator', 'text', (c) => c.notNull())
            .addColumn('client_iss', 'text');
        await dims(db.schema.createTable('uptake_rollup_card'))
          .addColumn('arm', 'text')
          .addColumn('client_tenant', 'text')
          .addColumn('outcome', 'text')
          .addColumn('override_system', 'text')
          .addColumn('override_code', 'text')
          .addColumn('override_client_added', 'integer', (c) => c.notNull())
          .addColumn('override_display', 'text')
          .addColumn('cards', bigint, (c) => c.notNull())
          .addColumn('suggestions', bigint, (c) => c.notNull())
          .addColumn('accepted_suggestions', bigint, (c) => c.notNull())
          .execute();
        await dims(db.schema.createTable('uptake_rollup_feedback_time'))
          .addColumn('ms', bigint)
          .addColumn('n', bigint, (c) => c.notNull())
          .execute();
        await dims(db.schema.createTable('uptake_rollup_clinician_day'))
          .addColumn('user_pseudonym', 'text', (c) => c.notNull())
          .addColumn('n', bigint, (c) => c.notNull())
          .execute();
        await dims(db.schema.createTable('uptake_rollup_patient'))
          .addColumn('patient_pseudonym', 'text', (c) => c.notNull())
          .execute();
        await dims(db.schema.createTable('uptake_rollup_completion'))
          .addColumn('outcome', 'text')
          .addColumn('completed', 'integer', (c) => c.notNull())
          .addColumn('evidenced', 'integer', (c) => c.notNull())
          .addColumn('n', bigint, (c) => c.notNull())
          .execute();
        await dims(db.schema.createTable('uptake_rollup_completion_time'))
          .addColumn('ms', bigint)
          .addColumn('n', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('uptake_rollup_invocation')
          .addColumn('day', bigint, (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('rule_set', 'text')
          .addColumn('rule_set_version', 'text')
          .addColumn('client_iss', 'text')
          .addColumn('ok', bigint, (c) => c.notNull())
          .addColumn('failed', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('uptake_rollup_system_action')
          .addColumn('day', bigint, (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('rule_set', 'text', (c) => c.notNull())
          .addColumn('rule_set_version', 'text', (c) => c.notNull())
          .addColumn('rule', 'text', (c) => c.notNull())
          .addColumn('client_iss', 'text')
          .addColumn('n', bigint, (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('uptake_rollup_day')
          .addColumn('day', bigint, (c) => c.primaryKey())
          .addColumn('max_window_ms', bigint)
          .execute();
        await db.schema
          .createTable('uptake_rollup_stale')
          .addColumn('day', bigint, (c) => c.notNull())
          .addColumn('shard', 'integer', (c) => c.notNull())
          .addColumn('changes', bigint, (c) => c.notNull())
          .addPrimaryKeyConstraint('uptake_rollup_stale_pk', ['day', 'shard'])
          .execute();
        for (const table of [
          'uptake_rollup_card',
          'uptake_rollup_feedback_time',
          'uptake_rollup_clinician_day',
          'uptake_rollup_patient',
          'uptake_rollup_completion',
          'uptake_rollup_completion_time',
          'uptake_rollup_invocation',
          'uptake_rollup_system_action',
        ]) {
          await db.schema.createIndex(`${table}_day`).on(table).columns(['day']).execute();
        }
        // A day is rolled up again from its rows, and the report reads the days not rolled up: by time alone.
        await db.schema.createIndex('uptake_intent_served').on('uptake_intent').columns(['served_at']).execute();
        await db.schema
          .createIndex('uptake_system_action_served_at')
          .on('uptake_system_action')
          .columns(['served_at'])
          .execute();
        // Override comments are read for one rule at a time: only the cards that have one.
        await sql`CREATE INDEX uptake_card_comment ON uptake_card (served_at) WHERE override_comment IS NOT NULL`.execute(
          db,
        );
        await markEveryDayStale(db, dialect);
      },
    },
    '0009-set-aside': {
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('uptake_set_aside')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('set_aside_at', bigint, (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('entry', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0010-rollup-sets': {
      // Distinct patients, clinician-days and time distributions per group of a day as one row holding the set
      // or the value:count list (rollup-sets.ts), over numbered pseudonyms, instead of a row per patient,
      // clinician or distinct time: a report reads a few rows a day.
      // Runs again whole if the process stopped between its commit and the record of it (Kysely writes that apart).
      async up(db: Kysely<any>): Promise<void> {
        await db.schema
          .createTable('uptake_rollup_pseudonym')
          .ifNotExists()
          .addColumn('id', serial, (c) => c.primaryKey())
          .addColumn('pseudonym', 'text', (c) => c.notNull().unique())
          .execute();
        const dims = (t: ReturnType<Kysely<any>['schema']['createTable']>) =>
          t
            .addColumn('day', bigint, (c) => c.notNull())
            .addColumn('service_id', 'text', (c) => c.notNull())
            .addColumn('rule_set', 'text', (c) => c.notNull())
            .addColumn('rule_set_version', 'text', (c) => c.notNull())
            .addColumn('rule', 'text', (c) => c.notNull())
            .addColumn('indicator', 'text', (c) => c.notNull())
            .addColumn('client_iss', 'text');
        await dims(db.schema.createTable('uptake_rollup_patient_set').ifNotExists())
          .addColumn('patients', bigint, (c) => c.notNull())
          .addColumn('ids', 'text', (c) => c.notNull())
          .execute();
        await dims(db.schema.createTable('uptake_rollup_clinician_set').ifNotExists())
          .addColumn('clinicians', bigint, (c) => c.notNull())
          .addColumn('counts', 'text', (c) => c.notNull())
          .execute();
        for (const table of ['uptake_rollup_feedback_time_set', 'uptake_rollup_completion_time_set'])
          await dims(db.schema.createTable(table).ifNotExists())
            .addColumn('times', 'text', (c) => c.notNull())
            .execute();
        for (const table of [
          'uptake_rollup_patient_set',
          'uptake_rollup_clinician_set',
          'uptake_rollup_feedback_time_set',
          'uptake_rollup_completion_time_set',
        ])
          await db.schema.createIndex(`${table}_day`).ifNotExists().on(table).columns(['day']).execute();
        for (const table of [
          'uptake_rollup_patient',
          'uptake_rollup_clinician_day',
          'uptake_rollup_feedback_time',
          'uptake_rollup_completion_time',
        ])
          await db.schema.dropTable(table).ifExists().execute();
        await markEveryDayStale(db, dialect);
      },
    },
  };
}

/**
 * Marks every day that has a ledger row stale: its roll-ups are computed (again) by the live code. Reads only
 * tables of 0001–0008, so that it means the same for every migration that calls it.
 */
async function markEveryDayStale(db: Kysely<any>, dialect: Dialect): Promise<void> {
  const day = (column: string) =>
    dialect === 'postgres' ? sql`(${sql.ref(column)} / 86400000)` : sql`CAST(${sql.ref(column)} / 86400000 AS INTEGER)`;
  await sql`INSERT INTO uptake_rollup_stale (day, shard, changes)
    SELECT d, 0, 1 FROM (
      SELECT DISTINCT ${day('served_at')} AS d FROM uptake_card
      UNION SELECT DISTINCT ${day('started_at')} FROM uptake_invocation
      UNION SELECT DISTINCT ${day('served_at')} FROM uptake_system_action) t
    WHERE true
    ON CONFLICT (day, shard) DO NOTHING`.execute(db);
}

class CodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  getMigrations(): Promise<Record<string, Migration>> {
    const all = migrations(this.dialect);
    if (this.dialect === 'postgres') return Promise.resolve(all);
    // Kysely runs SQLite migrations outside a transaction (PostgreSQL's inside one): a migration that failed or
    // was killed half-way would leave tables behind that the next start cannot create again. SQLite's DDL is
    // transactional: each migration runs in one.
    return Promise.resolve(
      Object.fromEntries(
        Object.entries(all).map(([name, m]) => [
          name,
          { up: (db: Kysely<any>) => db.transaction().execute((trx) => m.up(trx)) },
        ]),
      ),
    );
  }
}

/** Brings the schema to the latest version; throws with the failing migration's name. */
export function migrateToLatest(db: Kysely<any>, dialect: Dialect): Promise<string[]> {
  return migrate(db, dialect);
}

/** Brings the schema to the version `target` names (benchmarks of a migration over an older ledger). */
export function migrateTo(db: Kysely<any>, dialect: Dialect, target: string): Promise<string[]> {
  return migrate(db, dialect, target);
}

async function migrate(db: Kysely<any>, dialect: Dialect, target?: string): Promise<string[]> {
  // PostgreSQL: the migration tables are looked for in the connection's own schema only, or the
  // same tables in another schema of the database would be taken for ours.
  const schema =
    dialect === 'postgres'
      ? (await sql<{ schema: string }>`SELECT current_schema() AS schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db,
    provider: new CodeMigrations(dialect),
    migrationTableName: 'uptake_migration',
    migrationLockTableName: 'uptake_migration_lock',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await (target ? migrator.migrateTo(target) : migrator.migrateToLatest());
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    const reason = error instanceof Error ? error.message : JSON.stringify(error);
    throw new Error(`uptake store migration ${failed?.migrationName ?? ''} failed: ${reason}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
