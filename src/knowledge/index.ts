export { loadKnowledge, RULE_FACTS } from './load-knowledge.js';
export { createCqlTranslator, type CqlTranslator, type CompileMessage } from './cql/translator.js';
export { createThreadedCqlTranslator } from './cql/threaded-translator.js';
export { createKnowledgeHolder, servicesById, type KnowledgeHolder } from './knowledge-holder.js';
export { formatProblem, type Problem } from './files.js';
export type { Knowledge, Service, ServiceDefinition, RuleSet, RuleDefinition, CardTemplate, LibraryRef, UnavailableService, Fingerprint, ServedFingerprints } from './types.js';
export type { Coding } from './types.js';
export { fingerprintKey } from './types.js';
export { createKnowledgeReloader, type KnowledgeReloader, type ReloadOutcome, type ReloadStatus } from './reloader.js';
