// The server as `npm start` runs it (src/main.ts) in a process of its own, on a free loopback port,
// with a fresh data directory, verification off and no file watching; started once it answers /ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './app.js';

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** Its data directory (SQLite ledger, pseudonym key), removed by stop() unless the caller gave it. */
  dataDir: string;
  /** Everything it has written to stdout so far. */
  stdout: () => string;
  exited: Promise<number | null>;
  /** Kills it (if still running) and removes its data directory. */
  stop: () => void;
}

export interface ServerProcessOptions {
  /** More environment; may use the data directory made for the server. */
  env?: (dataDir: string) => Record<string, string>;
  /** Whether the server answers /ready yet (default: plain HTTP). */
  ready?: (port: number, child: ChildProcess) => Promise<boolean>;
  /** How often `ready` is asked, in ms (default 250). */
  pollMs?: number;
  /** A data directory to run on (e.g. one a killed server left); the caller removes it. Default: a fresh one. */
  dataDir?: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const httpReady = (port: number): Promise<boolean> =>
  fetch(`http://127.0.0.1:${port}/ready`).then(
    (r) => r.ok,
    () => false,
  );

export async function startServerProcess({
  env = () => ({}),
  ready = httpReady,
  pollMs = 250,
  dataDir: given,
}: ServerProcessOptions = {}): Promise<ServerProcess> {
  const port = await freePort();
  const dataDir = given ?? mkdtempSync(join(tmpdir(), 'cds-process-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      CDS_AUTH: 'off',
      CDS_PORT: String(port),
      CDS_HOST: '127.0.0.1',
      CDS_DATA_DIR: dataDir,
      CDS_KNOWLEDGE_WATCH: 'off',
      CDS_LOG_LEVEL: 'info',
      CDS_DATABASE_URL: '',
      ...env(dataDir),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = (): void => {
    child.kill('SIGKILL');
    if (!given) rmSync(dataDir, { recursive: true, force: true });
  };
  for (let waited = 0; waited < 30_000; waited += pollMs) {
    if (await ready(port, child)) return { child, port, dataDir, stdout: () => stdout, exited, stop };
    await new Promise((r) => setTimeout(r, pollMs));
  }
  stop();
  throw new Error(`the server did not become ready:\n${stdout}`);
}
