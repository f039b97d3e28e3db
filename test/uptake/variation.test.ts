import { describe } from 'vitest';
import { variationRun } from './variation-run.js';

describe('variation between clinicians and sites on SQLite', () => {
  variationRun('sqlite');
});
