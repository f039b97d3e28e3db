// The compiled-ELM cache the server and `cds eval` share: what was compiled before is answered from
// disk without building the translator, progress counts those libraries too, and any change to a
// library or to what it includes is compiled again.
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCachingTranslator, elmCacheDirOf, pruneElmCache } from '../../src/knowledge/index.js';
import { DEFAULT_TRANSLATOR_OPTIONS } from '../../src/knowledge/cql/options.js';
import type { CompileJob, CqlTranslator } from '../../src/knowledge/cql/translator.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const cacheDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'cds-elm-cache-'));
  dirs.push(dir);
  return dir;
};

const job = (name: string, body: string, includes = ''): CompileJob => ({
  name,
  version: '1.0.0',
  text: `library ${name} version '1.0.0'\n${includes}define X: ${body}`,
  options: DEFAULT_TRANSLATOR_OPTIONS,
});

/** A stand-in translator that records what it was asked to compile and reports progress per job. */
function fakeTranslator(compiled: string[]): () => Promise<CqlTranslator> {
  return () =>
    Promise.resolve({
      compileAll: (jobs, onProgress) =>
        Promise.resolve(
          jobs.map((j, i) => {
            compiled.push(j.name);
            onProgress?.(i + 1, jobs.length);
            return { elm: { library: { identifier: { id: j.name, version: j.version }, text: j.text } }, messages: [] };
          }),
        ),
      close: () => Promise.resolve(),
    });
}

describe('the compiled-ELM cache', () => {
  it('answers a second load from disk, without building the translator, and reports progress for it', async () => {
    const dir = cacheDir();
    const jobs = [job('Helpers', '1'), job('Main', '2', "include Helpers version '1.0.0'\n")];
    const firstCompiled: string[] = [];
    const first = createCachingTranslator(dir, fakeTranslator(firstCompiled));
    const firstProgress: string[] = [];
    const fromTranslator = await first.compileAll(jobs, (done, total) => firstProgress.push(`${done}/${total}`));
    expect(firstCompiled).toEqual(['Helpers', 'Main']);
    expect(firstProgress).toEqual(['1/2', '2/2']);
    expect(first.stats()).toEqual({ hits: 0, compiled: 2 });
    expect(readdirSync(dir)).toHaveLength(2);

    let built = false;
    const second = createCachingTranslator(dir, () => {
      built = true;
      return fakeTranslator([])();
    });
    const progress: string[] = [];
    const fromCache = await second.compileAll(jobs, (done, total) => progress.push(`${done}/${total}`));
    expect(built).toBe(false);
    expect(fromCache).toEqual(fromTranslator);
    expect(progress).toEqual(['1/2', '2/2']);
    expect(second.stats()).toEqual({ hits: 2, compiled: 0 });
  });

  it('compiles all the same where the cache cannot be written (a read-only or full disk)', async () => {
    const parent = cacheDir();
    // A file where the cache directory belongs: creating it fails as on a read-only mount.
    const dir = join(parent, 'not-a-dir');
    writeFileSync(dir, 'x');
    const compiled: string[] = [];
    const translator = createCachingTranslator(join(dir, 'elm'), fakeTranslator(compiled));
    const results = await translator.compileAll([job('Main', '2')]);
    expect(compiled).toEqual(['Main']);
    expect(results[0].elm).toBeDefined();
    expect(translator.stats()).toMatchObject({ hits: 0, compiled: 1, unsaved: 1 });
  });

  it('compiles again a library whose include changed, and one whose entry is damaged', async () => {
    const dir = cacheDir();
    const main = job('Main', '2', "include Helpers version '1.0.0'\n");
    await createCachingTranslator(dir, fakeTranslator([])).compileAll([job('Helpers', '1'), main]);
    const compiled: string[] = [];
    const changed = createCachingTranslator(dir, fakeTranslator(compiled));
    const progress: number[] = [];
    await changed.compileAll([job('Helpers', '10'), main], (done) => progress.push(done));
    // Both are given to the translator (an include is compiled with its includer); both are new entries.
    expect(compiled).toEqual(['Helpers', 'Main']);
    expect(progress).toEqual([1, 2]);
    expect(changed.stats()).toEqual({ hits: 0, compiled: 2 });
    expect(readdirSync(dir)).toHaveLength(4);

    for (const file of readdirSync(dir)) writeFileSync(join(dir, file), '{"not": "an entry"');
    const again: string[] = [];
    await createCachingTranslator(dir, fakeTranslator(again)).compileAll([job('Helpers', '1')]);
    expect(again).toEqual(['Helpers']);
  });

  it('removes the entries no load has used for a month, and keeps those a load used since', async () => {
    const dir = cacheDir();
    await createCachingTranslator(dir, fakeTranslator([])).compileAll([job('Used', '1')]);
    await createCachingTranslator(dir, fakeTranslator([])).compileAll([job('Unused', '2')]);
    const [a, b] = readdirSync(dir);
    const leftover = `${'0'.repeat(64)}.json.123.tmp`;
    writeFileSync(join(dir, leftover), '{');
    writeFileSync(join(dir, 'README'), 'not an entry');
    const old = new Date(Date.now() - 40 * 24 * 3600_000);
    for (const name of [a, b, leftover, 'README']) utimesSync(join(dir, name), old, old);
    // A load that reads an entry marks it used.
    const compiled: string[] = [];
    await createCachingTranslator(dir, fakeTranslator(compiled)).compileAll([job('Used', '1')]);
    expect(compiled).toEqual([]);
    const used = readdirSync(dir).find((n) => statSync(join(dir, n)).mtimeMs > old.getTime() + 1000);
    expect(used).toBeDefined();

    expect(await pruneElmCache(dir)).toBe(2);
    expect(readdirSync(dir).sort()).toEqual([used, 'README'].sort());
    expect(await pruneElmCache(join(dir, 'absent'))).toBe(0);
  });

  it('lives under the data directory unless CDS_ELM_CACHE_DIR names one', () => {
    expect(elmCacheDirOf({ dataDir: '/var/cds' })).toBe(join('/var/cds', 'elm-cache'));
    expect(elmCacheDirOf({ dataDir: '/var/cds', elmCacheDir: '/cache/elm' })).toBe('/cache/elm');
  });
});
