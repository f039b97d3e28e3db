// A worker thread running a module of this package. Built (dist/), the module is the .js file; from source
// (tests, `npm run dev`) it is the .ts file, loaded through tsx inside the thread.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts `name` (a module path without extension, relative to `from`, the caller's import.meta.url) in a
 * thread of its own.
 */
export function startThread(name: string, from: string, options: WorkerOptions = {}): Worker {
  const fromSource = from.endsWith('.ts');
  const entry = new URL(`${name}.${fromSource ? 'ts' : 'js'}`, from);
  if (!fromSource) return new Worker(entry, options);
  const load = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(from)}))`;
  return new Worker(load, { ...options, eval: true });
}
