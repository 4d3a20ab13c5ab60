/**
 * Which result store the suite's workers use (a setup file: runs in each test file's process before the file).
 *
 *   ROLYPLAY_TEST_STORE unset or 'sqlite' → the default, a SQLite file in each run folder;
 *   ROLYPLAY_TEST_STORE=postgres          → every worker the file starts (in process through tests/support/harness.ts,
 *     or `rolyplay` processes, which inherit this process's environment) uses PostgreSQL: the suite's cluster
 *     (tests/support/globalSetup.ts), in a database of this file's own, so files never see each other's runs.
 *
 * The switch is ROLYPLAY_STORE itself, set here as a user would set it for their workers. Tests about SQLite files
 * themselves (legacy inputs, the file in the run folder) call `sqliteOnly(why)` and keep the SQLite store.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createDatabase } from '../../store/results.js';

const mode = process.env.ROLYPLAY_TEST_STORE?.trim() || 'sqlite';
if (mode !== 'sqlite' && mode !== 'postgres') throw new Error(`ROLYPLAY_TEST_STORE must be sqlite or postgres, got ${mode}`);

export const testStore: 'sqlite' | 'postgres' = mode;

if (mode === 'postgres') {
  const admin = inject('postgresUrl');
  if (!admin) throw new Error(`ROLYPLAY_TEST_STORE=postgres: ${inject('postgresMissing')}`);
  process.env.ROLYPLAY_STORE = await createDatabase(admin, `t_${randomUUID().replace(/-/g, '')}`);
} else {
  // The suite's default is the default store, whatever the shell running it has set.
  delete process.env.ROLYPLAY_STORE;
}

/** This file's tests are about SQLite files: keep the SQLite store even under ROLYPLAY_TEST_STORE=postgres. */
export function sqliteOnly(_why: string): void {
  delete process.env.ROLYPLAY_STORE;
}
