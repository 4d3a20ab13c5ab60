/** `rolyplay status <run>` and `rolyplay results <run>`: read a run folder (and its workflow, if reachable). */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../experiment/errors.js';
import { openStore, storePath } from '../../store/results.js';
import type { ExperimentSpec } from '../../experiment/load.js';
import { resultsCsv, writeMmluReport, type MmluMetrics } from '../../tasks/mmlu/report.js';
import { personaTable } from '../table.js';
import { Connection, Client } from '@temporalio/client';
import { queryProgress, workflowIdFor } from '../runs.js';

function runFolder(run: string, output: string): { dir: string; name: string } {
  const asPath = resolve(run);
  if (existsSync(storePath(asPath))) return { dir: asPath, name: asPath.split('/').pop() as string };
  const dir = resolve(output, run);
  if (existsSync(storePath(dir))) return { dir, name: run };
  throw new InputError('run', `no run "${run}" (looked for ${storePath(asPath)} and ${storePath(dir)})`, 'pass the run name and --output base folder, or the run folder');
}

function loadRun(run: string, output: string) {
  const { dir, name } = runFolder(run, output);
  const store = openStore(storePath(dir));
  // A run folder holds one run; its name is the folder name unless the folder was renamed.
  const rec = store.getRun(name) ?? store.runNames().map((r) => store.getRun(r))[0];
  if (!rec) throw new InputError('run', `the store in ${dir} has no planned run`, 'start it with `rolyplay run`');
  return { dir, store, rec };
}

export async function statusCommand(run: string, opts: { output: string }): Promise<void> {
  const { dir, store, rec } = loadRun(run, opts.output);
  const done = store.countCells(rec.run);
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
  const metricsFile = join(dir, 'metrics.json');
  const cells = store.cells(rec.run);
  if (opts.format === 'csv') {
    process.stdout.write(resultsCsv(cells));
    return;
  }
  // A run still in progress has no metrics.json yet: compute them from what is stored so far.
  const metrics: MmluMetrics = existsSync(metricsFile) && cells.length === rec.totalCells
    ? (JSON.parse(readFileSync(metricsFile, 'utf8')) as MmluMetrics)
    : writeMmluReportPreview(rec.spec as ExperimentSpec, cells);
  if (opts.format === 'json') process.stdout.write(JSON.stringify(metrics, null, 2) + '\n');
  else process.stdout.write(personaTable(metrics.per_persona) + `\n${metrics.cells} cells of ${rec.totalCells}\n`);
}

function writeMmluReportPreview(spec: ExperimentSpec, cells: ReturnType<ReturnType<typeof openStore>['cells']>): MmluMetrics {
  return writeMmluReport({ ...spec, outDir: join(spec.outDir, 'preview') }, cells).metrics;
}
