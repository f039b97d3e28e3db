import type { Engine } from 'json-rules-engine';
import type { Library } from 'cql-execution';
import type { Problem } from './files.js';
import type { ValueSetIndex } from './value-sets.js';
import type { ParameterValueSource } from './parameter-values.js';
import type { ActionTemplate, CardTemplate, Coding } from '../cards/index.js';

export type { CardTemplate, Coding };

export interface RuleDefinition {
  id: string;
  description?: string;
  priority?: number;
  conditions: Record<string, unknown>;
  forEach?: string;
  /** The share of calls the rule is expected to fire in: the drift detectors' declared baseline. */
  expectedFiringRate?: number;
  card: CardTemplate;
  /** Actions the EHR applies without the user (CDS Hooks systemActions), rendered like the card. */
  systemActions?: ActionTemplate[];
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
  /**
   * An experiment's fingerprint (name: its id, version: 'arms') freezes its unit, arms and weights once it has
   * assigned a call. A value set's (name: its url, version: its own) freezes its codes once a rule set version
   * running it has been served.
   */
  kind: 'rule-set' | 'cql' | 'experiment' | 'value-set';
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
  /** The main library's file, relative to the knowledge directory. */
  libraryFile?: string;
  /**
   * The rule set version and every CQL library version it runs, with their content hashes: what is
   * frozen once served. Empty for a draft, which may be edited freely.
   */
  fingerprints: Fingerprint[];
  /** Names of the expression defines of the library (Patient context), i.e. the keys of the `cql` fact. */
  defines: string[];
}

/**
 * Where a CQL parameter's value comes from: the hook context (`draftOrders`, `selections:<Type>`,
 * `context.<field>`), or a literal or relative value (see parameter-values.ts).
 */
export type ParameterSource = string | ParameterValueSource;

export interface ServiceDefinition {
  id: string;
  hook: string;
  title?: string;
  description: string;
  usageRequirements?: string;
  prefetch?: Record<string, string>;
  knowledge: { ruleSet: string; version: string; parameters?: Record<string, ParameterSource> };
  rollout?: RolloutDefinition;
  /** How long later calls of the same patient count as evidence that a suggestion was taken. */
  completionWindowHours?: number;
  extension?: Record<string, unknown>;
}

/** How new versions of a service's rule set are tried, as declared in cds-services.json. */
export interface RolloutDefinition {
  /** Versions evaluated after each answer and recorded, never shown. */
  shadow?: Array<{ version: string }>;
  experiment?: ExperimentDefinition;
  /** `cds release` of a version of this service refuses until it has run this long in shadow. */
  releaseAfter?: { shadowDays?: number; shadowCalls?: number };
}

export type ExperimentUnit = 'patient' | 'practitioner' | 'encounter' | 'client';

export interface ExperimentDefinition {
  id: string;
  unit: ExperimentUnit;
  /** The first arm is the reference of every comparison. */
  arms: Array<{ name: string; version: string; weight: number; show?: boolean }>;
  /** ISO date-times; outside them the service serves `knowledge`. */
  start?: string;
  end?: string;
}

/** A service's rollout with its versions loaded. */
export interface Rollout {
  shadows: RuleSet[];
  experiment?: Experiment;
  releaseAfter?: { shadowDays?: number; shadowCalls?: number };
}

export interface Experiment {
  id: string;
  unit: ExperimentUnit;
  arms: ExperimentArm[];
  start?: Date;
  end?: Date;
  /**
   * Content hash of unit, arms (name, version, weight, show): what may not change once the experiment has assigned
   * calls.
   */
  hash: string;
}

export interface ExperimentArm {
  name: string;
  weight: number;
  /** false: evaluated and recorded (suppressed), never sent. */
  show: boolean;
  ruleSet: RuleSet;
}

export interface Service {
  definition: ServiceDefinition;
  ruleSet: RuleSet;
  /** Shadow versions and the experiment; absent when the service declares no rollout. */
  rollout?: Rollout;
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
  /** Loaded with drafts served (CDS_SERVE_DRAFTS=on, or `cds eval` / `cds test`). */
  serveDrafts?: boolean;
  /** Every rule set version that loaded without errors, whether a service uses it or not. */
  ruleSets?: RuleSet[];
}
