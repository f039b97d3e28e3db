// A restart with unchanged knowledge takes the compiled ELM from the cache under the data directory:
// nothing is compiled, and the start-up progress still counts every library.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess } from '../support/server-process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'cds-restart-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function startOnce(): Promise<Array<Record<string, unknown>>> {
  const server = await startServerProcess({ dataDir });
  try {
    const call = await fetch(`http://127.0.0.1:${server.port}/cds-services`);
    expect(call.status).toBe(200);
    return server
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  } finally {
    server.stop();
    await server.exited;
  }
}

describe('a restart with unchanged knowledge', () => {
  it('compiles on the first start, and nothing on the next, from the ELM cache in the data directory', async () => {
    const first = await startOnce();
    const firstLoad = first.find((l) => l.message === 'knowledge loaded') as { elmCache: Record<string, unknown> };
    expect(firstLoad.elmCache).toMatchObject({ dir: join(dataDir, 'elm-cache'), hits: 0 });
    expect(firstLoad.elmCache.compiled).toBeGreaterThan(0);
    expect(readdirSync(join(dataDir, 'elm-cache')).length).toBeGreaterThan(0);

    const second = await startOnce();
    const secondLoad = second.find((l) => l.message === 'knowledge loaded') as { elmCache: Record<string, unknown> };
    expect(secondLoad.elmCache).toMatchObject({ compiled: 0, hits: firstLoad.elmCache.compiled });
    // The progress counted the libraries answered from the cache.
    const phase = second.find((l) => l.message === 'start-up phase' && l.phase === 'knowledge');
    expect(phase?.libraries).toBe(firstLoad.elmCache.compiled);
    expect(second.find((l) => l.message === 'ready')).toBeDefined();
  }, 120_000);
});
