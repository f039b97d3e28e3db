import { describe } from 'vitest';
import { experimentReportBehaviour, shadowReportBehaviour } from './experiment-behaviour.js';
import { announcePgSkip, PG_SKIP_REASON, PG_URL } from './support.js';

announcePgSkip('experiment-report.pg.test.ts');

describe.skipIf(!PG_URL)(`experiment report on PostgreSQL${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`, () => {
  experimentReportBehaviour('postgres');
});

describe.skipIf(!PG_URL)(`shadow report on PostgreSQL${PG_URL ? '' : ` (${PG_SKIP_REASON})`}`, () => {
  shadowReportBehaviour('postgres');
});
