// The sources of a loaded knowledge set: every file its load listed, read or wrote, as it found them. A load
// made again from them (sourcesFiles) reads exactly those texts, whatever the files on disk have become:
// an evaluation thread started while the knowledge files are being edited (or hold a set a reload refused)
// loads the set being served, not the files.
import { relative, sep } from 'node:path';
import { diskFiles, type KnowledgeFiles } from './files.js';
import type { ServedFingerprints } from './types.js';

/** Plain data (it crosses to the evaluation threads). */
export interface KnowledgeSources {
  /** What each listing gave, by `${suffix}\n${dir}`. */
  lists: Record<string, string[]>;
  /** Each file read or written: its text, or why it could not be read. */
  texts: Record<string, { text: string } | { error: string }>;
  exists: Record<string, boolean>;
}

/** Files that read from `inner` (the disk) and keep what they found; `sources()` is what they kept so far. */
export function recordingFiles(inner: KnowledgeFiles = diskFiles): {
  files: KnowledgeFiles;
  sources: () => KnowledgeSources;
} {
  const kept: KnowledgeSources = { lists: {}, texts: {}, exists: {} };
  const files: KnowledgeFiles = {
    list(dir, suffix) {
      const found = inner.list(dir, suffix);
      kept.lists[`${suffix}\n${dir}`] = found;
      return found;
    },
    read(file) {
      try {
        const text = inner.read(file);
        kept.texts[file] = { text };
        return text;
      } catch (err) {
        kept.texts[file] = { error: err instanceof Error ? err.message : String(err) };
        throw err;
      }
    },
    exists(file) {
      const found = inner.exists(file);
      kept.exists[file] = found;
      return found;
    },
    write(file, text) {
      inner.write(file, text);
      // A load from these sources finds the file as a load from the disk after this one would.
      kept.texts[file] = { text };
      kept.exists[file] = true;
      for (const [key, listed] of Object.entries(kept.lists)) {
        const [suffix, dir] = [key.slice(0, key.indexOf('\n')), key.slice(key.indexOf('\n') + 1)];
        if (!file.startsWith(dir + sep) || !file.endsWith(suffix) || listed.includes(file)) continue;
        kept.lists[key] = [...listed, file].sort((a, b) => listingOrder(relative(dir, a), relative(dir, b)));
      }
    },
  };
  return { files, sources: () => kept };
}

/** Files that are `sources`: what was not found then is not found now; writes change nothing. */
export function sourcesFiles(sources: KnowledgeSources): KnowledgeFiles {
  return {
    list: (dir, suffix) => sources.lists[`${suffix}\n${dir}`] ?? [],
    read(file) {
      const kept = sources.texts[file];
      if (kept && 'text' in kept) return kept.text;
      throw new Error(kept?.error ?? `${file} is not among the sources this knowledge was loaded from`);
    },
    exists: (file) => sources.exists[file] ?? false,
    write: () => undefined,
  };
}

/** listFiles' order: each directory's entries sorted by name, a subdirectory's files in its place. */
function listingOrder(a: string, b: string): number {
  const x = a.split(sep);
  const y = b.split(sep);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return x.length - y.length;
}

/** What a knowledge set was loaded with, for another thread to load the same set: served fingerprints, sources. */
export interface LoadedWith {
  served?: ServedFingerprints;
  sources?: KnowledgeSources;
}
