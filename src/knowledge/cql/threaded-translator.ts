// The server's translator runs in a thread of its own. A cold compile of a knowledge set takes
// seconds (the translator parses the FHIR model info first); in the server's thread that would hold
// every hook call arriving meanwhile. In its own thread, calls go on being answered from the
// knowledge serving while the next set compiles, and the swap happens when it is ready.
//
// The thread holds the translator and its model infos (about 140 MiB resident). With `idleMs`, it ends
// once it has had nothing to compile for that long, and the next compile starts a new one (which parses
// the model infos again, in its own thread): a server whose knowledge is compiled does not keep it.
import type { Worker } from 'node:worker_threads';
import { startThread } from '../../thread.js';
import type { CompileJob, CompileProgress, CompileResult, CqlTranslator } from './translator.js';

interface Pending {
  resolve: (results: CompileResult[]) => void;
  reject: (err: Error) => void;
  onProgress?: CompileProgress;
  total: number;
}

interface Thread {
  worker: Worker;
  /** The jobs sent to this thread and not answered yet: a thread that dies fails only its own. */
  pending: Map<number, Pending>;
}

/** How long the server's translator thread is kept with nothing to compile: a burst of reloads shares one. */
export const TRANSLATOR_IDLE_MS = 10_000;

export interface ThreadedCqlTranslatorOptions {
  /** Ends the thread after this many milliseconds without a compile pending (default: kept until close). */
  idleMs?: number;
}

export interface ThreadedCqlTranslator extends CqlTranslator {
  /** True while the translator thread exists (started by a compile, ended by close or after idleMs). */
  running(): boolean;
}

export function createThreadedCqlTranslator({ idleMs }: ThreadedCqlTranslatorOptions = {}): ThreadedCqlTranslator {
  let thread: Thread | undefined;
  let nextId = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const stopIdleTimer = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
  };
  // Ends `own` when it has stayed without work for idleMs (a compile sent meanwhile stops the timer).
  const endWhenIdle = (own: Thread): void => {
    if (idleMs === undefined) return;
    stopIdleTimer();
    idleTimer = setTimeout(() => {
      idleTimer = undefined;
      if (thread !== own || own.pending.size > 0) return;
      thread = undefined;
      void own.worker.terminate();
    }, idleMs);
    idleTimer.unref();
  };

  const start = (): Thread => {
    const pending = new Map<number, Pending>();
    const failAll = (err: Error): void => {
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    // The translator's own console output is not the server's log.
    const started = startThread('./translator-thread', import.meta.url, { stdout: true });
    started.on('message', (message: { id: number; results?: CompileResult[]; error?: string; done?: number }) => {
      const waiting = pending.get(message.id);
      if (!waiting) return;
      if (message.done !== undefined) {
        waiting.onProgress?.(message.done, waiting.total);
        return;
      }
      pending.delete(message.id);
      if (pending.size === 0) {
        started.unref();
        endWhenIdle(own);
      }
      if (message.results) waiting.resolve(message.results);
      else waiting.reject(new Error(`the CQL translator failed: ${message.error ?? 'unknown error'}`));
    });
    // Discarded, not buffered without end.
    started.stdout.resume();
    const own: Thread = { worker: started, pending };
    started.on('error', (err) => {
      if (thread === own) thread = undefined;
      failAll(new Error(`the CQL translator failed: ${err.message}`));
    });
    started.on('exit', (code) => {
      if (thread === own) thread = undefined;
      failAll(new Error(`the CQL translator stopped (exit code ${code})`));
    });
    started.unref();
    return own;
  };

  return {
    compileAll(jobs: CompileJob[], onProgress?: CompileProgress): Promise<CompileResult[]> {
      stopIdleTimer();
      thread ??= start();
      const id = nextId++;
      const { worker, pending } = thread;
      return new Promise<CompileResult[]>((resolve, reject) => {
        pending.set(id, { resolve, reject, onProgress, total: jobs.length });
        // While a compile is pending the thread keeps the process alive (a CLI awaiting it); idle, it does not.
        worker.ref();
        worker.postMessage({ id, jobs });
      });
    },
    running: () => thread !== undefined,
    async close(): Promise<void> {
      stopIdleTimer();
      const closing = thread;
      thread = undefined;
      if (closing) await closing.worker.terminate();
    },
  };
}
