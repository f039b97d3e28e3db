// Real headless Chromium for the dashboard tests, driven by playwright-core: the system's Chromium
// (Debian's package; .ci/run installs it), never a browser downloaded at install time.
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Express } from 'express';
import { chromium, type Browser } from 'playwright-core';
import { repoRoot } from '../support/app.js';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];
export const CHROMIUM = CANDIDATES.find((p) => existsSync(p));
export const CHROMIUM_SKIP_REASON =
  'skipped: no Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it from Debian)';

/** Where the tests leave their screenshots (git-ignored). */
export const TEST_OUTPUT = join(repoRoot, 'test-output', 'dashboard');

export async function launchChromium(): Promise<Browser> {
  mkdirSync(TEST_OUTPUT, { recursive: true });
  // As root (CI), Chromium's sandbox cannot start; the pages loaded are the test's own.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

export interface RunningServer {
  url: string;
  close: () => Promise<void>;
}

export async function listen(app: Express): Promise<RunningServer> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
