import { describe } from 'vitest';
import { experimentReportBehaviour, shadowReportBehaviour } from './experiment-behaviour.js';

describe('experiment report on SQLite', () => {
  experimentReportBehaviour('sqlite');
});

describe('shadow report on SQLite', () => {
  shadowReportBehaviour('sqlite');
});
