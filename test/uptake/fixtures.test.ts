import { describe } from 'vitest';
import { fixtureUptakeRun } from './fixture-run.js';

describe('uptake of the fixture run on SQLite', () => {
  fixtureUptakeRun('sqlite');
});
