import { describe } from 'vitest';
import { rollupRun } from './rollup-run.js';

describe('the uptake report from daily roll-ups on SQLite', () => {
  rollupRun('sqlite');
});
