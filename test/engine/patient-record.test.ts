// The record CQL sees (patientRecord in src/engine/evaluate.ts): every prefetch value and Bundle entry, one
// resource per type and id (the last one sent, at the place of the first), those without an id after them, the
// Patient first.
import { describe, expect, it } from 'vitest';
import { patientRecord } from '../../src/engine/index.js';

describe('patientRecord', () => {
  it('keeps one resource per type and id, the last sent at the place of the first', () => {
    const o1 = { resourceType: 'Observation', id: '1', status: 'preliminary' };
    const c1 = { resourceType: 'Condition', id: '1' };
    const o2 = { resourceType: 'Observation', id: '2' };
    const o1again = { resourceType: 'Observation', id: '1', status: 'final' };
    const anonymous = { resourceType: 'Observation', status: 'final' };
    const patient = { resourceType: 'Patient', id: 'p' };
    const record = patientRecord(
      {
        a: { resourceType: 'Bundle', entry: [{ resource: o1 }, { resource: c1 }, null, { resource: 'x' }, {}] },
        b: { resourceType: 'Bundle', entry: [{ resource: anonymous }, { resource: o2 }, { resource: o1again }] },
        p: patient,
        outcome: { resourceType: 'OperationOutcome', id: 'oo' },
        none: null,
      },
      'p',
    );
    expect(record).toEqual([patient, o1again, c1, o2, anonymous]);
    expect(record[1]).toBe(o1again);
  });
});
