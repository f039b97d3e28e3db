// In-process CQL → ELM with the official translator (@cqframework/cql, built from Kotlin).
// The translator is created once per process: its first compile parses the model infos (~2 s);
// later libraries take tens of milliseconds.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { convertUcum, validateUcumUnit } from './ucum.js';
import { DEFAULT_TRANSLATOR_OPTIONS, optionsKey, type TranslatorOptions } from './options.js';

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
export type SourceLookup = (id: LibraryId) => string | undefined;

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

export interface CompileSession {
  /** Compiles one library (and, within this session, its includes) with the given translator options. */
  compile(source: string, options?: Required<TranslatorOptions>): CompileResult;
}

export interface CqlTranslator {
  /** One session per knowledge load: includes compiled once are reused within it, never across loads. */
  openSession(lookup: SourceLookup): CompileSession;
}

// The Kotlin-generated typings are partial: the translator is used through `any`.
type Translator = any;

export async function createCqlTranslator(): Promise<CqlTranslator> {
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
    () => { throw new Error('UCUM multiplication is not available at compile time'); },
    () => { throw new Error('UCUM division is not available at compile time'); },
  );

  return {
    openSession(lookup: SourceLookup): CompileSession {
      // One library manager per set of options: includes are compiled with the includer's options,
      // as the reference translator does, and cached within the session only.
      const managers = new Map<string, Translator>();
      const managerFor = (options: Required<TranslatorOptions>): Translator => {
        const key = optionsKey(options);
        let manager = managers.get(key);
        if (!manager) {
          manager = new toElm.LibraryManager(modelManager, compilerOptions(toElm, options), null, ucumService);
          manager.librarySourceLoader.registerProvider(
            toElm.createLibrarySourceProvider((name: string, _system: string | null, version: string | null) => {
              const text = lookup({ name, version });
              return text === undefined ? null : toElm.stringAsSource(text);
            }),
          );
          managers.set(key, manager);
        }
        return manager;
      };
      return { compile: (source, options = DEFAULT_TRANSLATOR_OPTIONS) => compileWith(toElm, managerFor(options), source) };
    },
  };
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
    // TrackBack's properties are minified; its toString is stable: TrackBack{library=..., startLine=3, startChar=5, ...}
    const text = String(locator);
    const line = /startLine=(\d+)/.exec(text);
    const column = /startChar=(\d+)/.exec(text);
    if (line) message.line = Number(line[1]);
    if (column) message.column = Number(column[1]);
    const library = Object.values(locator).find((v: any) => v && typeof v === 'object' && typeof v.id === 'string') as any;
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
