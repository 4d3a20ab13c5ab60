/** `rolyplay compare <runA> <runB>`: per-persona differences B − A on the same items, with paired CIs. */
import { InputError } from '../../experiment/errors.js';
import { loadGames } from '../../tasks/bandit/records.js';
import { collect } from '../../store/results.js';
import { gameMetrics } from '../../tasks/bandit/metrics.js';
import type { Arm } from '../../tasks/bandit/env.js';
import { compareBanditRuns, compareMmluRuns, type RunComparison } from '../../report/compare.js';
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
      if (A.rec.task === 'mmlu') {
        const items = async (x: typeof A) => (await collect(x.store.streamCells(x.rec.run))).map((c) => ({ persona: c.persona, item: c.item, sample: c.sample, correct: c.correct }));
        result = { a: A.rec.run, b: B.rec.run, comparison: compareMmluRuns(await items(A), await items(B)) };
        return;
      }
      const games = async (x: typeof A) =>
        (await loadGames(x.store, x.rec.run)).map((g) => ({
          persona: g.persona,
          game: g.game,
          regret: g.abandoned ? null : gameMetrics(g.trials.map((t) => (t.action1 ? 0 : 1) as Arm), g.trials.map((t) => t.regret), g.mu1, g.mu2).meanRegret,
        }));
      result = { a: A.rec.run, b: B.rec.run, comparison: compareBanditRuns(await games(A), await games(B)) };
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
  const mmlu = c.metric === 'accuracy';
  const columns = ['persona', 'n', `${c.metric} A`, `${c.metric} B`, 'B − A', 'paired 95 % CI', ...(mmlu ? ['McNemar p', 'Holm p', 'BH p'] : [])];
  const rows = [...c.rows]
    .sort((x, y) => (y.diff ?? 0) - (x.diff ?? 0))
    .map((r) => [r.persona, r.n, num(r.a), num(r.b), num(r.diff, true), ci(r.ci95), ...(mmlu ? [pval(r.p_mcnemar!), pval(r.p_holm!), pval(r.p_bh!)] : [])]);
  process.stdout.write(`A = ${a}, B = ${b}: ${c.metric} of each persona in B minus A, paired by ${mmlu ? 'question' : 'game'}\n`);
  process.stdout.write(formatTable({ columns, rows }) + '\n');
  if (c.only_a.length) process.stdout.write(`only in A (not compared): ${c.only_a.join(', ')}\n`);
  if (c.only_b.length) process.stdout.write(`only in B (not compared): ${c.only_b.join(', ')}\n`);
  if (c.rows.length === 0) process.stdout.write('no persona is in both runs\n');
}
