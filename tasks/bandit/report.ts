/**
 * Reduce a bandit run: trials.csv (the seed's regression columns plus persona and game), metrics.json (per persona:
 * regret with its CI, acc_avg, acc_last, abandoned games, and the probit regression of choosing machine 1 on
 * V, RU and V/TU; plus the coefficients' trends over age). Re-reads the store, so it can run any number of times.
 */
import { modelLabel } from '../../experiment/load.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { BanditSpec } from '../../tasks/bandit/config.js';
import type { StoredGame } from './records.js';
import { writeFileAtomic } from '../mmlu/report.js';
import type { Arm } from './env.js';
import { pyFloatRepr } from './format.js';
import { gameMetrics, personaMetrics, type GameOutcome, type PersonaMetrics } from './metrics.js';
import { ageTrends, fitBanditProbit, olsTrend, parseAge, type AgeTrends, type ProbitFit, type Trend } from './probit.js';

export const TRIAL_COLUMNS = ['V', 'RU', 'V/TU', 'action1', 'regret', 'reward', 'mu1', 'mu2', 'trial', 'persona', 'game', 'logprob1', 'logprob2', 'attempts'] as const;

export interface BanditPersonaReport extends PersonaMetrics {
  persona: string;
  probit: ProbitFit | null;
}

export interface BanditMetrics {
  run: string;
  task: 'bandit';
  model: string;
  /** Present when the model is a fallback with a warning (e.g. random weights). */
  model_warning?: string;
  design: string;
  seed: number | string;
  games_per_persona: number;
  trials: number;
  acc_last_mode: string;
  scoring: string;
  format: string;
  personas: BanditPersonaReport[];
  /** OLS of each probit coefficient (and of mean regret) on persona age, over personas with an age. */
  age_trends: AgeTrends & { regret: Trend | null };
}

export function banditMetrics(spec: BanditSpec, games: StoredGame[]): BanditMetrics {
  const personas = spec.personas.map((persona): BanditPersonaReport => {
    const mine = games.filter((g) => g.persona === persona);
    const outcomes = mine.map((g): GameOutcome => {
      if (g.abandoned) return { abandoned: true };
      const actions = g.trials.map((t) => (t.action1 ? 0 : 1) as Arm);
      return { abandoned: false, ...gameMetrics(actions, g.trials.map((t) => t.regret), g.mu1, g.mu2) };
    });
    const rows = mine.flatMap((g) => (g.abandoned ? [] : g.trials));
    return {
      persona,
      ...personaMetrics(outcomes, spec.accLast),
      probit: rows.length > 0 ? fitBanditProbit(rows) : null,
    };
  });
  const fits = Object.fromEntries(personas.filter((p) => p.probit).map((p) => [p.persona, p.probit as ProbitFit]));
  const trends = ageTrends(fits);
  const regretByAge = personas
    .map((p) => ({ age: parseAge(p.persona), loss: p.loss }))
    .filter((x): x is { age: number; loss: number } => x.age !== null && Number.isFinite(x.loss));
  return {
    run: spec.run,
    task: 'bandit',
    model: modelLabel(spec),
    ...(spec.modelWarning ? { model_warning: spec.modelWarning } : {}),
    design: spec.design,
    seed: spec.seed,
    games_per_persona: spec.games,
    trials: spec.trials,
    acc_last_mode: spec.accLast,
    scoring: spec.scoring.mode,
    format: spec.format,
    personas,
    age_trends: {
      ...trends,
      regret: regretByAge.length >= 3 ? olsTrend(regretByAge.map((x) => x.age), regretByAge.map((x) => x.loss)) : null,
    },
  };
}

/** Numbers as pandas writes them (Python repr), booleans as True/False; V of trial 0 is the int 0 in the seed. */
export function trialsCsv(games: StoredGame[]): string {
  const records = games
    .filter((g) => !g.abandoned)
    .flatMap((g) =>
      g.trials.map((t) => [
        t.trial === 0 && t.V === 0 ? '0' : pyFloatRepr(t.V),
        pyFloatRepr(t.RU),
        pyFloatRepr(t['V/TU']),
        t.action1 ? 'True' : 'False',
        pyFloatRepr(t.regret),
        pyFloatRepr(t.reward),
        pyFloatRepr(t.mu1),
        pyFloatRepr(t.mu2),
        t.trial,
        g.persona,
        g.game,
        t.logprob1 ?? '',
        t.logprob2 ?? '',
        t.attempts,
      ]),
    );
  return stringify(records, { header: true, columns: [...TRIAL_COLUMNS] });
}

export function writeBanditReport(outDir: string, games: StoredGame[], metrics: BanditMetrics): { trialsCsv: string; metricsJson: string } {
  mkdirSync(outDir, { recursive: true });
  const files = { trialsCsv: join(outDir, 'trials.csv'), metricsJson: join(outDir, 'metrics.json') };
  writeFileAtomic(files.trialsCsv, trialsCsv(games));
  // NaN (a persona with no completed game) is not JSON: write null.
  writeFileAtomic(files.metricsJson, JSON.stringify(metrics, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  return files;
}
