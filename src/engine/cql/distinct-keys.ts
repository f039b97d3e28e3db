// CQL queries return distinct results, and cql-execution decides what is distinct by building a
// normalized key of every element. For a FHIR object that key walks every element of the resource
// through cql-exec-fhir's getters, each of which wraps a new object: over hundreds of observations
// this was most of the evaluation time. A FHIR object's key is made here from its JSON instead
// (keys sorted), with its FHIR type. Two resources that CQL would call equal only through
// normalisation (the same instant written with different offsets) stay two.
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
const jsonKeys = new WeakMap<object, string>();

function keyOf(object: { _json: unknown }): string {
  let key = jsonKeys.get(object);
  if (key === undefined) jsonKeys.set(object, (key = stableJson(object._json)));
  return key;
}

export function installFhirDistinctKeys(): void {
  const util = require('cql-execution/lib/util/immutableUtil') as ImmutableUtil;
  if (util.__fhirKeys) return;
  const { Map: ImmutableMap } = require('immutable') as { Map: (o: Record<string, unknown>) => unknown };
  const original = util.toNormalizedKey;
  util.toNormalizedKey = (value: unknown): unknown => {
    if (value && typeof value === 'object' && '_json' in value && '_typeInfo' in value) {
      const v = value as { _json: unknown; _typeInfo?: { name?: string } };
      return ImmutableMap({ __instance: `FHIR:${v._typeInfo?.name ?? ''}`, json: keyOf(v) });
    }
    return original(value);
  };
  Object.defineProperty(util, '__fhirKeys', { value: true });
  Object.defineProperty(util, '__stockToNormalizedKey', { value: original });
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}
