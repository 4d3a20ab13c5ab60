/**
 * The whole Temporal path on the PostgreSQL store gives the same results as on the SQLite store: the MMLU with
 * discarded cells (generate mode) and the bandit (its games as task records), each run once per store on the same
 * fake model; the files are written from the database afterwards, as `rolyplay run`/`results` do.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { PostgresStores, type StoreResolver } from '../store/results.js';
import { taskFor } from '../experiment/tasks.js';
import type { ExperimentSpec } from '../experiment/load.js';
import { startFakeOpenAI, type FakeOpenAI } from './support/fakeOpenAI.js';
import { banditConfig, harness, mmluConfig, tmpDir, type Harness } from './support/harness.js';
import { mmluPolicy, readQuestions } from './support/mmluPolicy.js';
import { probitPolicy } from './support/banditPolicy.js';
import { describePostgres, postgresUrl } from './support/postgres.js';

describePostgres('end to end on the PostgreSQL store', () => {
  let mmluFake: FakeOpenAI;
  let banditFake: FakeOpenAI;
  let onSqlite: Harness;
  let onPostgres: Harness;
  let stores: StoreResolver;
  beforeAll(async () => {
    mmluFake = await startFakeOpenAI({ policy: mmluPolicy([...readQuestions('abstract_algebra', 8), ...readQuestions('anatomy', 8)]), apiKey: 'sk-test' });
    banditFake = await startFakeOpenAI({ policy: probitPolicy({ V: 0.8, RU: 0.3, VTU: 1.5 }), apiKey: 'sk-test' });
    onSqlite = await harness();
    await onSqlite.startWorker();
    onPostgres = await harness();
    await onPostgres.startWorker({ stores: await PostgresStores.open(postgresUrl()) });
    stores = await PostgresStores.open(postgresUrl());
  });
  afterAll(async () => {
    await onSqlite?.close();
    await onPostgres?.close();
    await stores?.close();
    await mmluFake?.close();
    await banditFake?.close();
  });

  /** Run `config` on both stores; return the files of each (the PostgreSQL run's written from the database). */
  async function bothStores(config: (taskQueue: string, outDir: string, name: string) => Record<string, unknown>, files: string[]) {
    const name = `pg-${randomUUID().slice(0, 8)}`;
    const sqliteDir = tmpDir();
    const a = await onSqlite.run({ config: config(onSqlite.taskQueue, sqliteDir, name) });
    const b = await onPostgres.run({ config: config(onPostgres.taskQueue, tmpDir(), name) });
    expect(b.files).toEqual({});
    expect({ ...b, files: {}, outDir: '' }).toEqual({ ...a, files: {}, outDir: '' });
    const store = await stores.forRun();
    const spec = (await store.getRun(name))?.spec as ExperimentSpec;
    const pgDir = tmpDir();
    const written = await taskFor(spec).report(spec, store, pgDir);
    for (const f of files) {
      expect(written.files[f]).toBe(join(pgDir, f === 'metricsJson' ? 'metrics.json' : f === 'trialsCsv' ? 'trials.csv' : 'results.csv'));
      expect(readFileSync(written.files[f] as string, 'utf8'), f).toBe(readFileSync(a.files[f] as string, 'utf8'));
    }
    return a;
  }

  it('MMLU, generate mode with discarded cells: identical results.csv and metrics.json', async () => {
    const a = await bothStores((taskQueue, outDir, name) => mmluConfig({ baseURL: mmluFake.baseURL, taskQueue, outDir, name, mode: 'generate' }), ['resultsCsv', 'metricsJson']);
    expect(a.cells).toBe(64);
    expect(a.discarded).toBe(16);
  });

  it('bandit: identical trials.csv and metrics.json', async () => {
    const a = await bothStores(
      (taskQueue, outDir, name) => banditConfig({ baseURL: banditFake.baseURL, taskQueue, outDir, name, games: 30, trials: 10, seed: 7, execution: { games_per_batch: 10 } }),
      ['trialsCsv', 'metricsJson'],
    );
    expect(a.cells).toBe(60);
  });
});
