// Translator options, in the format of the reference translator's cql-options.json (as CQL IG
// tooling uses it), per knowledge directory with optional per-library overrides:
//
//   cql/cql-options.json
//   { "options": ["EnableAnnotations", "EnableLocators"], "compatibilityLevel": "1.4",
//     "libraries": { "OpioidCommon": { "options": [...] }, "Legacy@2.0.0": { ... } } }
//
// Anything left out takes the translator's own default.
import { join } from 'node:path';
import { createAjv } from '../../json-schema.js';
import { diskFiles, readJson, type KnowledgeFiles, type Problem } from '../files.js';
import { schemaProblems } from '../schemas.js';

export const OPTION_NAMES = [
  'EnableDateRangeOptimization',
  'EnableAnnotations',
  'EnableLocators',
  'EnableResultTypes',
  'EnableDetailedErrors',
  'DisableListTraversal',
  'DisableListDemotion',
  'DisableListPromotion',
  'EnableIntervalDemotion',
  'EnableIntervalPromotion',
  'DisableMethodInvocation',
  'RequireFromKeyword',
  'DisableDefaultModelInfoLoad',
] as const;

export interface TranslatorOptions {
  options?: Array<(typeof OPTION_NAMES)[number]>;
  compatibilityLevel?: string;
  signatureLevel?: 'None' | 'Differing' | 'Overloads' | 'All';
  validateUnits?: boolean;
  enableCqlOnly?: boolean;
}

/** The translator's defaults (CqlCompilerOptions.defaultOptions()). */
export const DEFAULT_TRANSLATOR_OPTIONS: Required<TranslatorOptions> = {
  options: ['EnableAnnotations', 'EnableLocators', 'DisableListDemotion', 'DisableListPromotion'],
  compatibilityLevel: '1.5',
  signatureLevel: 'Overloads',
  validateUnits: true,
  enableCqlOnly: false,
};

const optionsSchema = {
  type: 'object',
  properties: {
    options: { type: 'array', items: { enum: [...OPTION_NAMES] }, uniqueItems: true },
    compatibilityLevel: { enum: ['1.3', '1.4', '1.5'] },
    signatureLevel: { enum: ['None', 'Differing', 'Overloads', 'All'] },
    validateUnits: { type: 'boolean' },
    enableCqlOnly: { type: 'boolean' },
    // Not the reference translator's: which one runs when a library ships as both CQL and ELM.
    prefer: { enum: ['cql', 'elm'] },
    // Accepted for compatibility with the reference file; they do not change the ELM used here.
    formats: { type: 'array' },
    errorLevel: { enum: ['Info', 'Warning', 'Error'] },
    verifyOnly: { type: 'boolean' },
    analyzeDataRequirements: { type: 'boolean' },
    collapseDataRequirements: { type: 'boolean' },
  },
  additionalProperties: false,
};
const fileSchema = {
  ...optionsSchema,
  properties: {
    ...optionsSchema.properties,
    $schema: { type: 'string' },
    libraries: { type: 'object', additionalProperties: optionsSchema },
  },
};
const validateFile = createAjv().compile(fileSchema);

export interface OptionsManifest {
  /** Effective options for a library (its overrides over the directory's defaults over the translator's). */
  forLibrary(name: string, version: string): Required<TranslatorOptions>;
  /** For a library shipped as CQL and ELM: which runs (`cql`, compiled here, unless `prefer` says `elm`). */
  preferFor(name: string, version: string): 'cql' | 'elm';
}

export const OPTIONS_FILE = 'cql/cql-options.json';

export function loadTranslatorOptions(
  root: string,
  problems: Problem[],
  files: KnowledgeFiles = diskFiles,
): OptionsManifest {
  const file = join(root, OPTIONS_FILE);
  type Prefer = { prefer?: 'cql' | 'elm' };
  let manifest: TranslatorOptions & Prefer & { libraries?: Record<string, TranslatorOptions & Prefer> } = {};
  if (files.exists(file)) {
    const read = readJson(root, file, files);
    if (!read.ok) problems.push(read.problem);
    else if (!validateFile(read.value)) problems.push(...schemaProblems(OPTIONS_FILE, validateFile.errors));
    else manifest = read.value as typeof manifest;
  }
  const pick = (o: TranslatorOptions | undefined): TranslatorOptions => {
    if (!o) return {};
    const { options, compatibilityLevel, signatureLevel, validateUnits, enableCqlOnly } = o;
    return Object.fromEntries(
      Object.entries({ options, compatibilityLevel, signatureLevel, validateUnits, enableCqlOnly }).filter(
        ([, v]) => v !== undefined,
      ),
    );
  };
  const overridesOf = (name: string, version: string) =>
    manifest.libraries?.[`${name}@${version}`] ?? manifest.libraries?.[name];
  return {
    forLibrary(name, version) {
      return { ...DEFAULT_TRANSLATOR_OPTIONS, ...pick(manifest), ...pick(overridesOf(name, version)) };
    },
    preferFor(name, version) {
      return overridesOf(name, version)?.prefer ?? manifest.prefer ?? 'cql';
    },
  };
}

export function optionsKey(options: Required<TranslatorOptions>): string {
  return JSON.stringify({ ...options, options: [...options.options].sort() });
}
