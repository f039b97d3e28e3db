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

  it('ends its thread after idleMs without a compile, and a later compile starts a new one', async () => {
    const translator = createThreadedCqlTranslator({ idleMs: 200 });
    try {
      expect(translator.running()).toBe(false);
      const [first] = await translator.compileAll([job('BeforeIdle')]);
      expect(first.elm?.library.identifier.id).toBe('BeforeIdle');
      expect(translator.running()).toBe(true);
      await expect.poll(() => translator.running(), { timeout: 10_000 }).toBe(false);
      const [next] = await translator.compileAll([job('AfterIdle')]);
      expect(next.messages).toEqual([]);
      expect(next.elm?.library.identifier.id).toBe('AfterIdle');
    } finally {
      await translator.close();
    }
  }, 120_000);

  it('keeps its thread while compiles follow each other within idleMs', async () => {
    const translator = createThreadedCqlTranslator({ idleMs: 60_000 });
    try {
      await translator.compileAll([job('One')]);
      await translator.compileAll([job('Two')]);
      expect(translator.running()).toBe(true);
    } finally {
      await translator.close();
    }
    expect(translator.running()).toBe(false);
  }, 120_000);
});
