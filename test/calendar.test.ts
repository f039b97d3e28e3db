import { describe, expect, it } from 'vitest';
import { calendarMs, isCalendarValue, isPlainCalendarText, readCalendar } from '../src/calendar.js';
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

describe('the quick check of plain calendar text', () => {
  // Texts near every edge of the form: each field too short, too long, out of range or of the other case.
  const pieces = {
    year: ['0000', '0001', '0002', '2024', '1900', '9998', '9999', '202', '20245', 'abcd'],
    month: ['', '-01', '-02', '-12', '-13', '-00', '-1', '-ab'],
    day: ['', '-01', '-28', '-29', '-30', '-31', '-32', '-00', '-3'],
    time: ['', 'T00:00', 't23:59', 'T24:00', 'T23:60', 'T1:00', 'T10:00:00', 'T10:00:59', 'T10:00:60', 'T10:00:5'],
    fraction: ['', '.1', '.123456789', '.1234567890', '.', '.a'],
    zone: ['', 'Z', 'z', '+00:00', '-00:00', '+23:59', '+24:00', '-10:60', '+0100', '+01:00x', 'Q'],
  };
  const forms = [
    { least: 'year', most: 'day' },
    { least: 'year', most: 'second', offset: false },
    { least: 'second', offset: false },
    { least: 'day' },
    { least: 'second', utcOnly: true },
  ] as const;

  it('says yes only where readCalendar reads a value, and to nearly every such text', () => {
    let agreed = 0;
    let values = 0;
    for (const y of pieces.year)
      for (const m of pieces.month)
        for (const d of pieces.day)
          for (const t of pieces.time)
            for (const f of pieces.fraction)
              for (const z of pieces.zone) {
                const text = `${y}${m}${d}${t}${f}${z}`;
                for (const form of forms) {
                  const value = isCalendarValue(readCalendar(text, form));
                  const quick = isPlainCalendarText(text, form);
                  if (quick) expect(value, `${text} ${JSON.stringify(form)}`).toBe(true);
                  if (value) values++;
                  if (value && quick) agreed++;
                }
              }
    // The quick check leaves to readCalendar only the years 0001 and 9999 and UTC-only forms.
    expect(values).toBeGreaterThan(1000);
    expect(agreed / values).toBeGreaterThan(0.5);
  });
});
