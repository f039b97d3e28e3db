// Bearer keys for the admin and reporting surface, separate from the EHR's JWT. Only SHA-256 hashes
// of the keys are configured (CDS_ADMIN_KEYS="role:hex,role:hex"), so the configuration leaks no key.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** `quality` reads uptake reports; `knowledge` may reload knowledge and manage rollout; `operations` reads /metrics. */
export const ADMIN_ROLES = ['quality', 'knowledge', 'operations'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export interface AdminKey {
  role: AdminRole;
  /** SHA-256 of the key, 64 lower-case hex digits. */
  sha256: string;
}

export function hashAdminKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Parses CDS_ADMIN_KEYS; every problem is reported (without echoing a value that may be a key). */
export function parseAdminKeys(raw: string, variable = 'CDS_ADMIN_KEYS'): { keys: AdminKey[]; problems: string[] } {
  const keys: AdminKey[] = [];
  const problems: string[] = [];
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .forEach((entry, i) => {
      const [role, hash, ...rest] = entry.split(':').map((s) => s.trim());
      if (rest.length > 0 || hash === undefined) {
        problems.push(`${variable} entry ${i + 1} must be role:sha256-hex (e.g. quality:<64 hex digits>)`);
        return;
      }
      const known = (ADMIN_ROLES as readonly string[]).includes(role);
      if (!known)
        problems.push(
          `${variable} entry ${i + 1} has role ${JSON.stringify(role)}; roles are ${ADMIN_ROLES.join(', ')}`,
        );
      if (!/^[0-9a-fA-F]{64}$/.test(hash)) {
        problems.push(`${variable} entry ${i + 1} must give the key's SHA-256 as 64 hex digits, not the key itself`);
        return;
      }
      if (known) keys.push({ role: role as AdminRole, sha256: hash.toLowerCase() });
    });
  return { keys, problems };
}

/** The roles the presented key holds (none for an unknown key), compared in constant time per key. */
export function rolesForKey(presented: string, keys: AdminKey[]): { roles: Set<AdminRole>; keyId?: string } {
  const digest = createHash('sha256').update(presented, 'utf8').digest();
  const roles = new Set<AdminRole>();
  let keyId: string | undefined;
  for (const key of keys) {
    if (timingSafeEqual(digest, Buffer.from(key.sha256, 'hex'))) {
      roles.add(key.role);
      // A prefix of the hash names the key in logs without revealing it.
      keyId = key.sha256.slice(0, 12);
    }
  }
  return { roles, ...(keyId ? { keyId } : {}) };
}

/**
 * The admin keys in force: those of CDS_ADMIN_KEYS (fixed for the life of the process, as its
 * environment is) and those of CDS_ADMIN_KEYS_FILE, which reload() reads again (on SIGHUP): a key
 * is added or revoked without a restart. A file that cannot be read or has a bad entry changes nothing.
 */
export interface AdminKeyring {
  keys(): AdminKey[];
  /** Re-reads the file; returns its problems (the keys in force are then unchanged). */
  reload(): string[];
  file?: string;
}

export function createAdminKeyring(fixed: AdminKey[], file?: string): AdminKeyring {
  let fromFile: AdminKey[] = [];
  let all = fixed;
  const reload = (): string[] => {
    if (!file) return [];
    const { keys, problems } = readAdminKeysFile(file);
    if (problems.length > 0) return problems;
    fromFile = keys;
    all = [...fixed, ...fromFile];
    return [];
  };
  return { keys: () => all, reload, ...(file ? { file } : {}) };
}

/** The keys file: entries as in CDS_ADMIN_KEYS, one a line or comma-separated; `#` starts a comment. */
export function readAdminKeysFile(file: string): { keys: AdminKey[]; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { keys: [], problems: [`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`] };
  }
  const entries = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter(Boolean)
    .join(',');
  return parseAdminKeys(entries, file);
}
