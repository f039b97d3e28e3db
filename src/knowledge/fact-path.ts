// How rule conditions read into a fact (`"path": "$['Latest eGFR'].value"`). json-rules-engine
// evaluates every path with jsonpath-plus, which parses it again on every condition of every call,
// and which misreads quoted names holding `]`, `,`, `;` (undefined: the rule silently does not fire)
// or `@`, `^` (it throws: the call fails). CQL define names may hold any of these. The paths rule
// sets use are plain ($.name, $['name'], [index]): those are parsed once and read directly, with
// jsonpath-plus's results otherwise (`.length` of a list or string included); anything else
// (filters, wildcards, recursive descent) still goes to jsonpath-plus.
import { JSONPath } from 'jsonpath-plus';
import { parsePath, type PathSegment } from '../cards/index.js';

const parsed = new Map<string, PathSegment[] | null>();

function plainPath(path: string): PathSegment[] | null {
  let segments = parsed.get(path);
  if (segments === undefined) {
    // parsePath wants a leading name: stand one in for the `$` (which must be followed by . or [).
    segments = path === '$' ? [] : /^\$[.[]/.test(path) ? (parsePath(`_${path.slice(1)}`)?.slice(1) ?? null) : null;
    if (parsed.size < 10_000) parsed.set(path, segments);
  }
  return segments;
}

/** json-rules-engine's pathResolver, with jsonpath-plus's results (`wrap: false`). */
export function resolveFactPath(value: unknown, path: string): unknown {
  const segments = plainPath(path);
  if (!segments) return JSONPath<unknown>({ path, json: value as object, wrap: false });
  let current = value;
  for (const segment of segments) {
    if (typeof current === 'string' || Array.isArray(current)) {
      // Lists and strings: an index (['1'] as well as [1]), or their length, as jsonpath-plus reads
      // them (which reads nothing inside an empty string).
      const index = typeof segment === 'number' ? segment : /^\d+$/.test(segment) ? Number(segment) : undefined;
      if (current.length === 0 && typeof current === 'string') return undefined;
      current = segment === 'length' ? current.length : index !== undefined ? current[index] : undefined;
    } else if (current !== null && typeof current === 'object' && Object.hasOwn(current, segment)) {
      current = (current as Record<string | number, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}
