import { describe } from 'vitest';
import { driftRun } from './drift-run.js';
import { announcePgSkip, PG_SKIP_REASON, PG_URL } from './support.js';

announcePgSkip('drift.pg.test.ts');

describe.skipIf(!PG_URL)(`drift alarms on replayed traffic, PostgreSQL${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`, () => {
  driftRun('postgres');
});
