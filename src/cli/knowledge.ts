import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  createCqlTranslator,
  loadKnowledge,
  type CqlTranslator,
  type Knowledge,
  type ServedFingerprints,
  type ServiceDefinition,
  type TerminologyOptions,
} from '../knowledge/index.js';
import type { CliIo } from './io.js';
import { readCliSettings } from '../config.js';

/** The knowledge directory a command works on: its argument, else CDS_KNOWLEDGE_DIR, else the shipped knowledge. */
export function knowledgeDir(arg: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(arg ?? readCliSettings(env).knowledgeDir);
}

// The translator is immutable once built and costs seconds to build: one per process.
let translator: Promise<CqlTranslator> | undefined;

export interface LoadFromOptions {
  served?: ServedFingerprints;
  /** CDS_TERMINOLOGY_*: value sets the knowledge cannot expand itself are expanded (and saved) at load. */
  terminology?: TerminologyOptions;
  /** Commands evaluate drafts (the default); `cds validate` checks as the server would (CDS_SERVE_DRAFTS). */
  serveDrafts?: boolean;
}

export async function loadFrom(
  dir: string,
  { served, serveDrafts = true, terminology }: LoadFromOptions = {},
): Promise<Knowledge> {
  translator ??= createCqlTranslator();
  return loadKnowledge(dir, { translator: await translator, served, serveDrafts, terminology });
}

/**
 * The service definitions of cds-services.json as written, without loading or compiling anything:
 * what the report commands need (experiments, shadow versions). A file that cannot be read gives none.
 */
export function declaredServices(dir: string, io: CliIo): ServiceDefinition[] {
  const file = join(dir, 'cds-services.json');
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { services?: unknown };
    const services = Array.isArray(doc.services) ? doc.services : [];
    return services.filter(
      (s): s is ServiceDefinition =>
        typeof s === 'object' && s !== null && typeof (s as { id?: unknown }).id === 'string',
    );
  } catch (err) {
    io.stderr(
      `warning: ${file} could not be read (${err instanceof Error ? err.message : String(err)}): declared experiments and shadow versions are not known\n`,
    );
    return [];
  }
}
