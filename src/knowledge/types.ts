import type { Engine } from 'json-rules-engine';
import type { Library } from 'cql-execution';
import type { Problem } from './files.js';
import type { ValueSetIndex } from './value-sets.js';

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface CardTemplate {
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; icon?: string; topic?: Coding };
  selectionBehavior?: 'at-most-one' | 'any';
  suggestions?: Array<{
    label: string;
    isRecommended?: boolean;
    actions?: Array<{ type: 'create' | 'update' | 'delete'; description: string; resource?: unknown; resourceId?: string }>;
  }>;
  overrideReasons?: Coding[];
  links?: Array<{ label: string; url: string; type: 'absolute' | 'smart'; appContext?: string; autolaunchable?: boolean }>;
}

export interface RuleDefinition {
  id: string;
  description?: string;
  priority?: number;
  conditions: Record<string, unknown>;
  forEach?: string;
  card: CardTemplate;
}

export interface Provenance {
  summary: string;
  sources: Array<{ kind: string; citation: string; url?: string }>;
}

export interface LibraryRef {
  library: string;
  version: string;
}

/** The content hash of one artifact version: what "this version" means once it has been served. */
export interface Fingerprint {
  kind: 'rule-set' | 'cql';
  name: string;
  version: string;
  hash: string;
  file: string;
}

/** Fingerprints recorded when versions were first served, by fingerprintKey(). */
export type ServedFingerprints = Map<string, { hash: string; firstServedAt?: string }>;

/** The one key of a version's fingerprint, here and in the uptake store (whose rows hold kind as text). */
export function fingerprintKey(f: { kind: string; name: string; version: string }): string {
  return `${f.kind}:${f.name}@${f.version}`;
}

export interface RuleSet {
  id: string;
  version: string;
  status: 'draft' | 'active' | 'retired';
  title: string;
  description?: string;
  provenance: Provenance;
  cql?: { library: string; version: string };
  rules: RuleDefinition[];
  tests?: unknown[];
  file: string;
  hash: string;
  /** Built once at load; each run gets its own almanac, so concurrent calls do not share state. */
  engine: Engine;
  /** The rule set's CQL library, ready to execute, and every library version it pulls in. */
  library?: Library;
  libraries: LibraryRef[];
  /** The rule set version and every CQL library version it runs, with their content hashes. */
  fingerprints: Fingerprint[];
  /** Names of the expression defines of the library (Patient context), i.e. the keys of the `cql` fact. */
  defines: string[];
}

export type ParameterSource = string;

export interface ServiceDefinition {
  id: string;
  hook: string;
  title?: string;
  description: string;
  usageRequirements?: string;
  prefetch?: Record<string, string>;
  knowledge: { ruleSet: string; version: string; parameters?: Record<string, ParameterSource> };
  extension?: Record<string, unknown>;
}

export interface Service {
  definition: ServiceDefinition;
  ruleSet: RuleSet;
}

export interface UnavailableService {
  id: string;
  hook: string;
  reasons: string[];
}

export interface Knowledge {
  dir: string;
  loadedAt: Date;
  /** Services that can be served. The same id may serve several hooks. */
  services: Service[];
  /** Services named in cds-services.json whose knowledge did not load. */
  unavailable: UnavailableService[];
  problems: Problem[];
  valueSets: ValueSetIndex;
  /** Set when nothing could be loaded at all (e.g. cds-services.json is missing or invalid). */
  fatal?: string;
}
