import { resolve } from 'node:path';
import { packageRoot } from './paths.js';

export interface Config {
  /** TCP port to listen on. */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Directory holding cds-services.json, cql/ and rules/. */
  knowledgeDir: string;
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
  { name: 'CDS_BODY_LIMIT', description: 'largest request body, e.g. 500kb, 8mb', default: '8mb' },
  { name: 'CDS_CORS_ORIGINS', description: 'comma-separated origins allowed by CORS, or *', default: '*' },
  { name: 'CDS_LOG_LEVEL', description: 'error, warn, info, debug', default: 'info' },
  { name: 'CDS_FHIR_TIMEOUT_MS', description: 'time limit of each FHIR request made to complete prefetch', default: '3000' },
  { name: 'CDS_FHIR_MAX_PAGES', description: 'most pages followed in a paginated FHIR search', default: '10' },
];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration once; reports every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
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
  const logLevel = env.CDS_LOG_LEVEL ?? 'info';
  if (!['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'].includes(logLevel)) {
    problems.push(`CDS_LOG_LEVEL=${JSON.stringify(logLevel)} must be one of error, warn, info, debug`);
  }
  const config: Config = {
    port: int('CDS_PORT', 3000, 0, 65535),
    host: env.CDS_HOST || '0.0.0.0',
    knowledgeDir: resolve(env.CDS_KNOWLEDGE_DIR || repoRoot),
    bodyLimitBytes: bytes('CDS_BODY_LIMIT', 8 * 1024 * 1024),
    corsOrigins: (env.CDS_CORS_ORIGINS || '*').split(',').map((s) => s.trim()).filter(Boolean),
    logLevel,
    fhirTimeoutMs: int('CDS_FHIR_TIMEOUT_MS', 3000, 1, 120000),
    fhirMaxPages: int('CDS_FHIR_MAX_PAGES', 10, 1, 1000),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

export function parseBytes(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(raw);
  if (!m) return undefined;
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit === 'gb' ? 1024 ** 3 : unit === 'mb' ? 1024 ** 2 : unit === 'kb' ? 1024 : 1;
  return Math.floor(Number(m[1]) * factor);
}

/** Defaults for tests and tools that build the app without an environment. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides };
}
