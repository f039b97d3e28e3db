// CQL queries return distinct results, and cql-execution decides what is distinct by building a
// normalized key of every element. For a FHIR object that key walks every element of the resource
// through cql-exec-fhir's getters, each of which wraps a new object: over hundreds of observations
// this was most of the evaluation time. A FHIR object's key is made here from its JSON instead, with
// its FHIR type: a value object as immutable reads them (`equals` and `hashCode`), its hash computed
// once from the JSON (key order aside), the JSON compared deeply only when two hashes meet. Two keys
// are equal exactly when the JSON with sorted keys would print the same, but for date-time texts, which are
// equal as cql-execution's key of the DateTime read from them is: the same instant at the same precision,
// whatever the offset it is written with (`…T08:30:00+02:00` and `…T06:30:00Z`), as stock distinct has it.
import { createRequire } from 'node:module';
import { daysIn, digits } from '../../calendar.js';
import { parseDateTime } from './fhir-object.js';

const require = createRequire(import.meta.url);

/**
 * The cql-execution version whose internals this was written against: lib/util/immutableUtil's
 * toNormalizedKey, called through its module object by lib/elm/list's toDistinctList.
 * test/engine/dependency-patches.test.ts fails when the installed version differs.
 */
export const CQL_EXECUTION_PATCHED_FOR = '3.3.2';

interface ImmutableUtil {
  toNormalizedKey: (value: unknown) => unknown;
  __fhirKeys?: boolean;
  /** cql-execution's own, for a comparison with stock behaviour (test/engine/patient-data.test.ts). */
  __stockToNormalizedKey?: (value: unknown) => unknown;
}

// A FHIR object's key is the same however often it is asked for (each distinct query over it asks again):
// it is kept with the object, which lives as long as its evaluation (the engine wraps each resource once per
// call), while its JSON may outlive it.
const fhirKeys = new WeakMap<object, FhirKey>();

/** The key of a FHIR object: its type and JSON, equal to another exactly when both are. */
export class FhirKey {
  constructor(
    readonly type: string,
    readonly json: unknown,
    readonly hash: number = mix(hashString(type), jsonHash(json)),
  ) {}

  hashCode(): number {
    return this.hash;
  }

  equals(other: unknown): boolean {
    return (
      other === this ||
      (other instanceof FhirKey &&
        other.hash === this.hash &&
        other.type === this.type &&
        sameJson(this.json, other.json))
    );
  }
}

function keyOf(object: { _json: unknown; _typeInfo?: { name?: string } }): FhirKey {
  let key = fhirKeys.get(object);
  if (key === undefined)
    fhirKeys.set(object, (key = new FhirKey(`FHIR:${object._typeInfo?.name ?? ''}`, object._json)));
  return key;
}

export function installFhirDistinctKeys(): void {
  const util = require('cql-execution/lib/util/immutableUtil') as ImmutableUtil;
  if (util.__fhirKeys) return;
  const original = util.toNormalizedKey;
  util.toNormalizedKey = (value: unknown): unknown => {
    if (value && typeof value === 'object' && '_json' in value && '_typeInfo' in value)
      return keyOf(value as { _json: unknown; _typeInfo?: { name?: string } });
    return original(value);
  };
  Object.defineProperty(util, '__fhirKeys', { value: true });
  Object.defineProperty(util, '__stockToNormalizedKey', { value: original });
}

/** What JSON.stringify writes `null` for (and so the sorted-keys text did): null, undefined, NaN, ±Infinity, …. */
function printsNull(value: unknown): boolean {
  return (
    value === null ||
    value === undefined ||
    typeof value === 'function' ||
    typeof value === 'symbol' ||
    (typeof value === 'number' && !Number.isFinite(value))
  );
}

/** Whether two JSON values, their keys sorted, would print the same (date-time texts as their instants). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (printsNull(a) || printsNull(b)) return printsNull(a) && printsNull(b);
  if (typeof a === 'string' && typeof b === 'string') {
    const x = dateTimeKey(a);
    return x !== undefined && x === dateTimeKey(b);
  }
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const k in x) {
    if (!Object.hasOwn(x, k)) continue;
    if (!Object.hasOwn(y, k) || !sameJson(x[k], y[k])) return false;
    count++;
  }
  for (const k in y) if (Object.hasOwn(y, k)) count--;
  return count === 0;
}

/** A 32-bit hash of JSON agreeing with sameJson: an object's members are combined regardless of their order. */
export function jsonHash(value: unknown): number {
  if (printsNull(value)) return 0x2f1e3d4c;
  switch (typeof value) {
    case 'string':
      return hashString(dateTimeKey(value) ?? value);
    case 'number':
      // -0 prints as 0.
      if (value === 0) return 0x1b873593;
      NUMBER[0] = value;
      return mix(NUMBER_WORDS[0], NUMBER_WORDS[1]);
    case 'boolean':
      return value ? 0x42108421 : 0x42108420;
    case 'object': {
      if (Array.isArray(value)) {
        let h = 0x3c6ef372 ^ value.length;
        for (let i = 0; i < value.length; i++) h = mix(h, jsonHash(value[i]));
        return h;
      }
      const object = value as Record<string, unknown>;
      let h = 0x6a09e667;
      for (const k in object) if (Object.hasOwn(object, k)) h = (h + mix(hashString(k), jsonHash(object[k]))) | 0;
      return h;
    }
    default:
      return 0;
  }
}

const NUMBER = new Float64Array(1);
const NUMBER_WORDS = new Int32Array(NUMBER.buffer);

function hashString(text: string): number {
  let h = 0x811c9dc5 ^ text.length;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h;
}

/** Two hashes into one, order mattering. */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + b;
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) | 0;
}

interface DateTimeFields {
  year: number | null;
  month: number | null;
  day: number | null;
  hour: number | null;
  minute: number | null;
  second: number | null;
  millisecond: number | null;
  timezoneOffset: number | null;
  convertToTimezoneOffset(offset: number): DateTimeFields;
}

/**
 * A text with a time of day (`YYYY-MM-DDThh…`: FHIR dateTime and instant; a FHIR date or time has none) as
 * cql-execution's toNormalizedKey takes the DateTime cql-exec-fhir reads from it: its fields at offset 0 when its
 * offset is another, else as they are; to the second, that is its instant and whether it gives milliseconds.
 * Undefined for any other text (and one that is no date-time). A string element written as a date-time is taken
 * as one too, where stock compares it as text.
 */
function dateTimeKey(text: string): string | undefined {
  if (text.length < 13 || text.charCodeAt(10) !== 84 /* T */ || text.charCodeAt(4) !== 45 /* - */) return undefined;
  const quick = quickInstant(text);
  if (quick !== undefined) return quick;
  // Other forms (another number of fraction digits, no offset, minutes only) are parsed by DateTime.parse (luxon,
  // some 80 times the cost of the quick reader): once per text, as every resource a query returns is hashed.
  let known = parsedKeys.get(text);
  if (known === undefined) {
    if (parsedKeys.size >= PARSED_KEYS_KEPT) parsedKeys.clear();
    parsedKeys.set(text, (known = parsedKey(text) ?? null));
  }
  return known ?? undefined;
}

const parsedKeys = new Map<string, string | null>();
const PARSED_KEYS_KEPT = 50_000;

function parsedKey(text: string): string | undefined {
  const parsed = parseDateTime(text.replace('Z', '+00:00')) as DateTimeFields | null;
  if (parsed == null) return undefined;
  let t = parsed;
  // -0 is 0 to the key (Immutable's `is`).
  if (typeof t.timezoneOffset === 'number' && t.timezoneOffset !== 0) t = t.convertToTimezoneOffset(0);
  if (t.second != null) {
    const at = new Date(0);
    at.setUTCFullYear(t.year!, t.month! - 1, t.day!);
    at.setUTCHours(t.hour!, t.minute!, t.second, t.millisecond ?? 0);
    return instantKey(at.getTime(), t.millisecond != null);
  }
  return `\u0000${t.year}|${t.month}|${t.day}|${t.hour}|${t.minute}|${t.timezoneOffset === 0 ? 0 : t.timezoneOffset}`;
}

function instantKey(ms: number, milliseconds: boolean): string {
  return `\u0000${ms}${milliseconds ? 'S' : 's'}`;
}

/**
 * `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)` of years 1000 to 9998, read by position, with a fraction of any number
 * of digits (servers write 1 to 7: `.1234567` is common): its key, or undefined for any other text.
 */
function quickInstant(text: string): string | undefined {
  const n = text.length;
  let at = 19;
  let millisecond = 0;
  const fraction = text.charCodeAt(19) === 46; /* . */
  if (fraction) {
    let end = 20;
    while (end < n && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
    if (end === 20) return undefined;
    // As cql-execution reads a fraction: its first three digits, padded with zeros (5 → 500, 1234567 → 123).
    millisecond = digits(`${text.slice(20, Math.min(end, 23))}00`, 0, 3);
    at = end;
  }
  if (n !== at + 1 && n !== at + 6) return undefined;
  if (text.charCodeAt(7) !== 45 || text.charCodeAt(13) !== 58 /* : */ || text.charCodeAt(16) !== 58) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 1000 || year > 9998 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour < 0 || minute < 0 || second < 0 || hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  const sign = text.charCodeAt(at);
  if (n - at === 1) {
    if (sign !== 90 /* Z */) return undefined;
  } else {
    if ((sign !== 43 /* + */ && sign !== 45) || text.charCodeAt(at + 3) !== 58) return undefined;
    const offsetHours = digits(text, at + 1, 2);
    const offsetMinutes = digits(text, at + 4, 2);
    if (offsetHours < 0 || offsetMinutes < 0 || offsetHours > 14 || offsetMinutes > 59) return undefined;
    offset = (offsetHours * 60 + offsetMinutes) * (sign === 43 ? 1 : -1);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millisecond) - offset * 60_000;
  return instantKey(ms, fraction);
}
