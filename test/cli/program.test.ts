// What `cds` does when it cannot start a command: it prints what to fix, without a stack, and exits
// non-zero (2 for settings to fix), as the server does.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { packageRoot } from '../../src/paths.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-cli-start-'));
  dirs.push(dir);
  return dir;
}

async function cds(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t) };
  const code = await runCli(args, { io, env: { CDS_AUTH: 'off', CDS_LOG_LEVEL: 'error', ...env } });
  return { code, out, err };
}

describe('cds when a command cannot start', () => {
  it('answers a usage error in a subcommand with its message and exit code, without ending the process', async () => {
    for (const args of [
      ['uptake', 'report', '--bogus'],
      ['validate', '--nope'],
      ['experiment', 'report'],
    ]) {
      const r = await cds(args, { CDS_DATA_DIR: dataDir() });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toMatch(/^error: (unknown option|missing required argument)/);
    }
  });

  it('lists the configuration problems and exits 2', async () => {
    const { code, out, err } = await cds(['uptake', 'report'], { CDS_DATA_DIR: dataDir(), CDS_UPTAKE_MIN_CELL: 'few' });
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('invalid configuration:');
    expect(err).toContain('CDS_UPTAKE_MIN_CELL="few"');
    expect(err).not.toMatch(/^\s+at /m);
  });

  it('names a pseudonym key file too short to be a key and exits 1', async () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'pseudonym.key'), 'too-short\n', { mode: 0o600 });
    const { code, out, err } = await cds(['uptake', 'report'], { CDS_DATA_DIR: dir });
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(`pseudonym key file ${join(dir, 'pseudonym.key')} holds fewer than 32 characters\n`);
  });
});

describe('cds --version', () => {
  it('prints the version of package.json and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
    const { code, out } = await cds(['--version'], {});
    expect(code).toBe(0);
    expect(out).toBe(`${version}\n`);
  });
});
