// `npm start` builds only when dist/ is not the build of the current sources (scripts/build-status.js):
// a fresh clone's `npm ci` builds once, and `npm start` then serves without running tsc again.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript module of the start script, without type declarations
import { isBuildCurrent } from '../scripts/build-status.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A package with sources, tsconfig files and (optionally) a build, each file at the time given (seconds). */
function project(times: { source: number; build?: number }): string {
  const root = mkdtempSync(join(tmpdir(), 'cds-build-'));
  roots.push(root);
  const at = (file: string, seconds: number, text = ''): void => {
    writeFileSync(file, text);
    utimesSync(file, seconds, seconds);
  };
  mkdirSync(join(root, 'src', 'http'), { recursive: true });
  at(join(root, 'tsconfig.json'), 100, '{}');
  at(join(root, 'tsconfig.build.json'), 100, '{}');
  at(join(root, 'src', 'main.ts'), 100);
  at(join(root, 'src', 'http', 'routes.ts'), times.source);
  if (times.build !== undefined) {
    mkdirSync(join(root, 'dist'));
    at(join(root, 'dist', 'main.js'), 100);
    at(join(root, 'dist', '.tsbuildinfo'), times.build);
  }
  return root;
}

describe('the start script', () => {
  it('runs the build as it is when it is newer than every source', () => {
    expect(isBuildCurrent(project({ source: 200, build: 300 }))).toBe(true);
  });

  it('builds first when a source is newer than the build, or when there is no build', () => {
    expect(isBuildCurrent(project({ source: 400, build: 300 }))).toBe(false);
    expect(isBuildCurrent(project({ source: 200 }))).toBe(false);
  });
});
