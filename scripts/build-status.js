// Whether dist/ is the build of the current sources: `npm start` (scripts/start.js) builds only when not.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestFile(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestFile(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** tsc (incremental) rewrites only the outputs that change; its build info file marks the last build. */
export const BUILD_MARKER = join('dist', '.tsbuildinfo');

/** True when dist/main.js exists and the last build is newer than every source and tsconfig file. */
export function isBuildCurrent(root) {
  const marker = join(root, BUILD_MARKER);
  if (!existsSync(join(root, 'dist', 'main.js')) || !existsSync(marker)) return false;
  const inputs = Math.max(
    newestFile(join(root, 'src')),
    statSync(join(root, 'tsconfig.json')).mtimeMs,
    statSync(join(root, 'tsconfig.build.json')).mtimeMs,
  );
  return statSync(marker).mtimeMs >= inputs;
}
