// In-process CQL → ELM with the official translator (@cqframework/cql, built from Kotlin).
// The translator is created once per process: its first compile parses the model infos (~2 s);
// later libraries take tens of milliseconds.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { convertUcum, validateUcumUnit } from '../../fhir/index.js';
import { compareVersions, includesOf, libraryKey } from './cql-text.js';
import { sha256 } from '../files.js';
import { optionsKey, type TranslatorOptions } from './options.js';

const require = createRequire(import.meta.url);

export interface CompileMessage {
  severity: 'error' | 'warning' | 'info';
  message: string;
  library?: string;
  libraryVersion?: string;
  line?: number;
  column?: number;
}

export interface LibraryId {
  name: string;
  version: string | null;
}

/** Finds the CQL source of an included library by name and version (null version = newest). */
type SourceLookup = (id: LibraryId) => string | undefined;

export interface CompileResult {
  elm: ElmLibrary | undefined;
  messages: CompileMessage[];
}

export interface ElmLibrary {
  library: {
    identifier: { id: string; version?: string; system?: string };
    [key: string]: unknown;
  };
}

export interface LibrarySource {
  name: string;
  version: string;
  text: string;
}

export interface CompileJob extends LibrarySource {
  /** Translator options for this library (its includes compile with the same ones). */
  options: Required<TranslatorOptions>;
}

export interface CqlTranslator {
  /**
   * Compiles the libraries of one knowledge set: one result per job, in order. Includes are found
   * among the jobs by name and version (no version: the newest). What was compiled by an earlier
   * call is reused where a library's source and its includes' sources are unchanged.
   */
  compileAll(jobs: CompileJob[], onProgress?: CompileProgress): Promise<CompileResult[]>;
  /** Frees the translator (and ends its thread, when it has one). */
  close(): Promise<void>;
}

/** A translator in this thread. Cheap to call, but a cold compile blocks the thread for seconds. */
export async function createCqlTranslator(): Promise<CqlTranslator> {
  const compiler = await createCompiler();
  return {
    compileAll: (jobs, onProgress) => Promise.resolve(compiler.compileAll(jobs, onProgress)),
    close: () => Promise.resolve(),
  };
}

/** The translator's synchronous core: used by createCqlTranslator and by the translator thread. */
export interface Compiler {
  compileAll(jobs: CompileJob[], onProgress?: CompileProgress): CompileResult[];
}

/** Told after each library of a compileAll is done (compiled, or taken from what was compiled before). */
export type CompileProgress = (done: number, total: number) => void;

export function lookupAmong(sources: LibrarySource[]): SourceLookup {
  const byKey = new Map(sources.map((s) => [libraryKey(s.name, s.version), s.text]));
  return ({ name, version }) => {
    if (version !== null) return byKey.get(libraryKey(name, version));
    const candidates = sources.filter((s) => s.name === name).sort((a, b) => compareVersions(b.version, a.version));
    return candidates[0]?.text;
  };
}

// The Kotlin-generated typings are partial: the translator is used through `any`.
type Translator = any;

export async function createCompiler(): Promise<Compiler> {
  // kotlinx-io needs a CommonJS require in global scope before the module is evaluated.
  (globalThis as { require?: unknown }).require ??= require;
  const toElm: Translator = await import('@cqframework/cql/cql-to-elm');
  const cqlModule: Translator = await import('@cqframework/cql/cql');
  const fhirModelInfo = readFileSync(require.resolve('cql-exec-fhir/lib/modelInfos/fhir-modelinfo-4.0.1.xml'), 'utf8');

  const modelManager = new toElm.ModelManager();
  modelManager.modelInfoLoader.registerModelInfoProvider(new cqlModule.SystemModelInfoProvider());
  modelManager.modelInfoLoader.registerModelInfoProvider(
    toElm.createModelInfoProvider((id: string, _system: string | null, version: string | null) =>
      id === 'FHIR' && (version === null || version === '4.0.1') ? toElm.stringAsSource(fhirModelInfo) : null,
    ),
  );
  const ucumService = toElm.createUcumService(
    (value: string, from: string, to: string) => convertUcum(value, from, to),
    (unit: string) => validateUcumUnit(unit),
    () => {
      throw new Error('UCUM multiplication is not available at compile time');
    },
    () => {
      throw new Error('UCUM division is not available at compile time');
    },
  );

  const managers = new Map<string, ManagerEntry>();
  const compiled = new Map<string, { elm: string | undefined; messages: CompileMessage[] }>();
  let currentLookup: SourceLookup = () => undefined;

  return {
    compileAll(jobs: CompileJob[], onProgress?: CompileProgress): CompileResult[] {
      const lookup = lookupAmong(jobs);
      currentLookup = lookup;
      for (const entry of managers.values()) dropStale(entry, lookup);
      return jobs.map(({ text, options }, index) => {
        const key = compileKey(text, options, lookup);
        const cached = key ? compiled.get(key) : undefined;
        let result: CompileResult;
        if (cached) {
          result = { elm: cached.elm ? (JSON.parse(cached.elm) as ElmLibrary) : undefined, messages: cached.messages };
        } else {
          result = compileWith(toElm, managerFor(options).manager, text);
          if (key)
            compiled.set(key, { elm: result.elm ? JSON.stringify(result.elm) : undefined, messages: result.messages });
        }
        onProgress?.(index + 1, jobs.length);
        return result;
      });
    },
  };

  // Library managers live as long as the translator, one per set of options (includes compile with
  // their includer's options, as the reference translator does). What they have compiled is reused
  // across knowledge loads while the source text of the library and of everything it includes is
  // unchanged: a reload that touches one library does not recompile FHIRHelpers.
  function managerFor(options: Required<TranslatorOptions>): ManagerEntry {
    const key = optionsKey(options);
    let entry = managers.get(key);
    if (!entry) {
      const manager = new toElm.LibraryManager(modelManager, compilerOptions(toElm, options), null, ucumService);
      const made: ManagerEntry = { manager, compiledFrom: new Map() };
      manager.librarySourceLoader.registerProvider(
        toElm.createLibrarySourceProvider((name: string, _system: string | null, version: string | null) => {
          const text = currentLookup({ name, version });
          if (text === undefined) return null;
          made.compiledFrom.set(libraryKey(name, version ?? ''), { hash: sha256(text), includes: includesOf(text) });
          return toElm.stringAsSource(text);
        }),
      );
      managers.set(key, made);
      entry = made;
    }
    return entry;
  }
}

interface ManagerEntry {
  manager: Translator;
  /** name@version → the hash of the source it was compiled from and the libraries it includes. */
  compiledFrom: Map<string, { hash: string; includes: string[] }>;
}

/** Forgets compiled libraries whose source (or an include's source, transitively) changed or is gone. */
function dropStale(entry: ManagerEntry, lookup: SourceLookup): void {
  const stale = new Set<string>();
  for (const [key, from] of entry.compiledFrom) {
    const [name, version] = splitKey(key);
    const text = lookup({ name, version: version || null });
    if (text === undefined || sha256(text) !== from.hash) stale.add(key);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const [key, from] of entry.compiledFrom) {
      if (!stale.has(key) && from.includes.some((i) => stale.has(i))) {
        stale.add(key);
        changed = true;
      }
    }
  }
  if (stale.size === 0) return;
  const view = entry.manager.compiledLibraries.asJsMapView() as Map<{ id: string; version?: string | null }, unknown>;
  for (const id of [...view.keys()]) if (stale.has(libraryKey(id.id, id.version ?? ''))) view.delete(id);
  for (const key of stale) entry.compiledFrom.delete(key);
}

/** A key for a compile result: the options, the source and (transitively) every include's source. */
export function compileKey(
  source: string,
  options: Required<TranslatorOptions>,
  lookup: SourceLookup,
): string | undefined {
  const parts = [optionsKey(options), sha256(source)];
  const seen = new Set<string>();
  const queue = includesOf(source);
  while (queue.length > 0) {
    const key = queue.shift()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const [name, version] = splitKey(key);
    const text = lookup({ name, version: version || null });
    if (text === undefined) return undefined; // a missing include: compile and report it
    parts.push(`${key}:${sha256(text)}`);
    queue.push(...includesOf(text));
  }
  return sha256(parts.join('\n'));
}

function splitKey(key: string): [string, string] {
  const at = key.lastIndexOf('@');
  return [key.slice(0, at), key.slice(at + 1)];
}

function compilerOptions(toElm: Translator, options: Required<TranslatorOptions>): Translator {
  const result = new toElm.CqlCompilerOptions();
  result.setOptions(options.options.map((name) => toElm.CqlCompilerOptions.Options.valueOf(name)));
  result.compatibilityLevel = options.compatibilityLevel;
  result.signatureLevel = toElm.LibraryBuilder.SignatureLevel.valueOf(options.signatureLevel);
  result.validateUnits = options.validateUnits;
  result.enableCqlOnly = options.enableCqlOnly;
  return result;
}

function compileWith(toElm: Translator, libraryManager: Translator, source: string): CompileResult {
  const translator = quietly(() => toElm.CqlTranslator.fromText(source, libraryManager));
  const messages: CompileMessage[] = [];
  for (const exception of translator.exceptions.asJsReadonlyArrayView()) {
    messages.push(toMessage(exception));
  }
  const hasErrors = messages.some((m) => m.severity === 'error');
  return { elm: hasErrors ? undefined : (JSON.parse(translator.toJson()) as ElmLibrary), messages };
}

function toMessage(exception: any): CompileMessage {
  const severityName: string = exception.severity?.name ?? 'Error';
  const severity = severityName === 'Error' ? 'error' : severityName === 'Warning' ? 'warning' : 'info';
  const message: CompileMessage = { severity, message: String(exception.message ?? exception) };
  const locator = exception.locator;
  if (locator) {
    // TrackBack's properties are minified; its toString is stable: TrackBack{library=..., startLine=3,
    // startChar=5, ...}
    const text = String(locator);
    const line = /startLine=(\d+)/.exec(text);
    const column = /startChar=(\d+)/.exec(text);
    if (line) message.line = Number(line[1]);
    if (column) message.column = Number(column[1]);
    const library = Object.values(locator).find(
      (v: any) => v && typeof v === 'object' && typeof v.id === 'string',
    ) as any;
    if (library) {
      message.library = library.id;
      if (library.version) message.libraryVersion = library.version;
    }
  }
  return message;
}

/** The translator's logging library writes to the console; keep the server's stdout JSON-only. */
function quietly<T>(fn: () => T): T {
  const saved = { log: console.log, info: console.info, warn: console.warn, debug: console.debug };
  const stdout = process.stdout;
  const write = stdout.write.bind(stdout);
  console.log = console.info = console.warn = console.debug = () => {};
  // Kotlin's println goes straight to process.stdout.
  stdout.write = () => true;
  try {
    return fn();
  } finally {
    Object.assign(console, saved);
    stdout.write = write;
  }
}
