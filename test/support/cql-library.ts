// A CQL library of a test's own, compiled (no errors allowed) and ready for cql-execution.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Library as LibraryType, Repository as RepositoryType } from 'cql-execution';
import { DEFAULT_TRANSLATOR_OPTIONS, type TranslatorOptions } from '../../src/knowledge/cql/options.js';
import { createCqlTranslator } from '../../src/knowledge/index.js';
import { repoRoot } from './app.js';

const cql = createRequire(import.meta.url)('cql-execution') as {
  Library: typeof LibraryType;
  Repository: typeof RepositoryType;
};

export async function compiledLibrary(name: string, text: string): Promise<LibraryType> {
  const translator = await createCqlTranslator();
  const [result] = await translator.compileAll([{ name, version: '1.0.0', text, options: DEFAULT_TRANSLATOR_OPTIONS }]);
  expect(result.messages.filter((m) => m.severity === 'error')).toEqual([]);
  return new cql.Library(result.elm);
}

/** A library that includes the shipped FHIRHelpers 4.0.1 (`include FHIRHelpers version '4.0.1'`), compiled with it. */
export async function compiledWithFhirHelpers(
  name: string,
  text: string,
  options: Required<TranslatorOptions> = DEFAULT_TRANSLATOR_OPTIONS,
): Promise<LibraryType> {
  const translator = await createCqlTranslator();
  const helpers = readFileSync(join(repoRoot, 'cql', 'FHIRHelpers-4.0.1.cql'), 'utf8');
  const [result, helpersResult] = await translator.compileAll([
    { name, version: '1.0.0', text, options },
    { name: 'FHIRHelpers', version: '4.0.1', text: helpers, options },
  ]);
  expect(result.messages.filter((m) => m.severity === 'error')).toEqual([]);
  const repository = new cql.Repository({ [name]: result.elm, FHIRHelpers: helpersResult.elm });
  return new cql.Library(result.elm, repository);
}
