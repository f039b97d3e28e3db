// CQL queries return distinct results, and cql-execution decides what is distinct by building a
// normalized key of every element. For a FHIR object that key walks every element of the resource
// through cql-exec-fhir's getters, each of which wraps a new object: over hundreds of observations
// this was most of the evaluation time. A FHIR object's key is made here from its JSON instead, with
// its FHIR type: a value object as immutable reads them (`equals` and `hashCode`), its hash computed
// once from the JSON (key order aside), the JSON compared deeply only when two hashes meet. Two keys
// are equal exactly when the JSON with sorted keys would print the same. Two resources that CQL would
// call equal only through normalisation (the same instant written with different offsets) stay two.
import { createRequire } from 'node:module';

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

/** Whether two JSON values, their keys sorted, would print the same. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (printsNull(a) || printsNull(b)) return printsNull(a) && printsNull(b);
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
      return hashString(value);
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
