// Value sets the knowledge cannot expand itself, expanded at load by a FHIR terminology server
// (`ValueSet/$expand`, as VSAC offers it). Each expansion is saved under cql/valuesets/expanded/ as
// a ValueSet with its expansion, tagged as made here: the next load reads it from disk, so the server
// runs offline once the knowledge has been loaded with the terminology server once.
import { join, relative } from 'node:path';
import { diskFiles, type KnowledgeFiles } from './files.js';
import { addEntry, codesOf, EXPANDED_HERE, oidOf, type ValueSetCatalog, type ValueSetResource } from './value-sets.js';

export interface TerminologyOptions {
  /** FHIR base URL of the terminology server. */
  url: string;
  /** Bearer token (from CDS_TERMINOLOGY_TOKEN); never logged or written. */
  token?: string;
  timeoutMs: number;
  fetchImpl?: typeof fetch;
}

/** The terminology settings of a configuration (CDS_TERMINOLOGY_*); undefined when no server is set. */
export function terminologyOptions(config: {
  terminologyUrl?: string;
  terminologyToken?: string;
  terminologyTimeoutMs: number;
}): TerminologyOptions | undefined {
  if (!config.terminologyUrl) return undefined;
  return {
    url: config.terminologyUrl,
    ...(config.terminologyToken ? { token: config.terminologyToken } : {}),
    timeoutMs: config.terminologyTimeoutMs,
  };
}

export const EXPANSION_DIR = join('cql', 'valuesets', 'expanded');

interface Target {
  /** What the knowledge names: a canonical URL, or an OID. */
  url?: string;
  oid?: string;
  version?: string;
  /** The problem this expansion answers (an unexpandable compose), taken back when it succeeds. */
  file?: string;
  pointer?: string;
}

/**
 * Expands what `catalog` could not (composes with filters or whole code systems) and the value sets the
 * CQL names that are not in the directory at all, adding each expansion to the catalog and to disk.
 */
export async function expandFromTerminologyServer(
  root: string,
  catalog: ValueSetCatalog,
  missing: Array<{ name: string; id: string; version?: string }>,
  options: TerminologyOptions,
  files: KnowledgeFiles = diskFiles,
): Promise<void> {
  const targets: Target[] = catalog.unexpanded.map((u) => ({
    url: u.url,
    version: u.version,
    file: u.file,
    pointer: u.pointer,
  }));
  for (const ref of missing) {
    const bar = ref.id.lastIndexOf('|');
    const base = bar > 0 ? ref.id.slice(0, bar) : ref.id;
    const version = ref.version ?? (bar > 0 ? ref.id.slice(bar + 1) : undefined);
    const oid = oidOf(base);
    // A ValueSet here whose compose needs the server answers this reference too, once expanded.
    const covered = targets.some(
      (t) =>
        (t.url === base || (oid !== undefined && t.url !== undefined && oidOf(t.url) === oid)) &&
        (version === undefined || t.version === version),
    );
    if (!covered) targets.push(oid ? { oid, version } : { url: base, version });
  }
  const done = new Set<string>();
  for (const target of targets) {
    const key = `${target.oid ?? target.url}|${target.version ?? ''}`;
    if (done.has(key)) continue;
    done.add(key);
    const name = target.url ?? target.oid ?? '';
    let expanded: ValueSetResource;
    try {
      expanded = await expand(target, options);
    } catch (err) {
      catalog.problems.push({
        file: target.file ?? EXPANSION_DIR,
        ...(target.pointer ? { pointer: target.pointer } : {}),
        message: `the terminology server could not expand value set ${name}${target.version ? ` version ${target.version}` : ''}: ${(err as Error).message}`,
        severity: target.file ? 'error' : 'warning',
      });
      continue;
    }
    const result = codesOf(expanded, new Map());
    if ('why' in result || result.codes.length === 0) {
      catalog.problems.push({
        file: target.file ?? EXPANSION_DIR,
        message: `the terminology server's expansion of ${name} has no codes`,
        severity: target.file ? 'error' : 'warning',
      });
      continue;
    }
    const cached: ValueSetResource = {
      resourceType: 'ValueSet',
      ...(expanded.id ? { id: expanded.id } : target.oid ? { id: target.oid } : {}),
      url: expanded.url ?? target.url ?? `http://cts.nlm.nih.gov/fhir/ValueSet/${target.oid}`,
      ...((expanded.version ?? target.version) ? { version: expanded.version ?? target.version } : {}),
      ...(expanded.identifier ? { identifier: expanded.identifier } : {}),
      meta: { tag: [EXPANDED_HERE] },
      expansion: { ...(expanded.expansion ?? {}), contains: expanded.expansion?.contains ?? [] },
    };
    const file = join(root, EXPANSION_DIR, `${fileName(target)}.json`);
    try {
      files.write(file, `${JSON.stringify(cached, null, 2)}\n`);
    } catch (err) {
      // A read-only knowledge directory (a container mount): the expansion serves this load all the same.
      catalog.problems.push({
        file: relative(root, file),
        message: `the expansion of ${name} could not be saved (${(err as NodeJS.ErrnoException).code ?? 'error'}): the next load asks the terminology server again`,
        severity: 'warning',
      });
    }
    if (target.file) {
      // The compose that could not be expanded here is answered: its error goes.
      const at = catalog.problems.findIndex(
        (p) => p.file === target.file && p.message.includes(`${target.url} has no expansion`),
      );
      if (at >= 0) catalog.problems.splice(at, 1);
      catalog.unexpanded = catalog.unexpanded.filter((u) => !(u.url === target.url && u.version === target.version));
    }
    addEntry(catalog, cached, relative(root, file), undefined, result.codes, true);
  }
}

async function expand(target: Target, options: TerminologyOptions): Promise<ValueSetResource> {
  const base = options.url.replace(/\/+$/, '');
  const params = new URLSearchParams();
  if (!target.oid && target.url) params.set('url', target.url);
  if (target.version) params.set('valueSetVersion', target.version);
  const query = params.toString();
  const url = target.oid
    ? `${base}/ValueSet/${encodeURIComponent(target.oid)}/$expand${query ? `?${query}` : ''}`
    : `${base}/ValueSet/$expand?${query}`;
  const headers: Record<string, string> = { Accept: 'application/fhir+json, application/json' };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await (options.fetchImpl ?? fetch)(url, {
      headers,
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const name = (err as Error).name;
    throw new Error(
      name === 'TimeoutError' || name === 'AbortError'
        ? `no answer within ${options.timeoutMs} ms`
        : 'the terminology server could not be reached',
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`it answered ${response.status}${response.status === 401 ? ' (check CDS_TERMINOLOGY_TOKEN)' : ''}`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new Error('it answered with something that is not JSON');
  }
  const vs = body as ValueSetResource & { expansion?: { total?: number; contains?: unknown[] } };
  if (vs?.resourceType !== 'ValueSet') throw new Error('it answered with something that is not a ValueSet');
  const count = vs.expansion?.contains?.length ?? 0;
  if (typeof vs.expansion?.total === 'number' && vs.expansion.total > count)
    throw new Error(`its expansion holds ${count} of ${vs.expansion.total} codes (paged expansions are not read)`);
  return vs;
}

function fileName(target: Target): string {
  const name = target.oid ?? (target.url ?? 'valueset').replace(/^https?:\/\//, '');
  return `${name}${target.version ? `-${target.version}` : ''}`.replace(/[^A-Za-z0-9._-]+/g, '_');
}
