import { describe, expect, it } from 'vitest';
import { calendarMs, isCalendarValue, readCalendar } from '../src/calendar.js';
import { createAjv } from '../src/json-schema.js';
import { asOfTime } from '../src/cli/as-of.js';
import { CdsError } from '../src/errors.js';

describe('the calendar-checking date reader', () => {
  it.each([
    ['2026-02-30T10:00:00Z', 'day'],
    ['2026-04-31', 'day'],
    ['2026-02-29', 'day'],
    ['1900-02-29', 'day'],
    ['2026-00-10', 'month'],
    ['2026-06-01T24:00:00Z', 'hour'],
    ['2026-06-01T23:60:00Z', 'minute'],
    ['2026-06-01T23:59:60Z', 'second'],
    ['0000-06-01', 'year 0000'],
    ['2026-06-01T10:00:00+24:00', 'offset'],
    ['0001-01-01T00:00:00+01:00', 'outside'],
    ['9999-12-31T23:59:59-00:01', 'outside'],
    ['June 1st', 'ISO 8601'],
  ])('refuses %s, saying what is wrong (%s)', (text, word) => {
    const read = readCalendar(text, { least: 'day' });
    expect(isCalendarValue(read)).toBe(false);
    expect((read as { problem: string }).problem).toContain(word);
  });

  it('reads leap days, both cases of T and Z, offsets and fractions to the same instants as Date', () => {
    for (const text of ['2024-02-29T10:00:00Z', '2000-02-29T00:00:00Z', '2026-06-01T12:00:00.250+02:00']) {
      expect(calendarMs(text)).toBe(Date.parse(text));
    }
    expect(calendarMs('2026-06-01t12:00:00z')).toBe(Date.parse('2026-06-01T12:00:00Z'));
    expect(readCalendar('2026-06-01', { least: 'day' })).toEqual({ precision: 'day', ms: Date.parse('2026-06-01') });
  });

  it('keeps to the precision and offset a caller asks for', () => {
    expect(isCalendarValue(readCalendar('2026-06', { least: 'day' }))).toBe(false);
    expect(isCalendarValue(readCalendar('2026-06', { least: 'year' }))).toBe(true);
    expect(isCalendarValue(readCalendar('2026-06-01T10:00:00', {}))).toBe(false);
    expect(isCalendarValue(readCalendar('2026-06-01T10:00:00', { offset: false }))).toBe(true);
    expect(isCalendarValue(readCalendar('2026-06-01T10:00:00+01:00', { utcOnly: true }))).toBe(false);
  });

  it('is the date-time format of every JSON Schema (knowledge dates such as experiment start and end)', () => {
    const valid = createAjv().compile({ type: 'string', format: 'date-time' });
    expect(valid('2026-06-01T00:00:00Z')).toBe(true);
    expect(valid('2026-06-01t00:00:00z')).toBe(true);
    expect(valid('2026-02-30T00:00:00Z')).toBe(false);
    expect(valid('2026-06-01T24:00:00Z')).toBe(false);
  });

  it('reads --as-of with it: an impossible date is refused naming the option', () => {
    expect(asOfTime('2026-06-01').toISOString()).toBe('2026-06-01T00:00:00.000Z');
    expect(() => asOfTime('2026-02-30T00:00:00Z')).toThrow(CdsError);
    expect(() => asOfTime('2026-02-30T00:00:00Z')).toThrow(/--as-of '2026-02-30T00:00:00Z' has a day/);
  });
});
