/* global process */
// `npm start`: runs the built server (dist/main.js), building it first only when dist/ is missing or
// older than a source file. The build's own output goes to stderr: stdout carries nothing but the
// server's JSON log lines (start it with `npm start --silent`, or npm adds its banner to stdout).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'main.js');
// tsc (incremental) rewrites only the outputs that change; its build info file marks the last build.
const marker = join(root, 'dist', '.tsbuildinfo');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const inputs = Math.max(
  newestSource(join(root, 'src')),
  statSync(join(root, 'tsconfig.json')).mtimeMs,
  statSync(join(root, 'tsconfig.build.json')).mtimeMs,
);
if (!existsSync(built) || !existsSync(marker) || statSync(marker).mtimeMs < inputs) {
  process.stderr.write('building dist/ (npm run build)\n');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
  const now = new Date();
  utimesSync(marker, now, now);
}
await import(pathToFileURL(built).href);
