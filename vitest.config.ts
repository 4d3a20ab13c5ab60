import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal workers (native core bridge) have crashed vitest's worker_threads pool: use processes.
    pool: 'forks',
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/globalSetup.ts'],
    // The built-in tasks, registered as the entry points (CLI, workers) register them; the store the workers use
    // (ROLYPLAY_TEST_STORE=postgres: PostgreSQL, a database per test file).
    setupFiles: ['tests/support/tasks.ts', 'tests/support/storeEnv.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
