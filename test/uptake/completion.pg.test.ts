import { describe } from 'vitest';
import { completionRun } from './completion-run.js';
import { announcePgSkip, PG_SKIP_REASON, PG_URL } from './support.js';

announcePgSkip('completion.pg.test.ts');

describe.skipIf(!PG_URL)(
  `action completion of the fixture call sequences on PostgreSQL${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`,
  () => {
    completionRun('postgres');
  },
);
