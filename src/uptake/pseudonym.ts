// Patient, user and encounter ids are stored only as keyed hashes (HMAC-SHA256). The key is
// configured (CDS_PSEUDONYM_KEY) or kept in a file beside the data, never in the database.
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StartupError } from '../errors.js';

export const PSEUDONYM_KEY_FILE = 'pseudonym.key';
export const MIN_KEY_LENGTH = 32;

/** The key file holds no usable key; the server and the `cds` command stop (exit status 1). */
export class PseudonymKeyError extends StartupError {
  constructor(message: string) {
    super(message, { exitCode: 1 });
    this.name = 'PseudonymKeyError';
  }
}

export type IdentifierKind = 'patient' | 'user' | 'encounter' | 'client';
export type Pseudonymize = (kind: IdentifierKind, id: unknown) => string | null;

export function createPseudonymizer(key: string): Pseudonymize {
  return (kind, id) => {
    if (typeof id !== 'string' || id === '') return null;
    return createHmac('sha256', key).update(`${kind}\u0000${id}`).digest('base64url');
  };
}

/**
 * The configured key, or the key file under dataDir, created (mode 0600) with 256 random bits
 * on first start.
 */
export function loadPseudonymKey(
  configured: string | undefined,
  dataDir: string,
): { key: string; source: 'environment' | 'file' | 'new file'; file?: string } {
  if (configured) return { key: configured, source: 'environment' };
  const file = join(dataDir, PSEUDONYM_KEY_FILE);
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length < MIN_KEY_LENGTH) {
      throw new PseudonymKeyError(`pseudonym key file ${file} holds fewer than ${MIN_KEY_LENGTH} characters`);
    }
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { key, source: 'file', file };
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return { key, source: 'new file', file };
}
