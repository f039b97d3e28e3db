// The server's translator runs in a thread of its own. A cold compile of a knowledge set takes
// seconds (the translator parses the FHIR model info first); in the server's thread that would hold
// every hook call arriving meanwhile. In its own thread, calls go on being answered from the
// knowledge serving while the next set compiles, and the swap happens when it is ready.
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

export function createThreadedCqlTranslator(): CqlTranslator {
  let thread: Thread | undefined;
  let nextId = 0;

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
      if (pending.size === 0) started.unref();
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
    async close(): Promise<void> {
      const closing = thread;
      thread = undefined;
      if (closing) await closing.worker.terminate();
    },
  };
}
