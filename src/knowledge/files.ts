import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createHash } from 'node:crypto';

export interface Problem {
  /** File relative to the knowledge directory. */
  file: string;
  line?: number;
  column?: number;
  /** JSON pointer inside the file. */
  pointer?: string;
  message: string;
  /** `info`: how something was understood (e.g. which of a library's CQL and ELM is used); never a fault. */
  severity: 'error' | 'warning' | 'info';
}

export function formatProblem(p: Problem): string {
  const where =
    p.line !== undefined
      ? `${p.file}:${p.line}${p.column !== undefined ? `:${p.column}` : ''}`
      : p.pointer
        ? `${p.file} ${p.pointer}`
        : p.file;
  return `${where}: ${p.severity}: ${p.message}`;
}

export function listFiles(dir: string, suffix: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries.sort()) {
    const full = join(dir, entry);
    let isDirectory: boolean;
    try {
      isDirectory = statSync(full).isDirectory();
    } catch {
      // Gone since the directory was read, or a dangling link: an editor's temporary file, say.
      continue;
    }
    if (isDirectory) out.push(...listFiles(full, suffix));
    else if (entry.endsWith(suffix)) out.push(full);
  }
  return out;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every level: equal values give equal text however they were laid out. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The files a knowledge load reads (and the few it writes): the disk (diskFiles), or the texts an earlier load
 * read (sources.ts), so that a load can be made again from exactly what another one was made from.
 */
export interface KnowledgeFiles {
  /** Files under `dir` (recursively) whose names end with `suffix`, in the order listFiles gives. */
  list(dir: string, suffix: string): string[];
  /** A file's text; throws (as readFileSync does) when it cannot be read. */
  read(file: string): string;
  exists(file: string): boolean;
  /** Writes a file the load made (a terminology server's expansion), making its directory. */
  write(file: string, text: string): void;
}

export const diskFiles: KnowledgeFiles = {
  list: listFiles,
  read: (file) => readFileSync(file, 'utf8'),
  exists: existsSync,
  write(file, text) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  },
};

export type JsonRead = { ok: true; value: unknown; text: string } | { ok: false; problem: Problem };

/** Reads and parses a JSON file; a syntax error becomes a Problem with line and column. */
export function readJson(root: string, file: string, files: KnowledgeFiles = diskFiles): JsonRead {
  const rel = relative(root, file);
  let text: string;
  try {
    text = files.read(file);
  } catch (err) {
    return { ok: false, problem: { file: rel, message: `cannot read: ${(err as Error).message}`, severity: 'error' } };
  }
  try {
    return { ok: true, value: JSON.parse(text), text };
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message);
    const problem: Problem = { file: rel, message: `invalid JSON: ${message}`, severity: 'error' };
    if (position) Object.assign(problem, lineColumn(text, Number(position[1])));
    return { ok: false, problem };
  }
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}
