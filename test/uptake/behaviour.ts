import { randomUUID } from 'node:crypto';
// The uptake store's behaviour, run against SQLite (store.test.ts) and PostgreSQL (store.pg.test.ts)
// with the same expectations: the seeded ledger of seed.ts and its figures worked out by hand.
import { sql } from 'kysely';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import {
  parseReportQuery,
  reportToCsv,
  suppressSmallCells,
  type FeedbackItemResult,
  type ReportRow,
  type UptakeStore,
} from '../../src/uptake/index.js';
import { duplicateBatch, firstBatch, LOCAL_REASON, OR1, OR2, seedInvocations, type Seeded } from './seed.js';
import { testUptakeStore, type StoreKind, type TestStore } from './support.js';

/** The client the seeded cards of svc-a were served to: only it may send their feedback. */
const EHR_1 = { iss: 'https://ehr-1.example.org' };

const report = (store: UptakeStore, raw: Record<string, string> = {}) => store.report(parseReportQuery(raw));
const withoutTime = <T extends { generatedAt: string }>(r: T) => ({ ...r, generatedAt: 'x' });

export function uptakeStoreBehaviour(kind: StoreKind): void {
  let t: TestStore;
  let seeded: Seeded;
  let firstResults: FeedbackItemResult[];

  beforeEach(async () => {
    t = await testUptakeStore(kind);
    seeded = await seedInvocations(t.store);
    firstResults = await t.store.ingestFeedback('svc-a', firstBatch(seeded), EHR_1);
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('stores the valid items of a batch and rejects the others, naming the item and field', () => {
    expect(firstResults.slice(0, 18).map((r) => r.result)).toEqual(Array(18).fill('stored'));
    expect(
      firstResults.slice(18).map((r) => ({ result: r.result, where: r.issues.map((i) => i.expression?.[0]) })),
    ).toEqual([
      { result: 'rejected', where: ['feedback[18].card'] },
      { result: 'rejected', where: ['feedback[19].card'] },
      { result: 'rejected', where: ['feedback[20].acceptedSuggestions'] },
      { result: 'rejected', where: ['feedback[21].acceptedSuggestions[0].id'] },
    ]);
    expect(firstResults[18].issues[0].diagnostics).toContain('no card with uuid');
    expect(firstResults[19].issues[0].diagnostics).toContain("was served by service 'svc-b', not 'svc-a'");
    expect(firstResults[21].issues[0].diagnostics).toContain('is not a suggestion of card');
  });

  it('marks an override reason the card did not offer as client-added, and only that one', () => {
    expect(firstResults.filter((r) => r.clientAddedReason).map((r) => r.index)).toEqual([11]);
    expect(firstResults[17].clientAddedReason).toBe(false);
  });

  it('gives the exact figures of the seeded ledger per service', async () => {
    const r = await report(t.store, { groupBy: 'service' });
    expect(r.rows.map((row) => row.group)).toEqual([{ service: 'svc-a' }, { service: 'svc-b' }]);
    const [a, b] = r.rows;
    expect(a).toEqual<ReportRow>({
      group: { service: 'svc-a' },
      invocations: 60,
      failedInvocations: 0,
      cardsServed: 30,
      cardsPer100Invocations: 50,
      systemActionsReturned: 0,
      cardsWithFeedback: 17,
      feedbackCoverage: 0.5667,
      coverageByClient: [
        { iss: 'https://ehr-1.example.org', tenant: null, cardsServed: 30, cardsWithFeedback: 17, coverage: 0.5667 },
      ],
      accepted: 11,
      overridden: 6,
      acceptance: { rate: 0.6471, low: 0.413, high: 0.8269 },
      suggestionsOffered: 30,
      suggestionsAccepted: 12,
      suggestionAcceptance: 0.4,
      overrideReasons: [
        { system: OR1.system, code: 'or1', display: OR1.display, clientAdded: false, count: 3, share: 0.5 },
        {
          system: LOCAL_REASON.system,
          code: LOCAL_REASON.code,
          display: LOCAL_REASON.display,
          clientAdded: true,
          count: 1,
          share: 0.1667,
        },
        { system: OR2.system, code: 'or2', display: OR2.display, clientAdded: false, count: 1, share: 0.1667 },
        { system: null, code: null, display: null, clientAdded: false, count: 1, share: 0.1667 },
      ],
      timeToFeedbackSeconds: { median: 300, p90: 600 },
      burdenPerClinicianDay: { clinicianDays: 6, median: 5, p90: 5 },
      distinctPatients: 5,
      // The seeded suggestions carry no actions: nothing to match, so no card is measured.
      completion: expect.objectContaining({ cardsMeasured: 0, completion: { rate: null, low: null, high: null } }),
    });
    expect(b).toMatchObject({
      group: { service: 'svc-b' },
      invocations: 39,
      failedInvocations: 1,
      cardsServed: 10,
      cardsPer100Invocations: 25.641,
      systemActionsReturned: 0,
      cardsWithFeedback: 0,
      feedbackCoverage: 0,
      accepted: 0,
      overridden: 0,
      acceptance: { rate: null, low: null, high: null },
      suggestionAcceptance: null,
      overrideReasons: [],
      timeToFeedbackSeconds: { median: null, p90: null },
      burdenPerClinicianDay: { clinicianDays: 1, median: 10, p90: 10 },
      distinctPatients: 5,
    });
  });

  it('does not let a client that never sends feedback lower acceptance, and shows its coverage apart', async () => {
    const [all] = (await report(t.store)).rows;
    expect(all).toMatchObject({
      invocations: 99,
      failedInvocations: 1,
      cardsServed: 40,
      cardsPer100Invocations: 40.404,
      systemActionsReturned: 0,
      cardsWithFeedback: 17,
      feedbackCoverage: 0.425,
      accepted: 11,
      overridden: 6,
    });
    expect(all.acceptance).toEqual({ rate: 0.6471, low: 0.413, high: 0.8269 });
    expect(all.coverageByClient).toEqual([
      { iss: 'https://ehr-1.example.org', tenant: null, cardsServed: 30, cardsWithFeedback: 17, coverage: 0.5667 },
      { iss: 'https://ehr-2.example.org', tenant: null, cardsServed: 10, cardsWithFeedback: 0, coverage: 0 },
    ]);
    expect(all.distinctPatients).toBe(10);
    expect(all.burdenPerClinicianDay).toEqual({ clinicianDays: 6, median: 5, p90: 15 });
  });

  it('groups by rule with the service invocations as the denominator', async () => {
    const r = await report(t.store, { service: 'svc-a', groupBy: 'rule' });
    expect(
      r.rows.map((row) => [
        row.group,
        row.invocations,
        row.cardsServed,
        row.cardsPer100Invocations,
        row.accepted,
        row.overridden,
        row.acceptance.rate,
      ]),
    ).toEqual([
      [{ ruleSet: 'rs-a', rule: 'r1' }, 60, 15, 25, 9, 4, 0.6923],
      [{ ruleSet: 'rs-a', rule: 'r2' }, 60, 15, 25, 2, 2, 0.5],
    ]);
  });

  it('groups by UTC day and week, and by rule set version', async () => {
    const days = await report(t.store, { groupBy: 'day' });
    expect(days.rows.map((row) => [row.group.day, row.invocations, row.failedInvocations, row.cardsServed])).toEqual([
      ['2026-06-01', 69, 1, 25],
      ['2026-06-02', 30, 0, 15],
    ]);
    const weeks = await report(t.store, { groupBy: 'week' });
    expect(weeks.rows.map((row) => [row.group.week, row.invocations, row.cardsServed])).toEqual([
      ['2026-06-01', 99, 40],
    ]);
    const versions = await report(t.store, { groupBy: 'version,indicator' });
    expect(versions.rows.map((row) => [row.group, row.cardsServed])).toEqual([
      [{ ruleSet: 'rs-a', version: '1.0.0', indicator: 'info' }, 15],
      [{ ruleSet: 'rs-a', version: '1.0.0', indicator: 'warning' }, 15],
      [{ ruleSet: 'rs-b', version: '2.0.0', indicator: 'critical' }, 10],
    ]);
  });

  it('filters by period, client, indicator and rule', async () => {
    expect((await report(t.store, { from: '2026-06-02' })).rows[0]).toMatchObject({ invocations: 30, cardsServed: 15 });
    expect((await report(t.store, { to: '2026-06-01' })).rows[0]).toMatchObject({ invocations: 69, cardsServed: 25 });
    expect((await report(t.store, { client: 'https://ehr-2.example.org' })).rows[0]).toMatchObject({
      invocations: 39,
      cardsServed: 10,
      cardsWithFeedback: 0,
    });
    expect((await report(t.store, { indicator: 'warning' })).rows[0]).toMatchObject({
      cardsServed: 15,
      accepted: 9,
      overridden: 4,
    });
    expect((await report(t.store, { ruleSet: 'rs-a', rule: 'r2' })).rows[0]).toMatchObject({
      cardsServed: 15,
      accepted: 2,
    });
    expect((await report(t.store, { service: 'no-such-service' })).rows).toEqual([]);
  });

  it('writes every recorded call when flushes overlap', async () => {
    for (let i = 0; i < 30; i++) {
      t.store.record({
        serviceId: 'svc-c',
        hook: 'patient-view',
        startedAt: new Date('2026-06-03T08:00:00Z'),
        durationMs: 5,
        status: 200,
        evaluations: [],
      });
      if (i % 10 === 0) void t.store.flush().catch(() => undefined);
    }
    await Promise.all([t.store.flush(), t.store.flush(), t.store.flush()]);
    expect((await report(t.store, { service: 'svc-c' })).rows[0]).toMatchObject({ invocations: 30, cardsServed: 0 });
  });

  it('stores the same item sent again once: duplicates change no figure', async () => {
    const before = withoutTime(await report(t.store, { groupBy: 'service,rule' }));
    const again = await t.store.ingestFeedback('svc-a', duplicateBatch(seeded), EHR_1);
    expect(again.map((r) => r.result)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    expect(withoutTime(await report(t.store, { groupBy: 'service,rule' }))).toEqual(before);
  });

  it('keeps a later, different outcome as history and counts the latest', async () => {
    const card = seeded.r1[8];
    const later = {
      card: card.uuid,
      outcome: 'accepted',
      acceptedSuggestions: [{ id: card.suggestions[1] }],
      outcomeTimestamp: new Date(card.servedAt + 900_000).toISOString(),
    };
    const earlier = {
      card: card.uuid,
      outcome: 'accepted',
      acceptedSuggestions: [{ id: card.suggestions[0] }],
      outcomeTimestamp: new Date(card.servedAt + 1_000).toISOString(),
    };
    expect((await t.store.ingestFeedback('svc-a', [later, earlier], EHR_1)).map((r) => r.result)).toEqual([
      'stored',
      'stored',
    ]);
    const [row] = (await report(t.store, { service: 'svc-a' })).rows;
    expect(row).toMatchObject({ cardsWithFeedback: 17, accepted: 12, overridden: 5 });
    expect(row.overrideReasons[0]).toMatchObject({ code: 'or1', count: 2 });
  });

  it('leaves override comments out of the report unless they are asked for', async () => {
    const plain = await report(t.store, { service: 'svc-a' });
    expect(JSON.stringify(plain)).not.toContain('nephrology');
    expect(reportToCsv(suppressSmallCells(plain, 1))).not.toContain('nephrology');
    const asked = await report(t.store, { service: 'svc-a', comments: 'true' });
    expect(asked.rows[0].userComments).toEqual(['Already on it', 'Seen by nephrology last week']);
  });

  it('withholds counts below k, and the figures computed over them, in exports', async () => {
    const r = suppressSmallCells(await report(t.store, { groupBy: 'service' }), 11);
    expect(r.minCell).toBe(11);
    const [a, b] = r.rows;
    // 11 accepted would be shown, but 6 overridden is not, and one gives the other away (17 − 11).
    expect(a).toMatchObject({
      cardsServed: 30,
      cardsWithFeedback: 17,
      feedbackCoverage: 0.5667,
      accepted: null,
      overridden: null,
      acceptance: { rate: null },
      distinctPatients: null,
    });
    expect(a.overrideReasons.every((reason) => reason.count === null && reason.share === null)).toBe(true);
    expect(a.suppressed).toEqual(
      expect.arrayContaining(['accepted', 'overridden', 'acceptance', 'distinctPatients', 'overrideReasons']),
    );
    expect(b).toMatchObject({
      invocations: 39,
      cardsServed: null,
      cardsPer100Invocations: null,
      cardsWithFeedback: 0,
      feedbackCoverage: null,
      failedInvocations: null,
      burdenPerClinicianDay: { median: null },
    });
  });

  it('exports CSV with one line per group and empty cells for what is undefined or withheld', async () => {
    const csv = reportToCsv(suppressSmallCells(await report(t.store, { groupBy: 'service' }), 1)).split('\r\n');
    const header = csv[0].split(',');
    const a = Object.fromEntries(header.map((h, i) => [h, csv[1].split(',')[i]]));
    expect(csv).toHaveLength(4);
    expect(a).toMatchObject({
      service: 'svc-a',
      invocations: '60',
      cardsServed: '30',
      acceptanceRate: '0.6471',
      acceptanceLow95: '0.413',
      timeToFeedbackMedianSeconds: '300',
      rule: '',
    });
    expect(csv[2]).toContain('svc-b');
  });

  it('rejects card and suggestion ids holding control characters, and goes on storing', async () => {
    const [card] = seeded.r1;
    const results = await t.store.ingestFeedback('svc-a', [
      { card: 'abc\u0000def', outcome: 'overridden', outcomeTimestamp: '2026-06-01T12:00:00Z' },
      {
        card: card.uuid,
        outcome: 'accepted',
        acceptedSuggestions: [{ id: 'x\u0000' }],
        outcomeTimestamp: '2026-06-01T12:00:00Z',
      },
    ]);
    expect(results.map((r) => [r.result, r.issues[0]?.diagnostics])).toEqual([
      ['rejected', 'feedback[0].card must not contain control characters'],
      ['rejected', 'feedback[1].acceptedSuggestions[0].id must not contain control characters'],
    ]);
    // Nothing else changed, and the store still takes what comes next.
    expect(
      (
        await t.store.ingestFeedback(
          'svc-a',
          [{ card: card.uuid, outcome: 'overridden', outcomeTimestamp: '2026-06-03T12:00:00Z' }],
          EHR_1,
        )
      )[0].result,
    ).toBe('stored');
  });

  it('tells how long a version has run in shadow in a service: first successful shadow evaluation and their number', async () => {
    const row = (id: string, overrides: Record<string, unknown>) => ({
      id,
      invocation_id: `inv-${id}`,
      service_id: 'svc-shadow',
      hook: 'order-sign',
      rule_set: 'rs',
      rule_set_version: '1.1.0',
      cql: '[]',
      disposition: 'shadow',
      status: 'ok',
      card_count: 0,
      signature: '[]',
      evaluated_at: Date.parse('2026-06-03T00:00:00Z'),
      ...overrides,
    });
    expect(await t.store.shadowHistory('svc-shadow', 'rs', '1.1.0')).toEqual({ calls: 0 });
    await t.store.database
      .insertInto('uptake_evaluation')
      .values([
        row('e1', {}),
        row('e2', { evaluated_at: Date.parse('2026-06-01T10:00:00Z') }),
        row('e3', { evaluated_at: Date.parse('2026-05-01T00:00:00Z'), status: 'failed' }),
        row('e4', { disposition: 'shown', evaluated_at: Date.parse('2026-05-02T00:00:00Z') }),
        row('e5', { rule_set_version: '1.2.0', evaluated_at: Date.parse('2026-05-03T00:00:00Z') }),
        row('e6', { service_id: 'svc-other', evaluated_at: Date.parse('2026-05-04T00:00:00Z') }),
      ])
      .execute();
    expect(await t.store.shadowHistory('svc-shadow', 'rs', '1.1.0')).toEqual({
      firstAt: new Date('2026-06-01T10:00:00Z'),
      calls: 2,
    });
  });

  it('writes calls answered at the same time in one commit; a value refused holds up only its own call', async () => {
    const call = (serviceId: string) => ({
      serviceId,
      hook: 'order-sign',
      hookInstance: randomUUID(),
      client: EHR_1,
      startedAt: new Date('2026-06-04T10:00:00Z'),
      durationMs: 1,
      status: 500,
      context: { patientId: 'patient-x' },
    });
    const transactions = vi.spyOn(t.store.database, 'transaction');
    try {
      await Promise.all(Array.from({ length: 12 }, () => t.store.recordNow(call('svc-group'))));
      // One commit for the twelve (a timer of the store may start one more meanwhile).
      expect(transactions.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      transactions.mockRestore();
    }
    // service_id is NOT NULL: the group is refused, then written one call at a time; the refused one is set aside.
    await Promise.all(
      [call('svc-group'), call(undefined as unknown as string), call('svc-group')].map((c) => t.store.recordNow(c)),
    );
    await t.store.flush();
    const rows = (await report(t.store, { service: 'svc-group', from: '2026-06-04' })).rows;
    expect(rows[0]).toMatchObject({ failedInvocations: 14 });
    expect((await t.store.status()).recorder).toMatchObject({ queued: 0, dropped: 0, setAside: 1 });
  });

  it('sets aside an entry the database refuses as data, and writes the ones queued behind it', async () => {
    const call = (serviceId: string) => ({
      serviceId,
      hook: 'order-sign',
      hookInstance: randomUUID(),
      client: EHR_1,
      startedAt: new Date('2026-06-03T10:00:00Z'),
      durationMs: 1,
      status: 500,
      context: { patientId: 'patient-x' },
    });
    // A value no column takes (service_id is NOT NULL): refused by the database, for ever.
    t.store.record(call(undefined as unknown as string));
    t.store.record(call('svc-a'));
    await t.store.flush();
    const status = await t.store.status();
    expect(status.recorder).toMatchObject({ queued: 0, dropped: 0, setAside: 1 });
    const kept = await t.store.setAside();
    expect(kept).toMatchObject({ entries: 1, reasons: [{ entries: 1 }] });
    expect(kept.reasons[0].reason).toMatch(/service_id|NOT NULL|null value/i);
    // Still refused: it stays, with the reason of this attempt.
    expect(await t.store.retrySetAside()).toEqual({ written: 0, refused: 1 });
    expect((await t.store.setAside()).entries).toBe(1);
    const rows = (await report(t.store, { service: 'svc-a', from: '2026-06-03' })).rows;
    expect(rows[0]).toMatchObject({ invocations: 0, failedInvocations: 1 });
    // Feedback is not held up by it either.
    const again = await t.store.ingestFeedback('svc-a', duplicateBatch(seeded), EHR_1);
    expect(again.length).toBeGreaterThan(0);
  });

  it('writes a set-aside entry again, cards included, once the database takes it', async () => {
    const db = t.store.database;
    // A rule of the database (a check constraint, a trigger) that refuses one service's rows, later lifted.
    if (t.store.dialect === 'postgres')
      await sql`ALTER TABLE uptake_invocation ADD CONSTRAINT refuse_svc_z CHECK (service_id <> 'svc-z') NOT VALID`.execute(
        db,
      );
    else
      await sql`CREATE TRIGGER refuse_svc_z BEFORE INSERT ON uptake_invocation WHEN NEW.service_id = 'svc-z'
        BEGIN SELECT RAISE(ABORT, 'svc-z refused'); END`.execute(db);
    const hookInstance = randomUUID();
    t.store.record({
      serviceId: 'svc-z',
      hook: 'order-sign',
      hookInstance,
      client: EHR_1,
      startedAt: new Date('2026-06-03T10:00:00Z'),
      durationMs: 1,
      status: 500,
      context: { patientId: 'patient-z' },
    });
    await t.store.flush();
    expect((await t.store.status()).recorder).toMatchObject({ setAside: 1, dropped: 0 });
    // Kept without the identifier the call carried: the ledger holds pseudonyms only.
    const [row] = await db.selectFrom('uptake_set_aside').selectAll().execute();
    expect(row.entry).not.toContain('patient-z');
    expect(row.entry).toContain(hookInstance);
    if (t.store.dialect === 'postgres')
      await sql`ALTER TABLE uptake_invocation DROP CONSTRAINT refuse_svc_z`.execute(db);
    else await sql`DROP TRIGGER refuse_svc_z`.execute(db);
    expect(await t.store.retrySetAside()).toEqual({ written: 1, refused: 0 });
    expect(await t.store.setAside()).toEqual({ entries: 0, reasons: [] });
    const stored = await db
      .selectFrom('uptake_invocation')
      .select(['service_id', 'hook_instance'])
      .where('service_id', '=', 'svc-z')
      .execute();
    expect(stored).toEqual([{ service_id: 'svc-z', hook_instance: hookInstance }]);
  });
}
