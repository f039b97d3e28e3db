import { resolve } from 'node:path';
import { createCqlTranslator, loadKnowledge, type CqlTranslator, type Knowledge, type ServedFingerprints } from '../knowledge/index.js';
import { readCliSettings } from '../config.js';

/** The knowledge directory a command works on: its argument, else CDS_KNOWLEDGE_DIR, else the shipped knowledge. */
export function knowledgeDir(arg: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(arg ?? readCliSettings(env).knowledgeDir);
}

// The translator is immutable once built and costs seconds to build: one per process.
let translator: Promise<CqlTranslator> | undefined;

export interface LoadFromOptions {
  served?: ServedFingerprints;
  /** Commands evaluate drafts (the default); `cds validate` checks as the server would (CDS_SERVE_DRAFTS). */
  serveDrafts?: boolean;
}

export async function loadFrom(dir: string, { served, serveDrafts = true }: LoadFromOptions = {}): Promise<Knowledge> {
  translator ??= createCqlTranslator();
  return loadKnowledge(dir, { translator: await translator, served, serveDrafts });
}
