/**
 * What the report reads from a run's result store, in one place: when the run was planned and when its last result
 * was stored. (The store's API may change; only this file knows its tables.)
 */
import type { ResultStore } from '../store/results.js';
import type { RunTimes } from './provenance.js';

export function runTimes(store: ResultStore, run: string, task: string): RunTimes {
  const planned = store.db.prepare('SELECT planned_at AS t FROM runs WHERE run = ?').get(run) as { t: string } | undefined;
  const table = task === 'bandit' ? 'bandit_games' : 'cells';
  const last = store.db.prepare(`SELECT MAX(updated_at) AS t FROM ${table} WHERE run = ?`).get(run) as { t: string | null } | undefined;
  return { started: planned?.t ?? null, finished: last?.t ?? null };
}
