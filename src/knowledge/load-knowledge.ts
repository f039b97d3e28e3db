import { basename, dirname, join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { Engine } from 'json-rules-engine';
import type { Library as CqlLibraryType, Repository as CqlRepositoryType } from 'cql-execution';
import type { ErrorObject } from 'ajv';
import { diskFiles, formatProblem, readJson, type KnowledgeFiles, type Problem } from './files.js';
import { schemaProblems, validateRuleSetFile, validateServiceCatalogue } from './schemas.js';
import { legacyRuleSetHashes, lifecycleReason, ruleSetHash } from './lifecycle.js';
import { checkParameters } from './parameters.js';
import { createExperimentRegistry, describeRolloutSchemaError, resolveRollout } from './rollout.js';
import { aliasValueSet, loadValueSets, resolveValueSet, valueSetHash, type ValueSetCatalog } from './value-sets.js';
import { expandFromTerminologyServer, type TerminologyOptions } from './terminology.js';
import { libraryKey, loadLibrarySet, type CqlLibraryArtifact, type LibrarySet } from './cql/library-set.js';
import type { CompileProgress, CqlTranslator } from './cql/translator.js';
import { compareVersions } from './cql/cql-text.js';
import type { ValueSetIndex } from './value-sets.js';
import { parsePath, placeholdersIn, stringsIn } from '../cards/index.js';
import { resolveFactPath } from './fact-path.js';
import { HOOKS, isKnownHook } from '../hooks/index.js';
import { templateProblems } from '../prefetch/index.js';
import { derivePrefetch } from './derive-prefetch.js';
import {
  fingerprintKey,
  type Fingerprint,
  type Knowledge,
  type LibraryRef,
  type Rollout,
  type RuleDefinition,
  type RuleSet,
  type ServedFingerprints,
  type Service,
  type ServiceDefinition,
  type UnavailableService,
} from './types.js';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as { Library: typeof CqlLibraryType; Repository: typeof CqlRepositoryType };

/** Facts every rule may use; `item` only inside templates of a forEach rule. */
export const RULE_FACTS = ['cql', 'context', 'hook', 'draftOrders', 'selections', 'user'] as const;

interface LoadOptions {
  translator: CqlTranslator;
  /**
   * Fingerprints of the versions already served (from the uptake ledger). A served version whose
   * content differs is refused: a served version never changes in place.
   */
  served?: ServedFingerprints;
  /**
   * Serve services whose live version is a draft (CDS_SERVE_DRAFTS=on; `cds eval` and `cds test`).
   * Off: such a service is unavailable. A retired version is never served either way.
   */
  serveDrafts?: boolean;
  /** Told how many CQL libraries are compiled so far, of how many (start-up progress in /ready). */
  onLibraries?: CompileProgress;
  /** A FHIR terminology server that expands, at load, value sets that cannot be expanded here. */
  terminology?: TerminologyOptions;
  /** Longest prefetch template derived from the CQL (`"prefetch": "derive"`, CDS_PREFETCH_MAX_TEMPLATE). */
  prefetchMaxTemplate?: number;
  /** Where the files are read: the disk, or the sources of an earlier load (sources.ts). */
  files?: KnowledgeFiles;
}

/**
 * Loads, validates and compiles a whole knowledge directory. Never throws for bad knowledge:
 * every problem is reported with its file and line or JSON pointer, and a service whose
 * knowledge is broken is listed as unavailable while the others are served.
 */
export async function loadKnowledge(
  dir: string,
  {
    translator,
    served,
    serveDrafts = false,
    onLibraries,
    terminology,
    prefetchMaxTemplate,
    files = diskFiles,
  }: LoadOptions,
): Promise<Knowledge> {
  const problems: Problem[] = [];
  const knowledge: Knowledge = {
    dir,
    loadedAt: new Date(),
    services: [],
    unavailable: [],
    problems,
    valueSets: {},
    serveDrafts,
    ruleSets: [],
  };

  const catalogueFile = join(dir, 'cds-services.json');
  if (!files.exists(catalogueFile)) {
    knowledge.fatal = `no cds-services.json in ${dir}`;
    problems.push({ file: 'cds-services.json', message: 'file not found', severity: 'error' });
    return knowledge;
  }
  const catalogue = readJson(dir, catalogueFile, files);
  if (!catalogue.ok) {
    problems.push(catalogue.problem);
    knowledge.fatal = formatProblem(catalogue.problem);
    return knowledge;
  }
  // Errors inside a service's rollout make that service unavailable; any other schema error, the whole catalogue.
  const rolloutErrors = new Map<number, ErrorObject[]>();
  if (!validateServiceCatalogue(catalogue.value)) {
    const errors = validateServiceCatalogue.errors ?? [];
    const serviceOf = (e: ErrorObject) => /^\/services\/(\d+)\/rollout(?:\/|$)/.exec(e.instancePath)?.[1];
    if (errors.length === 0 || errors.some((e) => serviceOf(e) === undefined)) {
      const found = schemaProblems('cds-services.json', errors);
      problems.push(...found);
      knowledge.fatal = found.map(formatProblem).join('; ');
      return knowledge;
    }
    for (const e of errors) {
      const index = Number(serviceOf(e));
      rolloutErrors.set(index, [...(rolloutErrors.get(index) ?? []), e]);
    }
  }
  const definitions = (catalogue.value as { services: ServiceDefinition[] }).services;

  const { valueSets, librarySet } = await loadCql(dir, translator, terminology, problems, onLibraries, files);
  knowledge.valueSets = valueSets.index;
  const repository = new cql.Repository(
    Object.fromEntries([...librarySet.libraries].map(([key, lib]) => [key, lib.elm])),
  );

  const ruleSets = new Map<string, RuleSet | string[]>();
  for (const file of files.list(join(dir, 'rules'), '.json')) {
    const key = `${basename(dirname(file))}@${basename(file, '.json')}`;
    ruleSets.set(key, loadRuleSet(dir, file, librarySet, repository, valueSets, problems, served, files));
  }
  for (const ruleSet of ruleSets.values()) if (!Array.isArray(ruleSet)) knowledge.ruleSets?.push(ruleSet);

  const claimExperiment = createExperimentRegistry();
  const seen = new Set<string>();
  definitions.forEach((definition, index) => {
    const pointer = `/services/${index}`;
    const reasons: string[] = [];
    const routeKey = `${definition.id} ${definition.hook}`;
    if (seen.has(routeKey)) reasons.push(`service '${definition.id}' is defined twice for hook '${definition.hook}'`);
    seen.add(routeKey);
    if (!isKnownHook(definition.hook)) reasons.push(`hook '${definition.hook}' is not one this server supports`);
    // Reported at their own pointers (prefetch templates, lifecycle, rollout), so not again in the summary below.
    const placedReasons: string[] = [];
    // "prefetch": "derive": the queries the CQL of every version the service may serve needs (live, experiment
    // arms, shadows: an arm or shadow that reads more must find it), checked below like hand-written ones.
    if ((definition.prefetch as unknown) === 'derive') {
      const versions = [
        definition.knowledge.version,
        ...listOf(definition.rollout?.experiment?.arms).map((a) => a?.version),
        ...listOf(definition.rollout?.shadow).map((s) => s?.version),
      ];
      const loaded = versions
        .map((v) => ruleSets.get(`${definition.knowledge.ruleSet}@${String(v)}`))
        .filter((r): r is RuleSet => r !== undefined && !Array.isArray(r));
      const live = ruleSets.get(`${definition.knowledge.ruleSet}@${definition.knowledge.version}`);
      definition.prefetch =
        live && !Array.isArray(live) && loaded.some((r) => r.library)
          ? derivePrefetch([...new Set(loaded)], valueSets.index, prefetchMaxTemplate).templates
          : undefined;
    }
    if (isKnownHook(definition.hook)) {
      for (const [key, template] of Object.entries(definition.prefetch ?? {})) {
        for (const problem of templateProblems(
          template,
          definition.hook,
          HOOKS[definition.hook].prefetchTokens,
          HOOKS[definition.hook].userTypes,
        )) {
          problems.push({
            file: 'cds-services.json',
            pointer: `${pointer}/prefetch/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`,
            message: `service '${definition.id}', prefetch '${key}': ${problem}`,
            severity: 'error',
          });
          placedReasons.push(`prefetch '${key}': ${problem}`);
        }
      }
    }
    // A problem at its own pointer (the live version's lifecycle, the rollout), among the reasons.
    const place = (at: string, message: string, reason = message): void => {
      const problem = `service '${definition.id}': ${message}`;
      problems.push({ file: 'cds-services.json', pointer: `${pointer}${at}`, message: problem, severity: 'error' });
      placedReasons.push(reason);
    };
    const wanted = `${definition.knowledge.ruleSet}@${definition.knowledge.version}`;
    const ruleSet = ruleSets.get(wanted);
    if (ruleSet === undefined)
      reasons.push(
        `rule set ${wanted} not found (expected rules/${definition.knowledge.ruleSet}/${definition.knowledge.version}.json)`,
      );
    else if (Array.isArray(ruleSet)) reasons.push(...ruleSet);
    else {
      reasons.push(...checkParameters(definition, ruleSet));
      const unreleased = lifecycleReason(ruleSet, serveDrafts);
      if (unreleased) place('/knowledge/version', unreleased);
    }
    let rollout: Rollout | undefined;
    const invalidRollout = rolloutErrors.get(index);
    if (invalidRollout) {
      for (const e of invalidRollout) {
        const at = e.instancePath.slice(pointer.length);
        const message = describeRolloutSchemaError(e, definition.rollout);
        place(at, message, `${at.slice(1)}: ${message}`);
      }
    } else if (definition.rollout) {
      const find = (version: string) => ruleSets.get(`${definition.knowledge.ruleSet}@${version}`);
      const resolved = resolveRollout(definition, { find, serveDrafts, served });
      for (const p of resolved.problems) place(p.pointer, p.message);
      const shared = definition.rollout.experiment && claimExperiment(definition.id, definition.rollout.experiment);
      if (shared) place(shared.pointer, shared.message);
      rollout = resolved.rollout;
    }
    if (reasons.length > 0 || placedReasons.length > 0 || ruleSet === undefined || Array.isArray(ruleSet)) {
      // A broken rule set's own problems are already reported against its files.
      const summary = Array.isArray(ruleSet)
        ? [
            `rule set ${wanted} has errors and cannot be served (${ruleSet.length} problem${ruleSet.length === 1 ? '' : 's'})`,
          ]
        : reasons;
      for (const reason of summary)
        problems.push({
          file: 'cds-services.json',
          pointer,
          message: `service '${definition.id}': ${reason}`,
          severity: 'error',
        });
      knowledge.unavailable.push({
        id: definition.id,
        hook: definition.hook,
        reasons: [...placedReasons, ...reasons],
      } satisfies UnavailableService);
      return;
    }
    knowledge.services.push({ definition, ruleSet, ...(rollout ? { rollout } : {}) } satisfies Service);
  });
  return knowledge;
}

/** The CQL libraries and value sets of a knowledge directory, each value set findable by the name CQL uses. */
async function loadCql(
  dir: string,
  translator: CqlTranslator,
  terminology: TerminologyOptions | undefined,
  problems: Problem[],
  onLibraries?: CompileProgress,
  files: KnowledgeFiles = diskFiles,
): Promise<{ valueSets: ValueSetCatalog; librarySet: LibrarySet }> {
  const valueSets = loadValueSets(dir, join(dir, 'cql'), files);
  const librarySet = await loadLibrarySet(dir, translator, onLibraries, files);
  problems.push(...librarySet.problems);
  const references = [...librarySet.libraries.values()].flatMap((lib) => valueSetsOf(lib).map((vs) => ({ lib, vs })));
  if (terminology) {
    const missing = references.filter(({ vs }) => !resolveValueSet(valueSets, vs.id, vs.version)).map(({ vs }) => vs);
    await expandFromTerminologyServer(dir, valueSets, missing, terminology, files);
  }
  problems.push(...valueSets.problems);
  problems.push(...resolveReferences(references, valueSets));
  return { valueSets, librarySet };
}

export interface LoadedLibrary {
  name: string;
  version: string;
  file: string;
  /** Ready to execute, with everything it includes. */
  library: CqlLibraryType;
  valueSets: ValueSetIndex;
  /** Names of its expression defines (Patient context). */
  defines: string[];
  /** Every problem of the directory's CQL and value sets (errors of other libraries included). */
  problems: Problem[];
}

/**
 * One library of a knowledge directory, ready to evaluate without a service or a rule set (`cds eval
 * --library`). No version: the newest. Throws an Error saying why when it cannot be had.
 */
export async function loadLibrary(
  dir: string,
  { translator, terminology }: Pick<LoadOptions, 'translator' | 'terminology'>,
  name: string,
  version?: string,
): Promise<LoadedLibrary> {
  const problems: Problem[] = [];
  const { valueSets, librarySet } = await loadCql(dir, translator, terminology, problems);
  const key = version
    ? libraryKey(name, version)
    : [...librarySet.libraries.keys(), ...librarySet.failed.keys()]
        .filter((k) => k.startsWith(`${name}@`))
        .sort((a, b) => compareVersions(b.slice(name.length + 1), a.slice(name.length + 1)))[0];
  const artifact = key ? librarySet.libraries.get(key) : undefined;
  if (!artifact) {
    const why = key ? librarySet.failed.get(key) : undefined;
    throw new Error(
      why
        ? `CQL library ${key} failed to compile: ${why.join('; ')}`
        : `CQL library ${version ? libraryKey(name, version) : name} not found in ${join(dir, 'cql')}`,
    );
  }
  const own: Problem[] = [];
  const chain = includedLibraries(artifact, librarySet, own, artifact.file);
  for (const lib of chain)
    for (const vs of valueSetsOf(lib))
      if (!resolveValueSet(valueSets, vs.id, vs.version))
        own.push({
          file: lib.file,
          message: `value set "${vs.name}" (${vs.id}${vs.version ? ` version ${vs.version}` : ''}) is not in cql/valuesets/`,
          severity: 'error',
        });
  if (own.length > 0) throw new Error(own.map(formatProblem).join('; '));
  const repository = new cql.Repository(Object.fromEntries([...librarySet.libraries].map(([k, lib]) => [k, lib.elm])));
  return {
    name: artifact.name,
    version: artifact.version,
    file: artifact.file,
    library: new cql.Library(artifact.elm, repository),
    valueSets: valueSets.index,
    defines: expressionDefines(artifact),
    problems,
  };
}

function loadRuleSet(
  root: string,
  file: string,
  librarySet: LibrarySet,
  repository: CqlRepositoryType,
  valueSets: ValueSetCatalog,
  problems: Problem[],
  served: ServedFingerprints | undefined,
  files: KnowledgeFiles,
): RuleSet | string[] {
  const rel = relative(root, file);
  const read = readJson(root, file, files);
  if (!read.ok) {
    problems.push(read.problem);
    return [formatProblem(read.problem)];
  }
  if (!validateRuleSetFile(read.value)) {
    const found = schemaProblems(rel, validateRuleSetFile.errors);
    problems.push(...found);
    return found.map(formatProblem);
  }
  const raw = read.value as Omit<RuleSet, 'file' | 'hash' | 'engine' | 'library' | 'libraries' | 'defines'>;
  const own: Problem[] = [];
  const expectedId = basename(dirname(file));
  const expectedVersion = basename(file, '.json');
  if (raw.id !== expectedId)
    own.push({
      file: rel,
      pointer: '/id',
      message: `id '${raw.id}' does not match its folder rules/${expectedId}/`,
      severity: 'error',
    });
  if (raw.version !== expectedVersion)
    own.push({
      file: rel,
      pointer: '/version',
      message: `version '${raw.version}' does not match its file name ${expectedVersion}.json`,
      severity: 'error',
    });

  let library: CqlLibraryType | undefined;
  let libraries: LibraryRef[] = [];
  let libraryFile: string | undefined;
  const hash = ruleSetHash(read.value);
  const fingerprints: Fingerprint[] = [{ kind: 'rule-set', name: raw.id, version: raw.version, hash, file: rel }];
  let defines: string[] = [];
  if (raw.cql) {
    const key = libraryKey(raw.cql.library, raw.cql.version);
    const artifact = librarySet.libraries.get(key);
    if (!artifact) {
      const why = librarySet.failed.get(key);
      own.push({
        file: rel,
        pointer: '/cql',
        message: why
          ? `CQL library ${key} failed to compile: ${why.join('; ')}`
          : `CQL library ${key} not found in cql/`,
        severity: 'error',
      });
    } else {
      const chain = includedLibraries(artifact, librarySet, own, rel);
      libraries = chain.map((l) => ({ library: l.name, version: l.version }));
      libraryFile = artifact.file;
      fingerprints.push(
        ...chain.map((l) => ({ kind: 'cql' as const, name: l.name, version: l.version, hash: l.hash, file: l.file })),
      );
      for (const lib of chain) {
        for (const vs of valueSetsOf(lib)) {
          const resolved = resolveValueSet(valueSets, vs.id, vs.version);
          // A versioned value set shipped as a file is frozen like the CQL that names it: the same library version
          // with other codes would silently decide differently. An unversioned one, or one a terminology server
          // expanded, changes as its publisher updates it.
          const entry = resolved?.entry;
          if (
            entry &&
            entry.version &&
            !entry.cached &&
            !fingerprints.some((f) => f.kind === 'value-set' && f.name === entry.url && f.version === entry.version)
          )
            fingerprints.push({
              kind: 'value-set',
              name: entry.url,
              version: entry.version,
              hash: valueSetHash(entry),
              file: entry.file,
            });
          if (!resolved) {
            own.push({
              file: lib.file,
              message: `value set "${vs.name}" (${vs.id}${vs.version ? ` version ${vs.version}` : ''}) is not in cql/valuesets/: a missing value set would silently match nothing`,
              severity: 'error',
            });
          }
        }
      }
      defines = expressionDefines(artifact);
      if (own.length === 0) {
        try {
          library = new cql.Library(artifact.elm, repository);
        } catch (err) {
          own.push({
            file: artifact.file,
            message: `the ELM cannot be loaded for execution: ${(err as Error).message}`,
            severity: 'error',
          });
        }
      }
    }
  }
  // A draft is edited freely: nothing is frozen through it, neither its own content nor its CQL (a
  // library is frozen by the active or retired rule sets that run it). Served versions recorded by
  // earlier versions of the product carry the hash of the file's bytes: accepted too.
  const frozen = raw.status === 'draft' ? [] : fingerprints;
  const legacy = legacyRuleSetHashes(read.text);
  for (const f of frozen) {
    const first = served?.get(fingerprintKey(f));
    if (first && first.hash !== f.hash && !(f.kind === 'rule-set' && legacy.includes(first.hash))) {
      own.push({
        file: f.file,
        message:
          f.kind === 'value-set'
            ? `value set ${f.name} version ${f.version} has other codes than when it was first served${first.firstServedAt ? ` (${first.firstServedAt})` : ''}: a served version never changes; restore it, or publish the new codes under a new value set version`
            : `${f.kind === 'cql' ? 'CQL library' : 'rule set'} ${f.name} ${f.version} has changed since it was first served${first.firstServedAt ? ` (${first.firstServedAt})` : ''}: a served version never changes; restore it and make a new version (cds bump)`,
        severity: 'error',
      });
    }
  }
  // When the library did not load, its defines are unknown: checking rules against them would only add noise.
  const libraryLoaded = !raw.cql || library !== undefined || own.length === 0;
  if (libraryLoaded)
    raw.rules.forEach((rule, i) => own.push(...checkRule(rule, i, rel, raw.cql ? defines : undefined)));
  const ids = new Set<string>();
  raw.rules.forEach((rule, i) => {
    if (ids.has(rule.id))
      own.push({
        file: rel,
        pointer: `/rules/${i}/id`,
        message: `rule id '${rule.id}' is used twice`,
        severity: 'error',
      });
    ids.add(rule.id);
  });
  problems.push(...own);
  const errors = own.filter((p) => p.severity === 'error');
  if (errors.length > 0) return errors.map(formatProblem);

  const engine = new Engine([], { allowUndefinedFacts: true, pathResolver: resolveFactPath });
  raw.rules.forEach((rule, i) => {
    engine.addRule({
      name: rule.id,
      conditions: rule.conditions as never,
      event: { type: rule.id },
      // json-rules-engine runs higher priorities first; keep file order within one priority
      priority: (rule.priority ?? 1) * 10000 + (raw.rules.length - i),
    });
  });
  return { ...raw, file: rel, hash, engine, library, libraries, libraryFile, fingerprints: frozen, defines };
}

/** The library and everything it includes, depth first, each once. */
function includedLibraries(
  root: CqlLibraryArtifact,
  set: LibrarySet,
  problems: Problem[],
  from: string,
): CqlLibraryArtifact[] {
  const out: CqlLibraryArtifact[] = [];
  const visit = (lib: CqlLibraryArtifact): void => {
    if (out.includes(lib)) return;
    out.push(lib);
    const includes =
      (lib.elm.library as { includes?: { def?: Array<{ path: string; version?: string }> } }).includes?.def ?? [];
    for (const inc of includes) {
      const found = inc.version
        ? set.libraries.get(libraryKey(inc.path, inc.version))
        : [...set.libraries.values()].find((l) => l.name === inc.path);
      if (found) visit(found);
      else
        problems.push({
          file: lib.file,
          message: `${lib.name} ${lib.version} includes ${inc.path} ${inc.version ?? ''}, which is not available (needed by ${from})`,
          severity: 'error',
        });
    }
  };
  visit(root);
  return out;
}

/**
 * Makes every value set a library names findable by the name it uses (cql-execution looks it up verbatim),
 * and says how it was found when that was not by its exact url or `urn:oid:` identifier.
 */
function resolveReferences(
  references: Array<{ lib: CqlLibraryArtifact; vs: { name: string; id: string; version?: string } }>,
  catalog: ValueSetCatalog,
): Problem[] {
  const notes: Problem[] = [];
  for (const { lib, vs } of references) {
    const found = resolveValueSet(catalog, vs.id, vs.version);
    if (!found) continue; // reported by each rule set that runs the library
    aliasValueSet(catalog.index, vs.id, vs.version, found);
    if (found.exact) continue;
    const where = `${found.entry.file}${found.entry.pointer ? ` ${found.entry.pointer}` : ''}`;
    notes.push({
      file: lib.file,
      message: `value set "${vs.name}" ('${vs.id}'${vs.version ? ` version '${vs.version}'` : ''}) found ${found.how}: ${found.entry.url}${found.entry.version ? `|${found.entry.version}` : ''} in ${where}${found.entry.cached ? ' (expanded by the terminology server)' : ''}`,
      severity: 'info',
    });
  }
  return notes;
}

function valueSetsOf(lib: CqlLibraryArtifact): Array<{ name: string; id: string; version?: string }> {
  return (
    (lib.elm.library as { valueSets?: { def?: Array<{ name: string; id: string; version?: string }> } }).valueSets
      ?.def ?? []
  ).map((d) => d);
}

function expressionDefines(lib: CqlLibraryArtifact): string[] {
  const defs =
    (lib.elm.library as { statements?: { def?: Array<{ name: string; type?: string; context?: string }> } }).statements
      ?.def ?? [];
  return defs.filter((d) => d.type !== 'FunctionDef').map((d) => d.name);
}

function checkRule(rule: RuleDefinition, index: number, file: string, defines: string[] | undefined): Problem[] {
  const problems: Problem[] = [];
  const at = `/rules/${index}`;
  const checkReference = (expression: string, pointer: string, allowItem: boolean): void => {
    const path = parsePath(expression);
    if (!path) {
      problems.push({
        file,
        pointer,
        message: `'${expression}' is not a valid path (fact, then .name, ['name'] or [index])`,
        severity: 'error',
      });
      return;
    }
    const fact = String(path[0]);
    if (!(RULE_FACTS as readonly string[]).includes(fact) && !(allowItem && fact === 'item')) {
      problems.push({
        file,
        pointer,
        message: `unknown fact '${fact}' in '${expression}' (facts: ${RULE_FACTS.join(', ')}${allowItem ? ', item' : ''})`,
        severity: 'error',
      });
      return;
    }
    if (fact === 'cql') checkDefine(path[1], expression, pointer);
  };
  const checkDefine = (name: unknown, expression: string, pointer: string): void => {
    if (defines === undefined) {
      problems.push({
        file,
        pointer,
        message: `'${expression}' uses the cql fact, but the rule set names no CQL library`,
        severity: 'error',
      });
    } else if (typeof name === 'string' && !defines.includes(name)) {
      problems.push({
        file,
        pointer,
        message: `'${expression}': define "${name}" does not exist in the rule set's CQL library`,
        severity: 'error',
      });
    }
  };
  const walkConditions = (node: unknown, pointer: string): void => {
    if (!node || typeof node !== 'object') return;
    const c = node as Record<string, unknown>;
    for (const key of ['all', 'any'] as const) {
      if (Array.isArray(c[key]))
        (c[key] as unknown[]).forEach((child, i) => walkConditions(child, `${pointer}/${key}/${i}`));
    }
    if (c.not) walkConditions(c.not, `${pointer}/not`);
    if (typeof c.fact === 'string') {
      if (!(RULE_FACTS as readonly string[]).includes(c.fact)) {
        problems.push({
          file,
          pointer: `${pointer}/fact`,
          message: `unknown fact '${c.fact}' (facts: ${RULE_FACTS.join(', ')})`,
          severity: 'error',
        });
      } else if (c.fact === 'cql' && typeof c.path === 'string') {
        const m = /^\$(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*'([^']+)'\s*\]|\[\s*"([^"]+)"\s*\])/.exec(c.path);
        if (!m)
          problems.push({
            file,
            pointer: `${pointer}/path`,
            message: `path '${c.path}' must start with $.Name or $['Name'] naming a CQL define`,
            severity: 'error',
          });
        else checkDefine(m[1] ?? m[2] ?? m[3], c.path, `${pointer}/path`);
      }
    }
  };
  walkConditions(rule.conditions, `${at}/conditions`);
  if (rule.forEach) checkReference(rule.forEach, `${at}/forEach`, false);
  for (const [pointer, text] of stringsIn(rule.card, `${at}/card`)) {
    for (const expression of placeholdersIn(text)) checkReference(expression, pointer, rule.forEach !== undefined);
  }
  for (const [pointer, text] of stringsIn(rule.systemActions ?? [], `${at}/systemActions`)) {
    for (const expression of placeholdersIn(text)) checkReference(expression, pointer, rule.forEach !== undefined);
  }
  if (rule.card.suggestions && !rule.card.selectionBehavior) {
    problems.push({
      file,
      pointer: `${at}/card/selectionBehavior`,
      message: 'a card with suggestions needs selectionBehavior (at-most-one or any)',
      severity: 'error',
    });
  }
  if (!rule.card.suggestions && rule.card.selectionBehavior) {
    problems.push({
      file,
      pointer: `${at}/card/selectionBehavior`,
      message: 'selectionBehavior without suggestions is not allowed',
      severity: 'error',
    });
  }
  if (!placeholdersIn(rule.card.summary).length && rule.card.summary.length >= 140) {
    problems.push({
      file,
      pointer: `${at}/card/summary`,
      message: `summary is ${rule.card.summary.length} characters; CDS Hooks allows fewer than 140`,
      severity: 'error',
    });
  }
  return problems;
}

/** An array as declared, or none when what is declared is not one (the rollout's own check reports it). */
function listOf<T>(value: T[] | undefined): T[] {
  return Array.isArray(value) ? value : [];
}
