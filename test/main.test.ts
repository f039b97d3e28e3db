// What `npm start` (src/main.ts) does when it cannot start: it prints what to fix, without a stack,
// and exits non-zero (2 for settings and files to fix), before it serves anything.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from './support/app.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-start-'));
  dirs.push(dir);
  return dir;
}

function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repoRoot,
    // No database URL from the environment running the tests: the ledger is SQLite in the data directory.
    env: {
      ...process.env,
      CDS_PORT: '0',
      CDS_HOST: '127.0.0.1',
      CDS_KNOWLEDGE_WATCH: 'off',
      CDS_DATABASE_URL: '',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

const stackLine = /^\s+at /m;

describe('the server when it cannot start', () => {
  it('lists every configuration problem and exits 2', async () => {
    const settings = { CDS_AUTH: 'off', CDS_DATA_DIR: dataDir(), CDS_PORT: 'eighty', CDS_LOG_LEVEL: 'loud' };
    const { code, stderr } = await start(settings);
    expect(code).toBe(2);
    expect(stderr).toContain('invalid configuration:');
    expect(stderr).toContain('CDS_PORT="eighty" must be a whole number');
    expect(stderr).toContain('CDS_LOG_LEVEL="loud" must be one of');
    expect(stderr).not.toMatch(stackLine);
  }, 60_000);

  it('names the trusted-clients file it cannot read and exits 2', async () => {
    const dir = dataDir();
    const { code, stderr } = await start({
      CDS_AUTH: 'on',
      CDS_DATA_DIR: dir,
      CDS_TRUSTED_CLIENTS: join(dir, 'missing-clients.json'),
      CDS_PUBLIC_BASE_URL: 'https://cds.example.org',
    });
    expect(code).toBe(2);
    expect(stderr).toContain('invalid trusted-clients file:');
    expect(stderr).toContain('missing-clients.json: cannot be read (ENOENT)');
    expect(stderr).not.toMatch(stackLine);
  }, 60_000);

  it('names a pseudonym key file too short to be a key and exits 1', async () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'pseudonym.key'), 'too-short\n', { mode: 0o600 });
    const { code, stderr } = await start({ CDS_AUTH: 'off', CDS_DATA_DIR: dir, CDS_PSEUDONYM_KEY: '' });
    expect(code).toBe(1);
    expect(stderr).toContain(`pseudonym key file ${join(dir, 'pseudonym.key')} holds fewer than 32 characters`);
    expect(stderr).not.toMatch(stackLine);
  }, 60_000);

  it('names a bad line of the admin keys file and exits 2, without quoting it', async () => {
    const dir = dataDir();
    const file = join(dir, 'admin-keys');
    writeFileSync(file, 'quality:not-a-hash-but-perhaps-a-key\n');
    const { code, stderr } = await start({ CDS_AUTH: 'off', CDS_DATA_DIR: dir, CDS_ADMIN_KEYS_FILE: file });
    expect(code).toBe(2);
    expect(stderr).toContain(`${file} entry 1 must give the key's SHA-256 as 64 hex digits, not the key itself`);
    expect(stderr).not.toContain('not-a-hash-but-perhaps-a-key');
    expect(stderr).not.toMatch(stackLine);
  }, 60_000);

  it('refuses CDS_EVALUATION_TIME when verification is on, and a time that is not ISO 8601', async () => {
    const on = await start({
      CDS_DATA_DIR: dataDir(),
      CDS_EVALUATION_TIME: '2026-06-01T12:00:00Z',
      CDS_TRUSTED_CLIENTS: join(repoRoot, 'docs/trusted-clients.example.json'),
      CDS_PUBLIC_BASE_URL: 'https://cds.example.org',
    });
    expect(on.code).toBe(2);
    expect(on.stderr).toContain(
      'CDS_EVALUATION_TIME fixes the time of every evaluation: development only, refused when CDS_AUTH is on',
    );
    const bad = await start({ CDS_AUTH: 'off', CDS_DATA_DIR: dataDir(), CDS_EVALUATION_TIME: 'June 1st' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('CDS_EVALUATION_TIME="June 1st" must be an ISO 8601 date or date-time');
  }, 60_000);
});
