import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal workers (native core bridge) have crashed vitest's worker_threads pool: use processes.
    pool: 'forks',
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/globalSetup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
