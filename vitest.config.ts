import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Compiling CQL in-process costs ~2 s for the first library of each worker.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Every supertest answer is checked against GET /openapi.json.
    setupFiles: ['test/support/contract-setup.ts'],
  },
});
