/** Reading a run's store directly, to check "exactly one result per cell" independently of the workflow's counts. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, sqlitePath, SqliteStore, storesFromEnv, type ResultStore, type TaskRecord } from '../../store/results.js';
import { taskFor } from '../../experiment/tasks.js';
import type { ExperimentSpec } from '../../experiment/load.js';

/**
 * `fn` on the store this process's workers use for the run in <outDir>/<run>: the database ROLYPLAY_STORE names
 * (ROLYPLAY_TEST_STORE=postgres), else the SQLite file in the run folder; `empty` when there is no file yet.
 */
export async function withRunStore<T>(outDir: string, run: string, empty: T, fn: (store: ResultStore) => Promise<T>): Promise<T> {
  const shared = process.env.ROLYPLAY_STORE ? await storesFromEnv() : undefined;
  const file = sqlitePath(join(outDir, run));
  if (!shared && !existsSync(file)) return empty;
  const store = shared ? await shared.forRun({ run, outDir: join(outDir, run) }) : new SqliteStore(file);
  try {
    return await fn(store);
  } finally {
    await (shared ?? store).close();
  }
}

/** The run's stored cells (see withRunStore for which store). */
export async function storedCells(outDir: string, run: string): Promise<{ persona: string; item: string; sample: number; correct: boolean | null }[]> {
  return withRunStore(outDir, run, [], async (store) => (await collect(store.streamCells(run))).map((c) => ({ persona: c.persona, item: c.item, sample: c.sample, correct: c.correct })));
}

/** The run's task records of these kinds, in kind order (see withRunStore for which store). */
export async function storedRecords(outDir: string, run: string, task: string, kinds: string[]): Promise<TaskRecord[]> {
  return withRunStore(outDir, run, [] as TaskRecord[], async (store) => {
    const out: TaskRecord[] = [];
    for (const kind of kinds) out.push(...(await collect(store.streamRecords({ run, task, kind }))));
    return out;
  });
}

/**
 * metrics.json without the fields that name the run, nor its API usage: a crashed or retried run re-sends requests,
 * so its usage differs from an uninterrupted one while its results must not.
 */
export async function comparableMetrics(outDir: string, run: string): Promise<unknown> {
  await ensureRunFiles(outDir, run);
  const m = JSON.parse(readFileSync(join(outDir, run, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  const { run: _run, usage: _usage, ...rest } = m;
  return rest;
}

/**
 * The run's result files in <outDir>/<run>: a shared store's reduce writes none (ROLYPLAY_TEST_STORE=postgres), so
 * then they are written from the store, as `rolyplay results` does, if metrics.json is missing.
 */
export async function ensureRunFiles(outDir: string, run: string): Promise<void> {
  if (existsSync(join(outDir, run, 'metrics.json')) || !process.env.ROLYPLAY_STORE) return;
  await withRunStore(outDir, run, undefined, async (store) => {
    const spec = (await store.getRun(run))?.spec as ExperimentSpec | undefined;
    if (spec) await taskFor(spec).report(spec, store, join(outDir, run));
    return undefined;
  });
}
