// Compiled ELM kept on disk, so that a process that loads knowledge compiled before starts without
// compiling (and without building the translator, whose first compile costs seconds). An entry is keyed
// by the library's source, the sources of everything it includes, the translator options and the
// translator's version: any change is a different key, never a stale entry.
//
//   const translator = createCachingTranslator(dir, () => createCqlTranslator());
//
// `cds eval --library` uses it; the server's start can wrap its translator the same way.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { sha256 } from '../files.js';
import { compileKey, lookupAmong, type CompileJob, type CompileResult, type CqlTranslator } from './translator.js';

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

export interface ElmCacheStats {
  /** Libraries answered from the cache / compiled, since the translator was made. */
  hits: number;
  compiled: number;
}

export interface CachingTranslator extends CqlTranslator {
  stats(): ElmCacheStats;
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
  const read = (key: string): CompileResult | undefined => {
    try {
      return JSON.parse(readFileSync(fileOf(key), 'utf8')) as CompileResult;
    } catch {
      return undefined; // absent or unreadable: compiled again
    }
  };
  return {
    async compileAll(jobs: CompileJob[]): Promise<CompileResult[]> {
      const lookup = lookupAmong(jobs);
      const keys = jobs.map((job) => {
        const key = compileKey(job.text, job.options, lookup);
        return key ? sha256(`${version}\n${key}`) : undefined;
      });
      const cached = keys.map((key) => (key ? read(key) : undefined));
      if (cached.every((c) => c !== undefined)) {
        stats.hits += jobs.length;
        return cached;
      }
      inner ??= make();
      const results = await (await inner).compileAll(jobs);
      mkdirSync(dir, { recursive: true });
      results.forEach((result, i) => {
        const key = keys[i];
        if (cached[i]) {
          stats.hits++;
          return;
        }
        stats.compiled++;
        if (!key) return;
        // Written whole, then renamed: a reader never sees half an entry.
        const tmp = `${fileOf(key)}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify(result));
        renameSync(tmp, fileOf(key));
      });
      return results.map((r, i) => cached[i] ?? r);
    },
    stats: () => ({ ...stats }),
    async close(): Promise<void> {
      if (inner) await (await inner).close();
    },
  };
}
