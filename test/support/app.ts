import { join } from 'node:path';
import type { Express } from 'express';
import { createApp } from '../../src/app.js';
import { defaultConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createCqlTranslator, createKnowledgeHolder, loadKnowledge, type CqlTranslator, type Knowledge } from '../../src/knowledge/index.js';
import { packageRoot } from '../../src/paths.js';

let translator: Promise<CqlTranslator> | undefined;

/** One translator per test worker: its first compile is the expensive one. */
export function sharedTranslator(): Promise<CqlTranslator> {
  translator ??= createCqlTranslator();
  return translator;
}

export const repoRoot = packageRoot();
export const testKnowledge = (name: string): string => join(repoRoot, 'test', 'knowledge', name);

export async function knowledgeFrom(dir: string): Promise<Knowledge> {
  return loadKnowledge(dir, { translator: await sharedTranslator() });
}

export interface TestAppOptions {
  knowledge: Knowledge;
  config?: Partial<Config>;
  now?: string;
  fetchImpl?: typeof fetch;
}

export function testApp({ knowledge, config, now, fetchImpl }: TestAppOptions): Express {
  return createApp({
    config: defaultConfig(config),
    logger: createLogger('error', true),
    knowledge: createKnowledgeHolder(knowledge),
    clock: () => (now ? new Date(now) : new Date()),
    fetchImpl,
  });
}
