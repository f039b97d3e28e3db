// Literal and relative CQL parameter values, typed against the declared type.
import { describe, expect, it } from 'vitest';
import { parameterValue, ParameterValueError, type ParameterType } from '../../src/knowledge/parameter-values.js';
import { cqlToJson } from '../../src/engine/index.js';

const NOW = new Date('2026-06-15T09:30:00Z');
const simple = (name: string): ParameterType => ({ kind: 'simple', name });
const interval = (point: string): ParameterType => ({ kind: 'interval', point });
const list = (element: string): ParameterType => ({ kind: 'list', element });
const other = (name: string): ParameterType => ({ kind: 'other', name });
const json = (source: Parameters<typeof parameterValue>[0], type: ParameterType) =>
  cqlToJson(parameterValue(source, type, NOW));

describe('parameterValue', () => {
  it.each([
    [{ value: true }, simple('Boolean'), true],
    [{ value: 3 }, simple('Integer'), 3],
    [{ value: 2.5 }, simple('Decimal'), 2.5],
    [{ value: 'x' }, simple('String'), 'x'],
    [{ value: '2026-01-31' }, simple('Date'), '2026-01-31'],
    [{ value: { value: 90, unit: 'd' } }, simple('Quantity'), { value: 90, unit: 'd' }],
    [{ value: ['a', 'b'] }, list('String'), ['a', 'b']],
    [{ relative: 'now' }, simple('DateTime'), '2026-06-15T09:30:00.000+00:00'],
    [{ relative: 'today' }, simple('Date'), '2026-06-15'],
    [{ relative: '90 days before now' }, simple('DateTime'), '2026-03-17T09:30:00.000+00:00'],
    [
      { relative: 'this calendar month' },
      interval('Date'),
      { low: '2026-06-01', high: '2026-06-30', lowClosed: true, highClosed: true },
    ],
    [
      { relative: 'the 2 weeks before now' },
      interval('Date'),
      { low: '2026-06-01', high: '2026-06-15', lowClosed: true, highClosed: true },
    ],
  ])('gives %j as a %j', (source, type, expected) => {
    expect(json(source, type)).toEqual(expected);
  });

  it.each([
    [{ value: 2.5 }, simple('Integer')],
    [{ value: '2026-13-01' }, simple('Date')],
    [{ value: 'soon' }, simple('DateTime')],
    [{ relative: 'now' }, simple('Integer')],
    [{ interval: [1, 2] }, simple('Integer')],
    [{ value: 'x' }, other('FHIR.Patient')],
  ])('refuses %j for a %j', (source, type) => {
    expect(() => parameterValue(source as never, type, NOW)).toThrow(ParameterValueError);
  });
});
