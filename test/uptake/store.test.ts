import { describe } from 'vitest';
import { uptakeStoreBehaviour } from './behaviour.js';

describe('uptake store on SQLite', () => {
  uptakeStoreBehaviour('sqlite');
});
