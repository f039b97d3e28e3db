// A card shown is a card recorded, on SQLite: kill -9 mid-stream three times, nothing served or acknowledged lost.
import { describe, it } from 'vitest';
import { KILLS, killMidStream } from './crash-scenario.js';

describe('served cards and acknowledged feedback survive kill -9 (SQLite)', () => {
  it(`loses none over ${KILLS} kills mid-stream`, () => killMidStream(), 240_000);
});
