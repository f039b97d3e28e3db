// The server's configuration: every environment variable it reads, in one table. Nothing else in
// src/ reads a CDS_ variable (test/auth/config.test.ts checks it, and that the README documents this
// table). Adding a variable is one entry here and one row in the README.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { StartupError } from './errors.js';
import { packageRoot } from './paths.js';
import { parseAdminKeys } from './auth/admin-keys.js';

const repoRoot = packageRoot();

export class ConfigError extends StartupError {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads a variable's value (`raw` is undefined when it is unset); throws ConfigError naming what is wrong. */
export type ParseVariable<T> = (raw: string | undefined, variable: { name: string; default?: string }) => T;

export interface ConfigVariable<T = unknown> {
  name: `CDS_${string}`;
  /** The value taken when the variable is unset or empty, written as it would be set; absent when there is none. */
  default?: string;
  parse: ParseVariable<T>;
  /** What it means: the README's configuration table says the same. */
  doc: string;
}

/** The value to read: the variable's own, else its default. */
function valueOr(raw: string | undefined, { name, default: fallback }: { name: string; default?: string }): string {
  if (raw !== undefined && raw !== '') return raw;
  if (fallback === undefined) throw new Error(`${name} has no default`);
  return fallback;
}

const int =
  (min: number, max: number): ParseVariable<number> =>
  (raw, variable) => {
    const value = Number(valueOr(raw, variable));
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError([`${variable.name}=${JSON.stringify(raw)} must be a whole number from ${min} to ${max}`]);
    }
    return value;
  };

const bytes: ParseVariable<number> = (raw, variable) => {
  const value = parseBytes(valueOr(raw, variable));
  if (value === undefined) {
    throw new ConfigError([`${variable.name}=${JSON.stringify(raw)} must be a size such as 500kb or 8mb`]);
  }
  return value;
};

const onOff: ParseVariable<boolean> = (raw, variable) => {
  const value = valueOr(raw, variable);
  if (value !== 'on' && value !== 'off') {
    throw new ConfigError([`${variable.name}=${JSON.stringify(raw)} must be on or off`]);
  }
  return value === 'on';
};

const choice =
  <T extends string>(values: readonly T[]): ParseVariable<T> =>
  (raw, variable) => {
    const value = valueOr(raw, variable);
    if (!(values as readonly string[]).includes(value)) {
      throw new ConfigError([`${variable.name}=${JSON.stringify(raw)} must be one of ${values.join(', ')}`]);
    }
    return value as T;
  };

const text: ParseVariable<string> = valueOr;

const commaList: ParseVariable<string[]> = (raw, variable) =>
  valueOr(raw, variable)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A directory: a value set is relative to the working directory, the default to the repository. */
const directory: ParseVariable<string> = (raw, variable) =>
  raw ? resolve(raw) : resolve(repoRoot, valueOr(raw, variable));

const optionalFile: ParseVariable<string | undefined> = (raw) => (raw ? resolve(raw) : undefined);

const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];

/**
 * Every environment variable the server reads, by the Config field it sets. loadConfig reads them in
 * this order and reports their problems in it; rules across variables (crossProblems) come after.
 */
export const CONFIG_VARIABLES = {
  logLevel: {
    name: 'CDS_LOG_LEVEL',
    default: 'info',
    // An empty value is refused rather than taken as unset.
    parse: (raw, variable) => {
      const level = raw ?? valueOr(raw, variable);
      if (!LOG_LEVELS.includes(level)) {
        throw new ConfigError([`${variable.name}=${JSON.stringify(level)} must be one of error, warn, info, debug`]);
      }
      return level;
    },
    doc: '`error`, `warn`, `info`, `debug`',
  },
  port: { name: 'CDS_PORT', default: '3000', parse: int(0, 65535), doc: 'TCP port' },
  host: { name: 'CDS_HOST', default: '0.0.0.0', parse: text, doc: 'interface to bind' },
  knowledgeDir: {
    name: 'CDS_KNOWLEDGE_DIR',
    default: '.',
    parse: directory,
    doc: 'directory holding `cds-services.json`, `cql/` and `rules/`',
  },
  knowledgeWatch: {
    name: 'CDS_KNOWLEDGE_WATCH',
    default: 'on',
    parse: onOff,
    doc: '`on`: reload the knowledge when its files change; `off`: only on `SIGHUP` or `POST /admin/reload`',
  },
  serveDrafts: {
    name: 'CDS_SERVE_DRAFTS',
    default: 'off',
    parse: onOff,
    doc: '`on`: also serve services whose live version is a draft (development only; announced at start-up and in `/ready`); retired versions are never served',
  },
  prefetchMaxTemplate: {
    name: 'CDS_PREFETCH_MAX_TEMPLATE',
    default: '2000',
    parse: int(100, 100000),
    doc: 'longest prefetch template derived from the CQL (`"prefetch": "derive"`, `cds prefetch`), in characters; a longer query falls back to a broader one without its code filter',
  },
  bodyLimitBytes: {
    name: 'CDS_BODY_LIMIT',
    default: '8mb',
    parse: bytes,
    doc: 'largest request body (`500kb`, `8mb`, …)',
  },
  corsOrigins: {
    name: 'CDS_CORS_ORIGINS',
    default: '*',
    parse: commaList,
    doc: 'comma-separated origins allowed by CORS, or `*`',
  },
  fhirTimeoutMs: {
    name: 'CDS_FHIR_TIMEOUT_MS',
    default: '3000',
    parse: int(1, 120000),
    doc: 'time limit of each FHIR request made to complete prefetch',
  },
  fhirMaxPages: {
    name: 'CDS_FHIR_MAX_PAGES',
    default: '10',
    parse: int(1, 1000),
    doc: 'most pages followed in a paginated FHIR search',
  },
  prefetchDeadlineMs: {
    name: 'CDS_PREFETCH_DEADLINE_MS',
    default: '5000',
    parse: int(1, 600000),
    doc: 'time limit of all FHIR requests of one service call together; past it the call answers `412`',
  },
  fhirMaxBytes: {
    name: 'CDS_FHIR_MAX_BYTES',
    default: '16mb',
    parse: bytes,
    doc: 'largest FHIR answer, counted after decompression while it is read; a larger one is abandoned there and the call answers `412` naming the prefetch key',
  },
  fhirMaxResources: {
    name: 'CDS_FHIR_MAX_RESOURCES',
    default: '10000',
    parse: int(1, 10_000_000),
    doc: 'most resources fetched from the FHIR server for one call, across every prefetch key and page; past it the call answers `412` naming the key',
  },
  callDeadlineMs: {
    name: 'CDS_CALL_DEADLINE_MS',
    default: '10000',
    parse: int(1, 600000),
    doc: 'time limit of one service call from its arrival to its answer, evaluation included; past it while FHIR data is fetched the call answers `412`, past it during evaluation `503` (`call-deadline`), and the evaluation stops at its next CQL define',
  },
  maxResourcesPerCall: {
    name: 'CDS_MAX_RESOURCES_PER_CALL',
    default: '10000',
    parse: int(1, 10_000_000),
    doc: 'most FHIR resources one call may evaluate (sent and fetched together, Bundles counted by their entries); more answers `422` (`too-much-data`) before any evaluation',
  },
  fhirCheck: {
    name: 'CDS_FHIR_CHECK',
    default: 'warn',
    parse: choice(['warn', 'reject', 'off'] as const),
    doc:
      "checks the shape of each call's FHIR data against FHIR R4 (an array where one value belongs, a string " +
      'where a CodeableConcept belongs, a number where a date belongs, a UCUM-coded Quantity whose code is not ' +
      'UCUM, ...): `warn` evaluates anyway and logs where the data is malformed (never the values); `reject` ' +
      'answers `400` naming each place (`412` for data fetched from the FHIR server); `off` checks only after an ' +
      'evaluation failed. In every mode, numbers and dates CQL cannot compute with (beyond its Decimal, Integer, ' +
      'Date and DateTime ranges, or not on the calendar) are refused before evaluation, and an evaluation that ' +
      'fails on malformed data answers `400` naming the places rather than `500`',
  },
  medicationFetch: {
    name: 'CDS_MEDICATION_FETCH',
    default: 'on',
    parse: onOff,
    doc:
      "`on`: a `MedicationRequest.medicationReference` that is neither contained nor among the call's data is read " +
      "as `Medication/{id}` from the call's `fhirServer` (when one is given and allowed), so that CQL sees the " +
      'medication code; `off`: only contained and bundled Medications are resolved',
  },
  terminologyUrl: {
    name: 'CDS_TERMINOLOGY_URL',
    parse: (raw, variable) => {
      if (!raw) return undefined;
      const value = raw.trim().replace(/\/+$/, '');
      if (!isUrl(value, /^https?:$/))
        throw new ConfigError([`${variable.name}=${JSON.stringify(raw)} must be an absolute http(s) URL`]);
      return value;
    },
    doc:
      'FHIR terminology server (e.g. `https://cts.nlm.nih.gov/fhir`) asked at load for `ValueSet/$expand` of the ' +
      'value sets the knowledge cannot expand itself; expansions are saved under `cql/valuesets/expanded/`, so ' +
      'later loads need no server',
  },
  terminologyToken: {
    name: 'CDS_TERMINOLOGY_TOKEN',
    parse: (raw) => (raw ? raw : undefined),
    doc: 'bearer token sent to `CDS_TERMINOLOGY_URL` (never logged)',
  },
  terminologyTimeoutMs: {
    name: 'CDS_TERMINOLOGY_TIMEOUT_MS',
    default: '10000',
    parse: int(1, 600000),
    doc: 'time limit of each `$expand` request to `CDS_TERMINOLOGY_URL`',
  },
  elmCacheDir: {
    name: 'CDS_ELM_CACHE_DIR',
    parse: optionalFile,
    doc:
      'directory of compiled ELM, keyed by CQL source, translator version and options; the server (start and ' +
      'reloads) and `cds eval --library` share it, so a restart with unchanged libraries compiles nothing',
  },
  jwtClockSkewS: {
    name: 'CDS_JWT_CLOCK_SKEW_S',
    default: '60',
    parse: int(0, 600),
    doc: 'clock difference tolerated when checking `exp` and `iat`, in seconds',
  },
  jwtMaxLifetimeS: {
    name: 'CDS_JWT_MAX_LIFETIME_S',
    default: '3600',
    parse: int(1, 315360000),
    doc: 'longest accepted token lifetime (`exp` − `iat`), in seconds',
  },
  rateLimitPerMinute: {
    name: 'CDS_RATE_LIMIT_PER_MINUTE',
    default: '6000',
    parse: int(0, 10000000),
    doc:
      'most CDS Hooks calls a minute per client (per `iss`; per IP address when `CDS_AUTH` is off); ' +
      '`0` turns the limit off',
  },
  adminRateLimitPerMinute: {
    name: 'CDS_ADMIN_RATE_LIMIT_PER_MINUTE',
    default: '120',
    parse: int(0, 10000000),
    doc:
      'most `/admin` and `/uptake` requests a minute per IP address, counted before the key is checked ' +
      '(`429`); `0` turns the limit off',
  },
  dataDir: {
    name: 'CDS_DATA_DIR',
    default: './data',
    parse: directory,
    doc: 'directory of the SQLite [uptake ledger](#store) (`uptake.sqlite`) and of the pseudonym key file',
  },
  uptakeMinCell: {
    name: 'CDS_UPTAKE_MIN_CELL',
    default: '11',
    parse: int(1, 1000),
    doc: 'k of small-cell suppression: uptake exports withhold counts below it',
  },
  uptakeFlushMs: {
    name: 'CDS_UPTAKE_FLUSH_MS',
    default: '250',
    parse: int(1, 60000),
    doc: 'most time a failed call or a shadow evaluation waits in memory before it is written to the ledger (answered calls are written before their answer)',
  },
  uptakeQueueLimit: {
    name: 'CDS_UPTAKE_QUEUE_LIMIT',
    default: '100000',
    parse: int(1, 10000000),
    doc: 'most hook calls held in memory while the uptake database is unavailable',
  },
  completionWindowHours: {
    name: 'CDS_COMPLETION_WINDOW_HOURS',
    default: '72',
    parse: int(1, 8760),
    doc:
      'how long later calls of the same patient count as evidence that a suggested action was taken; a service ' +
      'may set its own (`completionWindowHours` in `cds-services.json`)',
  },
  driftBaselineCalls: {
    name: 'CDS_DRIFT_BASELINE_CALLS',
    default: '2000',
    parse: int(10, 10000000),
    doc: 'calls of a rule set version (or of a service) from which the drift detectors learn their baseline rates',
  },
  driftScanMs: {
    name: 'CDS_DRIFT_SCAN_MS',
    default: '15000',
    parse: int(0, 3600000),
    doc: 'how often the drift detectors read the calls written since their last look; `0`: only when alerts or metrics are read',
  },
  shadowQueueLimit: {
    name: 'CDS_SHADOW_QUEUE_LIMIT',
    default: '200',
    parse: int(1, 1000000),
    doc: 'most calls whose shadow versions wait to be evaluated after the answer; beyond it shadow work is dropped and counted (`/metrics`, `/ready`)',
  },
  idleGcMs: {
    name: 'CDS_IDLE_GC_MS',
    default: '5000',
    parse: int(0, 3600000),
    doc: 'once no call has been answered for this long, each thread that answers calls runs one memory-reducing garbage collection (once per idle period), giving back the memory a load grew; `0`: never',
  },
  workers: {
    name: 'CDS_WORKERS',
    // No fixed default: the machine's own count (written in the README as `none`).
    parse: (raw, variable) => (raw === undefined || raw === '' ? availableParallelism() : int(1, 256)(raw, variable)),
    doc: 'threads that evaluate hook calls; unset: one per core the machine offers (`os.availableParallelism()`). `1` evaluates on the HTTP thread itself; `2` or more starts a pool of that many worker threads, each with the compiled knowledge, while the HTTP thread authenticates, reads the body, records and answers',
  },
  databaseUrl: {
    name: 'CDS_DATABASE_URL',
    parse: (raw, variable) => {
      const url = raw?.trim();
      if (!url) return undefined;
      // The value may hold a password: never quote it back.
      if (!isUrl(url, /^postgres(ql)?:$/) || !new URL(url).hostname) {
        throw new ConfigError([
          `${variable.name} must be a postgres:// URL, e.g. postgres://user:password@host:5432/database`,
        ]);
      }
      return url;
    },
    doc:
      '`postgres://user:password@host:5432/database`: keep the uptake ledger in PostgreSQL; instances that share ' +
      'it share the used JWT ids and the rate-limit counters too (a client gets its limit once behind a load balancer)',
  },
  pseudonymKey: {
    name: 'CDS_PSEUDONYM_KEY',
    parse: (raw, variable) => {
      if (raw === undefined || raw === '') return undefined;
      if (raw.trim().length < 32) {
        throw new ConfigError([`${variable.name} must be at least 32 characters (e.g. openssl rand -base64 32)`]);
      }
      return raw.trim();
    },
    doc:
      'secret (32 characters or more) of the HMAC-SHA256 pseudonyms of patient, user and encounter ids; ' +
      'never stored in the database',
  },
  auth: {
    name: 'CDS_AUTH',
    default: 'on',
    parse: (raw, variable) => {
      const auth = valueOr(raw, variable).trim().toLowerCase();
      if (auth !== 'on' && auth !== 'off') {
        throw new ConfigError([`${variable.name}=${JSON.stringify(raw)} must be on or off`]);
      }
      return auth;
    },
    doc: '`on`: every CDS Hooks call must carry a valid JWT; `off`: nothing is checked (local development only)',
  },
  trustedClientsFile: {
    name: 'CDS_TRUSTED_CLIENTS',
    parse: optionalFile,
    doc: 'the [trusted-clients file](#trusted-clients)',
  },
  publicBaseUrl: {
    name: 'CDS_PUBLIC_BASE_URL',
    parse: (raw, variable) => {
      if (!raw) return undefined;
      const value = raw.trim();
      const url = isUrl(value, /^https?:$/) ? new URL(value) : undefined;
      if (!url || url.search || url.hash || url.username) {
        throw new ConfigError([
          `${variable.name}=${JSON.stringify(value)} must be an absolute http(s) URL without query or fragment, ` +
            'e.g. https://cds.example.org',
        ]);
      }
      return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    },
    doc:
      "the server's base URL as EHRs call it, e.g. `https://cds.example.org` (a path such as " +
      '`https://gw.example.org/cds` is kept); the JWT `aud` must be this + the path invoked',
  },
  adminKeys: {
    name: 'CDS_ADMIN_KEYS',
    parse: (raw, variable) => {
      const { keys, problems } = parseAdminKeys(raw ?? '', variable.name);
      if (problems.length > 0) throw new ConfigError(problems);
      return keys;
    },
    doc: 'comma-separated `role:sha256-hex` of the [admin keys](#admin-keys)',
  },
  adminKeysFile: {
    name: 'CDS_ADMIN_KEYS_FILE',
    parse: optionalFile,
    doc: 'a file of more [admin keys](#admin-keys) (`role:sha256-hex`, one a line), read again on `SIGHUP`',
  },
  tlsCertFile: {
    name: 'CDS_TLS_CERT',
    parse: optionalFile,
    doc: 'PEM certificate file: the server itself speaks HTTPS (with `CDS_TLS_KEY`)',
  },
  tlsKeyFile: { name: 'CDS_TLS_KEY', parse: optionalFile, doc: 'PEM private key file of `CDS_TLS_CERT`' },
  authDebug: {
    name: 'CDS_AUTH_DEBUG',
    default: 'off',
    parse: onOff,
    doc:
      '`on`: a `401` to a CDS Hooks call also says why in its body (development only; refused when ' +
      '`CDS_PUBLIC_BASE_URL` is https). The log always says why',
  },
  evaluationTime: {
    name: 'CDS_EVALUATION_TIME',
    parse: (raw, variable) => {
      if (!raw) return undefined;
      const value = raw.trim();
      const time = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value)
        ? new Date(value)
        : undefined;
      if (!time || Number.isNaN(time.getTime())) {
        throw new ConfigError([
          `${variable.name}=${JSON.stringify(value.slice(0, 40))} must be an ISO 8601 date or date-time, e.g. 2026-06-01T12:00:00Z`,
        ]);
      }
      return time.toISOString();
    },
    doc:
      '"now" of every evaluation, e.g. `2026-06-01T12:00:00Z` (development only, refused when `CDS_AUTH` is on): ' +
      'replaying the fixtures gives their expected cards on any day',
  },
} satisfies Record<string, ConfigVariable>;

type Variables = typeof CONFIG_VARIABLES;
type Value<K extends keyof Variables> = ReturnType<Variables[K]['parse']>;
type OptionalField = { [K in keyof Variables]: undefined extends Value<K> ? K : never }[keyof Variables];

/** The configuration, one field per variable; a field whose variable has no value and no default is absent. */
export type Config = { [K in Exclude<keyof Variables, OptionalField>]: Value<K> } & {
  [K in OptionalField]?: Exclude<Value<K>, undefined>;
};

/**
 * Reads the configuration once; reports every problem at once. With `requireAuthSettings` (start-up),
 * auth on needs CDS_TRUSTED_CLIENTS and CDS_PUBLIC_BASE_URL.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, { requireAuthSettings = true } = {}): Config {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [field, variable] of Object.entries(CONFIG_VARIABLES) as Array<[string, ConfigVariable]>) {
    try {
      const value = variable.parse(env[variable.name], variable);
      if (value !== undefined) config[field] = value;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  problems.push(...crossProblems(env, config, requireAuthSettings));
  if (problems.length > 0) throw new ConfigError(problems);
  return config as Config;
}

/** The rules that involve more than one variable. */
function crossProblems(env: NodeJS.ProcessEnv, config: Partial<Config>, requireAuthSettings: boolean): string[] {
  const problems: string[] = [];
  if (config.auth === 'on' && requireAuthSettings) {
    const advice = 'when CDS_AUTH is on (the default); set CDS_AUTH=off only for local development';
    if (!env.CDS_TRUSTED_CLIENTS) problems.push(`CDS_TRUSTED_CLIENTS must name the trusted-clients file ${advice}`);
    if (!env.CDS_PUBLIC_BASE_URL) {
      problems.push(`CDS_PUBLIC_BASE_URL must give the server's public base URL (the JWT aud) ${advice}`);
    }
  }
  if (config.evaluationTime && config.auth === 'on') {
    problems.push(
      'CDS_EVALUATION_TIME fixes the time of every evaluation: development only, refused when CDS_AUTH is on',
    );
  }
  if (config.authDebug && config.publicBaseUrl?.startsWith('https:')) {
    problems.push(
      'CDS_AUTH_DEBUG=on tells every caller why its token was refused: development only, refused when CDS_PUBLIC_BASE_URL is https',
    );
  }
  const cert = env.CDS_TLS_CERT;
  const key = env.CDS_TLS_KEY;
  if (!!cert !== !!key) problems.push('CDS_TLS_CERT and CDS_TLS_KEY must be given together');
  for (const [name, file] of [
    ['CDS_TLS_CERT', cert],
    ['CDS_TLS_KEY', key],
  ] as const) {
    if (file && !existsSync(file)) problems.push(`${name}=${JSON.stringify(file)} does not exist`);
  }
  return problems;
}

function isUrl(value: string, protocol: RegExp): boolean {
  try {
    return protocol.test(new URL(value).protocol);
  } catch {
    return false;
  }
}

export function parseBytes(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(raw);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit === 'gb' ? 1024 ** 3 : unit === 'mb' ? 1024 ** 2 : unit === 'kb' ? 1024 : 1;
  return Math.floor(Number(m[1]) * factor);
}

/** What the `cds` command takes from the environment; no value makes it refuse to run. */
export interface CliSettings {
  /** The knowledge a command works on when it is given no directory. */
  knowledgeDir: string;
  /** Its logs (on stderr) stay at warn unless CDS_LOG_LEVEL asks for info or debug. */
  logLevel: 'warn' | 'info' | 'debug';
}

export function readCliSettings(env: NodeJS.ProcessEnv = process.env): CliSettings {
  const { knowledgeDir, logLevel } = CONFIG_VARIABLES;
  const dir = env[knowledgeDir.name];
  const level = env[logLevel.name];
  return {
    // Unlike the server, the command reads an empty CDS_KNOWLEDGE_DIR as the working directory.
    knowledgeDir: dir === undefined ? knowledgeDir.parse(undefined, knowledgeDir) : resolve(dir),
    logLevel: level === 'debug' || level === 'info' ? level : 'warn',
  };
}

/**
 * Defaults for tests and tools that build the app without an environment; auth is on, so they give
 * trusted clients or set auth 'off'.
 */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}, { requireAuthSettings: false }), ...overrides };
}
