/**
 * Runs planned before the worker chose the store carry their SQLite file in their plan (`storePath`), and batch or
 * reduce activities scheduled by that code may still be waiting when new workers start. Those inputs must keep
 * using that file, whatever store the new worker was given.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities/index.js';
import { BackendRegistry } from '../backends/registry.js';
import { SqliteStore, collect, sqlitePath, type StoreResolver } from '../store/results.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { mmluConfig, tmpDir } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ policy: mmluPolicy(readQuestions('anatomy', 4)), apiKey: 'sk-test' });
});
afterAll(async () => fake?.close());

it('batch and reduce inputs of older code (storePath, no outDir) use the SQLite file they name', async () => {
  const outDir = tmpDir();
  const backends = new BackendRegistry({ env: { TEST_OPENAI_KEY: 'sk-test' } });
  const config = mmluConfig({ baseURL: fake.baseURL, taskQueue: 'unused', outDir, name: 'legacy', subjects: ['anatomy'], limit: 4 });
  const env = new MockActivityEnvironment();
  try {
    // Plan the usual way: the default store is the SQLite file in the run folder.
    const plan = await env.run(createActivities({ backends }).planExperiment, { config, overrides: [] });
    const file = sqlitePath(join(outDir, 'legacy'));
    expect(plan.storePath).toBeUndefined();
    expect(plan.storeLabel).toBe(file);
    // A worker whose own store is elsewhere: legacy inputs must not ask it.
    const elsewhere: StoreResolver = {
      shared: true,
      label: 'a store legacy inputs must not use',
      forRun: async () => {
        throw new Error('the worker store was asked for a legacy input');
      },
      close: async () => undefined,
    };
    const acts = createActivities({ backends, stores: elsewhere });
    const r = await env.run(acts.runBatch, { run: 'legacy', storePath: file, specHash: plan.specHash, group: 'anatomy', start: 0, end: 4 } as never);
    expect(r).toEqual({ cells: 16, discarded: 0 });
    const reduced = await env.run(acts.reduceExperiment, { run: 'legacy', storePath: file, outDir: plan.outDir } as never);
    expect(reduced.cells).toBe(16);
    // A file store writes the run's files in the run folder, as before.
    expect(reduced.files.metricsJson).toBe(join(outDir, 'legacy', 'metrics.json'));
    const store = new SqliteStore(file);
    expect(await collect(store.streamCells('legacy'))).toHaveLength(16);
    await store.close();
  } finally {
    await backends.close();
  }
});
