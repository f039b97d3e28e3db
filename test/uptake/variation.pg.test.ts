import { describe } from 'vitest';
import { variationRun } from './variation-run.js';
import { announcePgSkip, PG_SKIP_REASON, PG_URL } from './support.js';

announcePgSkip('variation.pg.test.ts');

describe.skipIf(!PG_URL)(
  `variation between clinicians and sites on PostgreSQL${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`,
  () => {
    variationRun('postgres');
  },
);
