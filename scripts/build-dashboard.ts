// Builds the quality dashboard into dist/dashboard/ (or the directory given): the page, its style
// sheet and one script bundling the panels with Apache ECharts. Everything the page loads is served
// by the server itself, so a strict Content-Security-Policy holds.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { packageRoot } from '../src/paths.js';

export const DASHBOARD_SOURCE = join(packageRoot(), 'web', 'dashboard');

export async function buildDashboard(outDir: string): Promise<void> {
  // Only what this build makes: nothing left over from an earlier one.
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(DASHBOARD_SOURCE, 'src', 'main.ts')],
    outfile: join(outDir, 'dashboard.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    // The licence notices of the bundled libraries stay in the one file served.
    legalComments: 'eof',
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'dashboard.css']) copyFileSync(join(DASHBOARD_SOURCE, file), join(outDir, file));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildDashboard(process.argv[2] ?? join(packageRoot(), 'dist', 'dashboard'));
}
