import { describe } from 'vitest';
import { driftRun } from './drift-run.js';

describe('drift alarms on replayed traffic, SQLite', () => {
  driftRun('sqlite');
});
