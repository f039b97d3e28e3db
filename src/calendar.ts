// The one reader of dates and date-times the server accepts (feedback, report parameters, --as-of,
// knowledge such as experiment start and end, and the dates of FHIR data before CQL sees them).
// RFC 3339 / ISO 8601 text is checked field by field against the calendar: no 30 February, no
// 29 February outside leap years, no hour 24, no second 60, no year 0000 (CQL's dates begin at
// 0001-01-01 and end at 9999-12-31, and so do the instants here). `T` and `Z` in either case.

/** How much of a date-time a text gives. */
export type CalendarPrecision = 'year' | 'month' | 'day' | 'minute' | 'second';

export interface CalendarValue {
  precision: CalendarPrecision;
  /** Milliseconds since 1970 of the first instant the text stands for (the day's midnight in UTC, when no time). */
  ms: number;
  /** Minutes east of UTC; undefined when the text gives none. */
  offsetMinutes?: number;
}

export interface CalendarForms {
  /** Least precision accepted (default: 'day'). */
  least?: CalendarPrecision;
  /** Most precision accepted (default: 'second'). */
  most?: CalendarPrecision;
  /** A time must come with its offset (default: true). */
  offset?: boolean;
  /** Only UTC offsets (Z, +00:00, -00:00). */
  utcOnly?: boolean;
}

const ORDER: CalendarPrecision[] = ['year', 'month', 'day', 'minute', 'second'];

const FORM =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The earliest and latest instants CQL can compute with (cql-execution's MIN/MAX_DATETIME_VALUE, in UTC). */
const EARLIEST_MS = new Date('0001-01-01T00:00:00Z').getTime();
const LATEST_MS = new Date('9999-12-31T23:59:59.999Z').getTime();

export function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * The value of `text`, or why it is not one: a reason in words naming the field at fault (never
 * quoting the text, so that it may go to a log).
 */
export function readCalendar(text: string, forms: CalendarForms = {}): CalendarValue | { problem: string } {
  const { least = 'day', most = 'second', offset = true, utcOnly = false } = forms;
  const m = FORM.exec(text);
  if (!m) return { problem: 'is not an ISO 8601 time' };
  const [, y, mo, d, h, mi, s, fraction, zone] = m;
  const precision: CalendarPrecision = s ? 'second' : h ? 'minute' : d ? 'day' : mo ? 'month' : 'year';
  if (ORDER.indexOf(precision) < ORDER.indexOf(least)) return { problem: `must give at least the ${least}` };
  if (ORDER.indexOf(precision) > ORDER.indexOf(most)) return { problem: `must give at most the ${most}` };
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = d ? Number(d) : 1;
  if (year < 1) return { problem: 'has year 0000 (the first year is 0001)' };
  if (month < 1 || month > 12) return { problem: 'has a month that is not 01 to 12' };
  if (day < 1 || day > daysIn(year, month)) return { problem: 'has a day its month does not have' };
  const hour = h ? Number(h) : 0;
  const minute = mi ? Number(mi) : 0;
  const second = s ? Number(s) : 0;
  if (hour > 23) return { problem: 'has an hour that is not 00 to 23' };
  if (minute > 59) return { problem: 'has a minute that is not 00 to 59' };
  if (second > 59) return { problem: 'has a second that is not 00 to 59' };
  let offsetMinutes: number | undefined;
  if (zone) {
    if (zone === 'Z' || zone === 'z') offsetMinutes = 0;
    else {
      const oh = Number(zone.slice(1, 3));
      const om = Number(zone.slice(4, 6));
      if (oh > 23 || om > 59) return { problem: 'has an offset that is not a time of day' };
      offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
    }
    if (utcOnly && offsetMinutes !== 0) return { problem: 'must be in UTC (Z)' };
  } else if (h && offset) return { problem: 'must give its offset from UTC (Z or +hh:mm)' };
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, fraction ? Math.floor(Number(fraction) * 1000) : 0);
  const ms = date.getTime() - (offsetMinutes ?? 0) * 60_000;
  if (ms < EARLIEST_MS || ms > LATEST_MS) return { problem: 'is outside 0001-01-01 to 9999-12-31 in UTC' };
  return { precision, ms, ...(offsetMinutes !== undefined ? { offsetMinutes } : {}) };
}

/**
 * True when `readCalendar(text, forms)` certainly gives a value, found without building one: the common,
 * well-formed text of a year 0002 to 9998 (so no offset can take it outside CQL's range). False means
 * "ask readCalendar", not "invalid". The FHIR shape check reads every date of a call through this.
 */
export function isPlainCalendarText(text: string, forms: CalendarForms = {}): boolean {
  const { least = 'day', most = 'second', offset = true, utcOnly = false } = forms;
  if (utcOnly) return false;
  const n = text.length;
  if (n < 4 || n > 35) return false;
  const year = digits(text, 0, 4);
  if (year < 2 || year > 9998) return false;
  let precision: CalendarPrecision = 'year';
  let i = 4;
  if (i < n) {
    if (text.charCodeAt(i) !== 45 /* - */) return false;
    const month = digits(text, i + 1, 2);
    if (month < 1 || month > 12) return false;
    precision = 'month';
    i += 3;
    if (i < n) {
      if (text.charCodeAt(i) !== 45) return false;
      const day = digits(text, i + 1, 2);
      if (day < 1 || day > daysIn(year, month)) return false;
      precision = 'day';
      i += 3;
      if (i < n) {
        const t = text.charCodeAt(i);
        if (t !== 84 /* T */ && t !== 116 /* t */) return false;
        if (!within(text, i + 1, 23) || text.charCodeAt(i + 3) !== 58 /* : */ || !within(text, i + 4, 59)) return false;
        precision = 'minute';
        i += 6;
        if (i < n && text.charCodeAt(i) === 58) {
          if (!within(text, i + 1, 59)) return false;
          precision = 'second';
          i += 3;
          if (i < n && text.charCodeAt(i) === 46 /* . */) {
            let end = i + 1;
            while (end < n && isDigit(text.charCodeAt(end))) end++;
            if (end === i + 1 || end - i - 1 > 9) return false;
            i = end;
          }
        }
        if (i === n) {
          if (offset) return false;
        } else {
          const z = text.charCodeAt(i);
          if (z === 90 /* Z */ || z === 122 /* z */) i += 1;
          else if (z === 43 /* + */ || z === 45 /* - */) {
            if (i + 6 !== n || text.charCodeAt(i + 3) !== 58) return false;
            if (!within(text, i + 1, 23) || !within(text, i + 4, 59)) return false;
            i += 6;
          } else return false;
          if (i !== n) return false;
        }
      }
    }
  }
  return ORDER.indexOf(precision) >= ORDER.indexOf(least) && ORDER.indexOf(precision) <= ORDER.indexOf(most);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Two digits at `at` writing a number from 0 to `max`. */
function within(text: string, at: number, max: number): boolean {
  const value = digits(text, at, 2);
  return value >= 0 && value <= max;
}

/** The number written by `count` digits at `at`, or -1 when they are not all digits. */
export function digits(text: string, at: number, count: number): number {
  if (at + count > text.length) return -1;
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) return -1;
    value = value * 10 + (c - 48);
  }
  return value;
}

/** Whether a value read is one (rather than a problem). */
export function isCalendarValue(value: CalendarValue | { problem: string }): value is CalendarValue {
  return 'ms' in value;
}

/** Milliseconds of a text already known to be valid (e.g. checked by a schema); NaN when it is not. */
export function calendarMs(text: string, forms: CalendarForms = { least: 'year' }): number {
  const value = readCalendar(text, forms);
  return isCalendarValue(value) ? value.ms : Number.NaN;
}

/** An RFC 3339 date-time with seconds and offset (ajv's `date-time` format, knowledge dates, --as-of). */
export function isDateTime(text: string): boolean {
  return isCalendarValue(readCalendar(text, { least: 'second' }));
}
