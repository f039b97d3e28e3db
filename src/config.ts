import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { packageRoot } from './paths.js';
import { parseAdminKeys, type AdminKey } from './auth/admin-keys.js';

export interface Config {
  /** TCP port to listen on. */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Directory holding cds-services.json, cql/ and rules/. */
  knowledgeDir: string;
  /** Reload the knowledge when files under it change. */
  knowledgeWatch: boolean;
  /** Serve services whose live version is a draft (development only); retired versions are never served. */
  serveDrafts: boolean;
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  /** Origins allowed by CORS; ['*'] allows any. */
  corsOrigins: string[];
  /** winston level. */
  logLevel: string;
  /** Time limit for each FHIR request made to complete prefetch, in milliseconds. */
  fhirTimeoutMs: number;
  /** Most `next` pages followed when a FHIR search result is paginated. */
  fhirMaxPages: number;
  /** Time limit for all FHIR requests of one service call together, in milliseconds. */
  prefetchDeadlineMs: number;
  /** Checking the shape of each call's FHIR data: warn (evaluate anyway, log where), reject (400), off. */
  fhirCheck: 'off' | 'warn' | 'reject';
  /** JWT verification of CDS Hooks calls: 'on' (the default), or 'off' for local development only. */
  auth: 'on' | 'off';
  /** The trusted-clients file: the EHRs whose JWTs are accepted (required when auth is on). */
  trustedClientsFile?: string;
  /** The server's public base URL as clients address it, without a trailing slash; JWT `aud` = this + the path invoked. */
  publicBaseUrl?: string;
  /** Tolerated clock difference when checking JWT exp and iat, in seconds. */
  jwtClockSkewS: number;
  /** Longest accepted JWT lifetime (exp - iat), in seconds; a jti is remembered this long. */
  jwtMaxLifetimeS: number;
  /** Bearer keys (as SHA-256 hashes) for /admin and /uptake, each with a role. */
  adminKeys: AdminKey[];
  /** Most CDS Hooks calls a minute per client (per iss; per IP address when auth is off); 0 turns the limit off. */
  rateLimitPerMinute: number;
  adminRateLimitPerMinute: number;
  /** TLS certificate and key (PEM files); both or neither. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Directory for the SQLite uptake ledger and the pseudonym key file. */
  dataDir: string;
  /** postgres:// URL of the uptake ledger; SQLite under dataDir when absent. */
  databaseUrl?: string;
  /** Secret of the keyed hashes that pseudonymise patient, user and encounter ids; a key file under dataDir when absent. */
  pseudonymKey?: string;
  /** Small-cell threshold k of uptake exports: counts below it are withheld. */
  uptakeMinCell: number;
  /** Most time a served card waits in memory before it is written, in milliseconds. */
  uptakeFlushMs: number;
  /** Most hook calls held in memory while the uptake database is unavailable. */
  uptakeQueueLimit: number;
}

export interface ConfigVariable {
  name: string;
  description: string;
  default: string;
}

const repoRoot = packageRoot();

/** Every environment variable the server reads; the README table is generated from the same list. */
export const CONFIG_VARIABLES: ConfigVariable[] = [
  { name: 'CDS_PORT', description: 'TCP port to listen on', default: '3000' },
  { name: 'CDS_HOST', description: 'interface to bind', default: '0.0.0.0' },
  { name: 'CDS_KNOWLEDGE_DIR', description: 'directory with cds-services.json, cql/ and rules/', default: '(the repository root)' },
  { name: 'CDS_KNOWLEDGE_WATCH', description: 'on: reload the knowledge when its files change; off: only on SIGHUP or POST /admin/reload', default: 'on' },
  {
    name: 'CDS_SERVE_DRAFTS',
    description: 'on: also serve services whose live rule set version is a draft (development only)',
    default: 'off',
  },
  { name: 'CDS_BODY_LIMIT', description: 'largest request body, e.g. 500kb, 8mb', default: '8mb' },
  { name: 'CDS_CORS_ORIGINS', description: 'comma-separated origins allowed by CORS, or *', default: '*' },
  { name: 'CDS_LOG_LEVEL', description: 'error, warn, info, debug', default: 'info' },
  { name: 'CDS_FHIR_TIMEOUT_MS', description: 'time limit of each FHIR request made to complete prefetch', default: '3000' },
  { name: 'CDS_FHIR_MAX_PAGES', description: 'most pages followed in a paginated FHIR search', default: '10' },
  { name: 'CDS_PREFETCH_DEADLINE_MS', description: 'time limit of all FHIR requests of one service call together', default: '5000' },
  { name: 'CDS_FHIR_CHECK', description: "checking the shape of each call's FHIR data: warn (evaluate anyway, log where it is malformed), reject (answer 400), off", default: 'warn' },
  { name: 'CDS_AUTH', description: 'JWT verification of CDS Hooks calls: on, or off for local development only', default: 'on' },
  { name: 'CDS_TRUSTED_CLIENTS', description: 'the trusted-clients JSON file (required when CDS_AUTH is on)', default: '(none)' },
  { name: 'CDS_PUBLIC_BASE_URL', description: 'public base URL of the server as clients call it; JWT aud = this + the path (required when CDS_AUTH is on)', default: '(none)' },
  { name: 'CDS_JWT_CLOCK_SKEW_S', description: 'tolerated clock difference for JWT exp and iat, in seconds', default: '60' },
  { name: 'CDS_JWT_MAX_LIFETIME_S', description: 'longest accepted JWT lifetime (exp - iat), in seconds', default: '3600' },
  { name: 'CDS_ADMIN_KEYS', description: 'comma-separated role:sha256-hex of the bearer keys for /admin (knowledge) and /uptake (quality)', default: '(none)' },
  { name: 'CDS_RATE_LIMIT_PER_MINUTE', description: 'most CDS Hooks calls a minute per client; 0 turns the limit off', default: '6000' },
  { name: 'CDS_ADMIN_RATE_LIMIT_PER_MINUTE', description: 'most admin and report requests a minute per IP address; 0 turns the limit off', default: '120' },
  { name: 'CDS_TLS_CERT', description: 'PEM certificate file: serve HTTPS (with CDS_TLS_KEY)', default: '(none: HTTP)' },
  { name: 'CDS_TLS_KEY', description: 'PEM private key file of CDS_TLS_CERT', default: '(none)' },
  { name: 'CDS_DATA_DIR', description: 'directory of the SQLite uptake ledger (uptake.sqlite) and the pseudonym key file', default: './data' },
  { name: 'CDS_DATABASE_URL', description: 'postgres:// URL: keep the uptake ledger in PostgreSQL instead of SQLite', default: '(none: SQLite)' },
  { name: 'CDS_PSEUDONYM_KEY', description: 'secret (32 characters or more) of the HMAC-SHA256 pseudonyms of patient, user and encounter ids', default: '(CDS_DATA_DIR/pseudonym.key, made on first start)' },
  { name: 'CDS_UPTAKE_MIN_CELL', description: 'uptake exports withhold counts below this (small-cell suppression, k)', default: '11' },
  { name: 'CDS_UPTAKE_FLUSH_MS', description: 'most time a served card waits in memory before it is written to the ledger', default: '250' },
  { name: 'CDS_UPTAKE_QUEUE_LIMIT', description: 'most hook calls held in memory while the uptake database is unavailable', default: '100000' },
];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads the configuration once; reports every problem at once. With `requireAuthSettings` (start-up),
 * auth on needs CDS_TRUSTED_CLIENTS and CDS_PUBLIC_BASE_URL.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, { requireAuthSettings = true } = {}): Config {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const bytes = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = parseBytes(raw);
    if (parsed === undefined) {
      problems.push(`${name}=${JSON.stringify(raw)} must be a size such as 500kb or 8mb`);
      return fallback;
    }
    return parsed;
  };
  const onOff = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'on' || raw === 'off') return raw === 'on';
    problems.push(`${name}=${JSON.stringify(raw)} must be on or off`);
    return fallback;
  };
  const choice = <T extends string>(name: string, values: readonly T[]): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return values[0];
    if ((values as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name}=${JSON.stringify(raw)} must be one of ${values.join(', ')}`);
    return values[0];
  };
  const logLevel = env.CDS_LOG_LEVEL ?? 'info';
  if (!['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'].includes(logLevel)) {
    problems.push(`CDS_LOG_LEVEL=${JSON.stringify(logLevel)} must be one of error, warn, info, debug`);
  }
  const config: Config = {
    port: int('CDS_PORT', 3000, 0, 65535),
    host: env.CDS_HOST || '0.0.0.0',
    knowledgeDir: resolve(env.CDS_KNOWLEDGE_DIR || repoRoot),
    knowledgeWatch: onOff('CDS_KNOWLEDGE_WATCH', true),
    serveDrafts: onOff('CDS_SERVE_DRAFTS', false),
    bodyLimitBytes: bytes('CDS_BODY_LIMIT', 8 * 1024 * 1024),
    corsOrigins: (env.CDS_CORS_ORIGINS || '*').split(',').map((s) => s.trim()).filter(Boolean),
    logLevel,
    fhirTimeoutMs: int('CDS_FHIR_TIMEOUT_MS', 3000, 1, 120000),
    fhirMaxPages: int('CDS_FHIR_MAX_PAGES', 10, 1, 1000),
    prefetchDeadlineMs: int('CDS_PREFETCH_DEADLINE_MS', 5000, 1, 600000),
    fhirCheck: choice('CDS_FHIR_CHECK', ['warn', 'reject', 'off'] as const),
    auth: 'on',
    jwtClockSkewS: int('CDS_JWT_CLOCK_SKEW_S', 60, 0, 600),
    jwtMaxLifetimeS: int('CDS_JWT_MAX_LIFETIME_S', 3600, 1, 315360000),
    adminKeys: [],
    rateLimitPerMinute: int('CDS_RATE_LIMIT_PER_MINUTE', 6000, 0, 10000000),
    adminRateLimitPerMinute: int('CDS_ADMIN_RATE_LIMIT_PER_MINUTE', 120, 0, 10000000),
    dataDir: resolve(env.CDS_DATA_DIR || resolve(repoRoot, 'data')),
    uptakeMinCell: int('CDS_UPTAKE_MIN_CELL', 11, 1, 1000),
    uptakeFlushMs: int('CDS_UPTAKE_FLUSH_MS', 250, 1, 60000),
    uptakeQueueLimit: int('CDS_UPTAKE_QUEUE_LIMIT', 100000, 1, 10000000),
  };
  problems.push(...readUptakeSettings(env, config));
  problems.push(...readSecuritySettings(env, config, requireAuthSettings));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function readSecuritySettings(env: NodeJS.ProcessEnv, config: Config, requireAuthSettings: boolean): string[] {
  const problems: string[] = [];
  const auth = (env.CDS_AUTH || 'on').trim().toLowerCase();
  if (auth === 'on' || auth === 'off') config.auth = auth;
  else problems.push(`CDS_AUTH=${JSON.stringify(env.CDS_AUTH)} must be on or off`);
  if (env.CDS_TRUSTED_CLIENTS) config.trustedClientsFile = resolve(env.CDS_TRUSTED_CLIENTS);
  if (env.CDS_PUBLIC_BASE_URL) {
    const raw = env.CDS_PUBLIC_BASE_URL.trim();
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash || url.username) {
      problems.push(`CDS_PUBLIC_BASE_URL=${JSON.stringify(raw)} must be an absolute http(s) URL without query or fragment, e.g. https://cds.example.org`);
    } else {
      config.publicBaseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    }
  }
  if (auth === 'on' && requireAuthSettings) {
    const advice = 'when CDS_AUTH is on (the default); set CDS_AUTH=off only for local development';
    if (!env.CDS_TRUSTED_CLIENTS) problems.push(`CDS_TRUSTED_CLIENTS must name the trusted-clients file ${advice}`);
    if (!env.CDS_PUBLIC_BASE_URL) problems.push(`CDS_PUBLIC_BASE_URL must give the server's public base URL (the JWT aud) ${advice}`);
  }
  const admin = parseAdminKeys(env.CDS_ADMIN_KEYS ?? '');
  config.adminKeys = admin.keys;
  problems.push(...admin.problems);
  const cert = env.CDS_TLS_CERT;
  const key = env.CDS_TLS_KEY;
  if (!!cert !== !!key) problems.push('CDS_TLS_CERT and CDS_TLS_KEY must be given together');
  for (const [name, file] of [['CDS_TLS_CERT', cert], ['CDS_TLS_KEY', key]] as const) {
    if (file && !existsSync(file)) problems.push(`${name}=${JSON.stringify(file)} does not exist`);
  }
  if (cert && key) {
    config.tlsCertFile = resolve(cert);
    config.tlsKeyFile = resolve(key);
  }
  return problems;
}

function readUptakeSettings(env: NodeJS.ProcessEnv, config: Config): string[] {
  const problems: string[] = [];
  const url = env.CDS_DATABASE_URL?.trim();
  if (url) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    // The value may hold a password: never quote it back.
    if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol) || !parsed.hostname) problems.push('CDS_DATABASE_URL must be a postgres:// URL, e.g. postgres://user:password@host:5432/database');
    else config.databaseUrl = url;
  }
  const key = env.CDS_PSEUDONYM_KEY;
  if (key !== undefined && key !== '') {
    if (key.trim().length < 32) problems.push('CDS_PSEUDONYM_KEY must be at least 32 characters (e.g. openssl rand -base64 32)');
    else config.pseudonymKey = key.trim();
  }
  return problems;
}

export function parseBytes(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(raw);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit === 'gb' ? 1024 ** 3 : unit === 'mb' ? 1024 ** 2 : unit === 'kb' ? 1024 : 1;
  return Math.floor(Number(m[1]) * factor);
}

/** Defaults for tests and tools that build the app without an environment; auth is on, so they give trusted clients or set auth 'off'. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}, { requireAuthSettings: false }), ...overrides };
}
