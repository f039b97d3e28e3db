// The synthetic-patient generator (fixtures/generate.ts) as `cds simulate` uses it. It lives beside
// the fixtures, outside the built sources, so it is loaded at run time; FixtureGenerator names the
// part used here, and test/cli/simulate.test.ts checks that the generator still has that shape.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CdsError } from '../errors.js';
import { packageRoot } from '../paths.js';

export interface GeneratorRng {
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export interface GeneratedResource {
  resourceType: string;
  id: string;
}

export interface GeneratedBundle {
  entry: Array<{ resource: GeneratedResource }>;
}

export type KidneyConditionKey =
  'ckd3' | 'ckd4' | 'ckd5' | 'esrd' | 'hypertension' | 'osteoarthritisKnee' | 'lowBackPain';

export const NSAID_KEYS = [
  'ibuprofen400',
  'ibuprofen800',
  'naproxen500',
  'diclofenac75',
  'ketorolac10',
  'meloxicam15',
  'celecoxib200',
  'indomethacin25',
] as const;
export const OTHER_DRAFT_KEYS = ['pantoprazole40', 'omeprazole20', 'acetaminophen500', 'amoxicillin500'] as const;
export type DraftMedicationKey = (typeof NSAID_KEYS)[number] | (typeof OTHER_DRAFT_KEYS)[number];

/** The clinical facts of one simulated patient, in the generator's scenario terms. */
export interface KidneyScenario {
  summary: string;
  seed: number;
  age?: number;
  egfr?: Array<{ daysAgo: number; value: number }>;
  conditions?: Array<{ key: KidneyConditionKey; onsetDaysAgo?: number }>;
}

export interface FixtureGenerator {
  createRng(seed: number): GeneratorRng;
  MEDICATIONS: Record<DraftMedicationKey, { text: string }>;
  generatePatient(scenario: KidneyScenario, seed: number, opts: { patientId: string }): GeneratedBundle;
  currentEncounterId(patientId: string): string;
  draftOrder(
    spec: { kind: 'medication'; id: string; medication: DraftMedicationKey },
    patientId: string,
    encounterId: string,
    userId: string,
  ): GeneratedResource;
  prefetchFromTemplates(
    templates: Record<string, string>,
    patient: GeneratedBundle,
    context: Record<string, unknown>,
  ): Record<string, unknown>;
}

/** Loads fixtures/generate.ts; it needs the TypeScript sources and a TypeScript-aware runner (tsx, vitest). */
export async function loadFixtureGenerator(): Promise<FixtureGenerator> {
  const file = join(packageRoot(), 'fixtures', 'generate.ts');
  try {
    return (await import(pathToFileURL(file).href)) as FixtureGenerator;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CdsError(
      500,
      'generator-unavailable',
      `the simulated clinic draws its patients from fixtures/generate.ts and cannot load it (${reason}); ` +
        'run it from the TypeScript sources: npm run simulate -- [options]',
    );
  }
}
