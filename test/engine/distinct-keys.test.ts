// The keys of FHIR objects for CQL's distinct results (src/engine/cql/distinct-keys.ts): equal exactly when the
// type and the JSON with sorted keys would print the same (date-time texts compared as cql-execution's keys of
// their DateTimes), whatever the hashes.
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { FhirKey, installFhirDistinctKeys, jsonHash, sameJson } from '../../src/engine/cql/distinct-keys.js';

const require = createRequire(import.meta.url);

const stable = (value: unknown): string => {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stable((value as Record<string, unknown>)[k])}`).join(',')}}`;
};

const VALUES: unknown[] = [
  null,
  undefined,
  Number.NaN,
  0,
  -0,
  1,
  1.5,
  '1',
  '',
  true,
  false,
  [],
  {},
  [null],
  [undefined],
  [1, 2],
  [2, 1],
  { a: 1 },
  { a: 1, b: 2 },
  { b: 2, a: 1 },
  { a: null },
  { a: undefined },
  { a: [1, { b: 'x' }] },
  { a: [1, { b: 'y' }] },
  { a: { b: 1 } },
  { ab: 1 },
  { a: '1' },
];

describe('FHIR distinct keys', () => {
  it('are equal exactly when the sorted JSON texts are, and then hash the same', () => {
    for (const a of VALUES)
      for (const b of VALUES) {
        const same = stable(a) === stable(b);
        expect(sameJson(a, b), `${stable(a)} vs ${stable(b)}`).toBe(same);
        expect(new FhirKey('FHIR:Observation', a).equals(new FhirKey('FHIR:Observation', b))).toBe(same);
        if (same) expect(jsonHash(a)).toBe(jsonHash(b));
      }
  });

  it('tell different JSON apart when the hashes collide', () => {
    const a = new FhirKey('FHIR:Observation', { id: 'a' }, 7);
    const b = new FhirKey('FHIR:Observation', { id: 'b' }, 7);
    expect(a.hashCode()).toBe(b.hashCode());
    expect(a.equals(b)).toBe(false);
    expect(a.equals(new FhirKey('FHIR:Observation', { id: 'a' }, 7))).toBe(true);
  });

  it('take date-time texts as stock distinct takes the DateTimes read from them: the same instant at the same precision', () => {
    installFhirDistinctKeys();
    const util = require('cql-execution/lib/util/immutableUtil') as { __stockToNormalizedKey: (v: unknown) => unknown };
    const { DateTime } = require('cql-execution') as { DateTime: { parse(text: string): unknown } };
    const { is } = require('immutable') as { is: (a: unknown, b: unknown) => boolean };
    // As cql-exec-fhir reads a FHIR dateTime or instant.
    const stockKey = (text: string) => util.__stockToNormalizedKey(DateTime.parse(text.replace('Z', '+00:00')));
    const texts = [
      '2024-03-02T06:30:00Z',
      '2024-03-02T06:30:00+00:00',
      '2024-03-02T06:30:00-00:00',
      '2024-03-02T08:30:00+02:00',
      '2024-03-01T20:30:00-10:00',
      '2024-03-02T12:00:00+05:30',
      '2024-03-02T11:50:00+05:20',
      '2024-03-02T06:30:00.000Z',
      '2024-03-02T07:30:00.000+01:00',
      '2024-03-02T07:30:00.5+01:00',
      '2024-03-02T06:30:00.500Z',
      '2024-03-02T06:30:00.5000001Z',
      '2024-03-02T06:30:00.1234567Z',
      '2024-03-02T08:30:00.1239+02:00',
      '2024-03-02T06:30:00.12Z',
      '2024-03-02T06:30:00.120+00:00',
      '2024-03-02T06:30:00',
      '2024-03-02T06:30Z',
      '2024-03-02T08:30+02:00',
      '2025-01-01T00:30:00+01:00',
      '2024-12-31T23:30:00Z',
      '2024-02-29T23:00:00-01:00',
      '2024-03-01T00:00:00Z',
      '2024-03-02T20:30:00+14:00',
      '1000-01-01T00:30:00+01:00',
      '0999-12-31T23:30:00Z',
      '2024-03-02',
      '2024-13-02T06:30:00Z',
      '2024-03-02T24:00:00Z',
    ];
    for (const a of texts)
      for (const b of texts) {
        const same = is(stockKey(a), stockKey(b));
        expect(sameJson({ start: a }, { start: b }), `${a} vs ${b}`).toBe(same);
        if (same) expect(jsonHash({ start: a })).toBe(jsonHash({ start: b }));
      }
  });

  it('tell types apart', () => {
    expect(new FhirKey('FHIR:Observation', { id: 'a' }).equals(new FhirKey('FHIR:Condition', { id: 'a' }))).toBe(false);
  });
});
