// Value sets as published: FHIR R4 ValueSet JSON (with an expansion, or an enumerated compose that is
// expanded here), one a file or many in a Bundle (as VSAC and measure packages ship them).
import { relative } from 'node:path';
import { canonicalJson, diskFiles, readJson, sha256, type KnowledgeFiles, type Problem } from './files.js';

export interface CodeRef {
  code: string;
  /** Absent for a code published without a code system (UB revenue codes, say). */
  system?: string;
  version?: string;
}

export interface ValueSetEntry {
  url: string;
  id?: string;
  version: string;
  file: string;
  /** Where in the file, for a ValueSet inside a Bundle. */
  pointer?: string;
  codes: CodeRef[];
  /** Every name CQL may use for it (see valueSetNames). */
  names: string[];
  /** Names that identify it exactly: its url and its `urn:oid:` identifiers. */
  exact: string[];
  /** Written here from a terminology server's $expand (CDS_TERMINOLOGY_URL). */
  cached?: boolean;
}

/**
 * Value sets by every name CQL may use for them: canonical url, resource id, and each OID
 * (as `urn:oid:X` and as bare `X`, the form VSAC-based CQL uses).
 * The shape `{ [name]: { [version]: codes } }` is what cql-execution's CodeService takes.
 */
export type ValueSetIndex = Record<string, Record<string, CodeRef[]>>;

export interface ValueSetCatalog {
  index: ValueSetIndex;
  entries: ValueSetEntry[];
  problems: Problem[];
  /** ValueSets whose compose cannot be expanded here (filters, whole code systems): a terminology server can. */
  unexpanded: Array<{ url: string; version?: string; file: string; pointer?: string; why: string }>;
}

export interface ValueSetResource {
  resourceType?: string;
  id?: string;
  url?: string;
  version?: string;
  identifier?: Array<{ system?: string; value?: string }>;
  expansion?: { contains?: ExpansionItem[] };
  compose?: { include?: ComposeSet[]; exclude?: ComposeSet[] };
  meta?: { tag?: Array<{ system?: string; code?: string }> };
}

interface ComposeSet {
  system?: string;
  version?: string;
  concept?: Array<{ code?: string }>;
  filter?: unknown[];
  valueSet?: string[];
}

interface ExpansionItem {
  system?: string;
  version?: string;
  code?: string;
  contains?: ExpansionItem[];
}

/** The tag on a ValueSet this server wrote from a terminology server's $expand. */
export const EXPANDED_HERE = { system: 'urn:cds-engine:terminology', code: 'expanded' };

const OID = /^\d+(\.\d+)+$/;
/** VSAC's FHIR base, as CQL and VSAC's own ValueSets write it (http or https, with or without /res). */
const VSAC = /^https?:\/\/cts\.nlm\.nih\.gov\/fhir(?:\/res)?\/ValueSet\/(\d+(?:\.\d+)+)$/;

/** The OID a value set reference names, if it names one: `urn:oid:X`, bare `X`, or a VSAC URL. */
export function oidOf(reference: string): string | undefined {
  if (reference.startsWith('urn:oid:') && OID.test(reference.slice(8))) return reference.slice(8);
  if (OID.test(reference)) return reference;
  return VSAC.exec(reference)?.[1];
}

export function loadValueSets(root: string, dir: string, files: KnowledgeFiles = diskFiles): ValueSetCatalog {
  const catalog: ValueSetCatalog = { index: {}, entries: [], problems: [], unexpanded: [] };
  const pending: Array<{ vs: ValueSetResource; file: string; pointer?: string }> = [];
  for (const file of files.list(dir, '.json')) {
    const rel = relative(root, file);
    const read = readJson(root, file, files);
    if (!read.ok) {
      catalog.problems.push(read.problem);
      continue;
    }
    const value = read.value as ValueSetResource & { entry?: Array<{ resource?: ValueSetResource }> };
    if (value?.resourceType === 'ValueSet') pending.push({ vs: value, file: rel });
    else if (value?.resourceType === 'Bundle' && Array.isArray(value.entry)) {
      value.entry.forEach((e, i) => {
        if (e?.resource?.resourceType === 'ValueSet')
          pending.push({ vs: e.resource, file: rel, pointer: `/entry/${i}/resource` });
      });
    }
    // Anything else in cql/ is an ELM library or not ours to read.
  }
  // A value set whose compose includes other value sets is expanded after them.
  const byUrl = new Map<string, ValueSetResource>();
  for (const { vs } of pending) if (vs.url) byUrl.set(vs.url, vs);
  // An expansion written here from a terminology server stands for the compose it was made from.
  const cachedUrls = new Set(
    pending.filter(({ vs }) => isCachedExpansion(vs)).map(({ vs }) => `${vs.url}|${vs.version ?? ''}`),
  );
  for (const { vs, file, pointer } of pending) {
    const at = (p: string) => `${pointer ?? ''}${p}`;
    if (!vs.url && !vs.id) {
      catalog.problems.push({
        file,
        pointer: at('/url'),
        message: 'a ValueSet needs a url or an id',
        severity: 'error',
      });
      continue;
    }
    const cached = isCachedExpansion(vs);
    if (!cached && !vs.expansion?.contains?.length && cachedUrls.has(`${vs.url}|${vs.version ?? ''}`)) continue;
    const expanded = codesOf(vs, byUrl);
    if ('why' in expanded) {
      if (vs.url) catalog.unexpanded.push({ url: vs.url, version: vs.version, file, pointer, why: expanded.why });
      catalog.problems.push({
        file,
        pointer: at('/compose'),
        message: `the ValueSet ${vs.url ?? vs.id} has no expansion and cannot be expanded here (${expanded.why}): ship its expansion, or set CDS_TERMINOLOGY_URL to expand it at load`,
        severity: 'error',
      });
      continue;
    }
    const { codes } = expanded;
    if (codes.length === 0) {
      catalog.problems.push({
        file,
        pointer: at('/expansion'),
        message: 'the ValueSet has no codes (neither expansion.contains nor compose.include.concept)',
        severity: 'error',
      });
      continue;
    }
    const withoutSystem = codes.filter((c) => c.system === undefined).length;
    if (withoutSystem > 0) {
      catalog.problems.push({
        file,
        pointer: at(vs.expansion?.contains?.length ? '/expansion' : '/compose'),
        message: `${withoutSystem} of ${codes.length} codes of ${vs.url ?? vs.id} have no code system: kept, and they match only data codes that have no system either (as cql-execution compares codes)`,
        severity: 'warning',
      });
    }
    addEntry(catalog, vs, file, pointer, codes, cached);
  }
  return catalog;
}

function isCachedExpansion(vs: ValueSetResource): boolean {
  return (vs.meta?.tag ?? []).some((t) => t.system === EXPANDED_HERE.system && t.code === EXPANDED_HERE.code);
}

/** Adds a value set under all its names; a second definition of one name and version is an error. */
export function addEntry(
  catalog: ValueSetCatalog,
  vs: ValueSetResource,
  file: string,
  pointer: string | undefined,
  codes: CodeRef[],
  cached = false,
): ValueSetEntry {
  const version = vs.version ?? '';
  const exact = new Set<string>();
  const names = new Set<string>();
  if (vs.url) {
    exact.add(vs.url);
    names.add(vs.url);
  }
  if (vs.id) names.add(vs.id);
  const oids = new Set<string>();
  for (const name of [vs.id ?? '', vs.url ?? '']) {
    const oid = oidOf(name);
    if (oid) oids.add(oid);
  }
  for (const identifier of vs.identifier ?? []) {
    const value = identifier.value ?? '';
    if (identifier.system === 'urn:ietf:rfc:3986' && value.startsWith('urn:oid:')) {
      exact.add(value);
      oids.add(value.slice('urn:oid:'.length));
    }
  }
  for (const oid of oids) {
    names.add(oid);
    names.add(`urn:oid:${oid}`);
  }
  for (const name of names) {
    catalog.index[name] ??= {};
    const existing = catalog.index[name][version];
    if (existing && existing !== codes) {
      catalog.problems.push({
        file,
        ...(pointer ? { pointer } : {}),
        message: `value set '${name}' version '${version || '(none)'}' is defined more than once`,
        severity: 'error',
      });
    }
    catalog.index[name][version] = codes;
  }
  const entry: ValueSetEntry = {
    url: vs.url ?? vs.id ?? '',
    ...(vs.id ? { id: vs.id } : {}),
    version,
    file,
    ...(pointer ? { pointer } : {}),
    codes,
    names: [...names],
    exact: [...exact],
    ...(cached ? { cached } : {}),
  };
  catalog.entries.push(entry);
  return entry;
}

function codeRef(code: string, system: string | undefined, version: string | undefined): CodeRef {
  return { code, ...(system ? { system } : {}), ...(version ? { version } : {}) };
}

/**
 * The codes of a ValueSet: its expansion when it has one, else its compose expanded here (enumerated
 * concepts, included value sets found among `others`, minus excluded concepts). `why` when the compose
 * needs a terminology server (a filter, a whole code system, a value set that is not here).
 */
export function codesOf(
  vs: ValueSetResource,
  others: Map<string, ValueSetResource>,
  seen = new Set<string>(),
): { codes: CodeRef[] } | { why: string } {
  const out: CodeRef[] = [];
  const walk = (items: ExpansionItem[] | undefined): void => {
    for (const item of items ?? []) {
      if (item.code) out.push(codeRef(item.code, item.system, item.version));
      walk(item.contains);
    }
  };
  walk(vs.expansion?.contains);
  if (out.length > 0 || !vs.compose) return { codes: out };
  if (vs.url) seen.add(vs.url);
  const included: CodeRef[] = [];
  for (const [i, include] of (vs.compose.include ?? []).entries()) {
    const part = composeSet(include, i, 'include', others, seen);
    if ('why' in part) return part;
    included.push(...part.codes);
  }
  const excluded: CodeRef[] = [];
  for (const [i, exclude] of (vs.compose.exclude ?? []).entries()) {
    const part = composeSet(exclude, i, 'exclude', others, seen);
    if ('why' in part) return part;
    excluded.push(...part.codes);
  }
  const key = (c: CodeRef) => `${c.system ?? ''}|${c.code}`;
  const drop = new Set(excluded.map(key));
  const unique = new Map<string, CodeRef>();
  for (const c of included) if (!drop.has(key(c))) unique.set(key(c), c);
  return { codes: [...unique.values()] };
}

function composeSet(
  set: ComposeSet,
  index: number,
  kind: 'include' | 'exclude',
  others: Map<string, ValueSetResource>,
  seen: Set<string>,
): { codes: CodeRef[] } | { why: string } {
  if (set.filter?.length) return { why: `compose.${kind}[${index}] has a filter` };
  const codes: CodeRef[] = [];
  if (set.concept?.length) {
    for (const concept of set.concept) if (concept.code) codes.push(codeRef(concept.code, set.system, set.version));
  } else if (set.system && !set.valueSet?.length) {
    return { why: `compose.${kind}[${index}] includes all of ${set.system}` };
  }
  for (const canonical of set.valueSet ?? []) {
    const url = canonical.split('|')[0];
    const other = others.get(url);
    if (!other) return { why: `compose.${kind}[${index}] includes value set ${url}, which is not in cql/` };
    if (seen.has(url)) return { why: `compose.${kind}[${index}] includes value set ${url}, which includes itself` };
    const part = codesOf(other, others, new Set(seen));
    if ('why' in part) return { why: `${url}: ${part.why}` };
    // A valueSet with concepts or a system narrows to their intersection.
    const inner = codes.length > 0 ? part.codes.filter((c) => codes.some((d) => d.code === c.code)) : part.codes;
    if (codes.length > 0) codes.splice(0, codes.length, ...inner);
    else codes.push(...inner);
  }
  return { codes };
}

/**
 * The content hash of a value set version: its codes (system, version, code), in a fixed order, so that the same
 * expansion, however the file is laid out, has the same hash.
 */
export function valueSetHash(entry: Pick<ValueSetEntry, 'codes'>): string {
  const codes = entry.codes
    .map((c) => [c.system ?? '', c.version ?? '', c.code])
    .sort((a, b) => (a.join('\u0000') < b.join('\u0000') ? -1 : a.join('\u0000') > b.join('\u0000') ? 1 : 0));
  return sha256(canonicalJson(codes));
}

/** How a reference of CQL to a value set was found: exactly (url or `urn:oid:` identifier) or by its OID. */
export interface ValueSetResolution {
  /** The index name it was found under. */
  key: string;
  entry: ValueSetEntry;
  exact: boolean;
  /** Words for `cds validate` when not exact. */
  how: string;
  /** The version asked for (CQL's `version`, or the `|version` of the reference). */
  version?: string;
}

/**
 * Finds the value set a CQL `valueset` declaration names, as the reference server does: by canonical URL,
 * `urn:oid:`, bare OID and the VSAC URL forms (http or https), each with an optional `|version`.
 */
export function resolveValueSet(
  catalog: Pick<ValueSetCatalog, 'index' | 'entries'>,
  id: string,
  version?: string,
): ValueSetResolution | undefined {
  const bar = id.lastIndexOf('|');
  const base = bar > 0 ? id.slice(0, bar) : id;
  const wanted = version ?? (bar > 0 ? id.slice(bar + 1) : undefined);
  const find = (key: string): ValueSetEntry | undefined => {
    const versions = catalog.index[key];
    if (!versions) return undefined;
    const codes = wanted !== undefined ? versions[wanted] : Object.values(versions)[0];
    if (!codes) return undefined;
    return catalog.entries.find((e) => e.codes === codes);
  };
  const direct = find(base);
  if (direct?.exact.includes(base)) return { key: base, entry: direct, exact: true, how: 'exactly', version: wanted };
  const oid = oidOf(base);
  const byOid = oid ? find(oid) : undefined;
  if (oid && byOid) return { key: oid, entry: byOid, exact: false, how: `by its OID ${oid}`, version: wanted };
  if (direct) return { key: base, entry: direct, exact: false, how: `by the ValueSet id '${base}'`, version: wanted };
  return undefined;
}

/**
 * Makes the value set findable under the exact reference CQL uses, as cql-execution's CodeService looks it
 * up (the ELM's id and version, verbatim).
 */
export function aliasValueSet(index: ValueSetIndex, id: string, version: string | undefined, r: ValueSetResolution) {
  if (r.key === id && version === r.version) return;
  const versions = index[r.key];
  const target = (index[id] ??= {});
  if (r.version !== undefined) {
    const codes = versions[r.version];
    if (codes) target[r.version] = codes;
  } else {
    for (const [v, codes] of Object.entries(versions)) target[v] ??= codes;
  }
}
