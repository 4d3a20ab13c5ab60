/** `rolyplay status <run>` and `rolyplay results <run>`: read a run folder (and its workflow, if reachable). */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { connectOrExplain } from '../connect.js';
import { isAlive, readOwner } from '../owner.js';
import { findRunDir } from './stop.js';
import { InputError } from '../../experiment/errors.js';
import { openStore, storePath, type ResultStore, type RunRecord } from '../../store/results.js';
import type { ExperimentSpec } from '../../experiment/load.js';
import { taskFor } from '../../tasks/registry.js';
import { formatTable } from '../table.js';
import { queryProgress, workflowIdFor } from '../runs.js';
import { countGames } from '../../store/bandit.js';

function runFolder(run: string, output: string): { dir: string; name: string } {
  const asPath = resolve(run);
  if (existsSync(storePath(asPath))) return { dir: asPath, name: basename(asPath) };
  const dir = resolve(output, run);
  if (existsSync(storePath(dir))) return { dir, name: run };
  throw new InputError('run', `no run "${run}" (looked for ${storePath(asPath)} and ${storePath(dir)})`, 'pass the run name and --output base folder, or the run folder');
}

function loadRun(run: string, output: string): { dir: string; store: ResultStore; rec: RunRecord } {
  const { dir, name } = runFolder(run, output);
  const store = openStore(storePath(dir));
  // A run folder holds one run; its name is the folder name unless the folder was renamed.
  const rec = store.getRun(name) ?? store.runNames().map((r) => store.getRun(r))[0];
  if (!rec) throw new InputError('run', `the store in ${dir} has no planned run`, 'start it with `rolyplay run`');
  return { dir, store, rec };
}

function storedCells(store: ResultStore, rec: RunRecord): number {
  return rec.task === 'bandit' ? countGames(store, rec.run).games : store.countCells(rec.run);
}

export async function statusCommand(run: string, opts: { output: string }): Promise<void> {
  const lines: string[] = [];
  let name = run;
  let dir: string;
  try {
    const loaded = loadRun(run, opts.output);
    dir = loaded.dir;
    name = loaded.rec.run;
    const done = storedCells(loaded.store, loaded.rec);
    lines.push(`run ${loaded.rec.run} (${loaded.rec.task}) in ${dir}`, `cells stored: ${done} / ${loaded.rec.totalCells} (${((100 * done) / Math.max(1, loaded.rec.totalCells)).toFixed(1)} %)`);
  } catch (err) {
    // Still planning (an owner, no store yet) is a status too.
    if (!(err instanceof InputError)) throw err;
    dir = findRunDir(run, opts.output);
    name = basename(dir);
    lines.push(`run ${name} in ${dir}`, 'cells stored: none yet (not planned: planning has not succeeded)');
  }
  // Where its workflow lives: the external cluster, or the dev server of the process that owns the local run.
  const owner = readOwner(dir);
  const liveOwner = owner && isAlive(owner.pid) ? owner : undefined;
  const address = process.env.TEMPORAL_ADDRESS ?? liveOwner?.address;
  if (liveOwner) lines.push(`owner: process ${liveOwner.pid}${liveOwner.background ? ' (background, `rolyplay stop` ends it)' : ''}${liveOwner.uiUrl ? `, web UI ${liveOwner.uiUrl}` : ''}`);
  if (address) {
    let connection: Connection | undefined;
    try {
      connection = await connectOrExplain(address, address === process.env.TEMPORAL_ADDRESS, 3000);
      const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
      const handle = client.workflow.getHandle(workflowIdFor(name));
      const d = await handle.describe().catch(() => undefined);
      lines.push(`workflow ${workflowIdFor(name)}: ${d ? d.status.name : 'not found'}`);
      const p = d?.status.name === 'RUNNING' ? await queryProgress(handle) : undefined;
      if (p) lines.push(`progress: ${p.done} / ${p.total}, phase ${p.phase}, shards ${p.shardsDone}/${p.shards}`);
    } catch (err) {
      // The stored counts above are the truth either way: say why the live state is missing, do not fail.
      lines.push(`workflow: unknown: ${(err as Error).message}`);
    } finally {
      await connection?.close().catch(() => undefined);
    }
  } else {
    lines.push('workflow: not running here (no TEMPORAL_ADDRESS, no live owner); `rolyplay run` with the same config resumes or shows it');
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
