// "As of" times of the command line (--as-of, a knowledge test's asOf): a date (midnight UTC) or a
// date-time with its offset, read by the one calendar-checking reader.
import { isCalendarValue, readCalendar } from '../calendar.js';
import { invalidAsOf } from '../errors.js';

export function asOfTime(text: string): Date {
  const read = readCalendar(text, { least: 'day' });
  if (!isCalendarValue(read)) throw invalidAsOf(text, read.problem);
  return new Date(read.ms);
}
