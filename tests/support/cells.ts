/** Reading a run's store directly, to check "exactly one result per cell" independently of the workflow's counts. */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export function storedCells(outDir: string, run: string): { persona: string; item: string; sample: number; correct: number | null }[] {
  const db = new Database(join(outDir, run, 'results.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT persona, item, sample, correct FROM cells WHERE run = ?').all(run) as never;
  } finally {
    db.close();
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
