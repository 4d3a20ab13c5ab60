/** The two-armed bandit as an engine task: a batch is a range of games × all personas, played in lockstep. */
import { BanditConfig, resolveBandit, type BanditSpec } from './config.js';
import type { PlannedBatch, TaskDefinition } from '../types.js';
import { ciText, round } from '../numbers.js';
import { runBanditBatch } from './runner.js';
import { banditMetrics, writeBanditReport, type BanditMetrics } from './report.js';
import { banditHeadline, banditSections } from '../../report/bandit.js';
import { countGames, loadGames } from './records.js';
import { gameMetrics } from './metrics.js';
import type { Arm } from './env.js';
import { compareBanditRuns } from '../../report/compare.js';

export const banditTask: TaskDefinition<BanditSpec> = {
  name: 'bandit',
  config: BanditConfig,
  resolve: resolveBandit,
  stages: [{ name: 'play', plan, runBatch: runBanditBatch }],
  resultFiles: { csv: 'trialsCsv', json: 'metricsJson' },
  unitName: 'games',

  async report(spec, store, outDir) {
    const games = await loadGames(store, spec.run);
    const metrics = banditMetrics(spec, games);
    const num = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : round(x, 3));
    return {
      cells: games.length,
      discarded: games.filter((g) => g.abandoned).length,
      files: outDir === null ? {} : writeBanditReport(outDir, games, metrics),
      table: {
        columns: ['persona', 'games', 'abandoned', 'regret', 'regret 95% CI', 'acc_avg', 'acc_last', 'β_V', 'β_RU', 'β_V/TU'],
        rows: metrics.personas.map((p) => [
          p.persona, p.games, p.abandoned, num(p.loss), ciText(p.lossCi95), num(p.accAvg), num(p.accLast),
          num(p.probit?.coef[0]), num(p.probit?.coef[1]), num(p.probit?.coef[2]),
        ]),
      },
    };
  },

  async stored(spec, store) {
    const { games, abandoned } = await countGames(store, spec.run);
    return { cells: games, discarded: abandoned };
  },

  summary(spec) {
    return `bandit · ${spec.run} · ${spec.personas.length} personas × ${spec.games} games`;
  },

  async page(_spec, metrics, { totalCells, modelLabel }) {
    const m = metrics as BanditMetrics;
    const games = m.personas.reduce((s, p) => s + p.games + p.abandoned, 0);
    const warnings = totalCells !== undefined && games < totalCells ? [`The run is not finished: ${games} of ${totalCells} games are stored.`] : [];
    const body = await banditSections(m);
    const subtitle = `two-armed bandit · ${modelLabel} · ${m.personas.length} personas × ${m.games_per_persona} games × ${m.trials} trials · format ${m.format}, scoring ${m.scoring}`;
    return { subtitle, warnings, ...body };
  },

  async compare(a, b) {
    const games = async (x: typeof a) =>
      (await loadGames(x.store, x.run)).map((g) => ({
        persona: g.persona,
        game: g.game,
        regret: g.abandoned ? null : gameMetrics(g.trials.map((t) => (t.action1 ? 0 : 1) as Arm), g.trials.map((t) => t.regret), g.mu1, g.mu2).meanRegret,
      }));
    return compareBanditRuns(await games(a), await games(b));
  },
  consoleSummary: (metrics) => [banditHeadline(metrics as BanditMetrics)],

  details(spec) {
    return [
      `**Task** two-armed bandit: ${spec.games} games × ${spec.trials} trials per persona, ${spec.design} design, seed ${spec.seed}`,
      `**Format** ${spec.format} · **scoring** ${spec.scoring.mode} (temperature ${spec.scoring.temperature})`,
    ];
  },
};

/** A batch: a range of games × all personas. */
function plan(spec: BanditSpec): PlannedBatch[] {
  const batches: PlannedBatch[] = [];
  for (let start = 0; start < spec.games; start += spec.execution.unitsPerBatch) {
    const end = Math.min(spec.games, start + spec.execution.unitsPerBatch);
    batches.push({ group: 'games', start, end, cells: (end - start) * spec.personas.length });
  }
  return batches;
}
