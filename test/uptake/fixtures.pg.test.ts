import { describe } from 'vitest';
import { fixtureUptakeRun } from './fixture-run.js';
import { announcePgSkip, PG_SKIP_REASON, PG_URL } from './support.js';

announcePgSkip('fixtures.pg.test.ts');

describe.skipIf(!PG_URL)(`uptake of the fixture run on PostgreSQL${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`, () => {
  fixtureUptakeRun('postgres');
});
