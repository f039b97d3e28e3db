import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import { createDatabaseJtiStore, createMemoryJtiStore, type JtiStore } from '../../src/auth/index.js';
import { StartupError } from '../../src/errors.js';

const opened: Array<Kysely<any>> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.destroy()));
});

function sqliteFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'cds-jti-')), 'jti.sqlite');
}

function open(file: string): Kysely<any> {
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file, { timeout: 5000 }) }) });
  opened.push(db);
  return db;
}

const stores: Record<string, (clock: () => Date) => Promise<JtiStore>> = {
  'in memory': (clock) => Promise.resolve(createMemoryJtiStore(clock)),
  'in a SQLite table': (clock) => createDatabaseJtiStore(open(sqliteFile()), clock),
};

describe.each(Object.entries(stores))('the jti store %s', (_name, make) => {
  it('accepts a jti once and refuses it again until it expires', async () => {
    let now = new Date('2026-03-01T10:00:00Z');
    const store = await make(() => now);
    const expires = new Date('2026-03-01T10:05:00Z');
    expect(await store.firstUse('https://ehr.example', 'jti-1', expires)).toBe(true);
    expect(await store.firstUse('https://ehr.example', 'jti-1', expires)).toBe(false);
    now = new Date('2026-03-01T10:06:00Z');
    expect(await store.firstUse('https://ehr.example', 'jti-1', new Date('2026-03-01T10:11:00Z'))).toBe(true);
  });

  it('keeps the jti values of different issuers apart', async () => {
    const store = await make(() => new Date('2026-03-01T10:00:00Z'));
    const expires = new Date('2026-03-01T10:05:00Z');
    expect(await store.firstUse('https://ehr-a.example', 'shared-jti', expires)).toBe(true);
    expect(await store.firstUse('https://ehr-b.example', 'shared-jti', expires)).toBe(true);
  });

  it('lets exactly one of many concurrent uses of a jti through', async () => {
    const store = await make(() => new Date('2026-03-01T10:00:00Z'));
    const expires = new Date('2026-03-01T10:05:00Z');
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.firstUse('https://ehr.example', 'raced', expires)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});

describe('the jti table shared by two instances', () => {
  it('refuses on one instance a jti first used on the other', async () => {
    const file = sqliteFile();
    const clock = () => new Date('2026-03-01T10:00:00Z');
    const first = await createDatabaseJtiStore(open(file), clock);
    const second = await createDatabaseJtiStore(open(file), clock);
    expect(await first.firstUse('https://ehr.example', 'across', new Date('2026-03-01T10:05:00Z'))).toBe(true);
    expect(await second.firstUse('https://ehr.example', 'across', new Date('2026-03-01T10:05:00Z'))).toBe(false);
  });
});

describe('the jti table in a database that cannot take it', () => {
  it("stops the start with the database's reason (exit status 1)", async () => {
    const file = sqliteFile();
    new SqliteDatabase(file).close();
    const readOnly = new Kysely<any>({
      dialect: new SqliteDialect({ database: new SqliteDatabase(file, { readonly: true }) }),
    });
    opened.push(readOnly);
    const failure = await createDatabaseJtiStore(readOnly).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(StartupError);
    expect((failure as StartupError).exitCode).toBe(1);
    expect((failure as StartupError).message).toMatch(/^the database cannot keep the used JWT ids: .*readonly/);
  });
});
