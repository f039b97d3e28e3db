// Derived date filters: a retrieve bounded by literal dates in its query's `where` adds the element's date search
// parameter (a day wider on each side); one bounded relative to Now() does not. Evaluating with only what the
// derived templates fetch gives the same define values as the whole record, boundary cases included.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/engine/evaluate.js';
import { derivePrefetch, type Knowledge } from './derived-support.js';
import { prefetchFromResources, searchResources, type LocalResource } from '../../src/prefetch/local-search.js';
import { knowledgeFrom, testKnowledge } from '../support/app.js';
import type { HookRequest } from '../../src/hooks/index.js';

const BASE = 'https://ehr.example.org/fhir';
const NOW = new Date('2026-06-01T12:00:00Z');
const BOUNDED = `
define "Since 2025":
  [Observation: "eGFR"] O
    where O.status = 'final' and (O.effective as FHIR.dateTime) >= @2025-01-01T00:00:00Z

define "In 2025":
  [Condition] C where C.onset as FHIR.dateTime during Interval[@2025-01-01T00:00:00Z, @2026-01-01T00:00:00Z)

define "Issued after":
  [DiagnosticReport] R where R.issued after @2024-06-01

define "Procedures before or in 2023":
  [Procedure] P where P.status = 'completed' and @2023 >= (P.performed as FHIR.dateTime)

define "Encounters either way":
  [Encounter] E where E.period starts after @2025-01-01 or E.status = 'planned'
`;

let dir: string;
let knowledge: Knowledge;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cds-derive-dates-'));
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  const file = join(dir, 'cql/RenalTest-1.0.0.cql');
  writeFileSync(
    file,
    readFileSync(file, 'utf8').replace('define "Test Drug Drafts":', `${BOUNDED}\ndefine "Test Drug Drafts":`),
  );
  knowledge = await knowledgeFrom(dir);
  expect(knowledge.problems.filter((p) => p.severity === 'error')).toEqual([]);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const service = () => knowledge.services.find((s) => s.definition.id === 'renal-test')!;

describe('derived date filters', () => {
  it('bounds the types whose every retrieve is bounded by literal dates, and no others', () => {
    const { templates } = derivePrefetch(service().ruleSet, knowledge.valueSets, 2000);
    expect(templates.condition).toBe(
      'Condition?patient={{context.patientId}}&onset-date=ge2024-12-31&onset-date=le2026-01-02',
    );
    expect(templates.diagnosticReport).toBe('DiagnosticReport?patient={{context.patientId}}&issued=ge2024-05-31');
    // `@2023 >= performed`: an upper bound, at the end of 2023.
    expect(templates.procedure).toBe('Procedure?patient={{context.patientId}}&date=le2024-01-01');
    // "Latest eGFR" looks back from Now(): no date a template can hold.
    expect(templates.observation).not.toMatch(/date=/);
    // A bound in one branch of an `or` bounds nothing.
    expect(templates.encounter).toBe('Encounter?patient={{context.patientId}}');
  });

  it('gives the same define values with only the derived prefetch as with the whole record', async () => {
    const patient = { resourceType: 'Patient', id: 'p1', birthDate: '1950-01-01' };
    const subject = { reference: 'Patient/p1' };
    const egfr = { coding: [{ system: 'http://loinc.org', code: '33914-3' }] };
    let n = 0;
    const at = (resourceType: string, fields: Record<string, unknown>): LocalResource => ({
      resourceType,
      id: `${resourceType.toLowerCase()}-${++n}`,
      subject,
      ...fields,
    });
    const record: LocalResource[] = [
      patient,
      ...['2024-06-01', '2024-12-31T23:59:59Z', '2025-01-01', '2025-01-01T00:00:00+01:00', '2025-03-01T10:00:00Z'].map(
        (effectiveDateTime) => at('Observation', { status: 'final', code: egfr, effectiveDateTime }),
      ),
      ...[
        '2024-12-15',
        '2025-01-01',
        '2024-12-31T23:30:00-05:00',
        '2025-06-01',
        '2025-12-31T23:30:00-05:00',
        '2026-02-01',
      ].map((onsetDateTime) => at('Condition', { code: egfr, onsetDateTime })),
      at('Condition', { code: egfr, onsetPeriod: { start: '2025-02-01' } }),
      ...['2024-05-01T00:00:00Z', '2024-06-01T00:30:00+02:00', '2024-06-01T12:00:00Z', '2024-07-01T00:00:00Z'].map(
        (issued) => at('DiagnosticReport', { status: 'final', code: egfr, issued }),
      ),
      ...['2022-05-01', '2023-12-31T22:00:00Z', '2024-01-01T03:00:00+05:00', '2024-03-01'].map((performedDateTime) =>
        at('Procedure', { status: 'completed', code: egfr, performedDateTime }),
      ),
      at('Encounter', { status: 'finished', period: { start: '2024-01-01', end: '2024-01-02' } }),
      at('Encounter', { status: 'planned', period: { start: '2020-01-01' } }),
    ];
    const context = { patientId: 'p1', userId: 'Practitioner/x', draftOrders: { resourceType: 'Bundle', entry: [] } };
    const body = { hook: 'order-sign', hookInstance: 'h', context } as unknown as HookRequest;
    const { templates } = derivePrefetch(service().ruleSet, knowledge.valueSets, 2000);
    const derived = prefetchFromResources(templates, record, context, BASE, { valueSets: knowledge.valueSets });
    const size = (key: string) => (derived[key] as { entry: unknown[] }).entry.length;
    // The filters did filter: fewer Conditions, DiagnosticReports and Procedures than the record holds.
    expect([size('condition'), size('diagnosticReport'), size('procedure')]).toEqual([5, 3, 3]);
    const whole = {
      record: { resourceType: 'Bundle', type: 'collection', entry: record.map((resource) => ({ resource })) },
    };
    const withWhole = await evaluate(knowledge, service(), body, whole, { now: NOW });
    const withDerived = await evaluate(knowledge, service(), body, derived, { now: NOW });
    const ids = (v: unknown) => (Array.isArray(v) ? v.map((r) => (r as { id?: string }).id).sort() : v);
    for (const define of [
      'Since 2025',
      'In 2025',
      'Issued after',
      'Procedures before or in 2023',
      'Encounters either way',
    ])
      expect(ids(withDerived.trace.cql[define]), define).toEqual(ids(withWhole.trace.cql[define]));
    expect((withWhole.trace.cql['In 2025'] as unknown[]).length).toBeGreaterThan(0);
  });
});

describe('derived date filters from hand-made ELM', () => {
  const date = (year: number, month: number, day: number) => ({
    type: 'Date',
    year: { type: 'Literal', value: String(year) },
    month: { type: 'Literal', value: String(month) },
    day: { type: 'Literal', value: String(day) },
  });
  const query = (where: unknown) => ({
    library: {
      statements: {
        def: [
          {
            name: 'X',
            expression: {
              type: 'Query',
              source: [{ alias: 'C', expression: { type: 'Retrieve', dataType: '{http://hl7.org/fhir}Condition' } }],
              where,
            },
          },
        ],
      },
    },
  });
  const onset = { type: 'Property', path: 'onset', scope: 'C' };
  const derive = (where: unknown) =>
    derivePrefetch({ library: { source: query(where) } } as never, {}, 2000).templates.condition;

  it('widens a bound compared at month or year precision to the whole unit', () => {
    const byMonth = { type: 'SameOrBefore', precision: 'Month', operand: [onset, date(2025, 6, 15)] };
    expect(derive(byMonth)).toBe('Condition?patient={{context.patientId}}&onset-date=le2025-07-01');
    const byYear = { type: 'SameOrAfter', precision: 'Year', operand: [onset, date(2025, 6, 15)] };
    expect(derive(byYear)).toBe('Condition?patient={{context.patientId}}&onset-date=ge2024-12-31');
    const byWeek = { type: 'SameOrAfter', precision: 'Week', operand: [onset, date(2025, 6, 15)] };
    expect(derive(byWeek)).toBe('Condition?patient={{context.patientId}}');
  });

  it("bounds nothing through another library's ToInterval (it makes intervals of Age and Range too)", () => {
    const interval = { type: 'Interval', low: date(2025, 1, 1), high: date(2025, 12, 31) };
    const through = (libraryName: string) => ({
      type: 'IncludedIn',
      operand: [{ type: 'FunctionRef', name: 'ToInterval', libraryName, operand: [onset] }, interval],
    });
    expect(derive(through('QICoreCommon'))).toBe('Condition?patient={{context.patientId}}');
    expect(derive(through('FHIRHelpers'))).toBe(
      'Condition?patient={{context.patientId}}&onset-date=ge2024-12-31&onset-date=le2026-01-01',
    );
  });
});

describe('local date search', () => {
  const r = (id: string, fields: Record<string, unknown>): LocalResource => ({
    resourceType: 'Observation',
    id,
    ...fields,
  });
  const resources = [
    r('day', { effectiveDateTime: '2025-01-01' }),
    r('late', { effectiveDateTime: '2025-01-01T23:00:00-05:00' }),
    r('open', { effectivePeriod: { start: '2024-06-01' } }),
    r('old', { effectiveDateTime: '2024-01-01' }),
    r('none', {}),
  ];
  const search = (q: string) => searchResources(`Observation?${q}`, resources, BASE).entry.map((e) => e.resource.id);
  it('evaluates ge, le, gt, lt and eq on dates, dateTimes and Periods at their precision', () => {
    expect(search('date=ge2025-01-01')).toEqual(['day', 'late', 'open']);
    expect(search('date=le2024-12-31')).toEqual(['open', 'old']);
    expect(search('date=ge2025-01-02')).toEqual(['late', 'open']);
    expect(search('date=eq2025-01-01')).toEqual(['day']);
    expect(search('date=ge2024-01-01&date=lt2024-06-01')).toEqual(['old']);
    expect(search('date=lt2024-01-01,gt2025-01-01')).toEqual(['late', 'open']);
  });
  it('refuses a value that is not a FHIR date', () => {
    expect(() => search('date=ge2025-13-45x')).toThrow(/date=ge2025-13-45x is not a FHIR date search value/);
  });
});
