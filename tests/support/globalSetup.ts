/**
 * One real Temporal dev server for the whole suite (the official `temporal` CLI binary, started through
 * TestWorkflowEnvironment.createLocal). Tests that crash or restart a server start their own.
 */
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureTemporalCli } from '../../server/temporalCli.js';
import { EXPERIMENT, TASK, MODEL, DONE, TOTAL } from '../../workflows/searchAttributes.js';
import { WORKFLOWS_PATH } from '../../workers/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCli: string;
  }
}

let env: TestWorkflowEnvironment | undefined;

export async function setup(project: TestProject): Promise<void> {
  if (!existsSync(WORKFLOWS_PATH)) throw new Error('dist/ is missing: run the tests with `npm test` (it builds first)');
  const cli = ensureTemporalCli();
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: [EXPERIMENT, TASK, MODEL, DONE, TOTAL],
      ip: '127.0.0.1',
    },
  });
  project.provide('temporalAddress', env.connection.options.address as string);
  project.provide('temporalCli', cli);
}

export async function teardown(): Promise<void> {
  await env?.teardown();
}
