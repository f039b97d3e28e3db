import { badRequest } from '../errors.js';
import { hasControlCharacter } from '../text.js';

/**
 * A path parameter naming something the uptake ledger is asked for (an experiment, a service, a card, an alarm):
 * 400 when it is longer than `max` or holds a control character, which no id holds (and PostgreSQL refuses NUL
 * in a query's parameters: the lookup would fail as if the database were down).
 */
export function pathId(value: unknown, what: string, max = 256): string {
  const id = String(value);
  if (id.length > max || hasControlCharacter(id)) {
    throw badRequest(`${what} must be at most ${max} characters, without control characters`);
  }
  return id;
}
