// Compiled ELM kept on disk, so that a process that loads knowledge compiled before starts without
// compiling (and without building the translator, whose first compile costs seconds). An entry is keyed
// by the library's source, the sources of everything it includes, the translator options and the
// translator's version: any change is a different key, never a stale entry.
//
//   const translator = createCachingTranslator(dir, () => createCqlTranslator());
//
// `cds eval --library` and the server (its start and its reloads) use it, in the same directory
// (`elmCacheDirOf`): a restart with unchanged knowledge compiles nothing.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { sha256 } from '../files.js';
import {
  compileKey,
  lookupAmong,
  type CompileJob,
  type CompileProgress,
  type CompileResult,
  type CqlTranslator,
} from './translator.js';

const require = createRequire(import.meta.url);

/** The installed @cqframework/cql version (its package.json is not exported: found beside its entry point). */
export function translatorVersion(): string {
  let at = dirname(require.resolve('@cqframework/cql/cql'));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(at, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@cqframework/cql' && pkg.version) return pkg.version;
    } catch {
      // not here: one level up
    }
    at = dirname(at);
  }
  return 'unknown';
}

/** The cache directory of a configuration: CDS_ELM_CACHE_DIR, else `elm-cache` under CDS_DATA_DIR. */
export function elmCacheDirOf(config: { elmCacheDir?: string; dataDir: string }): string {
  return config.elmCacheDir ?? join(config.dataDir, 'elm-cache');
}

export interface ElmCacheStats {
  /** Libraries answered from the cache / compiled, since the translator was made. */
  hits: number;
  compiled: number;
  /** Compiled libraries that could not be written to the cache (a read-only or full disk). */
  unsaved?: number;
}

export interface CachingTranslator extends CqlTranslator {
  stats(): ElmCacheStats;
}

/** How long an entry no load has used is kept: 30 days. */
export const ELM_CACHE_KEEP_MS = 30 * 24 * 3600_000;

/**
 * Removes the entries no load has used (read or written) for `keepMs`: each edit of a library leaves the
 * entry of its old source behind. Safe while others use the directory: a removed entry is compiled again.
 * Returns how many were removed.
 */
export async function pruneElmCache(dir: string, keepMs = ELM_CACHE_KEEP_MS, now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0; // no cache yet
  }
  let removed = 0;
  for (const name of names) {
    // Entries (<sha256>.json) and temporary files a killed writer left; nothing else in the directory.
    if (!/^[0-9a-f]{64}\.json(\.\d+\.tmp)?$/.test(name)) continue;
    try {
      if (now - (await stat(join(dir, name))).mtimeMs <= keepMs) continue;
      await unlink(join(dir, name));
      removed++;
    } catch {
      // gone meanwhile (another process pruned it): nothing to do
    }
  }
  return removed;
}

/**
 * A translator that answers from `dir` what was compiled before, and compiles (with the translator `make`
 * builds, once, only when something is not in the cache) and stores the rest.
 */
export function createCachingTranslator(dir: string, make: () => Promise<CqlTranslator>): CachingTranslator {
  const version = translatorVersion();
  let inner: Promise<CqlTranslator> | undefined;
  const stats: ElmCacheStats = { hits: 0, compiled: 0 };
  const fileOf = (key: string) => join(dir, `${key}.json`);
  // Read without blocking the thread: a reload's reads do not hold the calls being answered.
  const read = async (key: string): Promise<CompileResult | undefined> => {
    try {
      const entry = JSON.parse(await readFile(fileOf(key), 'utf8')) as CompileResult;
      if (!Array.isArray(entry?.messages)) return undefined; // not an entry: compiled again
      // Marked as used (its time), so that pruning keeps it.
      const now = new Date();
      await utimes(fileOf(key), now, now).catch(() => undefined);
      return entry;
    } catch {
      return undefined; // absent or unreadable: compiled again
    }
  };
  return {
    async compileAll(jobs: CompileJob[], onProgress?: CompileProgress): Promise<CompileResult[]> {
      const lookup = lookupAmong(jobs);
      const keys = jobs.map((job) => {
        const key = compileKey(job.text, job.options, lookup);
        return key ? sha256(`${version}\n${key}`) : undefined;
      });
      const cached: Array<CompileResult | undefined> = [];
      for (const key of keys) cached.push(key ? await read(key) : undefined);
      if (cached.every((c) => c !== undefined)) {
        stats.hits += jobs.length;
        // Progress counts what the cache answered, as a compile would.
        jobs.forEach((_, i) => onProgress?.(i + 1, jobs.length));
        return cached;
      }
      inner ??= make();
      // The translator is given every job (an include is found among them); it reports progress over all.
      const results = await (await inner).compileAll(jobs, onProgress);
      let writable = true;
      try {
        mkdirSync(dir, { recursive: true });
      } catch {
        // A read-only or full disk: the libraries are compiled all the same, only not kept for next time.
        writable = false;
      }
      results.forEach((result, i) => {
        const key = keys[i];
        if (cached[i]) {
          stats.hits++;
          return;
        }
        stats.compiled++;
        if (!key || !writable) return;
        // Written whole, then renamed: a reader never sees half an entry. The name is this writer's own
        // (processes sharing the directory may have the same pid, e.g. PID 1 in two containers).
        const tmp = `${fileOf(key)}.${process.pid}.${randomUUID()}.tmp`;
        try {
          writeFileSync(tmp, JSON.stringify(result));
          renameSync(tmp, fileOf(key));
        } catch {
          stats.unsaved = (stats.unsaved ?? 0) + 1;
          rmSync(tmp, { force: true });
        }
      });
      if (!writable) stats.unsaved = (stats.unsaved ?? 0) + results.filter((_, i) => !cached[i]).length;
      return results.map((r, i) => cached[i] ?? r);
    },
    stats: () => ({ ...stats }),
    async close(): Promise<void> {
      if (inner) await (await inner).close();
    },
  };
}
