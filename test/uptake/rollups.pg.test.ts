import { describe } from 'vitest';
import { rollupRun } from './rollup-run.js';
import { announcePgSkip, PG_SKIP_REASON, PG_URL } from './support.js';

announcePgSkip('rollups.pg.test.ts');

describe.skipIf(!PG_URL)(
  `the uptake report from daily roll-ups on PostgreSQL${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`,
  () => {
    rollupRun('postgres');
  },
);
