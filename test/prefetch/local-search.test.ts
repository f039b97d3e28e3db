// The local FHIR search (prefetch filled from a record in a file) reads back what derived prefetch writes:
// value set membership (`:in`) against the loaded value sets, and token values with FHIR's `\` escapes.
import { describe, expect, it } from 'vitest';
import { searchResources, type LocalResource } from '../../src/prefetch/local-search.js';
import { parseTokenValue, splitSearchValue, tokenSearchValue } from '../../src/prefetch/index.js';
import { CdsError } from '../../src/errors.js';

const BASE = 'https://ehr.example.org/fhir';

function observation(id: string, system: string | undefined, code: string): LocalResource {
  return {
    resourceType: 'Observation',
    id,
    subject: { reference: 'Patient/p-ls' },
    code: { coding: [{ ...(system !== undefined ? { system } : {}), code }] },
  };
}

const ids = (query: string, resources: LocalResource[], valueSets = {}) =>
  searchResources(query, resources, BASE, { valueSets }).entry.map((e) => e.resource.id);

describe('local search', () => {
  it('finds resources whose code is in a loaded value set (code:in), by url or url|version', () => {
    const record = [
      observation('in-v1', 'http://loinc.org', '4548-4'),
      observation('in-v2', 'http://loinc.org', '17856-6'),
      observation('other', 'http://loinc.org', '2345-7'),
    ];
    const valueSets = {
      'http://example.org/ValueSet/a1c': {
        '1.0.0': [{ system: 'http://loinc.org', code: '4548-4' }],
        '2.0.0': [
          { system: 'http://loinc.org', code: '4548-4' },
          { system: 'http://loinc.org', code: '17856-6' },
        ],
      },
    };
    const q = (vs: string) => `Observation?patient=p-ls&code:in=${vs}`;
    expect(ids(q('http://example.org/ValueSet/a1c'), record, valueSets)).toEqual(['in-v1', 'in-v2']);
    expect(ids(q('http://example.org/ValueSet/a1c|1.0.0'), record, valueSets)).toEqual(['in-v1']);
    expect(() => ids(q('http://example.org/ValueSet/unknown'), record, valueSets)).toThrow(CdsError);
    expect(() => ids(q('http://example.org/ValueSet/a1c|9.9.9'), record, valueSets)).toThrow(/not among the loaded/);
  });

  it('reads back token values holding , | $ and \\ as derived prefetch writes them', () => {
    const awkward = [
      ['urn:system,with|bars', 'a,b|c$d\\e'],
      ['http://example.org/cs', 'x&y=z+1 #2'],
      ['http://example.org/cs', '{{context.patientId}}'],
    ] as const;
    const record = [
      ...awkward.map(([system, code], i) => observation(`odd-${i}`, system, code)),
      observation('plain-a', 'urn:system', 'a'),
      observation('plain-b', 'http://example.org/cs', 'x'),
    ];
    for (const [i, [system, code]] of awkward.entries()) {
      const value = tokenSearchValue(system, code);
      expect(value).not.toMatch(/[&=+# {}]/);
      expect(parseTokenValue(decodeURIComponent(value))).toEqual({ system, code });
      expect(ids(`Observation?patient=p-ls&code=${value}`, record)).toEqual([`odd-${i}`]);
    }
    const all = awkward.map(([system, code]) => tokenSearchValue(system, code)).join(',');
    expect(ids(`Observation?patient=p-ls&code=${all}`, record)).toEqual(['odd-0', 'odd-1', 'odd-2']);
  });

  it('matches a token without a system against any system, and |code only against codings without one', () => {
    const record = [observation('with', 'http://loinc.org', '1'), observation('without', undefined, '1')];
    expect(ids('Observation?patient=p-ls&code=1', record)).toEqual(['with', 'without']);
    expect(ids('Observation?patient=p-ls&code=|1', record)).toEqual(['without']);
  });

  it('splits only at separators that are not escaped', () => {
    expect(splitSearchValue('a\\,b,c', ',')).toEqual(['a\\,b', 'c']);
    expect(splitSearchValue('s\\|t|c', '|')).toEqual(['s\\|t', 'c']);
  });

  it('refuses a value that is not percent-encoded correctly with a clear error', () => {
    expect(() => ids('Observation?patient=p-ls&code=%E0%A4%A', [])).toThrow(/not percent-encoded correctly/);
  });
});
