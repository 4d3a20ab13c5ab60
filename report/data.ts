/**
 * What the report reads from a run's result store beyond the store contract, in one place: when the run was planned
 * and when its last result was stored. Only the SQLite store keeps these times where we can read them; for other
 * stores they are unknown (null).
 */
import { SqliteStore, type ResultStore } from '../store/results.js';
import type { RunTimes } from './provenance.js';

export function runTimes(store: ResultStore, run: string, task: string): RunTimes {
  if (!(store instanceof SqliteStore)) return { started: null, finished: null };
  const planned = store.db.prepare('SELECT planned_at AS t FROM runs WHERE run = ?').get(run) as { t: string } | undefined;
  // The last write of the run, whichever table its task keeps results in.
  const last = store.db
    .prepare('SELECT MAX(t) AS t FROM (SELECT MAX(updated_at) AS t FROM cells WHERE run = ? UNION ALL SELECT MAX(updated_at) FROM records WHERE run = ? AND task = ?)')
    .get(run, run, task) as { t: string | null } | undefined;
  return { started: planned?.t ?? null, finished: last?.t ?? null };
}
