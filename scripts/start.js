/* global process */
// `npm start`: runs the built server (dist/main.js), building it first only when dist/ is missing or
// older than a source file. The build's own output goes to stderr: stdout carries nothing but the
// server's JSON log lines (start it with `npm start --silent`, or npm adds its banner to stdout).
import { spawnSync } from 'node:child_process';
import { utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUILD_MARKER, isBuildCurrent } from './build-status.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!isBuildCurrent(root)) {
  process.stderr.write('building dist/ (npm run build)\n');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
  const now = new Date();
  utimesSync(join(root, BUILD_MARKER), now, now);
}
await import(pathToFileURL(join(root, 'dist', 'main.js')).href);
