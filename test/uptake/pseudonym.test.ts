import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/logger.js';
import { createPseudonymizer, createUptakeStore, loadPseudonymKey } from '../../src/uptake/index.js';
import { seedInvocations } from './seed.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'cds-pseudonym-'));

describe('pseudonyms', () => {
  it('gives the same patient the same pseudonym, and different ones to other ids, kinds and keys', () => {
    const p = createPseudonymizer('k'.repeat(32));
    expect(p('patient', 'p1')).toBe(p('patient', 'p1'));
    expect(p('patient', 'p1')).not.toBe(p('patient', 'p2'));
    expect(p('patient', 'p1')).not.toBe(p('user', 'p1'));
    expect(p('patient', 'p1')).not.toBe(createPseudonymizer('j'.repeat(32))('patient', 'p1'));
    expect(p('patient', undefined)).toBeNull();
  });

  it('creates a key file readable by its owner only on first start, and reads the same key after', () => {
    const dir = tempDir();
    try {
      const first = loadPseudonymKey(undefined, dir);
      expect(first.source).toBe('new file');
      expect(statSync(join(dir, 'pseudonym.key')).mode & 0o777).toBe(0o600);
      expect(loadPseudonymKey(undefined, dir)).toMatchObject({ key: first.key, source: 'file' });
      expect(loadPseudonymKey('c'.repeat(40), dir)).toMatchObject({ key: 'c'.repeat(40), source: 'environment' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a key file too short to be a secret', () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, 'pseudonym.key'), 'short\n');
      expect(() => loadPseudonymKey(undefined, dir)).toThrow(/fewer than 32 characters/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps no patient, user or encounter id, and not the key, in the ledger database', async () => {
    const dir = tempDir();
    const key = 'a-secret-that-must-stay-out-of-the-db';
    const store = await createUptakeStore(
      { dataDir: dir, pseudonymKey: key, uptakeFlushMs: 10, uptakeQueueLimit: 1000 },
      { logger: createLogger('error', true) },
    );
    try {
      await seedInvocations(store);
    } finally {
      await store.close();
    }
    const bytes = readdirSync(dir)
      .filter((f) => f.startsWith('uptake.sqlite'))
      .map((f) => readFileSync(join(dir, f)).toString('latin1'))
      .join('');
    expect(bytes.length).toBeGreaterThan(0);
    for (const clear of ['Practitioner/', 'patient-a', 'patient-b', 'encounter-', key])
      expect(bytes).not.toContain(clear);
    rmSync(dir, { recursive: true, force: true });
  });
});
