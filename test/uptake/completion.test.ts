import { describe } from 'vitest';
import { completionRun } from './completion-run.js';

describe('action completion of the fixture call sequences on SQLite', () => {
  completionRun('sqlite');
});
