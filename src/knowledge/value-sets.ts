import { relative } from 'node:path';
import { listFiles, readJson, type Problem } from './files.js';

export interface CodeRef {
  code: string;
  system: string;
  version?: string;
}

export interface ValueSetEntry {
  url: string;
  version: string;
  file: string;
  codes: CodeRef[];
}

/**
 * Value sets by every name CQL may use for them: canonical url, resource id, and each OID
 * (as `urn:oid:X` and as bare `X`, the form VSAC-based CQL uses).
 * The shape `{ [name]: { [version]: codes } }` is what cql-execution's CodeService takes.
 */
export type ValueSetIndex = Record<string, Record<string, CodeRef[]>>;

interface ValueSetResource {
  resourceType?: string;
  id?: string;
  url?: string;
  version?: string;
  identifier?: Array<{ system?: string; value?: string }>;
  expansion?: { contains?: ExpansionItem[] };
  compose?: { include?: Array<{ system?: string; version?: string; concept?: Array<{ code?: string }> }> };
}

interface ExpansionItem {
  system?: string;
  version?: string;
  code?: string;
  contains?: ExpansionItem[];
}

export function loadValueSets(
  root: string,
  dir: string,
): { index: ValueSetIndex; entries: ValueSetEntry[]; problems: Problem[] } {
  const index: ValueSetIndex = {};
  const entries: ValueSetEntry[] = [];
  const problems: Problem[] = [];
  for (const file of listFiles(dir, '.json')) {
    const rel = relative(root, file);
    const read = readJson(root, file);
    if (!read.ok) {
      problems.push(read.problem);
      continue;
    }
    const vs = read.value as ValueSetResource;
    if (vs?.resourceType !== 'ValueSet') continue; // ELM libraries live in cql/ too
    if (!vs.url && !vs.id) {
      problems.push({ file: rel, pointer: '/url', message: 'a ValueSet needs a url or an id', severity: 'error' });
      continue;
    }
    const codes = codesOf(vs);
    if (codes.length === 0) {
      problems.push({
        file: rel,
        pointer: '/expansion',
        message: 'the ValueSet has no codes (neither expansion.contains nor compose.include.concept)',
        severity: 'error',
      });
      continue;
    }
    const version = vs.version ?? '';
    const names = new Set<string>();
    if (vs.url) names.add(vs.url);
    if (vs.id) names.add(vs.id);
    // VSAC value sets use the OID as their id.
    if (vs.id && /^\d+(\.\d+)+$/.test(vs.id)) names.add(`urn:oid:${vs.id}`);
    for (const identifier of vs.identifier ?? []) {
      const value = identifier.value ?? '';
      if (identifier.system === 'urn:ietf:rfc:3986' && value.startsWith('urn:oid:')) {
        names.add(value);
        names.add(value.slice('urn:oid:'.length));
      }
    }
    for (const name of names) {
      index[name] ??= {};
      if (index[name][version] && index[name][version] !== codes) {
        problems.push({
          file: rel,
          message: `value set '${name}' version '${version || '(none)'}' is defined more than once`,
          severity: 'error',
        });
      }
      index[name][version] = codes;
    }
    entries.push({ url: vs.url ?? vs.id ?? '', version, file: rel, codes });
  }
  return { index, entries, problems };
}

function codesOf(vs: ValueSetResource): CodeRef[] {
  const out: CodeRef[] = [];
  const walk = (items: ExpansionItem[] | undefined): void => {
    for (const item of items ?? []) {
      if (item.code && item.system)
        out.push(
          item.version
            ? { code: item.code, system: item.system, version: item.version }
            : { code: item.code, system: item.system },
        );
      walk(item.contains);
    }
  };
  walk(vs.expansion?.contains);
  if (out.length > 0) return out;
  for (const include of vs.compose?.include ?? []) {
    for (const concept of include.concept ?? []) {
      if (concept.code && include.system) out.push({ code: concept.code, system: include.system });
    }
  }
  return out;
}

/** Looks a value set up the way CQL names it: `urn:oid:X` also finds bare X and the reverse. */
export function hasValueSet(index: ValueSetIndex, id: string, version?: string): boolean {
  const candidates = [id, id.startsWith('urn:oid:') ? id.slice(8) : `urn:oid:${id}`];
  return candidates.some((c) => index[c] !== undefined && (version === undefined || index[c][version] !== undefined));
}
