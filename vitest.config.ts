import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal workers (native core bridge) have crashed vitest's worker_threads pool: use processes.
    pool: 'forks',
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/globalSetup.ts'],
    // The built-in tasks, registered as the entry points (CLI, workers) register them.
    setupFiles: ['tests/support/tasks.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
