/** `rolyplay status <run>` and `rolyplay results <run>`: read a run folder (and its workflow, if reachable). */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { connectOrExplain } from '../connect.js';
import { isAlive, readOwner } from '../owner.js';
import { InputError } from '../../experiment/errors.js';
import { sqlitePath, storesFromEnv, type ResultStore, type RunRecord, type StoreResolver } from '../../store/results.js';
import type { ExperimentSpec } from '../../experiment/load.js';
import { taskFor } from '../../experiment/tasks.js';
import { formatTable } from '../table.js';
import { phaseLabel, queryProgress, workflowIdFor } from '../runs.js';
import { readUsage } from '../../control/gate.js';

export function runFolder(run: string, output: string): { dir: string; name: string } {
  const asPath = resolve(run);
  if (existsSync(sqlitePath(asPath))) return { dir: asPath, name: basename(asPath) };
  const dir = resolve(output, run);
  if (existsSync(sqlitePath(dir))) return { dir, name: run };
  throw new InputError('run', `no run "${run}" (looked for ${sqlitePath(asPath)} and ${sqlitePath(dir)})`, 'pass the run name and --output base folder, or the run folder (or set ROLYPLAY_STORE to the database the workers use)');
}

/**
 * The run, from the store this process's ROLYPLAY_STORE names (the run's files then go to <output>/<run> here), or
 * from the SQLite file in its run folder.
 */
async function loadRun(run: string, output: string, stores: StoreResolver): Promise<{ dir: string; store: ResultStore; rec: RunRecord }> {
  if (stores.shared) {
    const name = basename(run);
    const store = await stores.forRun({ run: name, outDir: '' });
    const rec = await store.getRun(name);
    if (!rec) throw new InputError('run', `no run "${name}" in ${store.label}`, 'pass the run name the workers planned (config `name`), or unset ROLYPLAY_STORE for a local run folder');
    return { dir: resolve(output, name), store, rec };
  }
  const { dir, name } = runFolder(run, output);
  const store = await stores.forRun({ run: name, outDir: dir });
  // A run folder holds one run; its name is the folder name unless the folder was renamed.
  const rec = (await store.getRun(name)) ?? (await store.getRun((await store.runNames())[0] ?? ''));
  if (!rec) throw new InputError('run', `the store in ${dir} has no planned run`, 'start it with `rolyplay run`');
  return { dir, store, rec };
}

export async function withRun(run: string, output: string, fn: (r: { dir: string; store: ResultStore; rec: RunRecord; spec: ExperimentSpec }) => Promise<void>): Promise<void> {
  const stores = await storesFromEnv();
  try {
    const r = await loadRun(run, output, stores);
    await fn({ ...r, spec: r.rec.spec as ExperimentSpec });
  } finally {
    await stores.close();
  }
}

export async function statusCommand(run: string, opts: { output: string }): Promise<void> {
  await withRun(run, opts.output, async ({ dir, store, rec, spec }) => {
    const done = (await taskFor(spec).stored(spec, store)).cells;
    const where = store.shared ? store.label : dir;
    const lines = [`run ${rec.run} (${rec.task}) in ${where}`, `cells stored: ${done} / ${rec.totalCells} (${((100 * done) / Math.max(1, rec.totalCells)).toFixed(1)} %)`];
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
        const handle = client.workflow.getHandle(workflowIdFor(rec.run));
        const d = await handle.describe().catch(() => undefined);
        lines.push(`workflow ${workflowIdFor(rec.run)}: ${d ? d.status.name : 'not found'}`);
        const p = d?.status.name === 'RUNNING' ? await queryProgress(handle) : undefined;
        if (p) lines.push(`progress: ${p.done} / ${p.total}, phase ${phaseLabel(p)}, shards ${p.shardsDone}/${p.shards}`);
        if (p?.reason) lines.push(`paused: ${p.reason}; \`rolyplay resume ${rec.run}\` continues it`);
      } catch (err) {
        // The stored counts above are the truth either way: say why the live state is missing, do not fail.
        lines.push(`workflow: unknown: ${(err as Error).message}`);
      } finally {
        await connection?.close().catch(() => undefined);
      }
    } else {
      lines.push('workflow: not running here (no TEMPORAL_ADDRESS, no live owner); `rolyplay run` with the same config resumes or shows it');
    }
    const usage = await readUsage(store, rec.run).catch(() => undefined);
    if (usage) lines.push(`usage: ${usage.requests} requests, ${usage.promptTokens} prompt + ${usage.completionTokens} completion tokens, $${usage.costUsd.toFixed(4)}`);
    process.stdout.write(lines.join('\n') + '\n');
  });
}

export async function resultsCommand(run: string, opts: { format: 'table' | 'csv' | 'json'; output: string }): Promise<void> {
  await withRun(run, opts.output, async ({ dir, store, rec, spec }) => {
    // A finished run's files are rewritten from the store (idempotent); an unfinished one gets a preview beside them.
    const complete = (await taskFor(spec).stored(spec, store)).cells >= rec.totalCells;
    const report = await taskFor(spec).report(spec, store, complete ? dir : join(dir, 'preview'));
    if (opts.format === 'table') {
      process.stdout.write(`${formatTable(report.table)}\n${report.cells} cells of ${rec.totalCells}${complete ? '' : ' (run not finished)'}\n`);
      return;
    }
    const { resultFiles } = taskFor(spec);
    const file = report.files[opts.format === 'json' ? resultFiles.json : resultFiles.csv];
    process.stdout.write(readFileSync(file as string, 'utf8'));
  });
}
