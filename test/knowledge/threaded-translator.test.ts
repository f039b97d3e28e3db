import { describe, expect, it } from 'vitest';
import { createThreadedCqlTranslator } from '../../src/knowledge/index.js';
import { DEFAULT_TRANSLATOR_OPTIONS } from '../../src/knowledge/cql/options.js';

const job = (name: string) => ({
  name,
  version: '1.0.0',
  text: `library ${name} version '1.0.0'\ndefine X: 2 'mg' + 3 'mg'`,
  options: DEFAULT_TRANSLATOR_OPTIONS,
});

describe('the translator thread', () => {
  it('compiles in its own thread, and a thread closed meanwhile does not fail the next one', async () => {
    const translator = createThreadedCqlTranslator();
    try {
      const [first] = await translator.compileAll([job('First')]);
      expect(first.messages).toEqual([]);
      expect(first.elm?.library.identifier).toEqual({ id: 'First', version: '1.0.0' });
      // Closing ends the thread; the next compile starts a new one, which the old one's exit must not fail.
      void translator.close();
      const [second] = await translator.compileAll([job('Second')]);
      expect(second.elm?.library.identifier.id).toBe('Second');
    } finally {
      await translator.close();
    }
  }, 120_000);

  it('fails the jobs of a thread that dies, and starts a new thread for the next', async () => {
    const translator = createThreadedCqlTranslator();
    try {
      const pending = translator.compileAll([job('Doomed')]);
      await translator.close();
      await expect(pending).rejects.toThrow(/the CQL translator stopped/);
      const [next] = await translator.compileAll([job('Next')]);
      expect(next.elm?.library.identifier.id).toBe('Next');
    } finally {
      await translator.close();
    }
  }, 120_000);
});
