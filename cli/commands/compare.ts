/** `rolyplay compare <runA> <runB>`: per-persona differences B − A on the same items, with paired CIs. */
import { InputError } from '../../experiment/errors.js';
import { taskFor } from '../../experiment/tasks.js';
import type { RunComparison } from '../../report/compare.js';
import { ci, num, pval } from '../../report/html.js';
import { formatTable } from '../table.js';
import { withRun } from './results.js';

export async function compareRuns(runA: string, runB: string, output: string): Promise<{ a: string; b: string; comparison: RunComparison }> {
  let result: { a: string; b: string; comparison: RunComparison } | undefined;
  await withRun(runA, output, async (A) => {
    await withRun(runB, output, async (B) => {
      if (A.rec.task !== B.rec.task) {
        throw new InputError('run', `${A.rec.run} is a ${A.rec.task} run and ${B.rec.run} a ${B.rec.task} run`, 'compare two runs of the same task');
      }
      const task = taskFor(A.spec);
      if (!task.compare) throw new InputError('run', `the ${A.rec.task} task has no run comparison`, 'compare the runs\' results files yourself (`rolyplay results <run>`), or give the task a `compare` hook (tasks/types.ts)');
      const comparison = await task.compare({ run: A.rec.run, spec: A.spec, store: A.store }, { run: B.rec.run, spec: B.spec, store: B.store });
      result = { a: A.rec.run, b: B.rec.run, comparison };
    });
  });
  return result!;
}

export async function compareCommand(runA: string, runB: string, opts: { output: string; format: 'table' | 'json' }): Promise<void> {
  const { a, b, comparison: c } = await compareRuns(runA, runB, opts.output);
  if (opts.format === 'json') {
    process.stdout.write(JSON.stringify({ a, b, ...c }, null, 2) + '\n');
    return;
  }
  const tested = c.rows.some((r) => r.p_mcnemar !== undefined);
  const columns = ['persona', 'n', `${c.metric} A`, `${c.metric} B`, 'B − A', 'paired 95 % CI', ...(tested ? ['McNemar p', 'Holm p', 'BH p'] : [])];
  const rows = [...c.rows]
    .sort((x, y) => (y.diff ?? 0) - (x.diff ?? 0))
    .map((r) => [r.persona, r.n, num(r.a), num(r.b), num(r.diff, true), ci(r.ci95), ...(tested ? [pval(r.p_mcnemar!), pval(r.p_holm!), pval(r.p_bh!)] : [])]);
  process.stdout.write(`A = ${a}, B = ${b}: ${c.metric} of each persona in B minus A, paired by ${c.paired_by}\n`);
  process.stdout.write(formatTable({ columns, rows }) + '\n');
  if (c.only_a.length) process.stdout.write(`only in A (not compared): ${c.only_a.join(', ')}\n`);
  if (c.only_b.length) process.stdout.write(`only in B (not compared): ${c.only_b.join(', ')}\n`);
  if (c.rows.length === 0) process.stdout.write('no persona is in both runs\n');
}
