import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
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

export type JsonRead = { ok: true; value: unknown; text: string } | { ok: false; problem: Problem };

/** Reads and parses a JSON file; a syntax error becomes a Problem with line and column. */
export function readJson(root: string, file: string): JsonRead {
  const rel = relative(root, file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
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
