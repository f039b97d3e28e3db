import { packageRoot } from '../../paths.js';
import { join, relative } from 'node:path';
import { diskFiles, readJson, sha256, type KnowledgeFiles, type Problem } from '../files.js';
import type { CompileProgress, CqlTranslator, ElmLibrary } from './translator.js';
import { normalizeElm } from './normalize-elm.js';
import { libraryHeader, libraryKey } from './cql-text.js';
import { loadTranslatorOptions, OPTIONS_FILE } from './options.js';

export interface CqlLibraryArtifact {
  name: string;
  version: string;
  /** File relative to the knowledge directory. */
  file: string;
  /** 'cql' when compiled here from source, 'elm' when shipped precompiled. */
  origin: 'cql' | 'elm';
  hash: string;
  elm: ElmLibrary;
}

export interface LibrarySet {
  /** Compiled libraries keyed by `name@version`. */
  libraries: Map<string, CqlLibraryArtifact>;
  /** Libraries that failed, keyed by `name@version`, with why. */
  failed: Map<string, string[]>;
  problems: Problem[];
}

interface SourceEntry {
  name: string;
  version: string;
  file: string;
  text: string;
}

export { libraryKey };

/** Reads every CQL source and ELM file under cql/ and compiles the sources; one translator session per load. */
export async function loadLibrarySet(
  root: string,
  translator: CqlTranslator,
  onProgress?: CompileProgress,
  files: KnowledgeFiles = diskFiles,
): Promise<LibrarySet> {
  const dir = join(root, 'cql');
  const problems: Problem[] = [];
  const libraries = new Map<string, CqlLibraryArtifact>();
  const failed = new Map<string, string[]>();
  const sources = new Map<string, SourceEntry>();

  for (const file of files.list(dir, '.cql')) {
    const rel = relative(root, file);
    const text = files.read(file);
    const header = libraryHeader(text);
    if (!header) {
      problems.push({
        file: rel,
        line: 1,
        message: "no 'library Name version ...' header: a library needs a name and a version to be included or served",
        severity: 'error',
      });
      continue;
    }
    const { name, version } = header;
    if (!version) {
      problems.push({
        file: rel,
        line: 1,
        message: `library ${name} has no version: every library version must be named`,
        severity: 'error',
      });
      continue;
    }
    const key = libraryKey(name, version);
    const existing = sources.get(key);
    if (existing) {
      problems.push({
        file: rel,
        line: 1,
        message: `library ${key} is also defined in ${existing.file}`,
        severity: 'error',
      });
      continue;
    }
    sources.set(key, { name, version, file: rel, text });
  }

  const options = loadTranslatorOptions(root, problems, files);
  // Sources compiled only so that libraries including them compile: their ELM shipped beside them runs.
  const compileOnly = new Set<string>();
  for (const file of files.list(dir, '.json')) {
    const read = readJson(root, file, files);
    if (!read.ok) continue; // reported by the value set loader, which reads the same files
    const elm = read.value as Partial<ElmLibrary> & { resourceType?: string };
    const identifier = elm?.library?.identifier;
    if (!identifier?.id) continue;
    const rel = relative(root, file);
    const version = identifier.version ?? '';
    const key = libraryKey(identifier.id, version);
    const existing = libraries.get(key);
    if (existing) {
      problems.push({ file: rel, message: `library ${key} is also defined in ${existing.file}`, severity: 'error' });
      continue;
    }
    const source = sources.get(key);
    if (source) {
      // Published artifacts ship a library's CQL and the ELM made from it: one of them runs.
      const prefer = options.preferFor(identifier.id, version);
      problems.push({
        file: rel,
        message:
          prefer === 'cql'
            ? `library ${key} ships as CQL (${source.file}) and ELM (${rel}): the CQL is compiled here and the ELM is not used (set "prefer": "elm" in ${OPTIONS_FILE} to run the ELM)`
            : `library ${key} ships as CQL (${source.file}) and ELM (${rel}): the ELM runs, as ${OPTIONS_FILE} prefers`,
        severity: 'info',
      });
      if (prefer === 'cql') continue;
      compileOnly.add(key);
    }
    libraries.set(key, {
      name: identifier.id,
      version,
      file: rel,
      origin: 'elm',
      hash: sha256(read.text),
      elm: elm as ElmLibrary,
    });
  }

  // FHIRHelpers 4.0.1 is built in: knowledge that does not ship its own still compiles. One shipped with
  // the artifact, as CQL or as ELM, replaces it (as ELM, the built-in source is used only to compile includers).
  const helpers = libraryKey('FHIRHelpers', '4.0.1');
  const builtIn = join(packageRoot(), 'cql', 'FHIRHelpers-4.0.1.cql');
  const shipped = sources.get(helpers) ?? libraries.get(helpers);
  if (shipped && !(root === packageRoot() && shipped.file === relative(root, builtIn))) {
    problems.push({
      file: shipped.file,
      message: `FHIRHelpers 4.0.1 shipped with the knowledge (${shipped.file}) is used instead of the built-in one`,
      severity: 'info',
    });
  }
  if (!sources.has(helpers) && files.exists(builtIn)) {
    sources.set(helpers, {
      name: 'FHIRHelpers',
      version: '4.0.1',
      file: '(built-in) FHIRHelpers-4.0.1.cql',
      text: files.read(builtIn),
    });
    if (libraries.has(helpers)) compileOnly.add(helpers);
  }

  const entries = [...sources];
  onProgress?.(0, entries.length);
  const results = await translator.compileAll(
    entries.map(([, s]) => ({
      name: s.name,
      version: s.version,
      text: s.text,
      options: options.forLibrary(s.name, s.version),
    })),
    onProgress,
  );
  const seen = new Set<string>();
  for (const [index, [key, source]] of entries.entries()) {
    if (compileOnly.has(key)) continue;
    const result = results[index];
    const errors: string[] = [];
    for (const message of result.messages) {
      if (message.severity === 'info') continue;
      // Errors inside an included library are reported against that library's own file, once.
      const owner =
        message.library && message.libraryVersion
          ? sources.get(libraryKey(message.library, message.libraryVersion))
          : source;
      const file = owner?.file ?? source.file;
      const text =
        message.library && owner !== source
          ? `${message.message} (while compiling ${source.name} ${source.version})`
          : message.message;
      const id = `${file}:${message.line}:${message.column}:${message.message}`;
      if (message.severity === 'error')
        errors.push(`${file}${message.line ? `:${message.line}:${message.column}` : ''}: ${message.message}`);
      if (seen.has(id)) continue;
      seen.add(id);
      problems.push({
        file,
        line: message.line,
        column: message.column,
        message: owner === source ? message.message : text,
        severity: message.severity,
      });
    }
    if (result.elm) {
      libraries.set(key, {
        name: source.name,
        version: source.version,
        file: source.file,
        origin: 'cql',
        hash: sha256(source.text),
        elm: result.elm,
      });
    } else {
      failed.set(key, errors.length > 0 ? errors : [`${source.file}: ${key} did not compile`]);
    }
  }
  normalizeAll(libraries, failed, problems);
  return { libraries, failed, problems };
}

/** Adjusts every library's ELM where cql-execution would fail on it (see normalize-elm.ts). */
function normalizeAll(
  libraries: Map<string, CqlLibraryArtifact>,
  failed: Map<string, string[]>,
  problems: Problem[],
): void {
  const resolve = (path: string, version?: string): ElmLibrary | undefined =>
    version ? libraries.get(libraryKey(path, version))?.elm : [...libraries.values()].find((l) => l.name === path)?.elm;
  for (const [key, artifact] of libraries) {
    const result = normalizeElm(artifact.elm, resolve);
    if (result.problems.length === 0) continue;
    const reasons: string[] = [];
    for (const p of result.problems) {
      const at = /^(\d+):(\d+)/.exec(p.locator ?? '');
      problems.push({
        file: artifact.file,
        line: at ? Number(at[1]) : undefined,
        column: at ? Number(at[2]) : undefined,
        message: p.message,
        severity: 'error',
      });
      reasons.push(`${artifact.file}${at ? `:${at[1]}:${at[2]}` : ''}: ${p.message}`);
    }
    libraries.delete(key);
    failed.set(key, reasons);
  }
}
