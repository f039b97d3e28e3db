import { describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { openDatabase } from '../../src/uptake/database.js';
import { migrateTo, migrateToLatest } from '../../src/uptake/migrations.js';
import { testUptakeConfig } from './support.js';

describe('uptake store migrations on SQLite', () => {
  it('leave nothing behind when one fails half-way, so the next start migrates', async () => {
    const { config, cleanup } = await testUptakeConfig('sqlite');
    const { db, dialect } = openDatabase(config);
    try {
      await migrateTo(db, dialect, '0009-set-aside');
      await sql`INSERT INTO uptake_invocation (id, service_id, hook, hook_instance, rule_set, rule_set_version, cql,
          started_at, duration_ms, status, card_count)
        VALUES ('i1', 's', 'h', 'hi', 'rs', '1', '[]', 1000, 1, 200, 0)`.execute(db);
      // Stands for a full disk or an I/O error in 0010's last step, after it created and dropped tables.
      await sql`CREATE TRIGGER fail_once BEFORE INSERT ON uptake_rollup_stale
        BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`.execute(db);
      await expect(migrateToLatest(db, dialect)).rejects.toThrow(/0010-rollup-sets failed: disk I\/O error/);
      const tables = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`.execute(db);
      expect(tables.rows.map((r) => r.name)).toContain('uptake_rollup_patient');
      expect(tables.rows.map((r) => r.name)).not.toContain('uptake_rollup_pseudonym');
      await sql`DROP TRIGGER fail_once`.execute(db);
      expect(await migrateToLatest(db, dialect)).toEqual(['0010-rollup-sets']);
      const stale = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM uptake_rollup_stale`.execute(db);
      expect(Number(stale.rows[0].n)).toBe(1);
    } finally {
      await db.destroy();
      await cleanup();
    }
  });

  it('run 0010 again when it committed but its record was not written (the process stopped in between)', async () => {
    const { config, cleanup } = await testUptakeConfig('sqlite');
    const { db, dialect } = openDatabase(config);
    try {
      await migrateToLatest(db, dialect);
      await sql`DELETE FROM uptake_migration WHERE name = '0010-rollup-sets'`.execute(db);
      expect(await migrateToLatest(db, dialect)).toEqual(['0010-rollup-sets']);
    } finally {
      await db.destroy();
      await cleanup();
    }
  });
});
