// The trusted-clients file (CDS_TRUSTED_CLIENTS): which EHRs may call, where their keys are, which
// tenants they may claim and which FHIR servers may be called on their behalf. Read once at start-up;
// every problem is reported at once, with its JSON path.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { importJWK, type JSONWebKeySet, type JWK } from 'jose';
import { createAjv, readSchema, schemaPointerProblems, type SchemaWording } from '../json-schema.js';
import { StartupError } from '../errors.js';

/** The documented forms of a client's `audiences`; any other entry is an absolute URL compared as given. */
export const AUDIENCE_FORMS = ['endpoint', 'base', 'cds-services'] as const;

export interface TrustedClient {
  /** The `iss` claim, compared exactly. */
  iss: string;
  name?: string;
  /** The only JWK Set URLs keys may be fetched from. */
  jku?: string[];
  /** Public keys known out of band (inline and from jwksFile, merged). */
  jwks?: JSONWebKeySet;
  /** When given, a token must carry one of these in `tenant`. */
  tenants?: string[];
  /** Origins of the FHIR servers this client may name; absent or empty: none. */
  fhirServers?: string[];
  /**
   * What its tokens' aud may be: `endpoint` (the URL invoked, the default), `base` (the public base URL),
   * `cds-services` (the discovery URL), or absolute URLs compared as given.
   */
  audiences?: string[];
}

export class TrustedClientsError extends StartupError {
  constructor(readonly problems: string[]) {
    super(`invalid trusted-clients file:\n  ${problems.join('\n  ')}`);
    this.name = 'TrustedClientsError';
  }
}

interface ClientEntry {
  iss: string;
  name?: string;
  jku?: string[];
  jwks?: { keys: JWK[] };
  jwksFile?: string;
  tenants?: string[];
  fhirServers?: string[];
  audiences?: string[];
}

const validateFile = createAjv().compile<{ clients: ClientEntry[] }>(readSchema('trusted-clients.schema.json'));

const wording: SchemaWording = {
  // The only anyOf is "some source of keys": one message instead of one per alternative.
  skip: (e) => /\/anyOf\/\d+\//.test(e.schemaPath),
  text: (e) => (e.keyword === 'anyOf' ? 'needs at least one way to find its keys: jku, jwks or jwksFile' : undefined),
};

/** Reads and checks the trusted-clients file; throws TrustedClientsError listing every problem. */
export async function loadTrustedClients(file: string): Promise<TrustedClient[]> {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TrustedClientsError([`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TrustedClientsError([`${path}: not valid JSON (${(err as Error).message})`]);
  }
  const { clients, problems } = await checkTrustedClients(json, dirname(path));
  if (problems.length > 0) throw new TrustedClientsError(problems.map((p) => `${path}: ${p}`));
  return clients;
}

/** Checks a parsed trusted-clients document; jwksFile paths are relative to baseDir. */
export async function checkTrustedClients(
  json: unknown,
  baseDir: string,
): Promise<{ clients: TrustedClient[]; problems: string[] }> {
  if (!validateFile(json)) {
    const problems = schemaPointerProblems(validateFile.errors, wording).map((p) => `${p.pointer}: ${p.message}`);
    return { clients: [], problems };
  }
  const problems: string[] = [];
  const clients: TrustedClient[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of json.clients.entries()) {
    const at = `/clients/${i}`;
    if (seen.has(entry.iss)) problems.push(`${at}/iss: '${entry.iss}' is configured twice`);
    seen.add(entry.iss);
    const client: TrustedClient = { iss: entry.iss };
    if (entry.name) client.name = entry.name;
    if (entry.jku) {
      entry.jku.forEach((url, j) => {
        const problem = urlProblem(url);
        if (problem) problems.push(`${at}/jku/${j}: ${problem}`);
      });
      client.jku = entry.jku;
    }
    const keys: JWK[] = [];
    if (entry.jwks) keys.push(...(await keyProblems(entry.jwks.keys, `${at}/jwks/keys`, problems)));
    if (entry.jwksFile)
      keys.push(...(await keysFromFile(resolve(baseDir, entry.jwksFile), `${at}/jwksFile`, problems)));
    const kids = keys.map((k) => k.kid);
    const twice = kids.filter((kid, n) => kids.indexOf(kid) !== n);
    if (twice.length > 0)
      problems.push(
        `${at}: key id(s) ${[...new Set(twice)].map((k) => `'${k}'`).join(', ')} appear more than once; kid must be unique`,
      );
    if (keys.length > 0) client.jwks = { keys };
    if (entry.tenants) client.tenants = entry.tenants;
    client.fhirServers = (entry.fhirServers ?? []).map((origin, j) => {
      const problem = originProblem(origin);
      if (problem) problems.push(`${at}/fhirServers/${j}: ${problem}`);
      return problem ? origin : new URL(origin).origin;
    });
    if (entry.audiences) {
      entry.audiences.forEach((audience, j) => {
        if ((AUDIENCE_FORMS as readonly string[]).includes(audience)) return;
        const problem = audienceProblem(audience);
        if (problem) problems.push(`${at}/audiences/${j}: ${problem}`);
      });
      client.audiences = entry.audiences;
    }
    clients.push(client);
  }
  return { clients, problems };
}

async function keysFromFile(path: string, at: string, problems: string[]): Promise<JWK[]> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(
      `${at}: ${path} ${code ? `cannot be read (${code})` : `is not valid JSON (${(err as Error).message})`}`,
    );
    return [];
  }
  const keys = (json as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    problems.push(`${at}: ${path} is not a JWK Set: it needs a non-empty "keys" array`);
    return [];
  }
  return keyProblems(keys as JWK[], `${at} (${path}) keys`, problems);
}

/** Keeps the usable public signing keys; reports the others. */
async function keyProblems(keys: JWK[], at: string, problems: string[]): Promise<JWK[]> {
  const good: JWK[] = [];
  for (const [i, key] of keys.entries()) {
    const where = `${at}/${i}`;
    if (!key || typeof key !== 'object') {
      problems.push(`${where}: must be a JWK object`);
      continue;
    }
    if (key.kty !== 'EC' && key.kty !== 'RSA') {
      problems.push(`${where}: kty must be EC or RSA (symmetric and other keys are not accepted)`);
      continue;
    }
    if (typeof key.kid !== 'string' || key.kid === '') {
      problems.push(`${where}: missing required property 'kid'`);
      continue;
    }
    if ('d' in key || 'p' in key) {
      problems.push(`${where}: '${key.kid}' is a private key; give only the public part`);
      continue;
    }
    try {
      // Only checks that the key material is well formed; the algorithm is taken from each token.
      await importJWK({ ...key, ext: true }, key.alg ?? (key.kty === 'EC' ? ecAlgorithm(key.crv) : 'RS384'));
      good.push(key);
    } catch (err) {
      problems.push(`${where}: '${key.kid}' is not a usable public key (${(err as Error).message})`);
    }
  }
  return good;
}

function ecAlgorithm(crv: string | undefined): string {
  return crv === 'P-256' ? 'ES256' : crv === 'P-521' ? 'ES512' : 'ES384';
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function urlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `'${url}' is not an absolute URL`;
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:' && isLoopback(parsed.hostname)) return undefined;
  return `'${url}' must use https (http is accepted on loopback only)`;
}

function audienceProblem(audience: string): string | undefined {
  const forms = AUDIENCE_FORMS.map((f) => `'${f}'`).join(', ');
  let parsed: URL;
  try {
    parsed = new URL(audience);
  } catch {
    return `'${audience}' is neither one of ${forms} nor an absolute URL`;
  }
  if (!/^https?:$/.test(parsed.protocol) || parsed.search || parsed.hash || parsed.username)
    return `'${audience}' must be an http(s) URL without query, fragment or user (or one of ${forms})`;
  return undefined;
}

function originProblem(origin: string): string | undefined {
  const problem = urlProblem(origin);
  if (problem) return problem;
  if (new URL(origin).origin !== origin.toLowerCase())
    return `'${origin}' must be an origin only, such as https://fhir.example.org (scheme, host and port; no path, no trailing slash)`;
  return undefined;
}
