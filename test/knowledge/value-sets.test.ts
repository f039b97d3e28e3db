// Value set identity and local expansion, as published content needs them.
import { describe, expect, it } from 'vitest';
import { addEntry, codesOf, resolveValueSet, type ValueSetCatalog } from '../../src/knowledge/value-sets.js';

const OID = '2.16.840.1.113883.3.464.1003.101.12.1001';
const LOINC = 'http://loinc.org';

function catalogOf(...sets: Array<Record<string, unknown>>): ValueSetCatalog {
  const catalog: ValueSetCatalog = { index: {}, entries: [], problems: [], unexpanded: [] };
  for (const vs of sets) {
    const r = codesOf(vs, new Map());
    addEntry(catalog, vs, 'cql/valuesets/x.json', undefined, 'codes' in r ? r.codes : []);
  }
  return catalog;
}

describe('resolveValueSet', () => {
  const vsac = {
    resourceType: 'ValueSet',
    id: OID,
    url: `http://cts.nlm.nih.gov/fhir/ValueSet/${OID}`,
    version: '20240101',
    expansion: { contains: [{ system: LOINC, code: '1-1' }] },
  };
  const local = {
    resourceType: 'ValueSet',
    id: 'local-set',
    url: 'http://example.org/fhir/ValueSet/local',
    identifier: [{ system: 'urn:ietf:rfc:3986', value: 'urn:oid:2.25.1234' }],
    expansion: { contains: [{ system: LOINC, code: '2-2' }] },
  };
  const catalog = catalogOf(vsac, local);
  const how = (id: string, version?: string) => {
    const r = resolveValueSet(catalog, id, version);
    return r ? { exact: r.exact, how: r.how, version: r.version } : undefined;
  };

  it.each([
    [`http://cts.nlm.nih.gov/fhir/ValueSet/${OID}`, true],
    [`http://cts.nlm.nih.gov/fhir/ValueSet/${OID}|20240101`, true],
    [`https://cts.nlm.nih.gov/fhir/ValueSet/${OID}`, false],
    [`https://cts.nlm.nih.gov/fhir/ValueSet/${OID}|20240101`, false],
    [`http://cts.nlm.nih.gov/fhir/res/ValueSet/${OID}`, false],
    [`urn:oid:${OID}`, false],
    [OID, false],
    ['http://example.org/fhir/ValueSet/local', true],
    ['urn:oid:2.25.1234', true],
    ['local-set', false],
  ])('finds %s (exactly: %s)', (id, exact) => {
    expect(how(id)?.exact).toBe(exact);
  });

  it('says how it found it, and keeps versions apart', () => {
    expect(how(`https://cts.nlm.nih.gov/fhir/ValueSet/${OID}|20240101`)).toEqual({
      exact: false,
      how: `by its OID ${OID}`,
      version: '20240101',
    });
    expect(how('local-set')).toEqual({ exact: false, how: "by the ValueSet id 'local-set'", version: undefined });
    expect(how(OID, '20230101')).toBeUndefined();
    expect(how(`urn:oid:${OID}|20990101`)).toBeUndefined();
    expect(how('http://example.org/fhir/ValueSet/other')).toBeUndefined();
  });
});

describe('codesOf a compose', () => {
  const others = new Map([
    [
      'http://example.org/fhir/ValueSet/a',
      {
        url: 'http://example.org/fhir/ValueSet/a',
        compose: { include: [{ system: LOINC, concept: [{ code: 'a1' }, { code: 'a2' }] }] },
      },
    ],
  ]);

  it('includes other value sets that are here, and leaves out excluded concepts', () => {
    const vs = {
      compose: {
        include: [
          { valueSet: ['http://example.org/fhir/ValueSet/a|1.0'] },
          { system: LOINC, concept: [{ code: 'b1' }] },
        ],
        exclude: [{ system: LOINC, concept: [{ code: 'a2' }] }],
      },
    };
    expect(codesOf(vs, others)).toEqual({
      codes: [
        { code: 'a1', system: LOINC },
        { code: 'b1', system: LOINC },
      ],
    });
  });

  it('says why it cannot expand a filter, a whole code system, or a value set that is not here', () => {
    expect(codesOf({ compose: { include: [{ system: LOINC, filter: [{ op: 'is-a' }] }] } }, others)).toEqual({
      why: 'compose.include[0] has a filter',
    });
    expect(codesOf({ compose: { include: [{ system: LOINC }] } }, others)).toEqual({
      why: `compose.include[0] includes all of ${LOINC}`,
    });
    expect(
      codesOf({ compose: { include: [{ valueSet: ['http://example.org/fhir/ValueSet/gone'] }] } }, others),
    ).toEqual({
      why: 'compose.include[0] includes value set http://example.org/fhir/ValueSet/gone, which is not in cql/',
    });
  });

  it('keeps a concept without a code system', () => {
    expect(codesOf({ compose: { include: [{ concept: [{ code: '0510' }] }] } }, others)).toEqual({
      codes: [{ code: '0510' }],
    });
  });
});
