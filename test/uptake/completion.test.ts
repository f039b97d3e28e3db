import { describe } from 'vitest';
import { completionRun } from './completion-run.js';

describe('action completion of the fixture call sequences on SQLite', () => {
  completionRun('sqlite');
});

describe('action completion of the fixture call sequences on SQLite, evaluated on 2 threads', () => {
  completionRun('sqlite', { workers: 2 });
});
