// The keys of FHIR objects for CQL's distinct results (src/engine/cql/distinct-keys.ts): equal exactly when the
// type and the JSON with sorted keys would print the same, whatever the hashes.
import { describe, expect, it } from 'vitest';
import { FhirKey, jsonHash, sameJson } from '../../src/engine/cql/distinct-keys.js';

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

  it('tell types apart', () => {
    expect(new FhirKey('FHIR:Observation', { id: 'a' }).equals(new FhirKey('FHIR:Condition', { id: 'a' }))).toBe(false);
  });
});
