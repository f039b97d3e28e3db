// The translator's own thread (see threaded-translator.ts): compiles what it is sent, keeps its caches.
import { parentPort } from 'node:worker_threads';
import { createCompiler, type CompileJob } from './translator.js';

const compiler = createCompiler();

parentPort?.on('message', (request: { id: number; jobs: CompileJob[] }) => {
  void compiler
    .then((c) => {
      const results = c.compileAll(request.jobs, (done) => parentPort?.postMessage({ id: request.id, done }));
      parentPort?.postMessage({ id: request.id, results });
    })
    .catch((err: unknown) =>
      parentPort?.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
    );
});
