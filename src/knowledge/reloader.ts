// Hot reload: the admin endpoint, SIGHUP and a watch on the knowledge directory all call reload().
// The new set is loaded, validated and compiled whole, then swapped in one assignment: calls in
// flight keep the snapshot they started with; the next call gets the new one. A set with any error
// is refused and the last good set keeps serving.
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { formatProblem } from './files.js';
import type { KnowledgeHolder } from './knowledge-holder.js';
import { loadKnowledge } from './load-knowledge.js';
import type { TerminologyOptions } from './terminology.js';
import type { CqlTranslator } from './cql/translator.js';
import type { Knowledge, ServedFingerprints } from './types.js';
import { recordingFiles, type LoadedWith } from './sources.js';

export interface ReloadOutcome {
  ok: boolean;
  trigger: string;
  at: string;
  durationMs: number;
  /** The knowledge serving after this reload (the new set, or the previous one when refused). */
  loadedAt: string;
  services: number;
  /** Why the new set was refused (empty when it was taken). */
  problems: string[];
}

export interface ReloadStatus {
  reloads: number;
  failures: number;
  last?: ReloadOutcome;
}

export interface KnowledgeReloader {
  reload(trigger: string): Promise<ReloadOutcome>;
  status(): ReloadStatus;
  /** Reloads after changes under cds-services.json, cql/ and rules/ (debounced). */
  watch(debounceMs?: number): void;
  close(): void;
}

export interface ReloaderDeps {
  dir: string;
  translator: CqlTranslator;
  holder: KnowledgeHolder;
  logger: Logger;
  /** Fingerprints of the versions already served (uptake ledger): changed ones are refused. */
  servedFingerprints?: () => Promise<ServedFingerprints>;
  /** Serve drafts (CDS_SERVE_DRAFTS=on), as the first load did. */
  serveDrafts?: boolean;
  /** The terminology server value sets are expanded by (CDS_TERMINOLOGY_URL), as the first load did. */
  terminology?: TerminologyOptions;
  /** CDS_PREFETCH_MAX_TEMPLATE, as the first load had it. */
  prefetchMaxTemplate?: number;
  /**
   * Runs before a new set is swapped in, with what it was loaded with (the evaluation threads load the same
   * set from the same sources); when it fails the reload is refused and the previous knowledge keeps serving.
   */
  beforeSwap?: (next: Knowledge, loadedWith: LoadedWith) => Promise<void>;
}

export function createKnowledgeReloader(deps: ReloaderDeps): KnowledgeReloader {
  const { dir, translator, holder, logger, servedFingerprints, serveDrafts, terminology, prefetchMaxTemplate } = deps;
  const { beforeSwap } = deps;
  const status: ReloadStatus = { reloads: 0, failures: 0 };
  let running: Promise<ReloadOutcome> | undefined;
  let again: string | undefined;
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;

  const run = async (trigger: string): Promise<ReloadOutcome> => {
    // With a translator in this thread the compile is synchronous: let the calls already queued finish first.
    await new Promise((resolve) => setImmediate(resolve));
    const started = performance.now();
    let next: Knowledge | undefined;
    let errors: string[];
    let served: ServedFingerprints | undefined;
    // What the load read, for the evaluation threads to load the very same set.
    const recorded = recordingFiles();
    try {
      served = servedFingerprints ? await servedFingerprints() : undefined;
      next = await loadKnowledge(dir, {
        translator,
        served,
        serveDrafts,
        terminology,
        prefetchMaxTemplate,
        files: recorded.files,
      });
      errors = next.problems.filter((p) => p.severity === 'error').map(formatProblem);
    } catch (err) {
      // Whatever went wrong, the knowledge serving now goes on serving.
      errors = [`the knowledge could not be loaded: ${err instanceof Error ? err.message : String(err)}`];
    }
    let ok = !!next && !next.fatal && errors.length === 0;
    if (ok && next && beforeSwap) {
      try {
        await beforeSwap(next, { served, sources: recorded.sources() });
      } catch (err) {
        ok = false;
        errors = [`the new knowledge was not taken: ${err instanceof Error ? err.message : String(err)}`];
      }
    }
    if (ok && next) holder.swap(next);
    const serving = holder.current();
    const outcome: ReloadOutcome = {
      ok,
      trigger,
      at: new Date().toISOString(),
      durationMs: Math.round(performance.now() - started),
      loadedAt: serving.loadedAt.toISOString(),
      services: serving.services.length,
      problems: ok ? [] : next?.fatal && errors.length === 0 ? [next.fatal] : errors,
    };
    status.reloads++;
    if (!ok) status.failures++;
    status.last = outcome;
    if (ok) logger.info('knowledge reloaded', { trigger, services: outcome.services, ms: outcome.durationMs });
    else
      logger.error('knowledge reload refused; the previous knowledge keeps serving', {
        trigger,
        problems: outcome.problems.slice(0, 20),
        ms: outcome.durationMs,
      });
    return outcome;
  };

  const reload = (trigger: string): Promise<ReloadOutcome> => {
    if (running) {
      // One reload at a time; changes made during it are picked up by one more run after it.
      again = trigger;
      return running.then(() => running ?? reload(trigger));
    }
    running = run(trigger).finally(() => {
      running = undefined;
      if (again) {
        const next = again;
        again = undefined;
        void reload(next);
      }
    });
    return running;
  };

  return {
    reload,
    status: () => ({ ...status }),
    watch(debounceMs = 500) {
      if (watchers.length > 0) return;
      const changed = (name: string): void => {
        clearTimeout(timer);
        timer = setTimeout(() => void reload(`change in ${name}`).catch(() => undefined), debounceMs);
      };
      // Only what knowledge is made of: the directory may be a whole repository (node_modules, data/).
      watchers.push(
        watch(dir, (_event, file) => String(file ?? '') === 'cds-services.json' && changed('cds-services.json')),
      );
      for (const sub of ['cql', 'rules']) {
        if (existsSync(join(dir, sub)))
          watchers.push(
            watch(join(dir, sub), { recursive: true }, (_event, file) => changed(join(sub, String(file ?? '')))),
          );
      }
      for (const w of watchers) w.on('error', (err) => logger.error('knowledge watch failed', { reason: err.message }));
    },
    close() {
      clearTimeout(timer);
      for (const w of watchers.splice(0)) w.close();
    },
  };
}
