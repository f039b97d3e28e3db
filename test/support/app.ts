import { join } from 'node:path';
import type { Express } from 'express';
import { createApp, type AppDeps } from '../../src/app.js';
import { hashAdminKey, type AdminKey, type AdminRole, type TrustedClient } from '../../src/auth/index.js';
import { defaultConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import {
  createCqlTranslator,
  createKnowledgeHolder,
  loadKnowledge,
  type CqlTranslator,
  type Knowledge,
  type ServedFingerprints,
  type TerminologyOptions,
} from '../../src/knowledge/index.js';
import { packageRoot } from '../../src/paths.js';

let translator: Promise<CqlTranslator> | undefined;

/** One translator per test worker: its first compile is the expensive one. */
export function sharedTranslator(): Promise<CqlTranslator> {
  translator ??= createCqlTranslator();
  return translator;
}

export const repoRoot = packageRoot();
export const testKnowledge = (name: string): string => join(repoRoot, 'test', 'knowledge', name);

export async function knowledgeFrom(
  dir: string,
  options: { serveDrafts?: boolean; served?: ServedFingerprints; terminology?: TerminologyOptions } = {},
): Promise<Knowledge> {
  return loadKnowledge(dir, { translator: await sharedTranslator(), ...options });
}

export interface TestAppOptions {
  knowledge: Knowledge;
  config?: Partial<Config>;
  now?: string;
  fetchImpl?: typeof fetch;
  /**
   * JWT verification of CDS Hooks calls. Off unless a test asks for it: the server's default is on,
   * and test/auth/ runs with it on (giving trustedClients and config.publicBaseUrl).
   */
  auth?: 'on' | 'off';
  trustedClients?: TrustedClient[];
  /** Everything else createApp accepts (logger, authClock, jtiStore, jwks). */
  deps?: Partial<AppDeps>;
}

export function testApp({
  knowledge,
  config,
  now,
  fetchImpl,
  auth = 'off',
  trustedClients,
  deps,
}: TestAppOptions): Express {
  return createApp({
    config: defaultConfig({ adminKeys: TEST_ADMIN_KEYS, ...config, auth }),
    logger: createLogger('error', true),
    knowledge: createKnowledgeHolder(knowledge),
    clock: () => (now ? new Date(now) : new Date()),
    fetchImpl,
    trustedClients,
    ...deps,
  });
}

/** Admin keys every test app accepts, by role; send them with asAdmin(role). */
export const TEST_ADMIN_KEY_VALUES = {
  quality: 'test-quality-key-7c1e',
  knowledge: 'test-knowledge-key-52ad',
  operations: 'test-operations-key-9b30',
} as const;
export const TEST_ADMIN_KEYS: AdminKey[] = (Object.keys(TEST_ADMIN_KEY_VALUES) as AdminRole[]).map((role) => ({
  role,
  sha256: hashAdminKey(TEST_ADMIN_KEY_VALUES[role]),
}));

/** The Authorization header of a test admin key: `request(app).get('/uptake/...').set(asAdmin('quality'))`. */
export function asAdmin(role: AdminRole): { Authorization: string } {
  return { Authorization: `Bearer ${TEST_ADMIN_KEY_VALUES[role]}` };
}
