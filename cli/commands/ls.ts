/** `rolyplay ls`: the runs under an output folder, with task, model, cells and state. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../experiment/errors.js';
import { modelLabel, type ExperimentSpec } from '../../experiment/load.js';
import { SqliteStores, sqlitePath } from '../../store/results.js';
import { taskFor } from '../../experiment/tasks.js';
import { formatTable } from '../table.js';
import { isAlive, readOwner } from '../owner.js';
import type { ReportTable } from '../../tasks/types.js';

export interface RunListing {
  run: string;
  folder: string;
  task: string;
  model: string;
  cells: number;
  total: number;
  /** running: a live `rolyplay run` (or its --detach background process) owns the folder. */
  state: 'running' | 'finished' | 'incomplete' | 'empty';
  /** The owner process of a running run. */
  pid?: number;
  started: string | null;
  report: string | null;
}

export async function listRuns(output: string): Promise<RunListing[]> {
  const base = resolve(output);
  if (!existsSync(base) || !statSync(base).isDirectory()) {
    throw new InputError('--output', `no output folder ${base}`, 'pass the folder the runs were written to (--output, default runs/), or start a run first');
  }
  const out: RunListing[] = [];
  const stores = new SqliteStores();
  try {
    for (const name of readdirSync(base).sort()) {
      const dir = join(base, name);
      if (!existsSync(sqlitePath(dir))) continue;
      const store = await stores.forRun({ outDir: dir });
      const owner = readOwner(dir);
      const live = owner && isAlive(owner.pid) ? owner.pid : undefined;
      for (const r of await store.runNames()) {
        const rec = (await store.getRun(r))!;
        const spec = rec.spec as ExperimentSpec;
        const cells = (await taskFor(spec).stored(spec, store)).cells;
        out.push({
          run: r,
          folder: dir,
          task: rec.task,
          model: modelLabel(spec),
          cells,
          total: rec.totalCells,
          state: cells >= rec.totalCells && rec.totalCells > 0 ? 'finished' : live !== undefined ? 'running' : cells === 0 ? 'empty' : 'incomplete',
          ...(live !== undefined ? { pid: live } : {}),
          started: (await store.runTimes(r, rec.task)).started,
          report: existsSync(join(dir, 'report.html')) ? join(dir, 'report.html') : null,
        });
      }
    }
  } finally {
    await stores.close();
  }
  return out;
}

export async function lsCommand(opts: { output: string; format: 'table' | 'json' }): Promise<void> {
  const runs = await listRuns(opts.output);
  if (opts.format === 'json') {
    process.stdout.write(JSON.stringify(runs, null, 2) + '\n');
    return;
  }
  if (runs.length === 0) {
    process.stdout.write(`no runs in ${resolve(opts.output)}\n`);
    return;
  }
  const table: ReportTable = {
    columns: ['run', 'task', 'model', 'cells', 'state', 'started', 'report'],
    rows: runs.map((r) => [r.run, r.task, r.model, `${r.cells}/${r.total}`, r.state === 'running' ? `running (pid ${r.pid})` : r.state, r.started, r.report ? 'report.html' : '-']),
  };
  process.stdout.write(formatTable(table) + '\n');
}
