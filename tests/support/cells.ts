/** Reading a run's store directly, to check "exactly one result per cell" independently of the workflow's counts. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, sqlitePath, SqliteStore, storesFromEnv } from '../../store/results.js';

/**
 * The run's stored cells, from the store this process's workers use: the database ROLYPLAY_STORE names
 * (ROLYPLAY_TEST_STORE=postgres), else the SQLite file in the run folder <outDir>/<run> (none yet: no cells).
 */
export async function storedCells(outDir: string, run: string): Promise<{ persona: string; item: string; sample: number; correct: boolean | null }[]> {
  const shared = process.env.ROLYPLAY_STORE ? await storesFromEnv() : undefined;
  const file = sqlitePath(join(outDir, run));
  if (!shared && !existsSync(file)) return [];
  const store = shared ? await shared.forRun({ run, outDir: join(outDir, run) }) : new SqliteStore(file);
  try {
    return (await collect(store.streamCells(run))).map((c) => ({ persona: c.persona, item: c.item, sample: c.sample, correct: c.correct }));
  } finally {
    await (shared ?? store).close();
  }
}

/**
 * metrics.json without the fields that name the run, nor its API usage: a crashed or retried run re-sends requests,
 * so its usage differs from an uninterrupted one while its results must not.
 */
export function comparableMetrics(outDir: string, run: string): unknown {
  const m = JSON.parse(readFileSync(join(outDir, run, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  const { run: _run, usage: _usage, ...rest } = m;
  return rest;
}
