// A CQL library of a test's own, compiled (no errors allowed) and ready for cql-execution.
import { createRequire } from 'node:module';
import { expect } from 'vitest';
import type { Library as LibraryType } from 'cql-execution';
import { DEFAULT_TRANSLATOR_OPTIONS } from '../../src/knowledge/cql/options.js';
import { createCqlTranslator } from '../../src/knowledge/index.js';

const cql = createRequire(import.meta.url)('cql-execution') as { Library: typeof LibraryType };

export async function compiledLibrary(name: string, text: string): Promise<LibraryType> {
  const translator = await createCqlTranslator();
  const [result] = await translator.compileAll([{ name, version: '1.0.0', text, options: DEFAULT_TRANSLATOR_OPTIONS }]);
  expect(result.messages.filter((m) => m.severity === 'error')).toEqual([]);
  return new cql.Library(result.elm);
}
