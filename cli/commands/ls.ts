/**
 * `rolyplay ls`: the runs of the store this process uses, with task, model, cells and state.
 *   SQLite (no ROLYPLAY_STORE): the run folders under --output that hold a results.sqlite;
 *   a shared store (ROLYPLAY_STORE=postgres://…): every run in that database, from whichever machine planned it;
 *   its local files (report.html, the owner of a run started here) are looked for in <output>/<run>.
 * A run is `running` when a live `rolyplay run` here owns its folder, or, with TEMPORAL_ADDRESS, when its workflow
 * on that cluster is running (a run whose workers are on other machines).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { InputError } from '../../experiment/errors.js';
import { modelLabel, type ExperimentSpec } from '../../experiment/load.js';
import { sqlitePath, storesFromEnv, type ResultStore } from '../../store/results.js';
import { taskFor } from '../../experiment/tasks.js';
import { formatTable } from '../table.js';
import { isAlive, readOwner } from '../owner.js';
import { connectOrExplain } from '../connect.js';
import { workflowIdFor } from '../runs.js';
import type { ReportTable } from '../../tasks/types.js';

export interface RunListing {
  run: string;
  /** Where this machine keeps the run's files (with a shared store the folder may not exist here). */
  folder: string;
  /** The store that holds its cells: 'sqlite', or the shared store's label (no password). */
  store: string;
  task: string;
  model: string;
  cells: number;
  total: number;
  /** running: a live owner process here, or a running workflow on the TEMPORAL_ADDRESS cluster. */
  state: 'running' | 'finished' | 'incomplete' | 'empty';
  /** The owner process of a run running from this machine. */
  pid?: number;
  started: string | null;
  report: string | null;
}

export interface RunList {
  runs: RunListing[];
  /** Things the listing could not tell (an unreachable cluster, SQLite folders hidden by a shared store). */
  notes: string[];
}

async function listing(store: ResultStore, run: string, folder: string, storeName: string): Promise<RunListing> {
  const rec = (await store.getRun(run))!;
  const spec = rec.spec as ExperimentSpec;
  const cells = (await taskFor(spec).stored(spec, store)).cells;
  const owner = readOwner(folder);
  const live = owner && isAlive(owner.pid) ? owner.pid : undefined;
  return {
    run,
    folder,
    store: storeName,
    task: rec.task,
    model: modelLabel(spec),
    cells,
    total: rec.totalCells,
    state: cells >= rec.totalCells && rec.totalCells > 0 ? 'finished' : live !== undefined ? 'running' : cells === 0 ? 'empty' : 'incomplete',
    ...(live !== undefined ? { pid: live } : {}),
    started: (await store.runTimes(run, rec.task)).started,
    report: existsSync(join(folder, 'report.html')) ? join(folder, 'report.html') : null,
  };
}

/** The SQLite run folders directly under `base`. */
function sqliteFolders(base: string): string[] {
  if (!existsSync(base) || !statSync(base).isDirectory()) return [];
  return readdirSync(base).sort().map((name) => join(base, name)).filter((dir) => existsSync(sqlitePath(dir)));
}

/** Unfinished runs without a live owner here whose workflow runs on the TEMPORAL_ADDRESS cluster become `running`. */
async function markRemoteRunning(runs: RunListing[], notes: string[]): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS?.trim();
  const open = runs.filter((r) => r.state === 'incomplete' || r.state === 'empty');
  if (!address || open.length === 0) return;
  let connection: Connection | undefined;
  try {
    connection = await connectOrExplain(address, true, 3000);
    const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
    for (const r of open) {
      const d = await client.workflow.getHandle(workflowIdFor(r.run)).describe().catch(() => undefined);
      if (d?.status.name === 'RUNNING') r.state = 'running';
    }
  } catch (err) {
    // The stored counts are the truth either way: say why live states are missing, do not fail the listing.
    notes.push(`states of unfinished runs are from the store only: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export async function listRuns(output: string): Promise<RunList> {
  const base = resolve(output);
  const stores = await storesFromEnv();
  const runs: RunListing[] = [];
  const notes: string[] = [];
  try {
    if (stores.shared) {
      const store = await stores.forRun({ run: '', outDir: '' });
      for (const run of (await store.runNames()).sort()) runs.push(await listing(store, run, join(base, run), store.label));
      const hidden = sqliteFolders(base).length;
      if (hidden > 0) notes.push(`${hidden} run folder(s) under ${base} hold their own results.sqlite and are not listed: unset ROLYPLAY_STORE to list them`);
    } else {
      if (!existsSync(base) || !statSync(base).isDirectory()) {
        throw new InputError('--output', `no output folder ${base}`, 'pass the folder the runs were written to (--output, default runs/), or start a run first (or set ROLYPLAY_STORE to the database the workers use)');
      }
      for (const dir of sqliteFolders(base)) {
        const store = await stores.forRun({ run: '', outDir: dir });
        for (const run of await store.runNames()) runs.push(await listing(store, run, dir, 'sqlite'));
      }
    }
  } finally {
    await stores.close();
  }
  await markRemoteRunning(runs, notes);
  return { runs, notes };
}

export async function lsCommand(opts: { output: string; format: 'table' | 'json' }): Promise<void> {
  const { runs, notes } = await listRuns(opts.output);
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  if (opts.format === 'json') {
    process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
    return;
  }
  if (runs.length === 0) {
    process.stdout.write(`no runs in ${process.env.ROLYPLAY_STORE?.trim() ? 'the store ROLYPLAY_STORE names' : resolve(opts.output)}\n`);
    return;
  }
  const shared = runs.some((r) => r.store !== 'sqlite');
  if (shared) process.stdout.write(`runs in ${runs[0]!.store}\n`);
  const table: ReportTable = {
    columns: ['run', 'task', 'model', 'cells', 'state', 'started', 'report'],
    rows: runs.map((r) => [r.run, r.task, r.model, `${r.cells}/${r.total}`, r.state === 'running' ? (r.pid !== undefined ? `running (pid ${r.pid})` : 'running (cluster)') : r.state, r.started, r.report ? 'report.html' : '-']),
  };
  process.stdout.write(formatTable(table) + '\n');
}
