/**
 * One real Temporal dev server for the whole suite (the official `temporal` CLI binary, started through
 * TestWorkflowEnvironment.createLocal). Tests that crash or restart a server start their own.
 * And one real PostgreSQL for the PostgreSQL store's tests: $ROLYPLAY_TEST_POSTGRES if set, else a throwaway cluster
 * from the installed binaries (server/postgres.ts). Without one, those tests fail under CI=true and skip elsewhere.
 */
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureTemporalCli } from '../../server/temporalCli.js';
import { EXPERIMENT, TASK, MODEL, DONE, TOTAL } from '../../workflows/searchAttributes.js';
import { WORKFLOWS_PATH } from '../../workers/index.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../../server/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCli: string;
    /** A database URL for the PostgreSQL store's tests, or '' when none could be had (see postgresMissing). */
    postgresUrl: string;
    postgresMissing: string;
  }
}

let env: TestWorkflowEnvironment | undefined;
let pg: ThrowawayPostgres | undefined;

async function postgres(): Promise<{ url: string; missing: string }> {
  if (process.env.ROLYPLAY_TEST_POSTGRES) return { url: process.env.ROLYPLAY_TEST_POSTGRES, missing: '' };
  try {
    pg = await startThrowawayPostgres();
    return { url: pg.url, missing: '' };
  } catch (err) {
    const missing = `no PostgreSQL for the tests: ${(err as Error).message} (or set ROLYPLAY_TEST_POSTGRES=postgres://…)`;
    // The tests that need it fail under CI=true and skip elsewhere (tests/support/postgres.ts).
    process.stderr.write(`\n${missing}: the PostgreSQL store's tests ${process.env.CI ? 'fail (CI)' : 'are skipped'}\n`);
    return { url: '', missing };
  }
}

export async function setup(project: TestProject): Promise<void> {
  if (!existsSync(WORKFLOWS_PATH)) throw new Error('dist/ is missing: run the tests with `npm test` (it builds first)');
  const cli = ensureTemporalCli();
  const database = postgres();
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: [EXPERIMENT, TASK, MODEL, DONE, TOTAL],
      ip: '127.0.0.1',
    },
  });
  project.provide('temporalAddress', env.connection.options.address as string);
  project.provide('temporalCli', cli);
  const { url, missing } = await database;
  project.provide('postgresUrl', url);
  project.provide('postgresMissing', missing);
}

export async function teardown(): Promise<void> {
  await env?.teardown();
  await pg?.stop();
}
