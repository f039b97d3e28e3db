import { resolve } from 'node:path';
import { createCqlTranslator, loadKnowledge, type CqlTranslator, type Knowledge, type ServedFingerprints } from '../knowledge/index.js';
import { readCliSettings } from '../config.js';

/** The knowledge directory a command works on: its argument, else CDS_KNOWLEDGE_DIR, else the shipped knowledge. */
export function knowledgeDir(arg: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(arg ?? readCliSettings(env).knowledgeDir);
}

// The translator is immutable once built and costs seconds to build: one per process.
let translator: Promise<CqlTranslator> | undefined;

export async function loadFrom(dir: string, served?: ServedFingerprints): Promise<Knowledge> {
  translator ??= createCqlTranslator();
  return loadKnowledge(dir, { translator: await translator, served });
}
