/** `rolyplay status <run>` and `rolyplay results <run>`: read a run folder (and its workflow, if reachable). */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { InputError } from '../../experiment/errors.js';
import { openStore, storePath, type ResultStore, type RunRecord } from '../../store/results.js';
import type { ExperimentSpec } from '../../experiment/load.js';
import { taskFor } from '../../tasks/registry.js';
import { formatTable } from '../table.js';
import { queryProgress, workflowIdFor } from '../runs.js';
import { countGames } from '../../store/bandit.js';

export function runFolder(run: string, output: string): { dir: string; name: string } {
  const asPath = resolve(run);
  if (existsSync(storePath(asPath))) return { dir: asPath, name: basename(asPath) };
  const dir = resolve(output, run);
  if (existsSync(storePath(dir))) return { dir, name: run };
  throw new InputError('run', `no run "${run}" (looked for ${storePath(asPath)} and ${storePath(dir)})`, 'pass the run name and --output base folder, or the run folder');
}

export function loadRun(run: string, output: string): { dir: string; store: ResultStore; rec: RunRecord } {
  const { dir, name } = runFolder(run, output);
  const store = openStore(storePath(dir));
  // A run folder holds one run; its name is the folder name unless the folder was renamed.
  const rec = store.getRun(name) ?? store.runNames().map((r) => store.getRun(r))[0];
  if (!rec) throw new InputError('run', `the store in ${dir} has no planned run`, 'start it with `rolyplay run`');
  return { dir, store, rec };
}

export function storedCells(store: ResultStore, rec: RunRecord): number {
  return rec.task === 'bandit' ? countGames(store, rec.run).games : store.countCells(rec.run);
}

export async function statusCommand(run: string, opts: { output: string }): Promise<void> {
  const { dir, store, rec } = loadRun(run, opts.output);
  const done = storedCells(store, rec);
  const lines = [`run ${rec.run} (${rec.task}) in ${dir}`, `cells stored: ${done} / ${rec.totalCells} (${((100 * done) / Math.max(1, rec.totalCells)).toFixed(1)} %)`];
  if (process.env.TEMPORAL_ADDRESS) {
    const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
    try {
      const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
      const handle = client.workflow.getHandle(workflowIdFor(rec.run));
      const d = await handle.describe().catch(() => undefined);
      lines.push(`workflow ${workflowIdFor(rec.run)}: ${d ? d.status.name : 'not found'}`);
      const p = d?.status.name === 'RUNNING' ? await queryProgress(handle) : undefined;
      if (p) lines.push(`progress: ${p.done} / ${p.total}, phase ${p.phase}, shards ${p.shardsDone}/${p.shards}`);
    } finally {
      await connection.close();
    }
  } else {
    lines.push('workflow: local run (no TEMPORAL_ADDRESS); `rolyplay run` with the same config resumes or shows it');
  }
  process.stdout.write(lines.join('\n') + '\n');
}

export async function resultsCommand(run: string, opts: { format: 'table' | 'csv' | 'json'; output: string }): Promise<void> {
  const { dir, store, rec } = loadRun(run, opts.output);
  const spec = rec.spec as ExperimentSpec;
  // A finished run's files are rewritten from the store (idempotent); an unfinished one gets a preview beside them.
  const complete = storedCells(store, rec) >= rec.totalCells;
  const report = taskFor(spec).report({ ...spec, outDir: complete ? dir : join(dir, 'preview') }, store);
  if (opts.format === 'table') {
    process.stdout.write(`${formatTable(report.table)}\n${report.cells} cells of ${rec.totalCells}${complete ? '' : ' (run not finished)'}\n`);
    return;
  }
  const file = opts.format === 'json' ? report.files.metricsJson : (report.files.resultsCsv ?? report.files.trialsCsv);
  process.stdout.write(readFileSync(file as string, 'utf8'));
}
