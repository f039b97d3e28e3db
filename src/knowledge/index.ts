export { loadKnowledge, loadLibrary, RULE_FACTS, type LoadedLibrary } from './load-knowledge.js';
export { createCqlTranslator, type CqlTranslator, type CompileMessage, type CompileResult } from './cql/translator.js';
export {
  createThreadedCqlTranslator,
  TRANSLATOR_IDLE_MS,
  type ThreadedCqlTranslator,
  type ThreadedCqlTranslatorOptions,
} from './cql/threaded-translator.js';
export { createKnowledgeHolder, servicesById, type KnowledgeHolder } from './knowledge-holder.js';
export { formatProblem, type KnowledgeFiles, type Problem } from './files.js';
export { recordingFiles, sourcesFiles, type KnowledgeSources, type LoadedWith } from './sources.js';
export type { ValueSetIndex } from './value-sets.js';
export { compareVersions, libraryHeader } from './cql/cql-text.js';
export type { Coding } from './types.js';
export type {
  Knowledge,
  Service,
  ServiceDefinition,
  RuleSet,
  RuleDefinition,
  CardTemplate,
  LibraryRef,
  UnavailableService,
  Fingerprint,
  ServedFingerprints,
  RolloutDefinition,
  ExperimentDefinition,
  ExperimentUnit,
  Rollout,
  Experiment,
  ExperimentArm,
} from './types.js';
export { fingerprintKey } from './types.js';
export { knowledgeDigest } from './digest.js';
export { createKnowledgeReloader, type KnowledgeReloader, type ReloadOutcome, type ReloadStatus } from './reloader.js';
export { SERVE_DRAFTS_WARNING, findStatus, withStatus, ruleSetHash, type Status } from './lifecycle.js';
export { experimentHash, experimentFingerprintKey, servedVersions } from './rollout.js';
export { isValueSource, libraryParameters } from './parameters.js';
export {
  declaredParameters,
  describeType as describeParameterType,
  parameterValue,
  ParameterValueError,
  RELATIVE_FORMS,
  type DeclaredParameter,
  type ParameterType,
  type ParameterValueSource,
} from './parameter-values.js';
export { terminologyOptions, EXPANSION_DIR, type TerminologyOptions } from './terminology.js';
export { resolveValueSet, oidOf, type ValueSetCatalog } from './value-sets.js';
export {
  createCachingTranslator,
  elmCacheDirOf,
  pruneElmCache,
  translatorVersion,
  type CachingTranslator,
} from './cql/elm-cache.js';
export { derivePrefetch, DEFAULT_PREFETCH_MAX_TEMPLATE, type DerivedPrefetch } from './derive-prefetch.js';
