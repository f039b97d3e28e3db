// A card shown is a card recorded, on PostgreSQL: kill -9 mid-stream three times, nothing served or acknowledged
// lost.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { announcePgSkip, PG_URL, testUptakeConfig } from '../uptake/support.js';
import { KILLS, killMidStream } from './crash-scenario.js';

announcePgSkip('crash-recovery.pg.test.ts');
let database: { config: { databaseUrl?: string }; cleanup: () => Promise<void> } | undefined;
beforeAll(async () => {
  if (PG_URL) database = await testUptakeConfig('postgres');
});
afterAll(async () => {
  await database?.cleanup();
});

describe.skipIf(!PG_URL)('served cards and acknowledged feedback survive kill -9 (PostgreSQL)', () => {
  it(`loses none over ${KILLS} kills mid-stream`, () => killMidStream(database!.config.databaseUrl), 240_000);
});
